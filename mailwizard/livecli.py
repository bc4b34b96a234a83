"""`mailwizard check --live`: the live SMTP tests headless (text transcripts or JSON).

The password for ``--user`` comes from ``$MAILWIZARD_PASSWORD`` or a masked prompt on a
terminal, never from argv.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Sequence

from mailwizard import checks
from mailwizard.checks import CheckResult
from mailwizard.secret import Secret
from mailwizard.system import System

PASSWORD_ENV = "MAILWIZARD_PASSWORD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `check` takes for the live tests (shared with the DNS report's parser)."""
    group = parser.add_argument_group("live SMTP tests (with --live)")
    group.add_argument("--live", action="store_true", help="also run the live SMTP tests")
    group.add_argument("--to", metavar="ADDRESS", help="your outside address (live.send)")
    group.add_argument("--source", metavar="ADDR",
                       help="a local address outside mynetworks for live.relay "
                            "(default: the server's own public address)")
    group.add_argument("--user", metavar="USER",
                       help=f"a SASL user for live.auth (password: ${PASSWORD_ENV}, "
                            "or asked on a terminal)")


def parse_nameserver(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, sep, port = text.rpartition(":") if text.count(":") == 1 else ("", "", "")
    if not sep:
        return text, 53
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--nameserver {text}: the port must be a number from 1 to 65535")
    return host, int(port)


def read_password(user: str | None, ask: Callable[[str], str] | None = None) -> Secret | None:
    """$MAILWIZARD_PASSWORD, else a masked prompt when stdin is a terminal, else None."""
    if not user:
        return None
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return Secret(value)
    if ask is None:
        if not sys.stdin.isatty():
            return None
        import getpass

        ask = getpass.getpass
    value = ask(f"Password for {user}: ")
    return Secret(value) if value else None


def run(system: System, ns: argparse.Namespace, ids: Sequence[str] | None = None
        ) -> tuple[list[CheckResult], float] | str:
    """Run the live tests; (results, seconds) or why they could not run."""
    from mailwizard import livecontext, livetest

    try:
        nameserver = parse_nameserver(getattr(ns, "nameserver", None))
    except ValueError as exc:
        return str(exc)
    try:
        ctx = livecontext.build(
            system, server=getattr(ns, "ipv4", None), to=ns.to, source=ns.source,
            user=ns.user, password=read_password(ns.user), nameserver=nameserver,
        )
    except livecontext.LiveError as exc:
        return str(exc)
    start = time.monotonic()
    results = asyncio.run(livetest.run_all(ctx, ids or livetest.IDS))
    return results, time.monotonic() - start


def render(results: Sequence[CheckResult]) -> str:
    """Each session as telnet would show it, then the verdicts."""
    out: list[str] = []
    for r in results:
        out.append(f"── {r.id}  {r.mark} {r.status} ".ljust(78, "─"))
        out.extend(line.render() for line in r.transcript)
        out.append(f"{r.mark} {r.detail}")
        if r.command:
            out.append(f"  repeat by hand: {r.command}")
        out.append("")
    return "\n".join(out)


def main(system: System, ns: argparse.Namespace, *, as_json: bool,
         before: Sequence[CheckResult] = ()) -> int:
    """Run the live tests; print them after ``before`` (the DNS and configuration report)."""
    outcome = run(system, ns)
    if isinstance(outcome, str):
        print(f"mailwizard check --live: {outcome}", file=sys.stderr)
        return checks.EXIT_CHECKS_COULD_NOT_RUN
    results, seconds = outcome
    from mailwizard.steps import test

    test.save(system, results, to=ns.to, user=ns.user)
    everything = [*before, *results]
    if as_json:
        print(checks.to_json(everything))
    else:
        print(render(results))
        print(checks.to_table(everything))
        print(f"live tests took {seconds:.1f} s")
    return checks.exit_code(everything)
