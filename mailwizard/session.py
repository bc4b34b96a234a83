"""What one run of the wizard (the TUI) changed, said in one line on the terminal after it quits.

``mailwizard apply`` ends with what it did; the TUI's screens are gone when it quits, so the
app records each apply (and an install, an undo) here and the CLI prints :meth:`Session.line`
as the last line: ``mailwizard: outcome: applied hostname, dkim in this session (...)`` or
``mailwizard: outcome: nothing was changed in this session``. Pure: no Textual, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailwizard.apply import ApplyResult

PREFIX = "mailwizard: outcome: "
LOCK = "lock"  # ApplyResult.failed when another run held the lock (mailwizard.apply)


@dataclass
class Session:
    applied: list[str] = field(default_factory=list)  # steps, in the order first applied
    backups: list[str] = field(default_factory=list)
    applies: int = 0
    problems: list[str] = field(default_factory=list)  # what went wrong, one phrase each
    undone: int = 0  # unfinished applies undone (the dialog at start)
    installed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Something on the machine may differ from before the session."""
        return bool(self.applies or self.undone or self.installed or
                    any("NOT every file" in p for p in self.problems))

    def record_apply(self, steps: tuple[str, ...], result: ApplyResult) -> None:
        if result.ok:
            if result.backup is None:  # an empty plan: nothing was written
                return
            self.applies += 1
            self.applied.extend(s for s in steps if s not in self.applied)
            self.backups.append(result.backup)
            return
        which = ", ".join(steps) or "an apply"
        if result.failed == LOCK:
            self.problems.append(f"{which} not applied: {result.reason}")
        elif result.backup is None:
            self.problems.append(f"{which} not applied ({_first(result.reason) or result.failed}"
                                 "; nothing was written)")
        elif result.restored:
            what = (_first(result.reason) if result.failed == "interrupted"
                    else f"failed at {result.failed}")
            self.problems.append(f"{which} not applied ({what}; every file restored)")
        else:
            self.problems.append(f"{which} failed at {result.failed} and NOT every file was "
                                 f"restored: the old files are in {result.backup}")

    def record_undo(self) -> None:
        self.undone += 1

    def record_install(self, packages: tuple[str, ...]) -> None:
        self.installed = (*self.installed, *(p for p in packages if p not in self.installed))

    def line(self) -> str:
        """The session's outcome in one line (no newline)."""
        done: list[str] = []
        if self.installed:
            done.append(f"installed {', '.join(self.installed)}")
        if self.undone:
            done.append("undid the apply that had not finished")
        if self.applies:
            done.append(f"applied {', '.join(self.applied)}")
        if done:
            head = "; ".join(done) + " in this session"
        elif self.changed:  # only an apply that could not restore every file
            head = "the machine may have changed in this session"
        else:
            head = "nothing was changed in this session"
        if self.applies:
            count = f"{self.applies} applies; the last one's" if self.applies > 1 else "the"
            head += (f" ({count} old files are in {self.backups[-1]}: `mailwizard rollback` "
                     "undoes it)")
        return PREFIX + "; ".join([head, *self.problems])


def _first(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
