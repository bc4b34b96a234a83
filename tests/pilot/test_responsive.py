"""While a command streams 10,000 lines into the apply screen, a key press is handled
(issue #9; how fast is the benchmark's business, not a test's)."""

from __future__ import annotations

from pathlib import Path

from mailwizard.screens.apply import ApplyScreen
from tests.pilot.harness import wait_for
from tests.pilot.streaming import LINES, log_lines, press_and_time, stand_in, start_applying
from tests.pilot.streaming import streaming_app as make_app


async def test_escape_while_streaming_is_handled_and_the_stream_completes(
        sandbox: Path) -> None:
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_applying(pilot, stand_in(LINES), lines=100)
        _, still_applying = await press_and_time(pilot, "escape")
        assert still_applying, "the stream ended before the key was handled: no test"
        await pilot.pause()
        shown = [str(n.message) for n in app._notifications]
        assert any("Still applying" in m for m in shown), shown
        screen = app.screen
        assert isinstance(screen, ApplyScreen)  # esc did not leave mid-apply
        await wait_for(pilot, lambda: screen.finished, timeout=300, what="the apply")
        assert screen.result is not None and screen.result.ok, screen.result
        assert log_lines(pilot) >= LINES  # every line reached the log
