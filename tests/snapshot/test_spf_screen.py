"""Snapshots of the SPF screen at 80×24 and 120×40 (SVGs in snapshots/test_spf_screen/).

Update with ``pytest tests/snapshot/test_spf_screen.py --snapshot-update`` and look at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mailwizard.app import MailWizardApp
from tests.pilot.harness import (
    Scenario,
    define_snapshot_tests,
    make_app,
    step_ready,
    type_into,
)
from tests.support import RecordingRunner


async def _initial(pilot: Pilot[None]) -> None:
    await step_ready(pilot)


async def _edited(pilot: Pilot[None]) -> None:
    """a and incoming on, -all, a wrong term (✖) and a warning (!) at their fields."""
    await step_ready(pilot)
    screen = pilot.app.screen
    for selector in ("#spf-a", "#spf-incoming"):
        screen.query_one(selector).focus()
        await pilot.pause()
        await pilot.press("space")
    screen.query_one("#spf-all").focus()
    await pilot.pause()
    await pilot.press("right", "enter")
    await type_into(pilot, "#field-spf-extra", "ip4:192.0.2.10, include:_spf.example.net, "
                    "ip6:2001:db8::/200", keys=2)
    await step_ready(pilot)


SCENARIOS: dict[str, Scenario] = {"spf": _initial, "spf_edited": _edited}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any) -> None:
    app: MailWizardApp = make_app(sandbox, runner, "spf")
    assert snap_compare(app, terminal_size=size, run_before=SCENARIOS[name])


define_snapshot_tests(globals(), SCENARIOS, _run)
