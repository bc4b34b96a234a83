"""The TUI's last line on the terminal: what this session applied, or that nothing changed.

Run through the real CLI entry (``cli.main``): the app runs headless with an auto-pilot
(Textual's ``App.run(auto_pilot=...)``) instead of on a terminal; the rest is as an admin
runs it, and the lines after the screen is gone are read from stderr.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mailwizard import cli, runlock
from mailwizard.app import MailWizardApp
from mailwizard.screens.review import ReviewScreen
from tests.pilot.harness import apply_from_review, hub_ready, step_ready, type_into, wait_for
from tests.unit.test_runlock import HOLD

Scenario = Callable[[Pilot[None]], Awaitable[None]]
FQDN = "#field-hostname-fqdn"


def drive(monkeypatch: pytest.MonkeyPatch, scenario: Scenario) -> list[BaseException]:
    """``MailWizardApp.run()`` (which cli.main calls) runs headless, driven by ``scenario``;
    what the scenario raised is returned (the app swallows it into its exit)."""
    real = MailWizardApp.run
    raised: list[BaseException] = []

    def run(self: MailWizardApp, **kwargs: Any) -> Any:
        async def pilot(p: Pilot[None]) -> None:
            try:
                await scenario(p)
            except BaseException as exc:
                raised.append(exc)
                p.app.exit()
                raise

        return real(self, headless=True, size=(100, 32), auto_pilot=pilot)

    monkeypatch.setattr(MailWizardApp, "run", run)
    return raised


def last_line(err: str) -> str:
    return err.rstrip("\n").splitlines()[-1]


async def hostname_applied(pilot: Pilot[None]) -> None:
    app = pilot.app
    await step_ready(pilot)
    await type_into(pilot, FQDN, "mail.example.com")
    await step_ready(pilot)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
    screen = await apply_from_review(pilot)
    assert screen.result is not None, "no result"


def test_quitting_without_an_apply_says_nothing_was_changed(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    async def look_and_quit(pilot: Pilot[None]) -> None:
        await hub_ready(pilot)
        await pilot.press("q")

    raised = drive(monkeypatch, look_and_quit)
    assert cli.main(["--root", str(sandbox)]) == 0
    assert not raised, raised
    err = capfd.readouterr().err
    assert last_line(err) == "mailwizard: outcome: nothing was changed in this session", err


def test_quitting_after_an_apply_says_what_was_applied(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    async def apply_then_quit(pilot: Pilot[None]) -> None:
        await hostname_applied(pilot)
        await pilot.press("escape")
        await hub_ready(pilot)
        await pilot.press("q")

    raised = drive(monkeypatch, apply_then_quit)
    assert cli.main(["--root", str(sandbox), "hostname"]) == 0
    assert not raised, raised
    line = last_line(capfd.readouterr().err)
    backups = sorted((sandbox / "var/backups/mailwizard").iterdir())
    assert len(backups) == 1
    assert line == ("mailwizard: outcome: applied hostname in this session (the old files "
                    f"are in /var/backups/mailwizard/{backups[0].name}: `mailwizard rollback` "
                    "undoes it)"), line


def test_an_apply_refused_by_the_lock_is_named_in_the_last_line(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(sandbox)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"

        async def refused_then_quit(pilot: Pilot[None]) -> None:
            await hostname_applied(pilot)
            await pilot.press("ctrl+q")

        raised = drive(monkeypatch, refused_then_quit)
        assert cli.main(["--root", str(sandbox), "hostname"]) == 0
        assert not raised, raised
    finally:
        holder.kill()
        holder.wait()
    line = last_line(capfd.readouterr().err)
    assert line.startswith("mailwizard: outcome: nothing was changed in this session; "
                           f"hostname not applied: another mailwizard (PID {holder.pid}, "), line
    assert runlock.LOCK in line and "wait for it to finish and run again" in line, line
    assert (sandbox / "etc/hostname").read_text() != "mail.example.com\n"
