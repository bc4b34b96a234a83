"""`mailwizard rollback` on real daemons: the old configuration is live again, not just on disk.

A namespace named old.example.org gets an apply (hostname mail.example.com, new
mydestination); `rollback` must bring back the files *and* what the running Postfix says: the
banner and EHLO name of a real SMTP session, the running host name, and the old mydestination
refusing mail for example.com again.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import INITS, PROJECT, run_wizard

pytestmark = pytest.mark.integration

FILES = "/etc/hostname /etc/mailname /etc/hosts /etc/postfix/main.cf"
ANSWERS = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::1]/128"]
"""


def session(ns: Namespace) -> str:
    """A real SMTP session to the running smtpd from an outside client (XCLIENT, test-only),
    up to RCPT for root@example.com: delivered only while example.com is a local domain."""
    return ns.run("swaks --server 127.0.0.1 --xclient-addr 198.51.100.7 "
                  "--to root@example.com --from probe@example.net "
                  "--quit-after RCPT 2>&1", check=False).stdout


@pytest.mark.parametrize("init", INITS)
def test_rollback_puts_the_old_configuration_live(init: str) -> None:
    """With no init (``postfix reload``, ``hostname``) and on a booted systemd
    (``systemctl reload-or-restart postfix``, ``hostnamectl``)."""
    with Namespace(hostname="old.example.org", systemd=init == "systemd") as ns:
        ns.run("postconf -e myhostname=old.example.org 'mydestination=$myhostname, localhost' "
               "smtpd_authorized_xclient_hosts=127.0.0.1")
        ns.boot()
        before_files = ns.run(f"sha256sum {FILES}").stdout
        old = session(ns)
        assert "220 old.example.org ESMTP" in old and "250-old.example.org" in old, old
        assert "Relay access denied" in old, old

        answers = ns.tmp / "a.toml"
        answers.write_text(ANSWERS)
        applied = run_wizard(ns, "apply", str(answers))
        assert applied.returncode == 0, applied.stdout
        new = session(ns)
        assert "220 mail.example.com ESMTP" in new and "250 2.1.5 Ok" in new, new
        assert ns.run("hostname").stdout.strip() == "mail.example.com"

        rolled = run_wizard(ns, "rollback", "--yes")
        assert rolled.returncode == 0, rolled.stdout
        assert ns.run(f"sha256sum {FILES}").stdout == before_files
        again = session(ns)
        assert "220 old.example.org ESMTP" in again and "250-old.example.org" in again, again
        assert "Relay access denied" in again, again
        assert ns.run("hostname").stdout.strip() == "old.example.org"
        assert ns.run("postconf -h myhostname mydestination").stdout.splitlines() == [
            "old.example.org", "$myhostname, localhost"]


DKIM = """\
[dkim]
domain = "example.com"
selector = "mail"
bits = 2048
"""


def wizard_on_a_terminal(ns: Namespace, answer: str, *args: str) -> tuple[int, str]:
    """mailwizard ARGS on a real pseudo-terminal (script(1)), ``answer`` typed in."""
    inner = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "mailwizard", *args))
    result = ns.run(f"cd {shlex.quote(str(PROJECT))}\nprintf '%s\\n' {shlex.quote(answer)} | "
                    f"script -qec {shlex.quote(inner)} /dev/null", check=False, timeout=240)
    return result.returncode, result.stdout.replace("\r\n", "\n")


def test_rollback_you_can_see_on_real_daemons() -> None:
    """--list; the diff and the question (refused without a terminal, declined, accepted on
    a real pty); a DKIM apply that started opendkim is undone and opendkim stopped again."""
    with Namespace(hostname="old.example.org") as ns:
        ns.run("postconf -e myhostname=old.example.org 'mydestination=$myhostname, localhost'")
        ns.run("rm -f /etc/dkimkeys/*.private; ! pgrep -x opendkim")
        ns.boot()
        first_files = ns.run(f"sha256sum {FILES}").stdout
        (ns.tmp / "a.toml").write_text(ANSWERS)
        (ns.tmp / "dkim.toml").write_text(DKIM)
        assert run_wizard(ns, "apply", str(ns.tmp / "a.toml")).returncode == 0
        second_files = ns.run(f"sha256sum {FILES} /etc/opendkim.conf").stdout
        applied = run_wizard(ns, "apply", str(ns.tmp / "dkim.toml"))
        assert applied.returncode == 0, applied.stdout
        assert ns.run("pgrep -x opendkim", check=False).returncode == 0  # the apply started it

        listed = run_wizard(ns, "rollback", "--list")
        assert listed.returncode == 0, listed.stdout
        rows = [ln for ln in listed.stdout.splitlines() if not ln.startswith(" ")]
        assert len(rows) == 2, listed.stdout
        assert "dkim" in rows[0] and "applied" in rows[0] and "undoes this" in rows[0]
        assert "hostname, domains" in rows[1] and "UTC" in rows[1]
        assert "    /etc/dkimkeys/mail.private" in listed.stdout
        first_id = rows[1].split()[0]

        refused = run_wizard(ns, "rollback")  # no terminal, no --yes
        assert refused.returncode == 1, refused.stdout
        assert "give --yes" in refused.stdout and "nothing was restored" in refused.stdout
        assert "+++ /etc/opendkim.conf (after the rollback)" in refused.stdout
        assert "-Socket\t\t\tinet:8891@127.0.0.1" in refused.stdout
        assert "remove /etc/dkimkeys/mail.private (that apply created it)" in refused.stdout
        assert "service opendkim: stopped if it runs" in refused.stdout

        code, out = wizard_on_a_terminal(ns, "n", "rollback")
        assert code == 1 and "Roll back these changes? [y/N]" in out, out
        assert ns.run("test -e /etc/dkimkeys/mail.private", check=False).returncode == 0

        code, out = wizard_on_a_terminal(ns, "y", "rollback")
        assert code == 0, out
        assert "opendkim stopped again: it was not running before the apply" in out, out
        assert ns.run("pgrep -x opendkim", check=False).returncode != 0, out
        assert ns.run(f"sha256sum {FILES} /etc/opendkim.conf").stdout == second_files
        assert ns.run("test ! -e /etc/dkimkeys/mail.private", check=False).returncode == 0

        by_id = run_wizard(ns, "rollback", first_id, "--yes")
        assert by_id.returncode == 0, by_id.stdout
        assert ns.run(f"sha256sum {FILES}").stdout == first_files
        assert "220 old.example.org ESMTP" in session(ns)
        listed = run_wizard(ns, "rollback", "--list").stdout
        assert listed.count("rolled back") == 2, listed
