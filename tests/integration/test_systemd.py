"""The wizard on a booted systemd: Debian's systemd 252 as PID 1 of the namespace.

Every real Debian server runs systemd; the other integration tests have no init, so
services.py takes its ``postfix reload`` / pidfile branch there. Here one full apply
(every section) runs with ``postfix@-`` and ``opendkim`` under their own units: the
services are controlled through ``systemctl``, the host name set with ``hostnamectl``,
the mail log is the journal and the hub's opendkim status comes from
``systemctl is-active``. Booted once for the module (``Namespace.boot_seconds``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.nsenv import CGROUP_PARENT, Namespace, NsEnvError, pids_in_pid_namespace
from tests.integration.wizard import (
    SASL_USER,
    full_answers,
    publish_example_zone,
    run_python,
    run_wizard,
)

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-Horse-Battery-9"
BOOTED_AS = "old.example.org"  # the name at boot; the apply renames to mail.example.com
RELOADS = "journalctl -b --no-pager -o cat _PID=1 | grep -c '^Reloading postfix' || true"
FILES = ("/etc/hostname", "/etc/mailname", "/etc/hosts", "/etc/postfix/main.cf",
         "/etc/postfix/master.cf")


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with Namespace(hostname=BOOTED_AS, systemd=True) as namespace:
        before = namespace.run(
            "systemctl show -p MainPID --value opendkim\n"
            "systemctl show -p ExecMainStartTimestampMonotonic --value postfix@-"
        ).stdout.split()
        namespace.run(
            """
            rm -f /etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key
            rm -f /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/*.private
            postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level \
                        smtp_tls_security_level smtpd_tls_chain_files
            postconf -e smtpd_authorized_xclient_hosts=127.0.0.1
            # opendkim uses libunbound, which ignores resolv.conf (note 29): test-only.
            sed -i '/^TrustAnchorFile/d' /etc/opendkim.conf
            echo 'Nameservers 127.0.0.1' >> /etc/opendkim.conf
            useradd -M -d /nonexistent -s /usr/sbin/nologin mwadmin
            systemctl reload postfix
            """
        )
        reloads = namespace.run(RELOADS).stdout.strip()
        namespace.boot()
        answers = namespace.tmp / "all.toml"
        answers.write_text(full_answers())
        result = run_wizard(namespace, "apply", str(answers),
                            env=f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)}")
        (namespace.tmp / "apply.out").write_text(result.stdout)
        (namespace.tmp / "before").write_text(" ".join([*before, reloads]))
        assert result.returncode == 0, result.stdout
        publish_example_zone(namespace)
        yield namespace


def test_systemd_is_pid_1_and_the_daemons_run_under_their_units(ns: Namespace) -> None:
    print(f"systemd booted in {ns.boot_seconds:.2f}s")
    out = ns.run("cat /proc/1/comm; systemctl is-system-running\n"
                 "systemctl is-active postfix@- opendkim").stdout.split()
    assert out == ["systemd", "running", "active", "active"], out
    # The wizard's own branch: this machine has systemd.
    assert run_python(ns, "from mailwizard.system import System\n"
                          "print(System().has_systemd)").strip() == "True"


def test_opendkim_was_restarted_by_systemd_on_the_socket_of_opendkim_conf(
    ns: Namespace,
) -> None:
    old_pid = (ns.tmp / "before").read_text().split()[0]
    pid = ns.run("systemctl show -p MainPID --value opendkim").stdout.strip()
    assert pid not in ("0", old_pid), (old_pid, pid)
    # The unit passes no -p: the Socket line the wizard wrote into opendkim.conf is the one.
    assert "inet:8891@127.0.0.1" in ns.run("grep ^Socket /etc/opendkim.conf").stdout
    listeners = ns.run("ss -Hltnp 'sport = :8891'").stdout
    assert f"pid={pid}," in listeners, listeners
    journal = ns.run("journalctl -b --no-pager -u opendkim -o cat").stdout
    assert journal.count("OpenDKIM Filter v2.11.0 starting") >= 2, journal


def test_postfix_was_reloaded_through_systemctl(ns: Namespace) -> None:
    before = int((ns.tmp / "before").read_text().split()[2])
    assert int(ns.run(RELOADS).stdout) > before, ns.run("journalctl -b -o cat _PID=1").stdout
    live = ns.run("postconf -h milter_default_action smtpd_milters").stdout
    assert "inet:127.0.0.1:8891" in live, live


def test_the_host_name_was_set_with_hostnamectl(ns: Namespace) -> None:
    out = ns.run("hostname; hostnamectl --static; cat /etc/hostname").stdout.split()
    assert out == ["mail.example.com"] * 3, out
    journal = ns.run("journalctl -b --no-pager -o cat -u systemd-hostnamed").stdout
    assert "Hostname set to <mail.example.com>" in journal, journal


def test_signed_mail_delivered_and_the_mail_log_is_the_journal(ns: Namespace) -> None:
    since = time.time() - 1  # what MailLog.mark() takes when a live session begins
    sent = ns.run(f"swaks --server 127.0.0.1 --tls --auth PLAIN --auth-user {SASL_USER} "
                  f"--auth-password {shlex.quote(PASSWORD)} --to mwadmin@example.com "
                  "--from postmaster@example.com --header 'Subject: sd-probe-5150' 2>&1",
                  check=False, timeout=60).stdout
    assert "250 2.0.0 Ok: queued as" in sent, sent
    qid = sent.split("250 2.0.0 Ok: queued as ", 1)[1].split()[0]
    ns.run("mw_wait_for 30 grep -q sd-probe-5150 /var/mail/mwadmin")
    assert "DKIM-Signature:" in ns.run("cat /var/mail/mwadmin").stdout
    found = run_python(ns, f"""
from mailwizard.maillog import Mark, MailLog, deliveries
from mailwizard.system import System
log = MailLog(System())
lines = log.read_since(Mark(0, {since!r}))
print(log.where)
print([d.status for d in deliveries(lines, {qid!r}) if d.is_for("mwadmin@example.com")])
""").splitlines()
    assert found == ["the journal", "['sent']"], found


def test_hub_opendkim_status_follows_systemctl_is_active(ns: Namespace) -> None:
    code = ("from mailwizard import services\nfrom mailwizard.system import System\n"
            "print(services.opendkim_running(System()))")
    assert run_python(ns, code).strip() == "True"
    ns.run("systemctl stop opendkim")
    try:
        assert run_python(ns, code).strip() == "False"
    finally:
        ns.run("systemctl start opendkim\nmw_wait_port 8891")
    assert run_python(ns, code).strip() == "True"


def test_failing_hostnamectl_restores_every_file_and_postfix_still_runs(ns: Namespace) -> None:
    """The rollback scenario on systemd: the restore reloads through systemctl."""
    fake = ns.tmp / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "hostnamectl").write_text(
        '#!/bin/sh\necho "Could not set hostname: Access denied" >&2; exit 1\n')
    (fake / "hostnamectl").chmod(0o755)
    answers = ns.tmp / "rename.toml"
    answers.write_text('[hostname]\nfqdn = "mx2.example.com"\n')
    digest = "sha256sum " + " ".join(FILES) + "; stat -c '%n %a %U:%G' " + " ".join(FILES)
    before = ns.run(digest).stdout
    reloads = int(ns.run(RELOADS).stdout)
    result = run_wizard(ns, "apply", str(answers), env=f"PATH={fake}:$PATH")
    assert result.returncode == 2, result.stdout
    assert "Access denied" in result.stdout and "restored" in result.stdout, result.stdout
    assert ns.run(digest).stdout == before
    assert ns.run("hostname").stdout.strip() == "mail.example.com"
    assert int(ns.run(RELOADS).stdout) > reloads  # the restored main.cf is the live one
    assert ns.run("systemctl is-active postfix@-").stdout.strip() == "active"
    assert ns.run("postconf -h myhostname").stdout.strip() == "mail.example.com"


def test_a_booted_namespace_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Private /tmp, /run, hostname and cgroup; closing kills every process, removes all.

    A checkout under /tmp (CI clones there) is the working directory: it is seen inside at
    its own path, and systemd-tmpfiles' emptying of /tmp at boot leaves it alone."""
    marker = Path("/tmp") / f"mw-host-marker-{os.getpid()}"
    marker.write_text("host")
    checkout = Path(tempfile.mkdtemp(prefix="mw-checkout-", dir="/tmp"))
    (checkout / "src").mkdir()
    (checkout / "src" / "code.py").write_text("print('checkout')\n")
    monkeypatch.chdir(checkout)
    try:
        with Namespace(hostname="sd.example.test", systemd=True) as ns:
            pid_ns, cgroup, shared = ns.pid_namespace, ns._cgroup, ns.tmp
            assert cgroup is not None and (cgroup / "init.scope").is_dir()
            (ns.tmp / "from-host").write_text("seen\n")
            inside = ns.run(f"ls /tmp; cat {ns.tmp}/from-host; hostname; "
                            "cat /proc/self/cgroup").stdout.split()
            assert marker.name not in inside and "seen" in inside, inside
            assert "sd.example.test" in inside and "0::/init.scope" not in inside
            # Its own machine ID: the journal it reads is its own, not the host's.
            ids = ns.run("cat /etc/machine-id; journalctl --header | sed -n "
                         "'s/^File path: //p'").stdout.split()
            assert ids[0] != Path("/etc/machine-id").read_text().strip(), ids
            assert ids[1:] and all(f"/journal/{ids[0]}/" in f for f in ids[1:]), ids
            code = ns.run(f"cd {checkout} && pwd && python3 src/code.py && python3 "
                          f"{checkout}/src/code.py", check=False)
            assert code.stdout.split() == [str(checkout), "checkout", "checkout"], code
            assert len(pids_in_pid_namespace(pid_ns)) > 3  # systemd, journald, master...
        assert pids_in_pid_namespace(pid_ns) == []
        assert not cgroup.exists() and not shared.exists()
        assert marker.read_text() == "host"
        assert (checkout / "src" / "code.py").read_text() == "print('checkout')\n"
    finally:
        marker.unlink(missing_ok=True)
        shutil.rmtree(checkout, ignore_errors=True)


def test_a_failed_boot_names_the_unit_shows_systemds_log_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A unit failing at boot: NsEnvError names it, shows its journal and systemd's console
    (its status lines), and the namespace, its cgroup and shared directory are gone."""
    made: list[Path] = []

    def mkdtemp(*args: str, **kwargs: str) -> str:
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    broken = ("printf '[Unit]\\nDescription=Broken on purpose\\n[Service]\\nType=oneshot\\n"
              "ExecStart=/bin/sh -c \"echo mw-broken-says-no >&2; exit 3\"\\n' "
              "> /etc/systemd/system/mw-broken.service\n"
              "ln -s ../mw-broken.service /etc/systemd/system/multi-user.target.wants/\n")
    ns = Namespace(hostname="broken.example.test", systemd=True, before_boot=broken)
    with pytest.raises(NsEnvError) as caught:
        ns.start()
    message = str(caught.value)
    assert "state 'degraded'" in message, message
    assert "mw-broken.service" in message.split("--- failed units")[1], message
    assert "mw-broken-says-no" in message, message  # the unit's journal
    console = message.split("--- systemd's console ---")[1]
    assert "[FAILED] Failed to start mw-broken.service" in console, message
    assert not ns.alive() and ns._cgroup is None and ns._tmp is None
    [shared] = made
    assert not shared.exists() and not (Path(CGROUP_PARENT) / shared.name).exists()
