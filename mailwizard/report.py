"""`mailwizard check` without --live: the DNS and configuration report, for CLI and screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from mailwizard import configcheck, dnscheck
from mailwizard.checks import CheckResult
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
    bound: float = dnscheck.BOUND
    query_timeout: float = dnscheck.QUERY_TIMEOUT


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
        return dnscheck.nameserver_address(host), port
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
    look = dnscheck.Lookup(request.nameserver, request.query_timeout)
    config_task = asyncio.ensure_future(configcheck.run_all(system))
    async for result in dnscheck.stream(config, look, bound=request.bound):
        yield result
    for result in await config_task:
        yield result


async def run(system: System, config: Config, request: Request) -> list[CheckResult]:
    """Every result, in the stable order of the ids."""
    look = dnscheck.Lookup(request.nameserver, request.query_timeout)
    dns_results, config_results = await asyncio.gather(
        dnscheck.run_all(config, look, bound=request.bound), configcheck.run_all(system))
    return [*dns_results, *config_results]


def run_sync(system: System, request: Request,
             ids: Sequence[str] | None = None) -> tuple[list[CheckResult], float]:
    """(results, seconds); raises ReportError when the checks cannot run."""
    config = prepare(system, request)
    start = time.monotonic()
    results = asyncio.run(run(system, config, request))
    if ids is not None:
        results = [r for r in results if r.id in ids]
    return results, time.monotonic() - start
