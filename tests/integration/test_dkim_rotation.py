"""A DKIM selector rotation headless, on real Postfix, opendkim and nsd.

In an isolated namespace (tests/integration/nsenv.py): `mailwizard apply` signs with
selector ``mail``, whose record nsd serves. A new selector (``s2026``) makes the new key and
prints its record while mail is still signed by ``mail``; ``published = true`` is refused
while nsd does not serve the new record; once it does, the switch happens and mail is
signed by ``s2026``. dkimpy verifies every message against nsd (resolv.conf -> 127.0.0.1),
and the DNS check the switch waits for asks the same nsd.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import (
    HOSTNAME_SECTION,
    delivered,
    dkim_record,
    dkim_section,
    dkim_verifies,
    domains_section,
    prepared_namespace,
    run_wizard,
    serve_signing_zone,
)

pytestmark = pytest.mark.integration

HOSTNAME = "mail.example.com"
DOMAINS = domains_section("example.com", "mail.example.com", "localhost")
OLD_CONF = ["KeyFile\t\t\t/etc/dkimkeys/mail.private", "Selector\t\tmail"]
NEW_CONF = ["KeyFile\t\t\t/etc/dkimkeys/s2026.private", "Selector\t\ts2026"]


def _answers(ns: Namespace, selector: str, extra: str = "") -> Path:
    path = ns.tmp / f"answers-{selector}-{uuid4().hex[:6]}.toml"
    path.write_text("\n".join([HOSTNAME_SECTION, DOMAINS, dkim_section(selector)]) + extra)
    return path


def _record(ns: Namespace, selector: str) -> tuple[str, str]:
    found = dkim_record(ns, selector)
    assert found is not None, f"no key for {selector}"
    return found


def _serve(ns: Namespace, *selectors: str) -> None:
    """nsd serves example.com with the records of ``selectors``."""
    serve_signing_zone(ns, "".join(f"{sel}._domainkey IN TXT {_record(ns, sel)[0]}\n"
                                   for sel in selectors))


def _send(ns: Namespace) -> bytes:
    """A local submission from alice@example.com, as delivered to root's mailbox."""
    token = uuid4().hex
    ns.run(
        f"""
        printf 'From: alice@example.com\\nTo: root@example.com\\nSubject: rot %s\\n\\n%s\\n' \\
          {token} 'rotation body' | sendmail -f alice@example.com root@example.com
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    return ns.call(delivered, token)


def _selector_of(message: bytes) -> str:
    signature = re.search(rb"^DKIM-Signature:(.*(?:\n[ \t].*)*)", message, re.M)
    assert signature is not None, message[:1500]
    found = re.search(rb"\bs=([^;\s]+)", signature.group(1))
    assert found is not None
    return found.group(1).decode()


def _conf(ns: Namespace) -> list[str]:
    """opendkim.conf's KeyFile and Selector lines, in that order."""
    return sorted(ns.run("grep -E '^(Selector|KeyFile)' /etc/opendkim.conf").stdout
                  .splitlines())


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with prepared_namespace(HOSTNAME, fresh=False, dkim_via_nsd=True, users=()) as namespace:
        yield namespace


def test_rotation_signs_with_the_old_key_until_the_dns_shows_the_new_one(
        ns: Namespace) -> None:
    first = run_wizard(ns, "apply", str(_answers(ns, "mail")))
    assert first.returncode == 0, first.stdout
    _serve(ns, "mail")
    before = _send(ns)
    assert _selector_of(before) == "mail" and ns.call(dkim_verifies, before) is True

    # Phase 1: the new key and its record; opendkim still signs with mail.
    phase1 = run_wizard(ns, "apply", str(_answers(ns, "s2026")))
    assert phase1.returncode == 0, phase1.stdout
    assert "Publish this DNS record: TXT at s2026._domainkey.example.com\n" in phase1.stdout
    assert f"  flat (for DNS panels):  {_record(ns, 's2026')[1]}\n" in phase1.stdout
    assert "Mail is still signed with selector mail." in phase1.stdout
    assert _conf(ns) == OLD_CONF
    assert ns.run("stat -c '%a %U' /etc/dkimkeys/s2026.private").stdout.split() == [
        "600", "opendkim"]
    during = _send(ns)
    assert _selector_of(during) == "mail" and ns.call(dkim_verifies, during) is True
    # The zone has both records; the DNS check judges the key that signs (served: pass).
    zone = run_wizard(ns, "zone", "--ipv4", "192.0.2.10")
    assert zone.returncode == 0, zone.stdout
    assert "\nmail._domainkey.example.com. 3600 IN TXT " in zone.stdout
    assert "\ns2026._domainkey.example.com. 3600 IN TXT " in zone.stdout
    check = run_wizard(ns, "check", "--json", "--nameserver", "127.0.0.1", "--ipv4",
                       "192.0.2.10")
    dkim_check = next(c for c in json.loads(check.stdout[check.stdout.index("{"):])["checks"]
                      if c["id"] == "dns.dkim")
    assert dkim_check["status"] == "pass", dkim_check
    assert dkim_check["detail"].startswith("mail._domainkey.example.com.")
    again = run_wizard(ns, "apply", str(_answers(ns, "s2026")))
    assert again.returncode == 0 and "Nothing to do" in again.stdout, again.stdout

    # published = true while nsd does not serve the new record: refused, nothing written.
    published = _answers(ns, "s2026", "published = true\n")
    early = run_wizard(ns, "apply", str(published))
    assert early.returncode == 1, early.stdout
    assert ("dkim.published: not seen in the DNS yet (absent: s2026._domainkey.example.com. "
            "TXT: no such name (NXDOMAIN)); selector mail still signs") in early.stdout
    assert "nothing was written" in early.stdout
    assert _conf(ns) == OLD_CONF
    refused = _send(ns)
    assert _selector_of(refused) == "mail" and ns.call(dkim_verifies, refused) is True

    # Published (both records served): the switch; mail is signed by s2026 and verifies.
    _serve(ns, "mail", "s2026")
    switch = run_wizard(ns, "apply", str(published))
    assert switch.returncode == 0, switch.stdout
    assert "Mail is now signed with selector s2026." in switch.stdout
    assert "Keep mail._domainkey.example.com published for a few days" in switch.stdout
    assert _conf(ns) == NEW_CONF
    assert ns.run("test -f /etc/dkimkeys/mail.private", check=False).returncode == 0
    after = _send(ns)
    assert _selector_of(after) == "s2026" and ns.call(dkim_verifies, after) is True
    # The message before the switch still verifies while the old record stays published.
    assert ns.call(dkim_verifies, before) is True
    # Tampering breaks it: the verification is real.
    assert ns.call(dkim_verifies, after.replace(b"rotation body", b"forged body")) is False
    last = run_wizard(ns, "apply", str(published))
    assert last.returncode == 0 and "Nothing to do" in last.stdout, last.stdout
    assert ns.run("test -e /etc/mailwizard/dkim-rotation.toml", check=False).returncode == 1
