"""SASL on a real Postfix in an isolated namespace, driven by `mailwizard apply`.

Snakeoil TLS configured, no SASL: after the apply EHLO on 25 offers STARTTLS and no AUTH
before it; after STARTTLS AUTH PLAIN takes the right password (235) and refuses a wrong one
(535), the bare user name works (smtpd_sasl_local_domain), port 587 offers AUTH after
STARTTLS; the chroot copy is root:sasl 0640; a second user added by a second apply logs in
at once (no reload: smtpd reads the chroot copy per session); a third identical apply writes
nothing; the passwords appear in no output of the wizard, no /var/log file, no answers file,
and no backup except as the database bytes that were already on disk before an apply (see
test_passwords_never_leak). Each scenario runs with no init and on a booted systemd
(``INITS``), where the journal is among the /var/log files searched.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import (
    INITS,
    add_public_address,
    run_python,
    run_wizard,
    tls_namespace,
)

pytestmark = pytest.mark.integration

PW_ALICE = "Int3gration-Alice-Pass"
PW_BOB = "Int3gration-Bob-Secret"
WRONG = "Wr0ng-Password-Given"
ENV_ALICE = "MAILWIZARD_PASSWORD_ALICE"
ENV_BOB = "MAILWIZARD_PASSWORD_BOB"
SECRETS = (PW_ALICE, PW_BOB)

ANSWERS_ONE = f"""\
[[sasl.users]]
user = "alice@example.com"
password_env = "{ENV_ALICE}"
"""
ANSWERS_TWO = ANSWERS_ONE + f"""
[[sasl.users]]
user = "bob@example.com"
password_env = "{ENV_BOB}"
"""

OUTPUTS: list[str] = []  # everything the wizard printed, for the leak test


NO_SASL_YET = """\
postconf -e smtpd_authorized_xclient_hosts=127.0.0.1
postconf -X smtpd_sasl_auth_enable smtpd_sasl_local_domain smtpd_tls_auth_only
# Left at Postfix's default (an expression on $compatibility_level).
postconf -X smtpd_relay_restrictions
rm -f /etc/postfix/sasl/smtpd.conf /var/spool/postfix/etc/sasldb2"""


@pytest.fixture(scope="module", params=INITS)
def ns(request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """Postfix running with the snakeoil pair configured and no SASL yet (no init, and on a
    booted systemd)."""
    saved = {k: os.environ.get(k) for k in (ENV_ALICE, ENV_BOB)}
    os.environ[ENV_ALICE] = PW_ALICE
    os.environ[ENV_BOB] = PW_BOB
    try:
        with tls_namespace(systemd=request.param == "systemd", more=NO_SASL_YET) as namespace:
            yield namespace
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def mailwizard(ns: Namespace, *args: str) -> str:
    result = run_wizard(ns, *args)
    OUTPUTS.append(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def apply_answers(ns: Namespace, text: str, name: str) -> str:
    path = ns.tmp / name
    path.write_text(text)
    return mailwizard(ns, "apply", str(path))


# -- SMTP dialogues, run inside the namespace through Namespace.call ----------------------------


def _session(port: int, user: str, password: str) -> dict[str, object]:
    """EHLO, STARTTLS, EHLO, AUTH PLAIN: what was offered when, and the AUTH reply code."""
    out: dict[str, object] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.ehlo("client.example.net")
        out["before"] = sorted(smtp.esmtp_features)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        smtp.starttls(context=ctx)
        smtp.ehlo("client.example.net")
        out["after"] = sorted(smtp.esmtp_features)
        out["mechanisms"] = smtp.esmtp_features.get("auth", "").split()
        smtp.user, smtp.password = user, password
        try:
            code, _ = smtp.auth("PLAIN", smtp.auth_plain, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            code = exc.smtp_code
        out["code"] = code
    return out


def _guesses(address: str, tries: int) -> list[tuple[int, str]]:
    """``tries`` AUTH PLAIN attempts with a wrong password from ``address`` (outside
    $mynetworks), each in a session of its own, as a guessing bot makes them."""
    replies: list[tuple[int, str]] = []
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(tries):
        with smtplib.SMTP(address, 25, timeout=20, source_address=(address, 0)) as smtp:
            smtp.ehlo("bot.example.net")
            smtp.starttls(context=ctx)
            smtp.ehlo("bot.example.net")
            smtp.user, smtp.password = "alice@example.com", WRONG
            try:
                code, text = smtp.auth("PLAIN", smtp.auth_plain, initial_response_ok=True)
            except smtplib.SMTPAuthenticationError as exc:
                code, text = exc.smtp_code, exc.smtp_error
            except smtplib.SMTPServerDisconnected:
                code, text = 0, b"disconnected"
            replies.append((code, text.decode(errors="replace")))
    return replies


def _rcpt_from(address: str, rcpt: str, login: tuple[str, str] | None) -> int:
    """From ``address`` (outside $mynetworks): STARTTLS, AUTH as ``login`` (or none), then
    MAIL and RCPT to ``rcpt``; the RCPT reply code."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(address, 25, timeout=20, source_address=(address, 0)) as smtp:
        smtp.ehlo("laptop.example.net")
        smtp.starttls(context=ctx)
        smtp.ehlo("laptop.example.net")
        if login is not None:
            smtp.login(*login)
        smtp.mail("alice@example.com")
        code, _ = smtp.rcpt(rcpt)
        return code


def _plain_ehlo(port: int) -> list[str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.ehlo("client.example.net")
        return sorted(smtp.esmtp_features)


def _files_containing(roots: list[str], needles: tuple[str, ...]) -> list[str]:
    found = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    continue
                found += [f"{path}: {i}" for i, n in enumerate(needles) if n.encode() in data]
    return found


# -- the tests (in order: they share one namespace) --------------------------------------------


def test_first_apply_auth_after_starttls_on_25(ns: Namespace) -> None:
    assert ns.call(_plain_ehlo, 25).count("auth") == 0
    out = apply_answers(ns, ANSWERS_ONE, "answers-1.toml")
    assert "Applied." in out, out
    assert "saslpasswd2 -p -c -f /etc/sasldb2 -u example.com alice" in out
    assert "gpasswd -a postfix sasl" in out
    before = ns.call(_plain_ehlo, 25)
    assert "starttls" in before and "auth" not in before
    good = ns.call(_session, 25, "alice@example.com", PW_ALICE)
    assert good["code"] == 235, good
    assert "auth" not in good["before"]  # type: ignore[operator]
    assert good["mechanisms"] == ["PLAIN", "LOGIN"]
    bad = ns.call(_session, 25, "alice@example.com", WRONG)
    assert bad["code"] == 535, bad


def test_relay_restrictions_read_as_written_by_hand_and_relay_is_refused(
        ns: Namespace) -> None:
    """Issue 11 item 12: the plain list in postconf -n, and a stranger still cannot relay."""
    written = ns.run("postconf -n smtpd_relay_restrictions").stdout.strip()
    assert written == ("smtpd_relay_restrictions = permit_mynetworks, "
                       "permit_sasl_authenticated, reject_unauth_destination")
    refused = ns.run("swaks --server 127.0.0.1 --xclient-addr 198.51.100.7 "
                     "--to someone@foreign.example --from spam@sender.test --quit-after RCPT 2>&1",
                     check=False, timeout=60).stdout
    assert "Relay access denied" in refused and "250 2.1.5" not in refused, refused


def test_bare_user_name_uses_the_local_domain(ns: Namespace) -> None:
    assert ns.run("postconf -h smtpd_sasl_local_domain").stdout.strip() == "example.com"
    assert ns.call(_session, 25, "alice", PW_ALICE)["code"] == 235


def test_submission_port_offers_auth_after_starttls(ns: Namespace) -> None:
    ns.run("mw_wait_port 587")
    before = ns.call(_plain_ehlo, 587)
    assert "starttls" in before and "auth" not in before
    result = ns.call(_session, 587, "alice@example.com", PW_ALICE)
    assert result["code"] == 235, result
    assert "auth" in result["after"]  # type: ignore[operator]
    assert ns.call(_session, 587, "alice@example.com", WRONG)["code"] == 535


def test_chroot_copy_and_group(ns: Namespace) -> None:
    stat = ns.run("stat -c '%U:%G %a' /var/spool/postfix/etc/sasldb2").stdout.split()
    assert stat == ["root:sasl", "640"]
    assert ns.run("cmp /etc/sasldb2 /var/spool/postfix/etc/sasldb2", check=False).returncode == 0
    assert "sasl" in ns.run("id -nG postfix").stdout.split()
    assert not ns.run("ls -A /var/spool/postfix/etc/").stdout.count(".sasldb2.tmp")
    conf = ns.run("cat /etc/postfix/sasl/smtpd.conf").stdout
    assert "pwcheck_method: auxprop" in conf and "mech_list: PLAIN LOGIN" in conf


def test_second_user_works_at_once_and_third_apply_is_empty(ns: Namespace) -> None:
    reloads = "mw_maillog_text | grep -c 'master.*reload' || true"
    before = ns.run(reloads).stdout.strip()
    out = apply_answers(ns, ANSWERS_TWO, "answers-2.toml")
    assert "Applied." in out, out
    assert "-u example.com bob" in out and "-u example.com alice" not in out
    assert "reload: postfix" not in out and "reload postfix" not in out
    assert ns.run(reloads).stdout.strip() == before, "a new login needs no reload"
    assert ns.call(_session, 25, "bob@example.com", PW_BOB)["code"] == 235
    assert ns.call(_session, 587, "bob", PW_BOB)["code"] == 235
    again = apply_answers(ns, ANSWERS_TWO, "answers-3.toml")
    assert "Nothing to do" in again, again


OLD_RELAY = ("${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
             "permit_sasl_authenticated, defer_unauth_destination}} permit_sasl_authenticated")


def test_an_older_relay_expression_becomes_the_plain_list_and_relay_stays_closed(
        ns: Namespace) -> None:
    """What an older mailwizard wrote (an expression on $compatibility_level) is rewritten by
    the next apply, shown in its diff; from outside, a login may still relay and a stranger
    may not."""
    ns.run(f"postconf -e 'smtpd_relay_restrictions={OLD_RELAY}' && postfix reload")
    assert ns.run("postconf -h smtpd_relay_restrictions").stdout.strip() == OLD_RELAY
    out = apply_answers(ns, ANSWERS_TWO, "answers-old-relay.toml")
    assert f"-smtpd_relay_restrictions = {OLD_RELAY}" in out, out
    plain = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    assert f"+smtpd_relay_restrictions = {plain}" in out, out
    assert ns.run("postconf -n smtpd_relay_restrictions").stdout.strip() == (
        f"smtpd_relay_restrictions = {plain}")
    add_public_address(ns, "192.0.2.78")
    foreign = "someone@foreign.example"
    assert ns.call(_rcpt_from, "192.0.2.78", foreign, None, timeout=60) == 554
    assert ns.call(_rcpt_from, "192.0.2.78", foreign, ("alice@example.com", PW_ALICE),
                   timeout=60) == 250
    assert "Nothing to do" in apply_answers(ns, ANSWERS_TWO, "answers-old-relay-2.toml")


def test_status_via_the_engine(ns: Namespace) -> None:
    code = ("from mailwizard.steps.sasl import SaslStep; from mailwizard.system import System; "
            "s = SaslStep().status(System()); print(s.state, s.summary, sep='|')")
    out = run_python(ns, code).strip()
    assert out == "ok|2 users"


def test_guessing_is_braked_after_ten_tries_a_minute(ns: Namespace) -> None:
    """Issue 8 item 5: smtpd_client_auth_rate_limit = 10 (anvil): an outside client's 11th
    AUTH within the minute is refused before the password is even checked."""
    assert ns.run("postconf -h smtpd_client_auth_rate_limit").stdout.strip() == "10"
    add_public_address(ns, "192.0.2.77")
    replies = ns.call(_guesses, "192.0.2.77", 12, timeout=120)
    codes = [code for code, _ in replies]
    assert codes[:10] == [535] * 10, replies
    assert replies[10:] == [(450, "4.7.1 Error: too many AUTH commands from 192.0.2.77")] * 2
    log = ns.run("mw_maillog_text | grep 'AUTH command rate limit exceeded' || true").stdout
    assert "11 from unknown[192.0.2.77]" in log, log
    # The trusted networks are exempt (smtpd_client_event_limit_exceptions = $mynetworks).
    assert ns.call(_session, 25, "alice@example.com", PW_ALICE)["code"] == 235


def test_passwords_never_leak(ns: Namespace) -> None:
    assert OUTPUTS, "run the whole module: the earlier tests produce the wizard's output"
    for text in OUTPUTS:
        for secret in SECRETS:
            assert secret not in text
    for name in ("answers-1.toml", "answers-2.toml", "answers-3.toml"):
        text = (ns.tmp / name).read_text()
        assert all(secret not in text for secret in SECRETS)
    assert ns.call(_files_containing, ["/var/log"], SECRETS) == []
    # sasldb2 holds passwords in clear: its backup copies serve a failed apply's restore and
    # are deleted once the apply is over, so no backup keeps any password.
    assert ns.call(_files_containing, ["/var/backups/mailwizard"], SECRETS) == []
    # Nor the copies a restore would have needed (tmpfs, deleted once each apply was over).
    assert ns.call(_files_containing, ["/run/mailwizard"], SECRETS) == []
    modes = ns.run("find /var/backups/mailwizard -name sasldb2 -printf '%m %u\\n'").stdout.split()
    assert set(modes) <= {"600", "root"}
