"""Snapshots of the SASL screen at 80×24 and 120×40 (SVGs in snapshots/test_sasl_screen/).

``pytest tests/snapshot/test_sasl_screen.py --snapshot-update``, then look at every SVG.
No password may appear in any of them: ``test_no_password_in_any_svg`` reads the text of every
stored SVG (the snapshot comparison makes each run's rendering equal to it), line by line.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

import mailwizard.apply
from mailwizard.app import MailWizardApp
from mailwizard.plan import Command
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.sasl import ConfirmDelete, LoginDialog
from tests.pilot.harness import (
    FIXED_STAMP,
    Scenario,
    define_snapshot_tests,
    make_app,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import OLD, PW, PW2, RecordingRunner, seed_logins


async def _step(pilot: Pilot[None]) -> None:
    await step_ready(pilot)


async def _pending(pilot: Pilot[None]) -> None:
    """bob marked for deletion, carol added: the list, the TLS warning, the changes."""
    await step_ready(pilot)
    await pilot.press("down", "ctrl+d")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDelete))
    await pilot.click("#delete")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoginDialog))
    await type_into(pilot, "#field-sasl-user", "carol@example.com", keys=1)
    await type_into(pilot, "#field-sasl-password", PW, keys=1)
    await type_into(pilot, "#field-sasl-password_again", PW, keys=1)
    await pilot.press("enter")
    await step_ready(pilot)


async def _add_refused(pilot: Pilot[None]) -> None:
    """The add dialog: a bad login, a short password, masked."""
    await step_ready(pilot)
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoginDialog))
    await type_into(pilot, "#field-sasl-user", "alice@example.com", keys=1)
    await type_into(pilot, "#field-sasl-password", "short1", keys=1)
    await type_into(pilot, "#field-sasl-password_again", PW2, keys=1)
    await pilot.press("enter")
    await pilot.pause()


async def _confirm(pilot: Pilot[None]) -> None:
    await step_ready(pilot)
    await pilot.press("ctrl+d")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDelete))
    await pilot.pause()


async def _review(pilot: Pilot[None]) -> None:
    await _pending(pilot)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
    await pilot.pause()


# name -> (scenario, logins already in sasldb2)
SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "sasl": (_step, ()),
    "sasl_users": (_step, ("alice@example.com", "bob@example.com")),
    "sasl_pending": (_pending, ("alice@example.com", "bob@example.com")),
    "sasl_add_refused": (_add_refused, ("alice@example.com",)),
    "sasl_confirm_delete": (_confirm, ("alice@example.com", "bob@example.com")),
    "sasl_review": (_review, ("alice@example.com", "bob@example.com")),
}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, logins = SCENARIOS[name]
    monkeypatch.setattr(mailwizard.apply, "_stamp", lambda: FIXED_STAMP)
    if logins:
        seed_logins(sandbox, *logins)
    app: MailWizardApp = make_app(sandbox, runner, "sasl")
    # Commands name the sandbox's temp path (saslpasswd2 -f /tmp/.../etc/sasldb2): show the
    # logical path instead, so the SVGs do not change from run to run. (The pilot tests
    # check the real argv.)
    display = Command.display
    monkeypatch.setattr(Command, "display",
                        lambda self: display(self).replace(str(sandbox), ""))
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define_snapshot_tests(globals(), SCENARIOS, _run)


SVG_DIR = Path(__file__).resolve().parents[2] / "snapshots" / Path(__file__).stem
_TEXT = re.compile(r'<text [^>]*clip-path="url\(#([\w-]+)-line-(\d+)\)"[^>]*>([^<]*)</text>')


def svg_lines(svg: str) -> list[str]:
    """The terminal lines of a Textual SVG: its text pieces joined per line (a line is cut
    into one <text> per style, so a password could straddle two pieces)."""
    lines: dict[int, str] = {}
    for _, number, piece in _TEXT.findall(svg):
        lines[int(number)] = lines.get(int(number), "") + html.unescape(piece)
    return [lines[n] for n in sorted(lines)]


def test_svg_reader_finds_a_password_split_across_pieces() -> None:
    svg = ('<text class="a" x="0" clip-path="url(#t-line-3)">pw:&#160;Corr3ct-</text>'
           '<text class="b" x="9" clip-path="url(#t-line-3)">Horse-Battery</text>')
    assert svg_lines(svg) == ["pw:\xa0Corr3ct-Horse-Battery"]
    assert PW == "Corr3ct-Horse-Battery"


def test_no_password_in_any_svg() -> None:
    names = {f"test_{name}_{w}x{h}.svg" for name in SCENARIOS for w, h in ((80, 24), (120, 40))}
    present = {p.name for p in SVG_DIR.glob("*.svg")}
    assert names <= present, sorted(names - present)
    typed = 0
    for name in sorted(names):
        lines = svg_lines((SVG_DIR / name).read_text())
        assert len(lines) >= 20, name
        text = "\n".join(lines)
        for secret in (PW, PW2, OLD):
            assert secret not in text, f"{name} shows a password"
        typed += "•" in text
    assert typed >= 4, "the scenarios that type a password show its mask"
