"""Review: the unified diff of every file, then the commands in order, then apply.

File content is shown as Rich Text objects, never parsed as markup (a line such as
``EHLO [192.0.2.1]`` or ``[/etc]`` must show as written).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import Footer, Static

from mailwizard.plan import Plan

from .common import WizardScreen

MARK = "↳ "  # starts each further row of a wrapped line


def row_starts(plain: str, first: int, rest: int) -> list[int]:
    """Where the rows of ``plain`` start when the first row holds ``first`` cells and the
    others ``rest``: after a space where the row has one, else mid-word (a long path)."""
    measure = len if plain.isascii() else cell_len
    starts, pos, room = [0], 0, first
    while measure(plain[pos:]) > room:
        end = pos
        while end < len(plain) and measure(plain[pos:end + 1]) <= room:
            end += 1
        space = plain.rfind(" ", pos + 1, end)
        if space > pos:
            end = space + 1
        end = max(end, pos + 1)
        starts.append(end)
        pos, room = end, rest
    return starts


class MarkedLines(Visual):
    """Text drawn wrapped to the width with ``↳`` starting every further row of a wrapped
    line, so it does not read as two lines of the file. ``plain`` (and ``str``) is the
    text as it is, unwrapped and unmarked."""

    def __init__(self, text: Text) -> None:
        self.text = text
        self.lines = Content.from_rich_text(text).split("\n", allow_blank=True)
        self._rows = lru_cache(maxsize=4)(self._rows_at)

    @property
    def plain(self) -> str:
        return self.text.plain

    def __str__(self) -> str:
        return self.text.plain

    def _rows_at(self, width: int) -> list[Content]:
        mark = Content.styled(MARK, "dim")
        rows: list[Content] = []
        for line in self.lines:
            if line.cell_length <= width or width <= len(MARK) + 1:
                rows.append(line)
                continue
            first, *more = line.divide(row_starts(line.plain, width, width - len(MARK))[1:])
            rows.append(first)
            rows.extend(mark + piece for piece in more)
        return rows

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return max((line.cell_length for line in self.lines), default=0)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self._rows(width))

    def render_strips(self, width: int, height: int | None, style: Style,
                      options: RenderOptions) -> list[Strip]:
        return Content("\n").join(self._rows(width)).render_strips(width, height, style,
                                                                   options)


def diff_text(plan: Plan) -> Text:
    """Every changed file: a header, then its diff (added green, removed red, context dim)."""
    text = Text()
    for change in plan.changed_files():
        added, removed = change.counts()
        text.append(change.path, style="bold")
        if change.before is None:
            text.append("  new file", style="bold green")
        elif change.after is None:
            text.append("  deleted", style="bold red")
        text.append(f"  +{added} −{removed}", style="dim")
        if change.why:
            text.append(f"  {change.why}", style="italic dim")
        text.append("\n")
        for line in change.diff().splitlines():
            if line.startswith(("+++", "---")):
                continue
            if line.startswith("@@"):
                text.append(line + "\n", style="cyan dim")
            elif line.startswith("+"):
                text.append(line + "\n", style="green")
            elif line.startswith("-"):
                text.append(line + "\n", style="red")
            else:
                text.append(line + "\n", style="dim")
        text.append("\n")
    return text


def commands_text(plan: Plan) -> Text:
    """Everything apply runs, in order, with what each is for; secrets show as ••••••."""
    text = Text()
    actions = plan.actions()
    if not actions:
        return text
    text.append("Commands, in order\n", style="bold underline")
    for i, action in enumerate(actions, 1):
        text.append(f"{i:>2}. ", style="dim")
        text.append(action.text + "\n", style="bold")
        if action.why:
            text.append(f"    {action.why}\n", style="dim")
    return text


class ReviewScreen(WizardScreen):
    """Everything apply will do; ``a`` applies, esc goes back to the form."""

    CSS_PATH = Path(__file__).with_name("review.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("a", "apply", "apply"),
        Binding("escape", "back", "back"),
        Binding("up", "scroll(-1)", "scroll", key_display="↑",
                group=Binding.Group("scroll", compact=True)),
        Binding("down", "scroll(1)", "scroll", key_display="↓",
                group=Binding.Group("scroll", compact=True)),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
    ]

    def __init__(self, plan: Plan, title: str) -> None:
        super().__init__()
        self.plan = plan
        self.step_title = title

    def compose(self) -> ComposeResult:
        files = len(self.plan.changed_files())
        count = len(self.plan.actions())
        head = Text(" mailwizard", style="bold")
        head.append(f" › {self.step_title} › review")
        yield Static(head, id="review-title")
        summary = Text(" ")
        summary.append(f"{files} file{'s' if files != 1 else ''}", style="bold")
        summary.append(" will change, ")
        summary.append(f"{count} command{'s' if count != 1 else ''}", style="bold")
        summary.append(" will run. Every file is backed up first.")
        yield Static(summary, id="review-summary")
        with VerticalScroll(id="review-body"):
            yield Static(MarkedLines(diff_text(self.plan)), id="review-diff")
            yield Static(commands_text(self.plan), id="review-commands")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#review-body", VerticalScroll).focus()

    def action_scroll(self, delta: int) -> None:
        body = self.query_one("#review-body", VerticalScroll)
        body.scroll_relative(y=delta, animate=False)

    def action_page(self, delta: int) -> None:
        body = self.query_one("#review-body", VerticalScroll)
        body.scroll_relative(y=delta * max(1, body.size.height - 1), animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_apply(self) -> None:
        self.app.pop_screen()
        self.wizard.start_apply(self.plan, self.step_title)
