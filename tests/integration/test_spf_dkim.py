"""SPF, DKIM and DMARC applied headless on real Postfix, opendkim, policyd-spf and nsd.

Inside an isolated namespace (tests/integration/nsenv.py): `mailwizard apply` with
[hostname] [domains] [spf] [dkim] [dmarc]; the generated key's record served by nsd;
a local submission arrives DKIM-signed (dkimpy verifies it against nsd); an outside
client (XCLIENT) passing SPF gets `Received-SPF: pass`, one failing it a 5xx at RCPT.
Each scenario runs with no init and on a booted systemd (``INITS``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import (
    DMARC_SECTION,
    HOSTNAME_SECTION,
    INITS,
    SPF_SECTION,
    delivered,
    dkim_record,
    dkim_section,
    dkim_verifies,
    domains_section,
    prepared_namespace,
    python_json,
    run_wizard,
    serve_signing_zone,
)

pytestmark = pytest.mark.integration

HOSTNAME = "mail.example.com"
ANSWERS = "\n".join([
    HOSTNAME_SECTION, domains_section("example.com", "mail.example.com", "localhost"),
    SPF_SECTION, dkim_section(), DMARC_SECTION,
])


def _apply(ns: Namespace, answers: Path) -> str:
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 0, result.stdout
    return result.stdout


def _status(ns: Namespace, name: str) -> tuple[str, str]:
    found = python_json(ns, "from mailwizard.steps import by_name\n"
                        "from mailwizard.system import System\n"
                        f"s = by_name({name!r}).status(System())\n"
                        "result = [s.state, s.summary]")
    return found[0], found[1]


@pytest.fixture(scope="module", params=INITS)
def ns(request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """Both paths of services.py: no init, and a booted systemd (opendkim under its unit)."""
    # Test-only settings, not the product's: XCLIENT from loopback so swaks can speak as an
    # outside client; opendkim asks nsd (its libunbound ignores resolv.conf).
    with prepared_namespace(HOSTNAME, systemd=request.param == "systemd", fresh=False,
                            xclient=True, dkim_via_nsd=True, users=()) as namespace:
        yield namespace


@pytest.fixture(scope="module")
def applied(ns: Namespace) -> dict[str, str]:
    answers = ns.tmp / "answers.toml"
    answers.write_text(ANSWERS)
    first = _apply(ns, answers)
    record = dkim_record(ns)
    assert record is not None, "no DKIM key after apply"
    split, flat = record
    serve_signing_zone(ns, f"mail._domainkey IN TXT {split}\n")
    ns.run("mw_nsd " + shlex.quote(
        "$ORIGIN sender.test.\n$TTL 300\n"
        "@ IN SOA ns1.example.com. hostmaster.example.com. 2024010101 3600 600 86400 300\n"
        "@ IN NS ns1.example.com.\n"
        '@ IN TXT "v=spf1 ip4:192.0.2.10 -all"\n'
    ))
    second = _apply(ns, answers)
    return {"first": first, "second": second, "split": split, "flat": flat,
            "answers": str(answers)}


def test_first_apply_ran_and_second_writes_nothing(ns: Namespace,
                                                   applied: dict[str, str]) -> None:
    assert "Applied." in applied["first"]
    assert ("opendkim-genkey -b 2048 -d example.com -s mail -D <private temp dir>"
            in applied["first"])
    # The record to publish, printed as plain text after the key was made.
    assert "Publish this DNS record: TXT at mail._domainkey.example.com\n" in applied["first"]
    assert f"  flat (for DNS panels):  {applied['flat']}\n" in applied["first"]
    assert "Publish this DNS record" not in applied["second"]
    assert "Nothing to do" in applied["second"], applied["second"]
    third = _apply(ns, Path(applied["answers"]))
    assert "Nothing to do" in third


def test_exactly_one_spfcheck_service(ns: Namespace, applied: dict[str, str]) -> None:
    assert ns.run("postconf -M | grep -c spfcheck").stdout.strip() == "1"
    restrictions = ns.run("postconf -h smtpd_recipient_restrictions").stdout.strip()
    assert restrictions == (
        "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, "
        "check_policy_service { unix:private/spfcheck, default_action=DUNNO }"
    )
    assert ns.run("postconf -h spfcheck_time_limit").stdout.strip() == "3600"
    assert ns.run("postconf -n 2>&1 >/dev/null").stdout.strip() == ""


def test_key_is_private_to_opendkim(ns: Namespace, applied: dict[str, str]) -> None:
    out = ns.run("stat -c '%a %U %G' /etc/dkimkeys/mail.private").stdout.split()
    assert out == ["600", "opendkim", "opendkim"]
    assert ns.run("opendkim -n -x /etc/opendkim.conf", check=False).returncode == 0
    assert all(len(s.encode()) <= 255 for s in re.findall(r'"([^"]*)"', applied["split"]))


def test_dkim_record_served_by_nsd_matches_the_key(ns: Namespace,
                                                    applied: dict[str, str]) -> None:
    dig = ns.run("dig +short +time=2 +tries=1 TXT mail._domainkey.example.com @127.0.0.1")
    strings = re.findall(r'"([^"]*)"', dig.stdout)
    assert "".join(strings) == applied["flat"]


def test_local_submission_is_signed_and_verifies(ns: Namespace,
                                                 applied: dict[str, str]) -> None:
    token = uuid4().hex
    ns.run(
        f"""
        printf 'From: alice@example.com\\nTo: root@example.com\\nSubject: dkim %s\\n\\n%s\\n' \\
          {token} 'signed body' | sendmail -f alice@example.com root@example.com
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    message = ns.call(delivered, token)
    assert b"DKIM-Signature:" in message
    assert re.search(rb"d=example\.com;", message) and re.search(rb"s=mail;", message)
    assert ns.call(dkim_verifies, message) is True
    # Tampering breaks it: the verification is real.
    assert ns.call(dkim_verifies, message.replace(b"signed body", b"forged body")) is False


def test_mail_the_server_itself_sends_is_signed(ns: Namespace, applied: dict[str, str]) -> None:
    """root's cron mail: From root@mail.example.com (myorigin is the host name) is signed
    with example.com's key (SubDomains), and verifies."""
    token = uuid4().hex
    ns.run(
        f"""
        printf 'Subject: cron %s\n\n%s\n' {token} 'cron body' | sendmail root@example.com
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    message = ns.call(delivered, token)
    assert re.search(rb"^From: .*root@mail\.example\.com", message, re.M), message[:1500]
    assert b"DKIM-Signature:" in message, message[:1500]
    assert ns.call(dkim_verifies, message) is True


def test_smtp_submission_from_loopback_is_signed(ns: Namespace,
                                                 applied: dict[str, str]) -> None:
    token = uuid4().hex
    ns.run(
        f"""
        swaks --server 127.0.0.1 --from alice@example.com --to root@example.com \\
              --header 'From: alice@example.com' --header 'Subject: smtp {token}' \\
              --body 'smtp body' >/dev/null
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    message = ns.call(delivered, token)
    assert ns.call(dkim_verifies, message) is True


def test_outside_sender_passing_spf_gets_received_spf_pass(
    ns: Namespace, applied: dict[str, str]
) -> None:
    token = uuid4().hex
    ns.run(
        f"""
        swaks --server 127.0.0.1 --xclient-addr 192.0.2.10 --from x@sender.test \\
              --to root@example.com --header 'Subject: spf {token}' --body hi >/dev/null
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    message = ns.call(delivered, token).decode("utf-8", "replace")
    header = re.search(r"^Received-SPF: (\S+)", message, re.M | re.I)
    assert header is not None, message[:2000]
    assert header.group(1).lower() == "pass"


def test_outside_sender_failing_spf_is_refused_at_rcpt(
    ns: Namespace, applied: dict[str, str]
) -> None:
    result = ns.run(
        "swaks --server 127.0.0.1 --xclient-addr 198.51.100.7 --from x@sender.test "
        "--to root@example.com --body hi",
        check=False,
    )
    assert result.returncode != 0
    transcript = result.stdout
    rcpt = transcript[transcript.index("RCPT TO:"):]
    answer = re.search(r"^<\*\*\s+(\d{3})", rcpt, re.M)
    assert answer is not None and answer.group(1).startswith("5"), transcript


def test_outside_relay_still_refused(ns: Namespace, applied: dict[str, str]) -> None:
    result = ns.run(
        "swaks --server 127.0.0.1 --xclient-addr 192.0.2.10 --from x@sender.test "
        "--to someone@elsewhere.test --body hi",
        check=False,
    )
    assert result.returncode != 0
    assert re.search(r"^<\*\*\s+[45]\d\d", result.stdout, re.M), result.stdout


def test_status_lines_after_apply(ns: Namespace, applied: dict[str, str]) -> None:
    assert _status(ns, "dkim") == ("ok", "mail._domainkey")
    assert _status(ns, "spf") == ("ok", "v=spf1 mx ~all · incoming checked")
    assert _status(ns, "dmarc") == ("ok", "p=none")


def test_broken_spf_checker_fails_open(ns: Namespace, applied: dict[str, str]) -> None:
    """With default_action=DUNNO a dead checker lets mail in unchecked, not 451."""
    ns.run("mount --bind /bin/false /usr/sbin/postfix-policyd-spf-perl\npostfix reload")
    try:
        result = ns.run(
            "swaks --server 127.0.0.1 --xclient-addr 198.51.100.7 --from x@sender.test "
            "--to root@example.com --body hi",
            check=False,
        )
    finally:
        ns.run("umount /usr/sbin/postfix-policyd-spf-perl\npostfix reload")
    assert result.returncode == 0, result.stdout
    rcpt = result.stdout[result.stdout.index("RCPT TO:"):]
    assert re.search(r"^<-\s+250", rcpt, re.M), result.stdout
