"""Pilot tests: the DKIM record to publish after an apply that made a key, and one key that
copies it (OSC 52) without borders or line breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from mailwizard.screens.dkim import DkimScreen
from mailwizard.screens.review import ReviewScreen
from tests.pilot.harness import (
    apply_from_review,
    fill_dkim,
    make_app,
    static_text,
    step_ready,
    wait_for,
)
from tests.support import RecordingRunner, fake_genkey, make_key


def _flat(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("v=DKIM1;"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_apply_that_made_a_key_shows_the_record_and_c_copies_it(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch,
        size: tuple[int, int]) -> None:
    runner.effects = {"opendkim-genkey": fake_genkey(sandbox)}
    app = make_app(sandbox, runner, start_step="dkim")
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=size) as pilot:
        await step_ready(pilot)
        await fill_dkim(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        screen = await apply_from_review(pilot)
        await pilot.pause()
        record = screen.query_one("#apply-record", Static)
        assert record.display
        text = static_text(screen, "#apply-record")
        assert "TXT record at mail._domainkey.example.com" in text
        flat = _flat(text)
        assert flat.startswith("v=DKIM1; h=sha256; k=rsa; p=MII")
        # On screen without scrolling or Tab, above the footer.
        assert record.region.height > 0 and record.region.bottom <= size[1] - 1
        assert "c copies it" in static_text(screen, "#apply-outcome")
        assert screen.active_bindings["c"].binding.show
        app.save_screenshot(f"/tmp/ux_apply_{size[0]}.svg")
        await pilot.press("c")
        await pilot.pause()
    assert copied == [flat]
    assert "│" not in copied[0] and "\n" not in copied[0]


async def test_apply_that_made_no_key_shows_no_record(sandbox: Path,
                                                      runner: RecordingRunner) -> None:
    make_key(sandbox)  # the key exists: the apply makes none
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await fill_dkim(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        screen = await apply_from_review(pilot)
        assert not screen.query_one("#apply-record", Static).display


async def test_f7_copies_the_record_from_the_dkim_screen(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    make_key(sandbox)
    app = make_app(sandbox, runner, start_step="dkim")
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await fill_dkim(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        flat = _flat(static_text(screen, "#dkim-record-text"))
        await pilot.press("f7")  # from the first field: no Tab to the panel
        await pilot.pause()
    assert copied == [flat]
