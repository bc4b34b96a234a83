"""Snapshots of the DNS screen with recorded results, at 80×24 and 120×40 (SVGs in
snapshots/test_dns_screen/): every result in, and a silent server (two results, the rest
pending). Update with ``pytest tests/snapshot/test_dns_screen.py --snapshot-update``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mailwizard.screens.dns import DnsScreen
from tests.pilot.dns_recorded import Recorded
from tests.pilot.harness import define_snapshot_tests, make_app, wait_for
from tests.support import RecordingRunner


async def _done(pilot: Pilot[None]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen))
    screen = app.screen
    assert isinstance(screen, DnsScreen)
    await wait_for(pilot, lambda: not screen.running and bool(screen.results))
    await pilot.press("down", "down", "down")  # the DKIM row: expected and found


async def _silent(pilot: Pilot[None]) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen))
    screen = app.screen
    assert isinstance(screen, DnsScreen)
    await wait_for(pilot, lambda: len(screen.results) == 2)
    await pilot.press("down", "down")


SCENARIOS = {"dns": (_done, None), "dns_silent": (_silent, 2)}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any) -> None:
    scenario, silent_after = SCENARIOS[name]
    Recorded(silent_after=silent_after).install(monkeypatch)
    app = make_app(sandbox, runner, "dns")
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define_snapshot_tests(globals(), SCENARIOS, _run)
