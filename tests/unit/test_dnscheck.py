"""DNS check pieces that need no authoritative server: DMARC tags, --nameserver, a silent
server (a real UDP socket that never answers), the timed-out/absent/error wording."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from mailwizard import dnscheck, report
from tests.support import DNS_CONFIG as CONFIG


def test_dmarc_tags_are_checked() -> None:
    tags, problems = dnscheck.dmarc_problems("v=DMARC1; p=reject; rua=mailto:a@example.com")
    assert tags["p"] == "reject" and problems == []
    _, problems = dnscheck.dmarc_problems("v=DMARC1; p=maybe; adkim=x; pct=200; rua=a@b")
    assert "p=maybe: one of none, quarantine, reject" in problems
    assert "adkim=x: r or s" in problems
    assert "pct=200: a number from 0 to 100" in problems
    assert "rua: 'a@b' is not a mailto: address" in problems
    _, problems = dnscheck.dmarc_problems("p=none; v=DMARC1")
    assert "the record must start with v=DMARC1" in problems
    _, problems = dnscheck.dmarc_problems("v=DMARC1; rua=mailto:a@example.com")
    assert "no p= tag (the policy)" in problems


def test_nameserver_forms() -> None:
    assert report.parse_nameserver(None) is None
    assert report.parse_nameserver("127.0.0.1") == ("127.0.0.1", 53)
    assert report.parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert report.parse_nameserver("[::1]:5353") == ("::1", 5353)
    assert report.parse_nameserver("2001:db8::53") == ("2001:db8::53", 53)
    for bad in ("127.0.0.1:0", "127.0.0.1:99999", "[::1]x"):
        with pytest.raises(report.ReportError, match="--nameserver"):
            report.parse_nameserver(bad)


def test_the_three_failures_are_worded_apart() -> None:
    assert dnscheck.Answer("absent", why="no such name (NXDOMAIN)").describe("x. TXT") == \
        "absent: x. TXT: no such name (NXDOMAIN)"
    assert dnscheck.Answer("timeout", why="127.0.0.1, 4.0 s").describe("x. TXT").startswith(
        "timed out:")
    assert dnscheck.Answer("error", why="127.0.0.1: REFUSED").describe("x. TXT") == \
        "server error for x. TXT: 127.0.0.1: REFUSED"


@pytest.fixture
def silent() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_silent_server_gives_timed_out_results_within_the_bound(silent: int) -> None:
    look = dnscheck.Lookup(("127.0.0.1", silent), timeout=1.0)
    start = time.monotonic()
    results = asyncio.run(dnscheck.run_all(CONFIG, look, bound=3.0))
    seconds = time.monotonic() - start
    assert seconds < 4.0, seconds
    by_id = {r.id: r for r in results}
    assert [r.id for r in results] == list(dnscheck.IDS)
    for id_ in ("dns.a", "dns.mx", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr"):
        assert by_id[id_].status == "fail" and "timed out" in by_id[id_].found, by_id[id_]
    assert by_id["dns.blocklist"].status == "warn"


def test_streaming_gives_every_id_once(silent: int) -> None:
    look = dnscheck.Lookup(("127.0.0.1", silent), timeout=0.5)

    async def collect() -> list[str]:
        return [r.id async for r in dnscheck.stream(CONFIG, look, bound=2.0)]

    assert sorted(asyncio.run(collect())) == sorted(dnscheck.IDS)


def test_with_no_public_address_dns_a_says_which_were_left_out_and_why() -> None:
    import dataclasses

    note = ("10.0.0.5 (eth0) is not published: a private address (RFC 1918), not reachable "
            "from the Internet; give the public address with --ipv4 (behind NAT: the router's)")
    config = dataclasses.replace(CONFIG, ipv4=(), ipv6=(), notes=(note, "no DKIM key yet"))
    result = asyncio.run(dnscheck.check_a(config, dnscheck.Lookup(("127.0.0.1", 9))))
    assert (result.status, result.detail) == ("skip", note)
    bare = dataclasses.replace(config, notes=())
    result = asyncio.run(dnscheck.check_a(bare, dnscheck.Lookup(("127.0.0.1", 9))))
    assert result.detail == "no address of this server to look for"
