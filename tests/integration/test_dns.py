"""`mailwizard zone` and `mailwizard check` against a real authoritative server (nsd).

Inside an isolated namespace: the wizard configures the server from an answers file (public
address 192.0.2.10 on a dummy interface); nsd on 127.0.0.1 serves exactly the zone that
`mailwizard zone` printed, a reverse zone for 192.0.2.0/24 and a small blocklist zone. Every
dns.* check passes; then each fault the checks exist to catch is made on purpose.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import add_public_address, run_python, run_wizard

pytestmark = pytest.mark.integration

PUBLIC = "192.0.2.10"
BLOCKLIST = "bl.example.org"
DNS_IDS = {"dns.a", "dns.mx", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr", "dns.blocklist"}
ANSWERS = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]

[tls]
snakeoil = true

[spf]
record = "v=spf1 mx -all"
check_incoming = false

[dkim]
domain = "example.com"
selector = "mail"
bits = 2048

[dmarc]
policy = "quarantine"
rua = "postmaster@example.com"
"""
HEAD = ("$TTL 300\n{o}. IN SOA ns.{o}. hostmaster.{o}. 1 3600 600 86400 300\n"
        "{o}. IN NS ns.example.com.\n")
NS_A = "ns.example.com. IN A 127.0.0.1\n"
REVERSE = "10.2.0.192.in-addr.arpa. IN PTR mail.example.com.\n"
SILENT_PORT = 5399
SILENT = f"""
import socket, threading
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", {SILENT_PORT}))
threading.Event().wait()
"""


def serve(ns: Namespace, zone: str, reverse: str = REVERSE, listed: str = "") -> None:
    """nsd serves example.com (``zone`` after a SOA), the reverse zone and the blocklist."""
    ns.run(f"mw_nsd {shlex.quote(HEAD.format(o='example.com') + NS_A + zone)} example.com")
    ns.run(f"mw_nsd {shlex.quote(HEAD.format(o='2.0.192.in-addr.arpa') + reverse)} "
           "2.0.192.in-addr.arpa")
    ns.run(f"mw_nsd {shlex.quote(HEAD.format(o=BLOCKLIST) + listed)} {BLOCKLIST}")


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with Namespace(hostname="mail.example.com") as namespace:
        add_public_address(namespace, PUBLIC)
        namespace.run(
            """
            echo mail.example.com > /etc/hostname
            rm -f /etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key
            rm -f /etc/dkimkeys/*.private
            postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level \
                        smtp_tls_security_level smtpd_tls_chain_files
            postconf -e inet_protocols=ipv4
            """
        )
        namespace.boot()
        answers = namespace.tmp / "dns.toml"
        answers.write_text(ANSWERS)
        result = run_wizard(namespace, "apply", str(answers))
        assert result.returncode == 0, result.stdout
        namespace.run(f"printf '\\n[blocklist]\\nzones = \"{BLOCKLIST}\"\\n' "
                      ">> /etc/mailwizard/dns.toml")
        yield namespace


@pytest.fixture(scope="module")
def zone(ns: Namespace) -> str:
    result = run_wizard(ns, "zone")
    assert result.returncode == 0, result.stdout
    return result.stdout


def check(ns: Namespace, *extra: str, nameserver: str = "127.0.0.1"
          ) -> tuple[int, dict[str, Any], float]:
    start = time.monotonic()
    result = run_wizard(ns, "check", "--json", "--nameserver", nameserver, *extra, timeout=120)
    seconds = time.monotonic() - start
    (ns.tmp / "check.out").write_text(result.stdout)
    data = json.loads(result.stdout[result.stdout.index("{"):])
    return result.returncode, {c["id"]: c for c in data["checks"]}, seconds


def check_against(ns: Namespace, zone: str, served: str | None = None,
                  **serve_args: str) -> tuple[int, dict[str, Any]]:
    """The check while nsd serves ``served`` (default: ``zone``) and ``serve_args``; then
    ``zone`` as printed again, whatever the check did."""
    serve(ns, zone if served is None else served, **serve_args)
    try:
        code, checks, _ = check(ns)
    finally:
        serve(ns, zone)
    return code, checks


def statuses(checks: dict[str, Any]) -> dict[str, str]:
    return {k: v["status"] for k, v in checks.items() if k.startswith("dns.")}


def others_pass(checks: dict[str, Any], failing: str) -> None:
    rest = {k: v for k, v in statuses(checks).items() if k != failing}
    assert set(rest.values()) == {"pass"}, json.dumps(checks, indent=1)


def test_zone_is_what_the_configuration_says(zone: str) -> None:
    assert f"mail.example.com. 3600 IN A {PUBLIC}" in zone
    assert "example.com. 3600 IN MX 10 mail.example.com." in zone
    assert 'example.com. 3600 IN TXT "v=spf1 mx -all"' in zone
    assert 'IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"' in zone
    assert "mail._domainkey.example.com. 3600 IN TXT \"v=DKIM1; h=sha256; k=rsa; \" \"p=" in zone
    assert "; 10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com." in zone
    assert "AAAA" not in zone  # inet_protocols = ipv4


def test_every_dns_check_passes_against_the_printed_zone(ns: Namespace, zone: str) -> None:
    serve(ns, zone)
    code, checks, seconds = check(ns)
    assert statuses(checks) == dict.fromkeys(DNS_IDS, "pass"), json.dumps(checks, indent=1)
    assert {"config.postfix", "config.postconf", "config.opendkim", "config.tls",
            "config.relay"} <= set(checks)
    assert checks["config.postfix"]["status"] == "pass"
    assert checks["config.relay"]["status"] == "pass", checks["config.relay"]
    assert checks["config.opendkim"]["status"] == "pass", checks["config.opendkim"]
    assert code == (1 if any(c["status"] == "fail" for c in checks.values()) else 0)
    assert "mail.example.com" in checks["dns.ptr"]["detail"]
    print(f"\nfull check against local nsd: {seconds:.2f} s (process start included)",
          file=sys.stderr)
    (ns.tmp / "timing-local").write_text(f"{seconds:.2f}")
    # the text form, and the system resolver (mw_nsd points resolv.conf at nsd)
    text = run_wizard(ns, "check")
    assert "✔ pass  dns.dkim" in text.stdout and "checks took" in text.stdout, text.stdout


def test_a_removed_record_fails_its_id(ns: Namespace, zone: str) -> None:
    """The DMARC record (no other check depends on it; without MX, SPF's "mx" fails too)."""
    served = "\n".join(line for line in zone.splitlines() if "_dmarc" not in line)
    code, checks = check_against(ns, zone, served)
    assert code == 1
    assert checks["dns.dmarc"]["status"] == "fail"
    assert checks["dns.dmarc"]["found"].startswith("absent:"), checks["dns.dmarc"]
    others_pass(checks, "dns.dmarc")


def test_without_mx_both_mx_and_spf_mx_fail(ns: Namespace, zone: str) -> None:
    served = "\n".join(line for line in zone.splitlines() if " IN MX " not in line)
    code, checks = check_against(ns, zone, served)
    assert code == 1
    assert checks["dns.mx"]["status"] == "fail"
    assert checks["dns.mx"]["found"].startswith("absent:"), checks["dns.mx"]
    assert checks["dns.spf"]["status"] == "fail", checks["dns.spf"]


def test_another_dkim_key_fails_dns_dkim(ns: Namespace, zone: str) -> None:
    ns.run("opendkim-genkey -b 2048 -d example.com -s other -D $MW_PRIVATE")
    other = ns.run("cat $MW_PRIVATE/other.txt").stdout
    record = other[other.index("(") + 1:other.index(")")].replace("\n", " ")
    lines = [line for line in zone.splitlines() if "._domainkey." not in line]
    served = "\n".join(lines) + f"\nmail._domainkey.example.com. IN TXT {record}\n"
    code, checks = check_against(ns, zone, served)
    assert code == 1
    assert checks["dns.dkim"]["status"] == "fail"
    assert "another key" in checks["dns.dkim"]["detail"], checks["dns.dkim"]
    others_pass(checks, "dns.dkim")


def test_spf_that_does_not_cover_the_address_fails(ns: Namespace, zone: str) -> None:
    served = zone.replace('"v=spf1 mx -all"', '"v=spf1 ip4:198.51.100.0/24 -all"')
    code, checks = check_against(ns, zone, served)
    assert code == 1
    spf = checks["dns.spf"]
    assert spf["status"] == "fail" and f"{PUBLIC} gets fail" in spf["detail"], spf
    others_pass(checks, "dns.spf")


def test_a_ptr_that_does_not_confirm_fails(ns: Namespace, zone: str) -> None:
    code, checks = check_against(
        ns, zone, reverse="10.2.0.192.in-addr.arpa. IN PTR host10.example.com.\n")
    assert code == 1
    ptr = checks["dns.ptr"]
    assert ptr["status"] == "fail" and "not forward-confirmed" in ptr["detail"], ptr
    others_pass(checks, "dns.ptr")


def test_a_listed_address_fails_the_blocklist(ns: Namespace, zone: str) -> None:
    code, checks = check_against(ns, zone, listed=f"10.2.0.192.{BLOCKLIST}. IN A 127.0.0.2\n")
    assert code == 1
    bl = checks["dns.blocklist"]
    assert bl["status"] == "fail" and BLOCKLIST in bl["detail"], bl
    others_pass(checks, "dns.blocklist")


def test_a_refusing_blocklist_is_a_warning_not_a_listing(ns: Namespace, zone: str) -> None:
    _code, checks = check_against(
        ns, zone, listed=f"10.2.0.192.{BLOCKLIST}. IN A 127.255.255.254\n")
    assert checks["dns.blocklist"]["status"] == "warn", checks["dns.blocklist"]


def test_a_silent_server_gives_results_within_the_bound(ns: Namespace) -> None:
    ns.run(f"""
        setsid {shlex.quote(sys.executable)} -c {shlex.quote(SILENT)} </dev/null >/dev/null 2>&1 &
        echo $! > $MW_PRIVATE/silent.pid
        mw_wait_for 10 mw_listening udp {SILENT_PORT}
    """)
    try:
        code, checks, seconds = check(ns, nameserver=f"127.0.0.1:{SILENT_PORT}")
    finally:
        ns.run("kill $(cat $MW_PRIVATE/silent.pid)")
    print(f"\nfull check against a silent server: {seconds:.2f} s", file=sys.stderr)
    (ns.tmp / "timing-silent").write_text(f"{seconds:.2f}")
    assert code == 1
    assert seconds < 25, seconds
    for id_ in ("dns.a", "dns.mx", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr"):
        assert checks[id_]["status"] == "fail", checks[id_]
        assert "timed out" in checks[id_]["found"], checks[id_]
    assert checks["dns.blocklist"]["status"] == "warn"  # a query error is never a listing


def test_zone_leaves_out_lan_and_ula_addresses_and_says_why(ns: Namespace) -> None:
    """Real interfaces: a ULA and a LAN address next to the public one (the kernel calls all
    three "scope global"); only the public one is published, and the zone says why the
    ULA is not (no global IPv6 at all). A given private address is refused."""
    ns.run("""
        dev=$(ip -o link show mw0 >/dev/null 2>&1 && echo mw0 || echo lo)
        ip addr add 10.9.8.7/24 dev $dev
        ip -6 addr add fd12:3456:789a::25/64 dev $dev nodad
        postconf -e inet_protocols=all
    """)
    try:
        result = run_wizard(ns, "zone")
        refused = run_wizard(ns, "zone", "--ipv6", "fd12:3456:789a::25")
    finally:
        ns.run("""
            postconf -e inet_protocols=ipv4
            dev=$(ip -o link show mw0 >/dev/null 2>&1 && echo mw0 || echo lo)
            ip addr del 10.9.8.7/24 dev $dev
            ip -6 addr del fd12:3456:789a::25/64 dev $dev
        """)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    records = [line for line in lines if not line.startswith(";")]
    assert f"mail.example.com. 3600 IN A {PUBLIC}" in records
    assert not any(" AAAA " in line or "10.9.8.7" in line for line in records), records
    assert not any("ip6.arpa" in line or "7.8.9.10" in line for line in lines)  # no PTR
    note = next(line for line in lines if "fd12:3456:789a::25" in line)
    assert note.startswith("; NOTE: fd12:3456:789a::25 (")
    assert "is not published: a unique local address (ULA, fc00::/7), not reachable from " \
           "the Internet" in note
    assert not any("10.9.8.7" in line for line in lines)  # a public IPv4 was found
    assert refused.returncode == 1
    assert "mailwizard zone: --ipv6 fd12:3456:789a::25: a unique local address" in \
        refused.stdout


def test_the_hub_dns_row_shows_what_the_last_check_found(ns: Namespace, zone: str) -> None:
    """`mailwizard check` saves its report; the hub's DNS row (another process) reads it."""
    served = "\n".join(line for line in zone.splitlines() if "_dmarc" not in line)
    code, checks = check_against(ns, zone, served)
    assert code == 1
    assert checks["dns.dmarc"]["status"] == "fail"
    saved = json.loads(ns.run("cat /etc/mailwizard/dns-last.json").stdout)
    assert [c["id"] for c in saved["checks"]] == list(checks)
    assert ns.run("stat -c %a /etc/mailwizard/dns-last.json").stdout.strip() == "600"
    row = run_python(ns, "from mailwizard.steps.dns import DnsStep\n"
                         "from mailwizard.system import System\n"
                         "s = DnsStep().status(System())\n"
                         "print(s.state); print(s.summary); print(*s.now, sep='\\n')\n")
    state, summary, *now = row.splitlines()
    failed = sum(c["status"] == "fail" for c in checks.values())
    assert state == "problem" and summary.startswith(f"{failed} fail") and \
        summary.endswith("just now"), row
    assert any(line.startswith("✖ dns.dmarc: _dmarc.example.com.") for line in now), row
