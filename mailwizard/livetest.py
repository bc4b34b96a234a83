"""Live, telnet-style SMTP tests: the registry and the runner the CLI and the Test screen share.

``run_session`` runs one session under its time limit and returns its CheckResult with the
transcript and the swaks command; ``sink`` sees each TranscriptLine as it happens.
``stream`` is the same as an async iterator (lines, then the result); ``run_all`` runs the
sessions together.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from mailwizard import livesessions
from mailwizard.checks import CheckResult, TranscriptLine
from mailwizard.livecontext import LiveContext
from mailwizard.smtpdialogue import SmtpError, Transcript, secret_forms


@dataclass(frozen=True)
class LiveTest:
    id: str
    title: str  # the Test screen's tab
    run: Callable[[LiveContext, Transcript], Awaitable[CheckResult]]


TESTS: tuple[LiveTest, ...] = (
    LiveTest("live.receive", "Receive", livesessions.receive),
    LiveTest("live.send", "Send", livesessions.send),
    LiveTest("live.auth", "Auth", livesessions.auth),
    LiveTest("live.relay", "Relay", livesessions.relay),
    LiveTest("live.dkim", "DKIM", livesessions.dkim),
    LiveTest("live.spf", "SPF", livesessions.spf),
)
IDS = tuple(t.id for t in TESTS)


def by_id(test_id: str) -> LiveTest:
    for test in TESTS:
        if test.id == test_id:
            return test
    raise KeyError(test_id)


def _limit(test_id: str, ctx: LiveContext) -> float:
    waits = ctx.send_timeout if test_id == "live.send" else ctx.timeout
    return waits + ctx.timeout  # the dialogue, then the wait in the log


async def run_session(
    test_id: str, ctx: LiveContext, sink: Callable[[TranscriptLine], None] | None = None
) -> CheckResult:
    test = by_id(test_id)
    t = Transcript(sink=sink, secrets=secret_forms(ctx.user or "", ctx.password))
    limit = _limit(test_id, ctx)
    try:
        async with asyncio.timeout(limit):
            result = await test.run(ctx, t)
    except TimeoutError:
        t.note(f"stopped after {limit:g} s")
        result = CheckResult(test_id, "fail", f"The session did not finish within {limit:g} s.")
    except SmtpError as exc:
        t.note(str(exc))
        result = CheckResult(test_id, "fail", _explain(test_id, str(exc)), found=str(exc))
    return dataclasses.replace(
        result, transcript=tuple(t.lines), command=livesessions.command(test_id, ctx)
    )


def _explain(test_id: str, error: str) -> str:
    if error.endswith("connection refused"):
        return f"Nothing listens there: is Postfix running? ({error})"
    if "no answer" in error:
        return f"{error}. A firewall (or the provider) drops connections to port 25."
    return f"The session broke off: {error}"


async def stream(test_id: str, ctx: LiveContext) -> AsyncIterator[TranscriptLine | CheckResult]:
    """The session's lines as they happen, then its CheckResult."""
    queue: asyncio.Queue[TranscriptLine | CheckResult] = asyncio.Queue()

    async def go() -> None:
        queue.put_nowait(await run_session(test_id, ctx, queue.put_nowait))

    task = asyncio.create_task(go())
    try:
        while True:
            item = await queue.get()
            yield item
            if isinstance(item, CheckResult):
                break
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def run_all(
    ctx: LiveContext,
    ids: Sequence[str] = IDS,
    sink: Callable[[str, TranscriptLine], None] | None = None,
) -> list[CheckResult]:
    """The sessions together (each is mostly waiting); results in the order of ``ids``."""

    def for_test(test_id: str) -> Callable[[TranscriptLine], None] | None:
        if sink is None:
            return None
        return lambda line: sink(test_id, line)

    return list(await asyncio.gather(*(run_session(i, ctx, for_test(i)) for i in ids)))
