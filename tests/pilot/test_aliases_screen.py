"""Pilot tests of the aliases screen: the table, the row editor, review and apply."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import DataTable, Input

from mailwizard.screens.aliases import AliasesScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.streamlog import StreamLog
from mailwizard.steps.aliases import AliasesAnswers
from tests.pilot.harness import (
    apply_from_review,
    burst,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import RecordingRunner

NAME, TARGETS = "#alias-name", "#alias-targets"


def message(screen: AliasesScreen, part: str) -> str:
    from textual.widgets import Static

    from mailwizard.screens.aliases import RowField

    for field in screen.query(RowField):
        if field.part == part:
            return str(field.query_one(".field-message", Static).content)
    raise KeyError(part)


def table_rows(screen: AliasesScreen) -> list[tuple[str, str, str]]:
    table = screen.query_one(DataTable)
    return [tuple(str(c) for c in table.get_row_at(i))  # type: ignore[misc]
            for i in range(table.row_count)]


async def test_table_shows_the_file_and_bad_targets_are_named(
    sandbox: Path, runner: RecordingRunner
) -> None:
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        assert table_rows(screen) == [(" ", "postmaster", "root")]
        assert screen.focused is screen.query_one(DataTable)
        assert "Nothing" in static_text(screen, "#changes-text")
        await pilot.press("ctrl+n")
        await type_into(pilot, NAME, "support", keys=2)
        await type_into(pilot, TARGETS, "help@example.com, bad@@x", keys=2)
        await step_ready(pilot)
        assert message(screen, "targets").startswith("✖ bad@@x: ")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is screen
        # A name that is not a local name, and a name already in the table.
        await type_into(pilot, NAME, "sup port", keys=2)
        await step_ready(pilot)
        assert message(screen, "name") == "✖ an alias name cannot contain a space"
        await type_into(pilot, NAME, "postmaster", keys=2)
        await step_ready(pilot)
        assert message(screen, "name") == "✖ postmaster is already in the table: edit that row"
        # No targets at all.
        await type_into(pilot, NAME, "support", keys=1)
        await type_into(pilot, TARGETS, "", keys=0)
        await pilot.press("space", "backspace")
        await step_ready(pilot)
        assert message(screen, "targets").startswith("✖ give one or more addresses")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is screen
        assert runner.calls == []


async def test_add_and_edit_then_apply(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        # Forward root; make support a two-address list.
        await pilot.press("ctrl+n")
        await type_into(pilot, NAME, "root", keys=2)
        await type_into(pilot, TARGETS, "Admin@Example.NET", keys=2)
        await pilot.press("ctrl+n")
        await type_into(pilot, NAME, "support", keys=2)
        await type_into(pilot, TARGETS, "a@example.net, b@example.net", keys=2)
        await step_ready(pilot)
        assert [r[0] for r in table_rows(screen)] == [" ", "+", "+"]
        assert screen.answers_from_form() == AliasesAnswers((
            ("root", ("Admin@Example.NET",)),
            ("support", ("a@example.net", "b@example.net")),
        ))
        changes = static_text(screen, "#changes-text")
        assert "/etc/aliases" in changes and "run: postalias hash:" in changes
        # Edit the first row: moving the table cursor loads it into the fields.
        screen.query_one(DataTable).focus()
        await pilot.press("up", "up")
        assert screen.query_one(NAME).value == "postmaster"  # type: ignore[attr-defined]
        await type_into(pilot, TARGETS, "root, admin@example.net", keys=2)
        await step_ready(pilot)
        assert table_rows(screen)[0] == ("~", "postmaster", "root, admin@example.net")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        assert "-postmaster:    root" in diff
        assert "+postmaster: root, admin@example.net" in diff
        assert "+root: Admin@example.net" in diff
        assert "+support: a@example.net, b@example.net" in diff
        commands = static_text(app.screen, "#review-commands")
        assert "postalias hash:" in commands
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok, "\n".join(
            apply_screen.query_one(StreamLog).lines)
        assert ("postalias", f"hash:{sandbox}/etc/aliases") in runner.argvs()
        assert (sandbox / "etc/aliases").read_text() == (
            "# See man 5 aliases for format\n"
            "postmaster: root, admin@example.net\n"
            "root: Admin@example.net\n"
            "support: a@example.net, b@example.net\n"
        )


async def test_delete_postmaster_warns_but_allows_review(
    sandbox: Path, runner: RecordingRunner
) -> None:
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        await pilot.press("ctrl+d")
        await step_ready(pilot)
        # Marked, not gone: struck through, with the step's warning as its mark; its
        # fields are off, and ctrl+d again would keep it.
        assert table_rows(screen) == [("!", "postmaster", "root")]
        assert screen.selected is not None and screen.selected.deleted
        assert "strike" in str(screen.query_one(DataTable).get_row_at(0)[1].style)
        assert screen.query_one(NAME, Input).disabled
        assert screen.answers_from_form() == AliasesAnswers((("postmaster", ()),))
        # The warning is shown at the highlighted (deleted) row's field.
        assert message(screen, "name").startswith("! postmaster has no alias")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert "-postmaster:    root" in static_text(app.screen, "#review-diff")
        await pilot.press("escape")
        # A blank new row is ignored; with a name it needs addresses.
        await pilot.press("ctrl+n")
        await step_ready(pilot)
        assert screen.answers_from_form() == AliasesAnswers((("postmaster", ()),))
        assert message(screen, "name").startswith("a local name")


async def test_entries_the_wizard_would_not_write_are_left_alone(
    sandbox: Path, runner: RecordingRunner
) -> None:
    (sandbox / "etc/aliases").write_text(
        "postmaster: root\nbounces: \"|/usr/local/bin/bounce --quiet\"\n# keep me\n")
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        screen.query_one(DataTable).focus()
        await pilot.press("down")
        assert screen.selected is not None and screen.selected.key == "bounces"
        assert message(screen, "targets").startswith("addresses or local users")  # untouched
        await pilot.press("ctrl+n")
        await type_into(pilot, NAME, "root", keys=1)
        await type_into(pilot, TARGETS, "admin@example.net", keys=1)
        await step_ready(pilot)
        assert screen.answers_from_form() == AliasesAnswers(
            (("root", ("admin@example.net",)),))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        assert "+root: admin@example.net" in diff
        assert "bounce --quiet" not in "\n".join(
            ln for ln in diff.splitlines() if ln.startswith(("+", "-")))
        # Changing the command itself is refused, naming it.
        await pilot.press("escape")
        screen.query_one(DataTable).focus()
        await pilot.press("up", "up", "down")
        assert screen.selected is not None and screen.selected.key == "bounces"
        await type_into(pilot, TARGETS, "\"|/usr/local/bin/bounce\"", keys=1)
        await step_ready(pilot)
        assert "no commands or files" in message(screen, "targets")



async def test_keys_in_a_burst_land_where_they_were_typed(
    sandbox: Path, runner: RecordingRunner
) -> None:
    """Over SSH a paste arrives as one burst of keys: ``abc<Tab>def`` right after ctrl+n is
    alias ``abc`` forwarding to ``def``, however fast the keys come."""
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        await burst(pilot, "ctrl+n", *"abc", "tab", *"def")
        await step_ready(pilot)
        assert table_rows(screen)[-1][1:] == ("abc", "def")
        assert screen.query_one(NAME, Input).value == "abc"
        assert screen.query_one(TARGETS, Input).value == "def"
        # Back with shift+tab (focus selects the field: typing replaces it), on with tab;
        # the field's own keys (end, backspace) act where they were typed too.
        await burst(pilot, "shift+tab", *"xyz", "backspace", "tab", "end", "comma", "space",
                    *"ghi")
        await step_ready(pilot)
        assert table_rows(screen)[-1][1:] == ("xy", "def, ghi")


async def test_a_pasted_tab_moves_on_like_a_typed_one(
    sandbox: Path, runner: RecordingRunner
) -> None:
    """A terminal with bracketed paste sends one Paste event: its tab moves to the next
    field and the rest lands there, as if the admin had typed it."""
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        await pilot.press("ctrl+n")
        name = screen.query_one(NAME, Input)
        assert screen.focused is name
        app.post_message(events.Paste("abc\tdef"))
        await step_ready(pilot)
        assert table_rows(screen)[-1][1:] == ("abc", "def")
        assert screen.query_one(TARGETS, Input).value == "def"
        assert screen.focused is screen.query_one(TARGETS, Input)


async def test_enter_in_a_burst_moves_on_then_opens_the_review(
    sandbox: Path, runner: RecordingRunner
) -> None:
    """Enter moves from the name to the targets before the next key is read; enter in the
    targets opens the review, as on every step screen."""
    app = make_app(sandbox, runner, start_step="aliases")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, AliasesScreen)
        await burst(pilot, "ctrl+n", *"team", "enter", *"a@example.net", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert "+team: a@example.net" in static_text(app.screen, "#review-diff")
