"""Every section at once, on a fresh Debian set-up, against the real daemons.

A namespace starts as a fresh install named old.example.org (no TLS configured, no SASL
users, no DKIM key), then one `mailwizard apply` of an answers file with every section. The
tests then speak SMTP to it the way the guide does with telnet and openssl s_client, and
check that the password it was given appears nowhere but in sasldb.

Every scenario runs on both paths of services.py (``ns`` is parametrised): with no init
(``postfix reload``, opendkim's pidfile, ``hostname``) and on a booted systemd
(``Namespace(systemd=True)``: ``systemctl``, opendkim under its unit, ``hostnamectl``, the
journal). The ``test_systemd_*`` tests check what only the booted one has, on the same
namespace.
"""

from __future__ import annotations

import base64
import shlex
import time
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import (
    INITS,
    SASL_USER,
    full_answers,
    prepared_namespace,
    publish_example_zone,
    run_python,
    run_wizard,
)

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-Horse-Battery-9"
USER = SASL_USER
BOOTED_AS = "old.example.org"  # the name before the apply, which renames to mail.example.com
OUTSIDE = "192.0.2.10"  # in sender.test's SPF record
STRANGER = "198.51.100.7"  # not in it
ANSWERS = full_answers('support = ["mwadmin", "mwhelper"]\n')
SENDER_ZONE = f"""\
$ORIGIN sender.test.
$TTL 300
@ IN SOA ns.sender.test. hostmaster.sender.test. 1 3600 600 86400 300
@ IN NS ns.sender.test.
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:{OUTSIDE} -all"
"""
# How often PID 1 reloaded postfix this boot (systemd only).
RELOADS = "journalctl -b --no-pager -o cat _PID=1 | grep -c '^Reloading postfix' || true"
FILES = ("/etc/hostname", "/etc/mailname", "/etc/hosts", "/etc/postfix/main.cf",
         "/etc/postfix/master.cf")


def mailwizard(ns: Namespace, *args: str) -> tuple[int, str]:
    result = run_wizard(ns, *args, env=f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)}")
    return result.returncode, result.stdout


def full_setup(*, systemd: bool) -> Iterator[Namespace]:
    with prepared_namespace(BOOTED_AS, systemd=systemd, tls=False, xclient=True,
                            dkim_via_nsd=True, users=("mwadmin", "mwhelper")) as namespace:
        if systemd:  # before the apply: opendkim's PID and PID 1's reloads of postfix
            (namespace.tmp / "before").write_text(namespace.run(
                f"systemctl show -p MainPID --value opendkim; {RELOADS}").stdout)
        namespace.run(f"mw_nsd {shlex.quote(SENDER_ZONE)} sender.test")
        answers = namespace.tmp / "all.toml"
        answers.write_text(ANSWERS)
        rc, out = mailwizard(namespace, "apply", str(answers))
        (namespace.tmp / "apply.out").write_text(out)
        assert rc == 0, out
        publish_example_zone(namespace)
        yield namespace


@pytest.fixture(scope="module")
def plain() -> Iterator[Namespace]:
    """The full set-up with no init: services.py's ``postfix reload`` / pidfile path."""
    yield from full_setup(systemd=False)


@pytest.fixture(scope="module")
def booted() -> Iterator[Namespace]:
    """The full set-up on a booted systemd: services.py's ``systemctl`` path."""
    yield from full_setup(systemd=True)


@pytest.fixture(scope="module", params=INITS)
def ns(request: pytest.FixtureRequest) -> Namespace:
    """Each scenario on both paths (the two namespaces above, one of each per module)."""
    return request.getfixturevalue("booted" if request.param == "systemd" else "plain")


def swaks(ns: Namespace, args: str) -> str:
    return ns.run(f"swaks --server 127.0.0.1 {args} 2>&1", check=False, timeout=60).stdout


def test_ehlo_offers_starttls_and_no_auth_before_it(ns: Namespace) -> None:
    plain = swaks(ns, "--quit-after EHLO")
    assert "250-STARTTLS" in plain, plain
    assert "AUTH" not in plain, plain
    secured = swaks(ns, "--tls --quit-after AUTH")
    assert "250-AUTH PLAIN LOGIN" in secured or "250 AUTH PLAIN LOGIN" in secured, secured


def test_auth_plain_after_starttls_right_and_wrong_password(ns: Namespace) -> None:
    ok = swaks(ns, f"--tls --quit-after AUTH --auth PLAIN --auth-user {USER} "
                   f"--auth-password {shlex.quote(PASSWORD)}")
    assert "235 2.7.0 Authentication successful" in ok, ok
    bad = swaks(ns, f"--tls --quit-after AUTH --auth PLAIN --auth-user {USER} "
                    "--auth-password wrong-password-123")
    assert "535 5.7.8" in bad, bad


def test_outside_client_cannot_relay_but_authenticated_user_can(ns: Namespace) -> None:
    refused = swaks(ns, f"--xclient-addr {STRANGER} --to someone@foreign.example "
                        "--from spam@sender.test --quit-after RCPT")
    assert "Relay access denied" in refused and "250 2.1.5" not in refused, refused
    allowed = swaks(ns, f"--tls --auth PLAIN --auth-user {USER} "
                        f"--auth-password {shlex.quote(PASSWORD)} --xclient-addr {STRANGER} "
                        "--to friend@foreign.example --from postmaster@example.com "
                        "--quit-after RCPT")
    # XCLIENT must come before AUTH for the authentication to count; swaks orders it so.
    assert "250 2.1.5 Ok" in allowed, allowed


def test_authenticated_mail_to_a_local_mailbox_is_dkim_signed_and_verifies(
    ns: Namespace,
) -> None:
    import dkim  # dkimpy

    sent = swaks(ns, f"--tls --auth PLAIN --auth-user {USER} "
                     f"--auth-password {shlex.quote(PASSWORD)} --to mwadmin@example.com "
                     "--from postmaster@example.com --header 'Subject: dkim-probe-4242'")
    assert "250 2.0.0 Ok: queued" in sent, sent
    ns.run("mw_wait_mail /var/mail/mwadmin dkim-probe-4242 30")
    mbox = ns.run("cat /var/mail/mwadmin").stdout
    message = mbox[mbox.rindex("\nFrom ") + 1:] if "\nFrom " in mbox else mbox
    message = message.split("\n", 1)[1]  # drop the mbox "From " line
    assert "DKIM-Signature:" in message and "s=mail" in message, message[:2000]

    def verify(raw: bytes) -> bool:
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]

        def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
            return b"".join(b"".join(r.strings) for r in answer)

        return bool(dkim.verify(raw, dnsfunc=dnsfunc))

    raw = message.replace("\n", "\r\n").encode()
    assert ns.call(verify, raw), "dkimpy could not verify the signature"


def test_spf_pass_is_recorded_and_spf_fail_is_refused_at_rcpt(ns: Namespace) -> None:
    passed = swaks(ns, f"--xclient-addr {OUTSIDE} --xclient-name mx.sender.test "
                       "--helo mx.sender.test "
                       "--from alice@sender.test --to mwhelper@example.com "
                       "--header 'Subject: spf-probe-777'")
    assert "250 2.0.0 Ok: queued" in passed, passed
    ns.run("mw_wait_mail /var/mail/mwhelper spf-probe-777 30")
    box = ns.run("cat /var/mail/mwhelper").stdout
    assert "Received-SPF: pass (sender.test: 192.0.2.10 is authorized" in box, box
    failed = swaks(ns, f"--xclient-addr {STRANGER} --helo mx.sender.test "
                       "--from alice@sender.test "
                       "--to mwhelper@example.com --quit-after RCPT")
    assert "550 5.7" in failed or "554 5.7" in failed, failed
    assert "250 2.1.5" not in failed.split("RCPT TO", 1)[1], failed


def test_files_modes_one_policy_service_and_aliases(ns: Namespace) -> None:
    out = ns.run(
        "stat -c '%U:%G %a' /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/mail.private\n"
        "postconf -M | grep -c '^spfcheck'\n"
        "postalias -q support hash:/etc/aliases"
    ).stdout.splitlines()
    assert out[0] == "root:sasl 640"
    assert out[1] == "opendkim:opendkim 600"
    assert out[2] == "1"
    assert out[3].replace(" ", "") == "mwadmin,mwhelper"


def test_second_apply_writes_nothing_and_password_is_nowhere(ns: Namespace) -> None:
    backups = ns.run("ls /var/backups/mailwizard").stdout
    rc, out = mailwizard(ns, "apply", str(ns.tmp / "all.toml"))
    assert rc == 0, out
    assert "Nothing to do" in out, out
    assert ns.run("ls /var/backups/mailwizard").stdout == backups
    first = (ns.tmp / "apply.out").read_text()
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    for text in (first, out, (ns.tmp / "all.toml").read_text()):
        assert PASSWORD not in text and encoded not in text
    hits = ns.run(
        f"grep -rlaF {shlex.quote(PASSWORD)} /var/log /var/backups/mailwizard || true"
    ).stdout
    assert hits.strip() == "", hits


def test_adding_a_second_user_keeps_passwords_out_of_backups(ns: Namespace) -> None:
    """The backup of this apply would hold sasldb2 with the first user's password in it."""
    more = ns.tmp / "more.toml"
    more.write_text('[[sasl.users]]\nuser = "bob@example.com"\npassword_file = '
                    f'"{ns.tmp / "bob.pw"}"\n')
    (ns.tmp / "bob.pw").write_text("Bob-Secret-Pass-77\n")
    rc, out = mailwizard(ns, "apply", str(more))
    assert rc == 0, out
    assert "Bob-Secret-Pass-77" not in out
    ok = swaks(ns, "--tls --quit-after AUTH --auth PLAIN --auth-user bob@example.com "
                   "--auth-password Bob-Secret-Pass-77")
    assert "235 2.7.0" in ok, ok
    hits = ns.run(
        f"grep -rlaF -e {shlex.quote(PASSWORD)} -e Bob-Secret-Pass-77 /var/backups/mailwizard"
        " /var/log || true"
    ).stdout
    assert hits.strip() == "", hits


# -- what only the booted systemd has (the same namespace as ns[systemd]) -------------------


def test_systemd_is_pid_1_and_the_daemons_run_under_their_units(booted: Namespace) -> None:
    print(f"systemd booted in {booted.boot_seconds:.2f}s")
    out = booted.run("cat /proc/1/comm; systemctl is-system-running\n"
                     "systemctl is-active postfix@- opendkim").stdout.split()
    assert out == ["systemd", "running", "active", "active"], out
    # The wizard's own branch: this machine has systemd.
    assert run_python(booted, "from mailwizard.system import System\n"
                              "print(System().has_systemd)").strip() == "True"


def test_systemd_restarted_opendkim_on_the_socket_of_opendkim_conf(booted: Namespace) -> None:
    old_pid = (booted.tmp / "before").read_text().split()[0]
    pid = booted.run("systemctl show -p MainPID --value opendkim").stdout.strip()
    assert pid not in ("0", old_pid), (old_pid, pid)
    # The unit passes no -p: the Socket line the wizard wrote into opendkim.conf is the one.
    assert "inet:8891@127.0.0.1" in booted.run("grep ^Socket /etc/opendkim.conf").stdout
    listeners = booted.run("ss -Hltnp 'sport = :8891'").stdout
    assert f"pid={pid}," in listeners, listeners
    journal = booted.run("journalctl -b --no-pager -u opendkim -o cat").stdout
    assert journal.count("OpenDKIM Filter v2.11.0 starting") >= 2, journal


def test_systemd_reloaded_postfix_through_systemctl(booted: Namespace) -> None:
    before = int((booted.tmp / "before").read_text().split()[1])
    assert int(booted.run(RELOADS).stdout) > before, booted.run(
        "journalctl -b -o cat _PID=1").stdout
    live = booted.run("postconf -h milter_default_action smtpd_milters").stdout
    assert "inet:127.0.0.1:8891" in live, live


def test_systemd_host_name_was_set_with_hostnamectl(booted: Namespace) -> None:
    out = booted.run("hostname; hostnamectl --static; cat /etc/hostname").stdout.split()
    assert out == ["mail.example.com"] * 3, out
    journal = booted.run("journalctl -b --no-pager -o cat -u systemd-hostnamed").stdout
    assert "Hostname set to <mail.example.com>" in journal, journal


def test_systemd_mail_log_is_the_journal(booted: Namespace) -> None:
    since = time.time() - 1  # what MailLog.mark() takes when a live session begins
    sent = swaks(booted, f"--tls --auth PLAIN --auth-user {USER} "
                         f"--auth-password {shlex.quote(PASSWORD)} --to mwadmin@example.com "
                         "--from postmaster@example.com --header 'Subject: sd-probe-5150'")
    assert "250 2.0.0 Ok: queued as" in sent, sent
    qid = sent.split("250 2.0.0 Ok: queued as ", 1)[1].split()[0]
    booted.run("mw_wait_mail /var/mail/mwadmin sd-probe-5150 30")
    found = run_python(booted, f"""
from mailwizard.maillog import Mark, MailLog, deliveries
from mailwizard.system import System
log = MailLog(System())
lines = log.read_since(Mark(0, {since!r}))
print(log.where)
print([d.status for d in deliveries(lines, {qid!r}) if d.is_for("mwadmin@example.com")])
""").splitlines()
    assert found == ["the journal", "['sent']"], found


def test_systemd_hub_opendkim_status_follows_systemctl_is_active(booted: Namespace) -> None:
    """What the hub's DKIM row shows (the step's status) follows the unit."""
    code = ("from mailwizard import services\nfrom mailwizard.steps import by_name\n"
            "from mailwizard.system import System\ns = by_name('dkim').status(System())\n"
            "print(services.opendkim_running(System()), s.state, s.summary, sep='|')")
    assert run_python(booted, code).strip() == "True|ok|mail._domainkey"
    booted.run("systemctl stop opendkim")
    try:
        assert run_python(booted, code).strip() == "False|problem|opendkim not running"
    finally:
        booted.run("systemctl start opendkim\nmw_wait_port 8891")
    assert run_python(booted, code).strip() == "True|ok|mail._domainkey"


def test_systemd_failing_hostnamectl_restores_every_file_and_postfix_runs(
    booted: Namespace,
) -> None:
    """A failed apply on systemd: the restore reloads through systemctl."""
    fake = booted.tmp / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "hostnamectl").write_text(
        '#!/bin/sh\necho "Could not set hostname: Access denied" >&2; exit 1\n')
    (fake / "hostnamectl").chmod(0o755)
    answers = booted.tmp / "rename.toml"
    answers.write_text('[hostname]\nfqdn = "mx2.example.com"\n')
    digest = "sha256sum " + " ".join(FILES) + "; stat -c '%n %a %U:%G' " + " ".join(FILES)
    before = booted.run(digest).stdout
    reloads = int(booted.run(RELOADS).stdout)
    result = run_wizard(booted, "apply", str(answers), env=f"PATH={fake}:$PATH")
    assert result.returncode == 2, result.stdout
    assert "Access denied" in result.stdout and "restored" in result.stdout, result.stdout
    assert booted.run(digest).stdout == before
    assert booted.run("hostname").stdout.strip() == "mail.example.com"
    assert int(booted.run(RELOADS).stdout) > reloads  # the restored main.cf is the live one
    assert booted.run("systemctl is-active postfix@-").stdout.strip() == "active"
    assert booted.run("postconf -h myhostname").stdout.strip() == "mail.example.com"
