"""Pilot tests: the DNS screen with recorded results (marks, details, copy, save, re-check,
a silent server, the hub's row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from mailwizard import dns, lastreport
from mailwizard.screens.dns import DnsScreen
from mailwizard.system import System
from tests.pilot.dns_recorded import CONFIG, RESULTS, Recorded
from tests.pilot.harness import hub_ready, make_app, screen_rows, static_text, wait_for
from tests.support import RecordingRunner


def cells(screen: DnsScreen) -> list[list[str]]:
    table = screen.query_one("#records", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def ready(pilot: Any) -> DnsScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen), what="the DNS screen")
    screen = app.screen
    assert isinstance(screen, DnsScreen)
    await wait_for(pilot, lambda: not screen.running, what="the checks")
    return screen


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    return Recorded().install(monkeypatch)


async def test_each_record_has_a_mark_and_the_selected_row_its_expected_and_found(
        sandbox: Path, runner: RecordingRunner, recorded: Recorded) -> None:
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        rows = cells(screen)
        assert [r[1] for r in rows[:6]] == ["A", "MX", "TXT", "TXT", "TXT", "PTR"]
        assert [r[0] for r in rows[:6]] == ["✔", "✔", "✔", "✖", "▲", "✖"]  # not colour alone
        assert rows[6][:3] == ["▲", "check", "dns.blocklist"]
        assert rows[-1][2] == "config.relay"
        await pilot.press("down", "down", "down")  # the DKIM row
        text = " ".join(static_text(screen, "#dns-selected").split())
        assert "value v=DKIM1; h=sha256; k=rsa; p=MIIB" in text
        assert "another key than this server signs with" in text
        assert "expected" in text and "found" in text and "p=MIIBIjANBgkqhkiG9w0BAQEF" in text
        await pilot.press("down", "down")  # PTR: advice
        assert "set by your hosting provider" in static_text(screen, "#dns-selected")
        assert runner.calls == []


async def test_copy_gives_the_registrar_form_value(sandbox: Path, runner: RecordingRunner,
                                                   recorded: Recorded,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    app = make_app(sandbox, runner, start_step="dns")
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("down", "down", "down", "c")
        await pilot.press("up", "up", "c")
    dkim = next(r for r in dns.records(CONFIG) if r.purpose == "dns.dkim")
    assert copied == [dkim.value, "10 mail.example.com."]
    assert '"' not in copied[0]  # the one-line form, not zone strings


async def test_save_writes_the_zone_text(sandbox: Path, runner: RecordingRunner,
                                         recorded: Recorded) -> None:
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await pilot.pause()
    assert (sandbox / "etc/mailwizard/zone.txt").read_text() == dns.zone_text(CONFIG)


async def test_r_checks_again(sandbox: Path, runner: RecordingRunner,
                              recorded: Recorded) -> None:
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        assert recorded.runs == 1
        await pilot.press("r")
        await wait_for(pilot, lambda: recorded.runs == 2 and not screen.running)
        assert [r[0] for r in cells(screen)[:2]] == ["✔", "✔"]


async def test_a_silent_server_leaves_the_screen_responsive(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = Recorded(silent_after=2).install(monkeypatch)
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen))
        screen = app.screen
        assert isinstance(screen, DnsScreen)
        await wait_for(pilot, lambda: len(screen.results) == 2, what="the first results")
        assert screen.running
        assert [r[0] for r in cells(screen)[:4]] == ["✔", "✔", "…", "…"]
        await pilot.press("down", "down")  # keys work while the rest is waited for
        assert screen.query_one("#records", DataTable).cursor_row == 2
        assert "dns.spf: checking…" in static_text(screen, "#dns-selected")
        recorded.release.set()
        await wait_for(pilot, lambda: not screen.running)
        assert cells(screen)[2][0] == "✔"


async def test_the_hub_row_shows_the_last_result_and_keeps_it(
        sandbox: Path, runner: RecordingRunner, recorded: Recorded) -> None:
    app = make_app(sandbox, runner)
    async with app.run_test(size=(120, 40)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["dns"].summary == "not checked yet"
        app.open_step("dns", from_hub=True)
        await ready(pilot)
        await pilot.press("escape")
        await hub_ready(pilot)
        status = hub.statuses["dns"]
        assert status.state == "problem"
        assert status.summary == "2 fail, 2 warn, just now"
        assert status.now[0].startswith("✖ dns.dkim:")
    saved = lastreport.load(System(root=sandbox))
    assert saved is not None
    assert [(r.id, r.status, r.detail) for r in saved.results] == [
        (r.id, r.status, r.detail) for r in RESULTS]
    # The wizard closed and opened again: the row still says what the check found.
    again = make_app(sandbox, runner)
    async with again.run_test(size=(120, 40)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["dns"].summary == "2 fail, 2 warn, just now"
        assert "2 fail, 2 warn, just now" in " ".join(" ".join(screen_rows(again)).split())
