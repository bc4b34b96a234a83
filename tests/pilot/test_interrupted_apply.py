"""Issue 8 item 4 in the TUI: ctrl+q, Esc and signals while an apply runs, and the hub's
notice of an apply that a kill -9 cut short.

ctrl+q used to quit at once, half way through an apply; now it asks (finish, or stop and
restore). A signal stops the apply at its next safe point, restores every file and quits,
saying which; the hub offers to undo an apply that never finished.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from mailwizard import journal
from mailwizard.app import MailWizardApp
from mailwizard.apply import RESTORED, Backup, latest_backup
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.hub import HubScreen
from mailwizard.screens.interrupted import InterruptedDialog, StopApplyDialog
from mailwizard.system import System
from tests.pilot.harness import hub_ready, wait_for
from tests.pilot.streaming import streaming_app
from tests.unit.test_journal import kill_at, snapshot, start

SLOW = 2.5  # seconds the stand-in command runs: the key or the signal lands meanwhile


def slow_plan(system: System) -> Plan:
    """Writes /etc/hostname and a new file, then runs a command that takes SLOW s."""
    old = system.read_bytes("/etc/hostname")
    return Plan(
        files=(FileChange("/etc/hostname", old, b"mail.example.com\n"),
               FileChange("/etc/mailwizard-new.conf", None, b"new\n")),
        commands=(Command((sys.executable, "-c", f"import time; time.sleep({SLOW})"),
                          "a slow command"),),
        steps=("hostname",))


async def applying(pilot: object, app: MailWizardApp) -> ApplyScreen:
    await hub_ready(pilot)  # type: ignore[arg-type]
    app.start_apply(slow_plan(app.system), "Host name")
    await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen)  # type: ignore[arg-type]
                   and app.applying is not None, what="the apply screen")
    screen = app.screen
    assert isinstance(screen, ApplyScreen)
    new_file = app.system.path("/etc/mailwizard-new.conf")
    await wait_for(pilot, new_file.exists, what="the files written")  # type: ignore[arg-type]
    await asyncio.sleep(0.3)  # the slow command runs
    assert screen.result is None
    return screen


async def asked_to_stop(pilot: Pilot[None], app: MailWizardApp) -> ApplyScreen:
    """The apply running and ctrl+q pressed: its question is up."""
    screen = await applying(pilot, app)
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: isinstance(app.screen, StopApplyDialog), what="the question")
    return screen


def exit_message(app: MailWizardApp) -> str:
    return app.said_on_exit


def last_manifest(sandbox: Path) -> Backup:
    directory = sorted((sandbox / "var/backups/mailwizard").iterdir())[-1]
    return Backup.load(System(root=sandbox), f"/var/backups/mailwizard/{directory.name}")


async def test_ctrl_q_mid_apply_asks_and_stop_restores_every_file_then_quits(
        sandbox: Path) -> None:
    before = snapshot(sandbox)
    app = streaming_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await asked_to_stop(pilot, app)
        assert app.is_running and screen.result is None  # it did not quit mid-apply
        await pilot.press("s")
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="the quit")
    assert screen.result is not None and not screen.result.ok and screen.result.restored
    assert "stopped by ctrl+q" in exit_message(app), exit_message(app)
    assert "every file was restored" in exit_message(app)
    assert snapshot(sandbox) == before
    assert last_manifest(sandbox).manifest.result == RESTORED


async def test_ctrl_q_then_finish_lets_the_apply_complete_then_quits(sandbox: Path) -> None:
    app = streaming_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await asked_to_stop(pilot, app)
        await pilot.press("f")
        await pilot.pause()
        assert app.is_running
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="the quit")
    assert screen.result is not None and screen.result.ok
    assert "mailwizard: applied" in exit_message(app)
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"


async def test_ctrl_q_then_esc_keeps_watching_and_esc_never_leaves_mid_apply(
        sandbox: Path) -> None:
    app = streaming_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await asked_to_stop(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.result is None
        shown = [str(n.message) for n in app._notifications]
        assert any("Still applying" in m and "ctrl+q" in m for m in shown), shown
        await wait_for(pilot, lambda: screen.finished, timeout=30, what="the apply")
        assert app.is_running and screen.result is not None and screen.result.ok


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
async def test_a_signal_mid_apply_in_the_tui_restores_then_quits_saying_so(
        sandbox: Path, signum: int) -> None:
    before = snapshot(sandbox)
    app = MailWizardApp(streaming_app(sandbox).system, euid=0, handle_signals=True)
    loop = asyncio.get_running_loop()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await applying(pilot, app)
            os.kill(os.getpid(), signum)  # as an SSH drop, `kill` or `kill -INT` would
            await wait_for(pilot, lambda: not app.is_running, timeout=30, what="the quit")
    finally:
        for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(s)
    name = signal.Signals(signum).name
    assert screen.result is not None and screen.result.restored
    assert f"apply stopped by {name}" in exit_message(app), exit_message(app)
    assert snapshot(sandbox) == before
    manifest = last_manifest(sandbox).manifest
    assert manifest.result == RESTORED and name in manifest.detail


async def test_the_hub_says_an_apply_was_interrupted_and_undoes_it(sandbox: Path) -> None:
    before = snapshot(sandbox)
    kill_at(sandbox, "command")  # kill -9 half way
    assert snapshot(sandbox) != before
    app = streaming_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InterruptedDialog),
                       what="the notice")
        text = str(app.screen.query_one("#dialog-text", Static).render())
        assert "The apply of hostname, domains started" in text, text
        assert "did not finish" in text and "kill -9" in text, text
        await pilot.press("u")
        dialog = app.screen
        assert isinstance(dialog, InterruptedDialog)
        await wait_for(pilot, lambda: dialog.result is not None, what="the undo")
        outcome = str(dialog.query_one("#dialog-outcome", Static).render())
        assert "Undone" in outcome, outcome
        await pilot.press("escape")
        await hub_ready(pilot)
        assert isinstance(app.screen, HubScreen)
    assert snapshot(sandbox) == before
    assert journal.find(System(root=sandbox)) is None
    assert latest_backup(System(root=sandbox)) is None


async def test_leaving_the_notice_changes_nothing(sandbox: Path) -> None:
    kill_at(sandbox, "command")
    after_kill = snapshot(sandbox)
    app = streaming_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InterruptedDialog),
                       what="the notice")
        await pilot.press("escape")
        await hub_ready(pilot)
    assert snapshot(sandbox) == after_kill
    assert journal.find(System(root=sandbox)) is not None  # still offered next time


async def test_after_an_ssh_drop_the_hub_says_once_what_became_of_the_apply(
        sandbox: Path) -> None:
    proc, _ = start(sandbox, "command", "1.0", "--signals")
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=30)
    for again in (False, True):
        app = streaming_app(sandbox)
        async with app.run_test(size=(100, 30)) as pilot:
            await hub_ready(pilot)
            shown = [str(n.message) for n in app._notifications]
        said = [m for m in shown if "The last apply (hostname, domains" in m]
        if again:
            assert said == [], shown
        else:
            assert len(said) == 1 and "stopped by SIGHUP" in said[0], shown
            assert "every file was restored" in said[0]
