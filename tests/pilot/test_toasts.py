"""Toasts: what the admin typed (or a server said) is shown as typed, never read as markup,
and a toast's severity is a mark (✖ error, ! warning), not only the colour of its bar."""

from __future__ import annotations

from pathlib import Path

from textual.widgets._toast import Toast

from mailwizard.screens.aliases import AliasesScreen
from tests.pilot.harness import make_app, step_ready, type_into, wait_for
from tests.support import RecordingRunner

NAME = "[b]x[/b][/]"  # markup that would restyle the toast, and a close tag that breaks it


def toast_texts(app: object) -> list[str]:
    return [str(t.render().plain) for t in app.screen.query(Toast)]  # type: ignore[attr-defined]


async def test_a_typed_alias_name_is_shown_as_typed(sandbox: Path,
                                                    runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await step_ready(pilot)
        assert isinstance(app.screen, AliasesScreen)
        await pilot.press("ctrl+n")
        await type_into(pilot, "#alias-name", NAME, keys=1)
        await step_ready(pilot)
        await pilot.press("ctrl+d")  # a new row: "… will not be added."
        await wait_for(pilot, lambda: bool(toast_texts(app)), what="a toast")
        assert toast_texts(app) == [f"{NAME} will not be added."]


async def test_severity_is_a_mark_and_no_toast_reads_markup(sandbox: Path,
                                                            runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await step_ready(pilot)
        app.screen.notify(f"could not save /tmp/{NAME}", severity="error")
        app.notify(f"{NAME} not available", severity="warning", title="While you were away")
        app.notify(f"copied {NAME}")
        await wait_for(pilot, lambda: len(toast_texts(app)) == 3, what="three toasts")
        assert sorted(toast_texts(app)) == sorted([
            f"✖ could not save /tmp/{NAME}",
            f"! While you were away\n{NAME} not available",
            f"copied {NAME}",
        ])
