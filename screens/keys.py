"""Keys in a burst land where they were typed.

Over SSH a paste (or a password manager's auto-type) arrives as one burst of keys. Textual
reads each key and routes it to the widget focused *at that moment*; but a plain binding
(``tab`` → focus the next field, an Input's ``backspace`` or ``end``) runs only when the key
has bubbled back up to the app, after the keys behind it were already routed. So
``abc<Tab>def`` typed ``abcdef`` into the first field, and ``ab<Backspace>c`` gave ``ab``.

* :data:`FOCUS_KEYS`: tab and shift+tab as priority bindings, which run as the key is read,
  so the focus has moved before the next key is routed.
* :class:`BurstSafeInput`: an Input that runs its own bindings as each key arrives, in the
  order typed.
* :func:`next_input`: the Input enter moves to (a priority binding on the screen).
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.widgets import Input

FOCUS_KEYS: list[Any] = [
    Binding("tab", "app.focus_next", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", show=False, priority=True),
]

_INPUT_KEYS = BindingsMap(Input.BINDINGS)


class BurstSafeInput(Input):
    """An Input whose own keys (backspace, arrows, home, end, enter...) act in the order they
    were typed, not after the printable keys behind them in a burst."""

    async def on_key(self, event: events.Key) -> None:
        for binding in _INPUT_KEYS.key_to_bindings.get(event.key, ()):
            if not binding.priority:
                event.prevent_default()
                event.stop()
                await self.run_action(binding.action)
                return


def next_input(within: DOMNode, focused: object) -> Input | None:
    """The enabled Input after ``focused`` among ``within``'s, None after the last one."""
    inputs = [i for i in within.query(Input) if not i.disabled]
    if not isinstance(focused, Input) or focused not in inputs:
        return None
    index = inputs.index(focused)
    return inputs[index + 1] if index < len(inputs) - 1 else None
