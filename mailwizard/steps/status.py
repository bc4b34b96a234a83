"""A step's line on the hub (its own module: the hub needs it before any step is loaded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["ok", "warn", "problem", "todo", "unavailable"]

SYMBOLS: dict[State, str] = {
    "ok": "✔", "warn": "!", "problem": "✖", "todo": "·", "unavailable": "·"
}


@dataclass(frozen=True)
class Status:
    """The hub's line for a step: a state, a few words, and the "Now:" details.

    ``action``: what the admin does about a ✖ that no plan of the step's own answers fixes
    (the hub's ``f``), in words, e.g. a package to install.
    """

    state: State
    summary: str
    now: tuple[str, ...] = ()
    action: str = ""

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.state]
