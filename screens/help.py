"""Help: a step's ``help`` markdown (what, why, what the guide says, common mistakes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Markdown, Static

from .common import WizardScreen


class HelpScreen(WizardScreen):
    """Full-screen help; esc, q or f1 close it."""

    CSS_PATH = Path(__file__).with_name("help.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close", "close"),
        Binding("q", "close", "close", show=False),
        Binding("f1", "close", "close", show=False),
    ]

    def __init__(self, markdown: str, title: str) -> None:
        super().__init__()
        self.markdown = markdown
        self.help_title = title

    def compose(self) -> ComposeResult:
        head = Text(" mailwizard", style="bold")
        if self.help_title and self.help_title != "mailwizard":
            head.append(f" › {self.help_title}")
        head.append(" › help")
        yield Static(head, id="help-title")
        with VerticalScroll(id="help-body"):
            yield Markdown(self.markdown, id="help-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.app.pop_screen()
