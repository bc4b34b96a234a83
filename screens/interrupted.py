"""Dialogs about applies that were or would be cut short.

``StopApplyDialog``: ctrl+q while an apply runs asks instead of quitting half way (finish
first, or stop at the next safe point and restore every file). ``InterruptedDialog``: the
hub's notice that an earlier apply never finished (kill -9, power loss), with its undo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mailwizard.apply import ApplyResult, rollback
from mailwizard.journal import Interrupted
from mailwizard.system import System

CSS = Path(__file__).with_name("interrupted.tcss")
Choice = Literal["finish", "stop", "stay"]


class StopApplyDialog(ModalScreen[Choice]):
    """Quit while applying? Keep watching (esc) has the focus."""

    CSS_PATH = CSS
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "stay", "keep watching"),
        Binding("f", "choose('finish')", "finish, then quit"),
        Binding("s", "choose('stop')", "stop and restore"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("An apply is running", style="bold"), id="dialog-title")
            yield Static(Text(
                "Quitting now would leave it half done. Let it finish and then quit, or "
                "stop it at the next safe point: every file it changed is then restored "
                "and the services reloaded before mailwizard quits."), id="dialog-text")
            with Horizontal(id="dialog-buttons"):
                yield Button("Finish, then quit", id="finish")
                yield Button("Stop and restore", variant="warning", id="stop")
                yield Button("Keep watching", variant="primary", id="stay")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(str(event.button.id))

    def action_choose(self, choice: str) -> None:
        self.dismiss("finish" if choice == "finish" else "stop" if choice == "stop"
                     else "stay")

    def action_stay(self) -> None:
        self.dismiss("stay")


class InterruptedDialog(ModalScreen[bool]):
    """An earlier apply never finished: undo it (its backup) or leave it. Dismisses with
    True once something was undone."""

    CSS_PATH = CSS
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "leave", "leave it"),
        Binding("u", "undo", "undo it"),
    ]

    def __init__(self, found: Interrupted, system: System) -> None:
        super().__init__()
        self.found = found
        self.system = system
        self.result: ApplyResult | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("An apply did not finish", style="bold red"), id="dialog-title")
            yield Static(Text(self.found.message()[0].upper() + self.found.message()[1:]),
                         id="dialog-text")
            yield Static(id="dialog-outcome")
            with Horizontal(id="dialog-buttons"):
                label = "Undo it" if self.found.changed else "Clear this notice"
                yield Button(label, variant="warning", id="undo")
                yield Button("Leave it", variant="primary", id="leave")

    def on_mount(self) -> None:
        self.query_one("#dialog-outcome", Static).display = False
        self.query_one("#leave", Button).focus()

    @on(Button.Pressed, "#undo")
    def _undo_pressed(self) -> None:
        self.action_undo()

    @on(Button.Pressed, "#leave")
    def _leave_pressed(self) -> None:
        self.action_leave()

    def action_leave(self) -> None:
        if not self.busy:
            self.dismiss(self.result is not None and self.result.ok)

    def action_undo(self) -> None:
        if self.busy or self.result is not None:
            return
        self.busy = True
        self._outcome(Text("Undoing…", style="bold"))
        self._rollback()

    @work(thread=True, exclusive=True, group="undo")
    def _rollback(self) -> None:
        result = rollback(self.system, self.found.directory)
        self.app.call_from_thread(self._done, result)

    def _done(self, result: ApplyResult) -> None:
        self.busy = False
        self.result = result
        if result.ok:
            text = Text("✔ Undone: ", style="bold green")
            text.append("every file of that apply is as it was before it."
                        if self.found.changed else "it had changed nothing.")
        else:
            text = Text("✖ Could not undo it: ", style="bold red")
            text.append(result.reason)
        self._outcome(text)
        self.query_one("#undo", Button).disabled = True
        leave = self.query_one("#leave", Button)
        leave.label = "Close"
        leave.focus()

    def _outcome(self, text: Text) -> None:
        box = self.query_one("#dialog-outcome", Static)
        box.update(text)
        box.display = True
