"""Pilot tests for what a first-time admin tripped over (issue 11): breadcrumbs, counts,
unsaved edits, focus, bursts of keys, 80×24 layout."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from mailwizard.screens.help import HelpScreen
from mailwizard.screens.hub import HubScreen
from tests.pilot.harness import hub_ready, make_app
from tests.support import RecordingRunner


def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if hasattr(content, "plain") else str(content)


async def test_hub_help_breadcrumb_names_mailwizard_once(sandbox: Path,
                                                         runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        assert isinstance(app.screen, HubScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        title = plain(app.screen.query_one("#help-title", Static))
        assert title.strip() == "mailwizard › help"
