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
    """The hub's line for a step: a state, a few words, and the "Now:" details."""

    state: State
    summary: str
    now: tuple[str, ...] = ()

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.state]
