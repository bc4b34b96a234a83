"""Snapshots of every screen at 80×24 (a plain SSH window) and 120×40.

SVGs live in snapshots/test_screens/ (see tests/conftest.py). Update them with
``pytest tests/snapshot --snapshot-update`` and look at every one before committing.
Nothing volatile may appear: the sandbox's temp path, the host's name, a clock, a
blinking cursor, or the backup directory's time stamp (fixed here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

import mailwizard.apply
from mailwizard.app import MailWizardApp
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.help import HelpScreen
from mailwizard.screens.preflight import PreflightScreen
from mailwizard.screens.review import ReviewScreen
from tests.pilot.harness import (
    FIXED_STAMP,
    Scenario,
    define_snapshot_tests,
    hub_ready,
    make_app,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import RecordingRunner


async def _hub(pilot: Pilot[None]) -> None:
    await hub_ready(pilot)


async def _hub_help(pilot: Pilot[None]) -> None:
    await hub_ready(pilot)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def _step(pilot: Pilot[None]) -> None:
    await step_ready(pilot)


async def _hostname_valid(pilot: Pilot[None]) -> None:
    await step_ready(pilot)
    await type_into(pilot, "#field-hostname-fqdn", "mail.example.com", keys=3)
    await step_ready(pilot)


async def _domains_refused(pilot: Pilot[None]) -> None:
    await step_ready(pilot)
    await type_into(pilot, "#field-domains-mynetworks", "127.0.0.0/8, 0.0.0.0/0", keys=3)
    await step_ready(pilot)


async def _help(pilot: Pilot[None]) -> None:
    await step_ready(pilot)
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def _review(pilot: Pilot[None]) -> None:
    await _hostname_valid(pilot)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))


async def _applied(pilot: Pilot[None]) -> None:
    await _review(pilot)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ApplyScreen))
    screen = pilot.app.screen
    assert isinstance(screen, ApplyScreen)
    await wait_for(pilot, lambda: screen.finished, what="apply")
    await pilot.pause(0.3)  # the log scrolls to its end after the outcome box appears


async def _preflight(pilot: Pilot[None]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, PreflightScreen))


# name -> (start step, scenario, what to do to the sandbox/runner first)
SCENARIOS: dict[str, tuple[str | None, Scenario, str]] = {
    "hub": (None, _hub, ""),
    "hub_help": (None, _hub_help, ""),
    "hostname": ("hostname", _step, ""),
    "hostname_valid": ("hostname", _hostname_valid, ""),
    "domains": ("domains", _step, ""),
    "domains_refused": ("domains", _domains_refused, ""),
    "help": ("hostname", _help, ""),
    "review": ("hostname", _review, ""),
    "apply_ok": ("hostname", _applied, ""),
    "apply_failed": ("hostname", _applied, "fail"),
    "preflight_install": (None, _preflight, "no-postfix"),
    "preflight_root": (None, _preflight, "not-root"),
}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    start, scenario, setup = SCENARIOS[name]
    monkeypatch.setattr(mailwizard.apply, "_stamp", lambda: FIXED_STAMP)
    euid = 0
    if setup == "fail":
        runner.fail_on = lambda argv: argv == ("hostname", "mail.example.com")
    elif setup == "no-postfix":
        (sandbox / "etc/postfix/main.cf").unlink()
    elif setup == "not-root":
        euid = 1000
    app: MailWizardApp = make_app(sandbox, runner, start, euid=euid)
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define_snapshot_tests(globals(), SCENARIOS, _run)
