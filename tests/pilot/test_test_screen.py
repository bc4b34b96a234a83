"""The Test screen, with recorded transcripts replayed: tabs, streaming, re-run, copy, hub row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import RichLog, Static, TabbedContent

from mailwizard.checks import TranscriptLine
from mailwizard.screens.test import LiveTestScreen, line_text
from mailwizard.steps import test as saved
from tests.pilot import live_replay
from tests.pilot.harness import apply_from_review, hub_ready, make_app, wait_for
from tests.support import RecordingRunner, sandbox_system


async def _ready(pilot: Any) -> LiveTestScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LiveTestScreen), what="Test")
    screen = pilot.app.screen
    assert isinstance(screen, LiveTestScreen)
    await wait_for(pilot, lambda: len(screen.results) == 6 and not screen.running,
                   what="all six results")
    return screen


async def test_runs_all_streams_each_tab_and_saves_the_result(
    sandbox: Path, runner: RecordingRunner, monkeypatch: Any,
) -> None:
    calls: list[tuple[str, Any]] = []
    live_replay.install(monkeypatch, "send-deferred", calls)
    app = make_app(sandbox, runner, "test")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(pilot)
        tabs = screen.query_one(TabbedContent)
        assert str(tabs.get_tab("live-send").label) == "✖ Send"
        assert str(tabs.get_tab("live-auth").label) == "✔ Auth"
        assert screen.lines["live.send"] == list(screen.results["live.send"].transcript)
        log = screen.query_one("#log-live-receive", RichLog)  # the shown tab: rendered
        assert len(log.lines) >= len(screen.results["live.receive"].transcript)
        verdict = screen.query_one("#verdict-live-send", Static)
        assert "deferred" in str(verdict.render())
        assert [c for c in calls if c[0] == "run"] == [("run", i) for i in
                                                       ["live.receive", "live.send", "live.auth",
                                                        "live.relay", "live.dkim", "live.spf"]]
        await wait_for(pilot, lambda: saved.load(sandbox_system(sandbox, runner)) != {},
                       what="the saved result")
    status = saved.LiveTestRow().status(sandbox_system(sandbox, runner))
    assert status.state == "problem" and status.summary == "5/6 passed, send failed"


async def test_rerun_one_copy_and_password_only_in_memory(
    sandbox: Path, runner: RecordingRunner, monkeypatch: Any,
) -> None:
    calls: list[tuple[str, Any]] = []
    live_replay.install(monkeypatch, "all-pass", calls)
    app = make_app(sandbox, runner, "test")
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(pilot)
        screen.query_one("#user").value = "postmaster@example.com"  # type: ignore[attr-defined]
        screen.query_one("#password").value = "Corr3ct-Horse-Battery-9"  # type: ignore[attr-defined]
        screen.query_one(TabbedContent).active = "live-auth"
        await pilot.pause()
        calls.clear()
        await pilot.press("f6")
        await _ready(pilot)
        assert [c for c in calls if c[0] == "run"] == [("run", "live.auth")]
        build = next(c[1] for c in calls if c[0] == "build")
        assert build["user"] == "postmaster@example.com"
        assert build["password"].reveal() == "Corr3ct-Horse-Battery-9"
        await pilot.press("f7")
        await pilot.pause()
    assert copied and "C: AUTH PLAIN ••••••" in copied[0]
    assert "repeat by hand: swaks" in copied[0]
    saved_text = (sandbox / "etc/mailwizard/live-last.json").read_text()
    assert "Corr3ct" not in saved_text and "postmaster@example.com" in saved_text


def test_server_text_is_never_markup_and_client_lines_are_bold() -> None:
    text = line_text(TranscriptLine(0.5, "server", "250 [bold]not bold[/bold] [link=x]"))
    assert text.plain == "  0.500 S: 250 [bold]not bold[/bold] [link=x]"
    client = line_text(TranscriptLine(0.5, "client", "EHLO x"))
    assert any("bold" in str(span.style) for span in client.spans if span.start >= 10)


async def test_hub_test_row_opens_the_screen_with_t(
    sandbox: Path, runner: RecordingRunner, monkeypatch: Any,
) -> None:
    live_replay.install(monkeypatch, "all-pass")
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        assert app.screen.statuses["test"].summary == "never run"  # type: ignore[attr-defined]
        await pilot.press("t")
        await _ready(pilot)
        await pilot.press("escape")
        await hub_ready(pilot)
        await wait_for(pilot, lambda: app.screen.statuses["test"].summary  # type: ignore[attr-defined]
                       == "6/6 passed", what="the hub's Test row")


async def test_after_a_successful_apply_t_offers_the_test_screen(
    sandbox: Path, runner: RecordingRunner, monkeypatch: Any,
) -> None:
    from mailwizard.steps import by_name
    from tests.pilot.harness import step_ready, type_into

    live_replay.install(monkeypatch, "all-pass")
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, "#field-hostname-fqdn", "mail.example.com")
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ReviewScreen", what="review")
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.check_action("test", ()) is True
        await pilot.press("t")
        await _ready(pilot)
        assert by_name("test").available


async def test_a_burst_in_the_fields_keeps_each_key_in_its_field(
    sandbox: Path, runner: RecordingRunner, monkeypatch: Any,
) -> None:
    """A paste over SSH is one burst: tab moves on before the next key is read, and
    backspace acts where it was typed (before: the keys after tab stayed in the To field)."""
    from textual.widgets import Input

    from tests.pilot.harness import burst

    live_replay.install(monkeypatch, "all-pass")
    app = make_app(sandbox, runner, "test")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        to, user, password = (screen.query_one(f"#{i}", Input)
                              for i in ("to", "user", "password"))
        to.value = user.value = ""
        to.focus()
        await pilot.pause()
        await burst(pilot, *"me@outside.examplee", "backspace", "tab",
                    *"postmaster@example.com", "tab", *"Corr3ct-Horse", "shift+tab", "end",
                    *"x", "backspace")
        await pilot.pause()
        assert to.value == "me@outside.example"
        assert user.value == "postmaster@example.com"
        assert password.value == "Corr3ct-Horse"
        assert screen.focused is user
