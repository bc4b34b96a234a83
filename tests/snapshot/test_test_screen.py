"""Snapshots of the Test screen from recorded transcripts (tests/fixtures/live/), at 80×24
and 120×40 (SVGs in snapshots/test_test_screen/). Update with
``pytest tests/snapshot/test_test_screen.py --snapshot-update`` and look at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TabbedContent

from mailwizard.screens.test import LiveTestScreen
from tests.pilot import live_replay
from tests.pilot.harness import define_snapshot_tests, make_app, wait_for
from tests.support import RecordingRunner


def _shown(tab: str) -> Any:
    async def scenario(pilot: Pilot[None]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, LiveTestScreen), what="Test")
        screen = app.screen
        assert isinstance(screen, LiveTestScreen)
        await wait_for(pilot, lambda: len(screen.results) == 6 and not screen.running,
                       what="the results")
        screen.query_one("#to").value = "admin@example.net"  # type: ignore[attr-defined]
        screen.query_one("#user").value = "postmaster@example.com"  # type: ignore[attr-defined]
        screen.query_one(TabbedContent).active = tab
        screen.set_focus(None)
        await pilot.pause()
        await pilot.pause()
    return scenario


SCENARIOS = {
    "test_all_pass": ("all-pass", "live-auth"),
    "test_send_deferred": ("send-deferred", "live-send"),
}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any) -> None:
    recording, tab = SCENARIOS[name]
    live_replay.install(monkeypatch, recording)
    app = make_app(sandbox, runner, "test")
    assert snap_compare(app, terminal_size=size, run_before=_shown(tab))


define_snapshot_tests(globals(), SCENARIOS, _run)
