"""The question asked before a step screen with unsaved edits is left (esc or ctrl+q).

"Keep editing" has the focus and is what Esc answers; ctrl+q on the question is the admin
insisting on quitting (the app's binding, which this screen does not see).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static


class DiscardEdits(ModalScreen[bool]):
    """Throw away the edits on ``title``'s form? True: discard; False: keep editing."""

    CSS_PATH = Path(__file__).with_name("unsaved.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "keep", "keep editing"),
        Binding("left", "app.focus_previous", "choose", key_display="←",
                group=Binding.Group("choose", compact=True)),
        Binding("right", "app.focus_next", "choose", key_display="→",
                group=Binding.Group("choose", compact=True)),
    ]

    def __init__(self, title: str, *, quitting: bool = False) -> None:
        super().__init__()
        self.step_title = title
        self.quitting = quitting

    def compose(self) -> ComposeResult:
        leaving = "quit mailwizard" if self.quitting else "go back"
        with Vertical(id="discard-dialog"):
            yield Static(Text(f"Discard your changes to {self.step_title}?", style="bold"),
                         id="discard-title")
            yield Static(Text(
                f"The form was edited and not applied. If you {leaving} now, the edits "
                "are lost (nothing has been written). Esc keeps editing"
                + ("; ctrl+q again quits." if self.quitting else ".")),
                id="discard-text")
            with Horizontal(id="discard-buttons"):
                yield Button("Keep editing", id="keep", variant="primary")
                yield Button("Discard", id="discard", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "discard")

    def action_keep(self) -> None:
        self.dismiss(False)
