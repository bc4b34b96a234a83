"""Recorded DNS results for the DNS screen's pilot and snapshot tests (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mailwizard import dns, report
from mailwizard.checks import CheckResult

KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "q" * 348 + "IDAQAB"
CONFIG = dns.Config(
    hostname="mail.example.com", domains=("example.com",), ipv4=("192.0.2.10",), ipv6=(),
    spf="v=spf1 mx ~all", dkim_domain="example.com", dkim_selector="mail", dkim_key=KEY,
    dmarc="v=DMARC1; p=none; rua=mailto:postmaster@example.com",
)
RESULTS = [
    CheckResult("dns.a", "pass", "mail.example.com. A 192.0.2.10",
                "mail.example.com. A 192.0.2.10", "mail.example.com. A 192.0.2.10"),
    CheckResult("dns.mx", "pass", "example.com: MX mail.example.com. is this server",
                "example.com. MX 10 mail.example.com.", "example.com. MX 10 mail.example.com."),
    CheckResult("dns.spf", "pass", "example.com: SPF passes 192.0.2.10 (1 lookups)",
                'example.com. TXT "v=spf1 mx ~all"', "v=spf1 mx ~all; 1 DNS lookups"),
    CheckResult("dns.dkim", "fail", "mail._domainkey.example.com. publishes another key than "
                "this server signs with (an older one, from before a rotation?)",
                f"mail._domainkey.example.com. TXT v=DKIM1; h=sha256; k=rsa; p={KEY[:40]}…",
                "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold…"),
    CheckResult("dns.dmarc", "warn", "example.com: policy none (reports only). Next step: read "
                "the rua reports for a few weeks, then publish p=quarantine",
                '_dmarc.example.com. TXT "v=DMARC1; p=none"', "v=DMARC1; p=none"),
    CheckResult("dns.ptr", "fail", "192.0.2.10: no reverse DNS: absent",
                "10.2.0.192.in-addr.arpa. PTR mail.example.com.",
                "absent: 10.2.0.192.in-addr.arpa. PTR: no such name (NXDOMAIN)"),
    CheckResult("dns.blocklist", "warn", "zen.spamhaus.org: could not ask (timeout); not a "
                "listing", "10.2.0.192.zen.spamhaus.org. absent (not listed)",
                "timed out: no answer (127.0.0.53, 4.0 s)"),
    CheckResult("config.postfix", "pass", "Postfix is running", "running", "running"),
    CheckResult("config.postconf", "pass", "postconf -n: no warnings", "no warnings",
                "no warnings"),
    CheckResult("config.opendkim", "pass", "opendkim is running and answers on "
                "inet:8891@127.0.0.1", "", ""),
    CheckResult("config.tls", "pass", "the certificate is valid for mail.example.com", "", ""),
    CheckResult("config.relay", "pass", "strangers are refused", "", ""),
]


class Recorded:
    """Stands in for report.prepare/report.stream; ``silent_after`` results then nothing
    more until released (a silent server)."""

    def __init__(self, silent_after: int | None = None) -> None:
        self.silent_after = silent_after
        self.runs = 0
        self.release = asyncio.Event()

    def prepare(self, system: Any, request: Any) -> dns.Config:
        return CONFIG

    async def stream(self, system: Any, config: Any, request: Any
                     ) -> AsyncIterator[CheckResult]:
        self.runs += 1
        for i, result in enumerate(RESULTS):
            if self.silent_after is not None and i == self.silent_after:
                await self.release.wait()
            await asyncio.sleep(0)
            yield result

    def install(self, monkeypatch: Any) -> Recorded:
        monkeypatch.setattr(report, "prepare", self.prepare)
        monkeypatch.setattr(report, "stream", self.stream)
        return self
