"""Snapshots of the dialogs about interrupted applies (issue 8 item 4), at 80×24 and 120×40:
the hub's notice of an apply a kill -9 cut short, and ctrl+q's question while applying."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mailwizard.screens.hub import HubScreen
from mailwizard.screens.interrupted import InterruptedDialog, StopApplyDialog
from tests.pilot.harness import FIXED_STAMP, hub_ready, make_app, wait_for
from tests.pilot.harness import define_snapshot_tests as define
from tests.support import RecordingRunner


def plant_interrupted(sandbox: Path, changed: bool) -> None:
    """The journal a kill -9 leaves: a manifest still 'running' of a process long gone."""
    directory = sandbox / "var/backups/mailwizard" / FIXED_STAMP
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps({
        "created": "2026-01-01 00:00:00 UTC", "steps": ["dkim"], "services": ["opendkim"],
        "files": [{"path": "/etc/opendkim.conf", "existed": False, "secret": False}],
        "result": "running", "undo": [], "changed": changed, "pid": 4242,
        "process": "a-boot-long-ago:1"}))


SCENARIOS = {"interrupted_notice": True, "interrupted_before_changes": False,
             "stop_apply_question": None}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = SCENARIOS[name]
    if changed is not None:
        plant_interrupted(sandbox, changed)

    async def scenario(pilot: Pilot[None]) -> None:
        if changed is None:
            await hub_ready(pilot)
            pilot.app.push_screen(StopApplyDialog())
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, StopApplyDialog))
        else:
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, InterruptedDialog))
            hub = pilot.app.screen_stack[-2]
            # the hub reads its statuses once the notice is gone: "checking…" behind it
            assert isinstance(hub, HubScreen) and not hub.statuses
        await pilot.pause()

    app = make_app(sandbox, runner)
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define(globals(), SCENARIOS, _run)
