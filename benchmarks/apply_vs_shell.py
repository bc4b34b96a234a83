"""Apply: a headless ``mailwizard apply`` of every section vs the same files, commands and
service controls as a plain shell script (``plain_script.py``), both from the same fresh
state in an isolated namespace (``tests/integration/nsenv.py``: real Postfix, opendkim,
saslpasswd2). hyperfine's ``--prepare`` puts the fresh state back before every run: the
files under /etc, the chroot's /etc and /var/backups as they were, opendkim stopped, the
host name and Postfix's live configuration the old ones.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from .timing import ROOT, Figure, hyperfine

PASSWORD = "Corr3ct-Horse-Battery-9"
SAVED = ("etc", "var/spool/postfix/etc", "var/backups", "var/lib/opendkim")
FRESH = """
rm -f /etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key
rm -f /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/*.private
postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level \
            smtp_tls_security_level smtpd_tls_chain_files
"""
SAVE = """
cd /
dirs=""; for d in {saved}; do [ -e "$d" ] && dirs="$dirs $d"; done
echo "$dirs" > $MW_SHARED/dirs
tar -cpf $MW_SHARED/fresh.tar --warning=no-file-ignored $dirs
find $dirs | sort > $MW_SHARED/fresh.list
hostname > $MW_SHARED/hostname
"""
RESTORE = """set -euo pipefail
cd /
if [ -s /run/opendkim/opendkim.pid ]; then
    pid=$(cat /run/opendkim/opendkim.pid)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
fi
dirs=$(cat {shared}/dirs)
find $dirs | sort | comm -13 {shared}/fresh.list - | sort -r | xargs -r rm -rf
tar -xpf {shared}/fresh.tar --warning=no-file-ignored
hostname "$(cat {shared}/hostname)"
postfix reload >/dev/null 2>&1
"""
# A Postfix program that reads main.cf within two seconds of its change pauses until the
# clock's second has turned twice, in 0.3 s steps (postalias: 1.5-2.4 s), so a run's time
# depends on the sub-second phase at which main.cf is written. The rounds drift through the
# phases slowly: measured, five rounds in a row gave the apply's postalias 2.1-2.4 s against
# the script's 1.8 s, the next three 1.5 s against 1.8-2.1 s. Each round therefore starts
# both runs at its own phase of the second, spread evenly over the rounds (golden-ratio
# steps), so that both sides see every phase alike. Not timed: hyperfine's --prepare.
PHASE = """
n=$(cat {shared}/runs 2>/dev/null || echo 0); echo $((n + 1)) > {shared}/runs
sleep "$(awk -v n="$n" -v now="$(date +%s.%N)" 'BEGIN {{
    p = int(n / 2) * 0.6180339887; p -= int(p); t = int(now) + 1 + p; printf "%.3f", t - now }}')"
"""
# What both runs must leave: Postfix's settings, the host name, the aliases, the logins, the
# files of the DKIM and SASL set-up (not the key or the password hashes: random each time).
END_STATE = """
for c in "postconf -n" hostname "cat /etc/mailname /etc/aliases /etc/opendkim.conf" \
         "sasldblistusers2 -f /etc/sasldb2" "ls /etc/dkimkeys" "cat /etc/postfix/sasl/smtpd.conf"
do $c 2>&1 || true; done
"""


def measure(rounds: int) -> list[Figure]:
    sys.path.insert(0, str(ROOT))
    from tests.integration.nsenv import Namespace
    from tests.integration.wizard import full_answers

    with Namespace(hostname="old.example.org") as ns:
        shared = ns.tmp
        answers = shared / "answers.toml"
        answers.write_text(full_answers())
        password = shared / "password"  # never in an argv
        password.touch(mode=0o600)
        password.write_text(PASSWORD)
        ns.run(FRESH)
        ns.boot()
        ns.run(SAVE.format(saved=" ".join(SAVED)), timeout=120)
        out = shared / "plain"
        ns.run(f"cd {shlex.quote(str(ROOT))}\nexport MAILWIZARD_PASSWORD_POSTMASTER="
               f"$(cat {shared}/password)\n{shlex.quote(sys.executable)} -m "
               f"benchmarks.plain_script {answers} {out}", timeout=120)
        (shared / "restore.sh").write_text(RESTORE.format(shared=shared)
                                           + PHASE.format(shared=shared))
        enter = shlex.join([*ns._nsenter(), "env", f"PATH={ns._env()['PATH']}", "bash"])
        wizard = shared / "wizard.sh"
        wizard.write_text(f"set -e\nexport MAILWIZARD_PASSWORD_POSTMASTER=$(cat {password})\n"
                          f"cd {shlex.quote(str(ROOT))}\nexec {shlex.quote(sys.executable)} "
                          f"-m mailwizard apply {answers} > /dev/null\n")
        restore, wizard_run, plain_run = (f"{enter} {shared / 'restore.sh'}", f"{enter} {wizard}",
                                          f"{enter} {out}/plain.sh")
        # Bytecode as an installed mailwizard has it (pip compiles it; a user's first run
        # writes it): never compiled from source in a timed run. The namespace's /tmp is
        # private, so the cache lies in the shared directory; the untimed runs below fill it.
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(shared / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        ends = []
        for run in (restore, wizard_run, restore, plain_run):  # each works, once, untimed
            done = subprocess.run(shlex.split(run), capture_output=True, text=True, env=env)
            if done.returncode:
                raise RuntimeError(f"{run}: exit {done.returncode}\n{done.stdout[-2000:]}"
                                   f"{done.stderr[-2000:]}")
            ends.append(ns.run(END_STATE).stdout)
        if ends[1] != ends[3]:  # the script must do what the apply does
            raise RuntimeError(f"the plain script ends elsewhere:\n{ends[1]}\n---\n{ends[3]}")
        t_wizard, t_plain = hyperfine([wizard_run, plain_run], rounds, prepare=restore, env=env)
    return [Figure("headless full apply (`mailwizard apply`, every section)",
                   "the same commands as a plain shell script", t_wizard, t_plain, goal=1.3,
                   pooled=True,
                   note="ratio of the mean times (IQR: the rounds' own ratios); real "
                        "Postfix/opendkim/saslpasswd2 in a namespace, the fresh state put back "
                        "before every run, each round at its own phase of the second")]
