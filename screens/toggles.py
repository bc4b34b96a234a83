"""Radio buttons and check boxes whose state shows without colour (● and ✔ carry the
meaning; Textual's own draw the same mark on and off, only in another colour).

The mark is the button's ``BUTTON_INNER``, set per instance when the value changes.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Checkbox, RadioButton


class Choice(RadioButton):
    """A RadioButton drawn ``●`` when chosen and blank when not."""

    BUTTON_INNER = " "

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.BUTTON_INNER = "●" if self.value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "●" if self.value else " "
        super().watch_value()


class Tick(Checkbox):
    """A Checkbox drawn ``✔`` when on and blank when off."""

    BUTTON_INNER = " "

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.BUTTON_INNER = "✔" if self.value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✔" if self.value else " "
        super().watch_value()
