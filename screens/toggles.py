"""Radio buttons and check boxes whose state shows without colour (● and ✔ carry the
meaning; Textual's own draw the same mark on and off, only in another colour)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


class Choice(RadioButton):
    """A RadioButton drawn ``●`` when chosen and blank when not."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else " "
        return super()._button


class Tick(Checkbox):
    """A Checkbox drawn ``✔`` when on and blank when off."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✔" if self.value else " "
        return super()._button
