"""Esc and ctrl+q on a step screen with unsaved edits ask before throwing them away
(issue 11 item 7); with nothing edited they act at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input

from mailwizard.screens.hub import HubScreen
from mailwizard.screens.step_base import StepScreen
from mailwizard.screens.unsaved import DiscardEdits
from tests.pilot.harness import make_app, step_ready, type_into, wait_for
from tests.support import RecordingRunner

HOSTNAME = "#field-hostname-fqdn"
SASL_PASSWORD = "Correct-Horse-9-battery"


async def _asked(pilot: Pilot[None]) -> DiscardEdits:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiscardEdits),
                   what="the discard question", timeout=5)
    dialog = pilot.app.screen
    assert isinstance(dialog, DiscardEdits)
    return dialog


def _main_cf(sandbox: Path) -> bytes:
    return (sandbox / "etc/postfix/main.cf").read_bytes()


async def test_esc_with_an_edit_asks_and_esc_again_keeps_editing(
        sandbox: Path, runner: RecordingRunner) -> None:
    before = _main_cf(sandbox)
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen)
        await type_into(pilot, HOSTNAME, "mail.example.com", keys=2)
        await pilot.press("escape")
        dialog = await _asked(pilot)
        assert app.focused is dialog.query_one("#keep", Button)  # the safe answer
        text = " ".join(str(s.content) for s in dialog.query("Static"))
        assert "Hostname" in text
        await pilot.press("escape")  # Esc on the question = keep editing
        await wait_for(pilot, lambda: app.screen is screen, what="back on the form")
        assert screen.query_one(HOSTNAME, Input).value == "mail.example.com"
        await pilot.press("escape")
        await _asked(pilot)
        await pilot.press("enter")  # Enter on the focused "Keep editing" button keeps too
        await wait_for(pilot, lambda: app.screen is screen, what="back on the form")
        assert screen.query_one(HOSTNAME, Input).value == "mail.example.com"
    assert _main_cf(sandbox) == before


async def test_discard_goes_back_to_the_hub_and_writes_nothing(
        sandbox: Path, runner: RecordingRunner) -> None:
    before = _main_cf(sandbox)
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, HOSTNAME, "mail.example.com", keys=2)
        await pilot.press("escape")
        dialog = await _asked(pilot)
        await pilot.press("right", "enter")  # to "Discard", and press it
        await wait_for(pilot, lambda: isinstance(app.screen, HubScreen), what="the hub")
        assert not any(isinstance(s, (StepScreen, DiscardEdits)) for s in app.screen_stack)
        assert dialog not in app.screen_stack
    assert _main_cf(sandbox) == before
    assert runner.argvs() == [] or all(a[0] == "postconf" for a in runner.argvs())


async def _type_and_type_back(pilot: Pilot[None]) -> None:
    """Typed, then typed back to what it was."""
    screen = pilot.app.screen
    assert isinstance(screen, StepScreen)
    original = screen.query_one(HOSTNAME, Input).value
    await type_into(pilot, HOSTNAME, original + "x", keys=1)
    await pilot.press("backspace")
    await step_ready(pilot)


async def _blank_alias_row(pilot: Pilot[None]) -> None:
    await pilot.press("ctrl+n")
    await pilot.pause()


@pytest.mark.parametrize(("step", "touch"), [
    ("hostname", _type_and_type_back),
    ("aliases", _blank_alias_row),
], ids=["typed-back", "blank-alias-row"])
async def test_nothing_lost_esc_goes_back_at_once(
        sandbox: Path, runner: RecordingRunner, step: str,
        touch: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    app = make_app(sandbox, runner, start_step=step)
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await touch(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HubScreen), what="the hub",
                       timeout=5)


async def test_ctrl_q_with_an_edit_asks_then_quits_on_discard(
        sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        await type_into(pilot, HOSTNAME, "mail.example.com", keys=2)
        await pilot.press("ctrl+q")
        await _asked(pilot)
        assert app.is_running
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back on the form")
        assert app.is_running
        await pilot.press("ctrl+q")
        await _asked(pilot)
        await pilot.click("#discard")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit", timeout=5)


async def test_ctrl_q_twice_quits(sandbox: Path, runner: RecordingRunner) -> None:
    """The question says so: ctrl+q on it is the admin insisting."""
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, HOSTNAME, "mail.example.com", keys=2)
        await pilot.press("ctrl+q")
        dialog = await _asked(pilot)
        assert "ctrl+q" in " ".join(str(s.content) for s in dialog.query("Static"))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit", timeout=5)


async def test_nothing_edited_ctrl_q_quits_at_once(sandbox: Path,
                                                   runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit", timeout=5)


async def _choose_own_certificate(pilot: Pilot[None]) -> None:
    """TLS: another source (a radio button, no text typed)."""
    await pilot.click("#tls-own")
    await step_ready(pilot)


async def _fill_alias_row(pilot: Pilot[None]) -> None:
    await pilot.press("ctrl+n")
    await type_into(pilot, "#alias-name", "root", keys=2)
    await type_into(pilot, "#alias-targets", "admin@example.net", keys=2)


async def _add_sasl_login(pilot: Pilot[None]) -> None:
    from tests.pilot.test_sasl_screen import add_login

    await add_login(pilot, "alice@example.com", SASL_PASSWORD)
    await step_ready(pilot)


@pytest.mark.parametrize(("step", "edit"), [
    ("tls", _choose_own_certificate),
    ("aliases", _fill_alias_row),
    ("sasl", _add_sasl_login),
], ids=["choice-not-typed", "pending-alias-row", "new-sasl-login"])
async def test_a_choice_a_row_or_a_login_counts_and_no_password_is_shown(
        sandbox: Path, runner: RecordingRunner, step: str,
        edit: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    app = make_app(sandbox, runner, start_step=step)
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await edit(pilot)
        await pilot.press("escape")
        dialog = await _asked(pilot)
        shown = " ".join(str(s.content) for s in dialog.query("Static"))
        assert SASL_PASSWORD not in shown


async def test_the_palette_jump_asks_too(sandbox: Path, runner: RecordingRunner) -> None:
    from mailwizard.screens.domains import DomainsScreen

    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, HOSTNAME, "mail.example.com", keys=2)
        app.open_step("domains", from_hub=True)  # what the palette's "Open Domains" runs
        await _asked(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DiscardEdits), what="kept")
        assert app.screen.query_one(HOSTNAME, Input).value == "mail.example.com"
        app.open_step("domains", from_hub=True)
        await _asked(pilot)
        await pilot.click("#discard")
        await wait_for(pilot, lambda: isinstance(app.screen, DomainsScreen), what="Domains")
        assert [type(s).__name__ for s in app.screen_stack][-2:] == ["HubScreen",
                                                                     "DomainsScreen"]
