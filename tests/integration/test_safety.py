"""Issue 8 on a real machine (an isolated namespace): attacks that must be refused.

An open relay by arithmetic (mynetworks that together cover the internet) is refused by
`mailwizard apply`, nothing is written, and an outside client still cannot relay.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_wizard

pytestmark = pytest.mark.integration

FILES = ("/etc/hostname", "/etc/mailname", "/etc/hosts", "/etc/postfix/main.cf",
         "/etc/postfix/master.cf")
GOOD = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::1]/128"]
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with Namespace(hostname="mail.example.com") as namespace:
        namespace.boot()
        namespace.run("postconf -e smtpd_authorized_xclient_hosts=127.0.0.1; postfix reload")
        answers = namespace.tmp / "good.toml"
        answers.write_text(GOOD)
        result = run_wizard(namespace, "apply", str(answers))
        assert result.returncode == 0, result.stdout
        yield namespace


def digests(ns: Namespace) -> str:
    return ns.run("sha256sum " + " ".join(FILES) + "; stat -c '%n %a %U:%G' " +
                  " ".join(FILES)).stdout


def relay_from(ns: Namespace, client: str) -> str:
    """RCPT to a foreign domain as an outside client (XCLIENT, test-only)."""
    return ns.run(f"swaks --server 127.0.0.1 --xclient-addr {client} --quit-after RCPT "
                  "--to someone@foreign.example.net --from probe@example.net 2>&1",
                  check=False).stdout


@pytest.mark.parametrize("nets", [
    '"0.0.0.0/1", "128.0.0.0/1"',
    '"0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"',
    '"[::]/1", "[8000::]/1"',
    ", ".join(f'"{a}.0.0.0/8"' for a in range(11, 20)),
])
def test_open_relay_by_arithmetic_is_never_applied(ns: Namespace, nets: str) -> None:
    before = digests(ns)
    answers = ns.tmp / "open.toml"
    answers.write_text(GOOD.replace('"127.0.0.0/8", "[::1]/128"', f'"127.0.0.0/8", {nets}'))
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 1, result.stdout
    assert "domains.mynetworks" in result.stdout and "open relay" in result.stdout, result.stdout
    assert digests(ns) == before
    assert "0.0.0.0/1" not in ns.run("postconf -h mynetworks").stdout
    for client in ("8.8.8.8", "198.51.100.7", "11.1.2.3"):
        out = relay_from(ns, client)
        assert "Relay access denied" in out, out
