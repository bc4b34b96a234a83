"""`mailwizard check` without --live: the DNS and configuration report, for CLI and screen.

dnspython loads only when the DNS checks run. :func:`run_sync` first starts reading the
configuration (postconf, ``ip addr``, the DKIM key) and the configuration checks in threads,
then imports :mod:`mailwizard.dnscheck` while they wait for their commands.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mailwizard import configcheck
from mailwizard.checks import BOUND, QUERY_TIMEOUT, CheckResult
from mailwizard.dns import Config, RecordsError, read_config
from mailwizard.system import System
from mailwizard.validate import Invalid


class ReportError(Exception):
    """The checks cannot run at all (exit 2): no host name, a bad --nameserver."""


@dataclass(frozen=True)
class Request:
    nameserver: tuple[str, int] | None = None  # (address, port); None: the system resolver
    ipv4: str | None = None
    ipv6: str | None = None
    bound: float = BOUND
    query_timeout: float = QUERY_TIMEOUT


def nameserver_address(host: str) -> str:
    """An IP address for --nameserver HOST (a name is looked up by the system)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        info = socket.getaddrinfo(host, 53, proto=socket.IPPROTO_UDP)
        return str(info[0][4][0])


def parse_nameserver(text: str | None) -> tuple[str, int] | None:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address -> (address, port)."""
    if not text:
        return None
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ReportError(f"--nameserver {text}: write [ADDRESS]:PORT")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, tail = text.partition(":")
        if not tail.isdigit():
            raise ReportError(f"--nameserver {text}: the port must be a number")
        port = int(tail)
    if not 0 < port < 65536:
        raise ReportError(f"--nameserver {text}: the port must be from 1 to 65535")
    try:
        return nameserver_address(host), port
    except OSError as exc:
        raise ReportError(f"--nameserver {text}: cannot find its address: {exc}") from exc


def prepare(system: System, request: Request) -> Config:
    try:
        return read_config(system, request.ipv4, request.ipv6)
    except (RecordsError, Invalid) as exc:
        raise ReportError(str(exc)) from exc


async def stream(system: System, config: Config, request: Request
                 ) -> AsyncIterator[CheckResult]:
    """Each result as it arrives: DNS checks and configuration checks at once."""
    from mailwizard import dnscheck

    look = dnscheck.Lookup(request.nameserver, request.query_timeout)
    config_task = asyncio.ensure_future(configcheck.run_all(system))
    async for result in dnscheck.stream(config, look, bound=request.bound):
        yield result
    for result in await config_task:
        yield result


def run_sync(system: System, request: Request,
             ids: Sequence[str] | None = None) -> tuple[list[CheckResult], float]:
    """(results in the stable order of the ids, seconds); raises ReportError when the checks
    cannot run."""
    start = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=1 + len(configcheck.IDS),
                              thread_name_prefix="report")
    try:
        # None of this needs the DNS checks: it reads the configuration while dnspython loads.
        reading = pool.submit(prepare, system, request)
        config_checks = [pool.submit(configcheck.safe, i, system) for i in configcheck.IDS]
        from mailwizard import dnscheck

        config = reading.result()
        look = dnscheck.Lookup(request.nameserver, request.query_timeout)
        dns_results = asyncio.run(dnscheck.run_all(config, look, bound=request.bound))
        results = [*dns_results, *(f.result() for f in config_checks)]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if ids is not None:
        results = [r for r in results if r.id in ids]
    return results, time.monotonic() - start
