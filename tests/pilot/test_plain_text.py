"""What the admin typed, a hand-edited file says or a server answered is shown as written,
never read as Rich/Textual markup: table cells, detail panels and panel titles.

A ``[/]`` read as markup is a close tag with nothing open (MarkupError: the screen breaks);
``[b]`` restyles and disappears; ``EHLO [192.0.2.1]`` is a tag-like word that vanishes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable

from mailwizard import opendkim
from mailwizard.screens.dkim import DkimScreen
from mailwizard.screens.dns import DnsScreen
from tests.pilot import dns_recorded
from tests.pilot.dns_recorded import Recorded
from tests.pilot.harness import make_app, static_text, step_ready, type_into, wait_for
from tests.support import RecordingRunner, make_key

MARKUP = "[b]x[/b] [/]"  # restyles, and a close tag that breaks a markup parse
SPF = f"v=spf1 mx {MARKUP} ~all"
EHLO = "EHLO [192.0.2.1]"


def title_plain(widget: object) -> str:
    """A border title as the screen draws it (the getter returns it as markup)."""
    title = getattr(widget, "border_title", None)
    return Content.from_markup(title).plain if title else ""


@pytest.fixture
def markup_results(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """The recorded DNS results, with markup in a record's value and in a check's
    detail, expected and found."""
    config = dataclasses.replace(dns_recorded.CONFIG, spf=SPF)
    results = [dataclasses.replace(r, detail=f"{r.detail}: {EHLO} {MARKUP}",
                                   expected=f"{r.expected} {MARKUP}",
                                   found=f"{r.found} {EHLO}")
               if r.id in ("dns.spf", "config.relay") else r for r in dns_recorded.RESULTS]
    monkeypatch.setattr(dns_recorded, "CONFIG", config)
    monkeypatch.setattr(dns_recorded, "RESULTS", results)
    return Recorded().install(monkeypatch)


async def test_dns_screen_shows_values_answers_and_messages_as_written(
        sandbox: Path, runner: RecordingRunner, markup_results: Recorded) -> None:
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen), what="DNS screen")
        screen = app.screen
        assert isinstance(screen, DnsScreen)
        await wait_for(pilot, lambda: not screen.running, what="the checks")
        table = screen.query_one("#records", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        spf_row = next(i for i, r in enumerate(rows) if r[1] == "TXT" and "spf1" in r[3])
        relay_row = next(i for i, r in enumerate(rows) if r[2] == "config.relay")
        assert rows[relay_row][3].startswith("strangers are refused: EHLO [1")
        table.move_cursor(row=spf_row)
        await pilot.pause()
        text = " ".join(static_text(screen, "#dns-selected").split())
        assert f"value {SPF}" in text
        assert f"{EHLO} {MARKUP}" in text and "expected example.com. TXT" in text
        assert title_plain(screen.query_one("#dns-detail")) == "TXT example.com."
        table.move_cursor(row=relay_row)
        await pilot.pause()
        text = " ".join(static_text(screen, "#dns-selected").split())
        assert f"pass config.relay: strangers are refused: {EHLO} {MARKUP}" in text
        assert f"found {EHLO}" in text
        await pilot.press("c")  # a check row: nothing to copy, and no markup error either


async def test_dkim_panel_title_shows_a_hand_written_selector_as_written(
        sandbox: Path, runner: RecordingRunner) -> None:
    """opendkim.conf (edited by hand) signs with a selector the form would refuse; a new
    selector starts a rotation, and the record panel's title names the old one."""
    make_key(sandbox, "mail")
    conf = sandbox / opendkim.CONF.lstrip("/")
    conf.write_text(opendkim.edit(conf.read_text(), {
        "Domain": "example.com", "Selector": MARKUP, "KeyFile": "/etc/dkimkeys/mail.private"}))
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        await type_into(pilot, "#field-dkim-selector", "s2026", keys=2)
        await step_ready(pilot)
        assert screen.signing == MARKUP.lower()
        panel = screen.query_one("#dkim-record", VerticalScroll)
        assert title_plain(panel) == (f"New record to publish · selector {MARKUP.lower()} "
                                      "signs until the switch")

