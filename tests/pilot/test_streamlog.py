"""StreamLog: wraps with indented continuation rows, styles every row of a line, follows the
end (also when it shrinks) unless the reader scrolled up, never parses markup."""

from __future__ import annotations

from rich.style import Style
from textual.app import App, ComposeResult
from textual.widgets import Static

from mailwizard.screens.streamlog import LogLine, StreamLog, wrap


def test_wrap_indents_continuation_rows() -> None:
    assert wrap("short", 20) == ["short"]
    rows = wrap("✖ " + "word " * 10, 20)
    assert all(len(r) <= 20 for r in rows) and len(rows) > 1
    assert all(r.startswith("  ") and not r.startswith("   ") for r in rows[1:])
    long = "/var/" + "x" * 50  # no space: cut, not lost
    assert "".join(r.strip() for r in wrap(long, 20)) == long
    wide = "é" * 30 + "日本" * 10
    rows = wrap(wide, 20)
    assert "".join(r.strip() for r in rows) == wide and len(rows) > 2
    assert wrap("a\tb\x1b[31m", 20) == ["a       b�[31m"]  # no escape reaches the terminal


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StreamLog(id="log")
        yield Static("outcome", id="box")

    def on_mount(self) -> None:
        self.query_one("#box").display = False


async def test_rows_styled_followed_and_kept_at_the_end_when_shrunk() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 12)) as pilot:
        log = app.query_one(StreamLog)
        log.write_lines([LogLine(f"line {i} [bold]not markup[/]", "dim", "·", "yellow")
                         for i in range(30)])
        log.write_lines([LogLine("failed: " + "long words " * 6, "bold red", "✖", "bold red")])
        await pilot.pause()
        assert log.line_count == 31 and log.lines[0] == "· line 0 [bold]not markup[/]"
        assert log.scroll_y == log.max_scroll_y > 0
        last = log.render_line(log.size.height - 1)
        first_row = log.render_line(log.size.height - 3)
        assert first_row.text.startswith("✖ failed: long words")
        assert last.text.startswith("  words")
        assert all(Style.parse("bold red").color == seg.style.color
                   for seg in list(last) + list(first_row) if seg.text.strip())
        app.query_one("#box").display = True  # an outcome box takes room: still at the end
        app.query_one("#box").styles.height = 5
        await pilot.pause()
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert log.render_line(log.size.height - 1).text.startswith("  words")
        log.scroll_to(y=0, animate=False, immediate=True)  # the reader scrolls up: stays
        log.write_lines([LogLine("more")])
        await pilot.pause()
        assert log.scroll_y == 0
