"""Snapshots of the aliases screen at 80×24 and 120×40 (SVGs in snapshots/test_aliases_screen/).

Only states without a command in "What will change": postalias names the sandbox's temp path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.pilot.harness import Scenario, define_snapshot_tests, make_app, step_ready, type_into
from tests.support import RecordingRunner


async def _initial(pilot: Pilot[None]) -> None:
    await step_ready(pilot)


async def _bad_target(pilot: Pilot[None]) -> None:
    """A second alias whose second address is wrong: named at the field, marked ✖."""
    await step_ready(pilot)
    await pilot.press("ctrl+n")
    await type_into(pilot, "#alias-name", "support", keys=2)
    await type_into(pilot, "#alias-targets", "help@example.com, bad@@x", keys=2)
    await step_ready(pilot)


SCENARIOS: dict[str, Scenario] = {"aliases": _initial, "aliases_bad_target": _bad_target}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any) -> None:
    app = make_app(sandbox, runner, "aliases")
    assert snap_compare(app, terminal_size=size, run_before=SCENARIOS[name])


define_snapshot_tests(globals(), SCENARIOS, _run)
