"""Snapshots of the question before unsaved edits are lost (issue 11 item 7), at 80×24 and
120×40: after esc (go back) and after ctrl+q (quit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mailwizard.screens.unsaved import DiscardEdits
from tests.pilot.harness import define_snapshot_tests, make_app, step_ready, type_into, wait_for
from tests.support import RecordingRunner


async def _edited(pilot: Pilot[None], key: str) -> None:
    await step_ready(pilot)
    await type_into(pilot, "#field-hostname-fqdn", "mail.example.com", keys=2)
    await step_ready(pilot)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiscardEdits))
    await pilot.pause()


KEYS = {"discard_back": "escape", "discard_quit": "ctrl+q"}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await _edited(pilot, KEYS[name])

    app = make_app(sandbox, runner, "hostname")
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define_snapshot_tests(globals(), KEYS, _run)
