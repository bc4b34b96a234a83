"""After a kill -9, a crash or a power loss: find the apply that never finished.

Every apply writes its manifest with result RUNNING, fsync'd, before its first change (see
``apply.Backup.create``). A manifest still RUNNING whose process is gone is the journal of
an interrupted apply: the next mailwizard (any verb, and the hub) says so and offers the
undo, and ``rollback`` undoes exactly that apply (it is ``apply.latest_backup``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from mailwizard.apply import (
    APPLIED,
    BACKUP_ROOT,
    INTERRUPTED,
    RESTORED,
    RUNNING,
    Backup,
    Manifest,
    latest_backup,
    process_token,
)
from mailwizard.system import System

DIED = "the process died before the apply finished (kill -9, a crash or a power loss)"


@dataclass(frozen=True)
class Interrupted:
    """An apply whose process died before it finished; ``directory`` is its backup."""

    directory: str
    manifest: Manifest

    @property
    def changed(self) -> bool:
        """False: it died while making the backup, before changing any file."""
        return self.manifest.changed

    def message(self) -> str:
        m = self.manifest
        steps = ", ".join(m.steps) or "an apply"
        who = f" by PID {m.pid}" if m.pid else ""
        head = f"the apply of {steps} started {m.created}{who} did not finish: {m.detail or DIED}"
        if not self.changed:
            return (f"{head}. It had not changed any file yet; `mailwizard rollback` clears "
                    "this notice and undoes nothing.")
        return (f"{head}. Files may be half changed: run `mailwizard rollback` to undo "
                f"exactly that apply (its backup is {self.directory}).")


def alive(manifest: Manifest) -> bool:
    """Whether the process that wrote ``manifest`` still runs (the same process: its PID,
    this boot, its start time)."""
    if manifest.pid is None:
        return False
    if not manifest.process:
        return os.path.exists(f"/proc/{manifest.pid}")
    return process_token(manifest.pid) == manifest.process


def find(system: System) -> Interrupted | None:
    """The apply ``rollback`` would undo, when it was interrupted; a RUNNING manifest
    whose process is gone is marked INTERRUPTED on the way. None if there is none (or
    the backups cannot be read, as for a user who is not root)."""
    try:
        directory = latest_backup(system)
        if directory is None:
            return None
        backup = Backup.load(system, directory)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _judge(backup)


def unseen(system: System) -> str | None:
    """Once: how the last apply ended when a signal ended it (an SSH drop: its own last
    words went to a terminal that was gone). None when there is nothing to say."""
    base = system.path(BACKUP_ROOT)
    try:
        names = sorted(p.name for p in base.iterdir()
                       if not p.name.endswith(".rolled-back") and (p / "manifest.json").is_file())
        if not names:
            return None
        backup = Backup.load(system, f"{BACKUP_ROOT}/{names[-1]}")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    m = backup.manifest
    if not m.unseen:
        return None
    m.unseen = False
    try:
        backup.save()
    except OSError:
        return None  # cannot mark it said: say nothing rather than every time
    head = f"the last apply ({', '.join(m.steps) or 'no step'}, started {m.created})"
    why = m.detail.removeprefix(f"{INTERRUPTED}: ")
    if m.result == RESTORED:
        return f"{head} was {why}: every file was restored (backup {backup.directory})"
    if m.result == APPLIED:
        return f"{head} was applied: {why}"
    return f"{head}: {why}"


def dead_runs(system: System) -> list[str]:
    """Every backup (not rolled back) whose apply was interrupted, oldest first: for
    cleaning what such an apply leaves (secret copies)."""
    base = system.path(BACKUP_ROOT)
    found: list[str] = []
    with contextlib.suppress(OSError):
        for entry in sorted(base.iterdir()):
            if entry.name.endswith(".rolled-back") or not (entry / "manifest.json").is_file():
                continue
            try:
                backup = Backup.load(system, f"{BACKUP_ROOT}/{entry.name}")
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if _judge(backup) is not None:
                found.append(backup.directory)
    return found


def _judge(backup: Backup) -> Interrupted | None:
    manifest = backup.manifest
    if manifest.result == RUNNING and not alive(manifest):
        manifest.result = INTERRUPTED
        manifest.detail = manifest.detail or DIED
        with contextlib.suppress(OSError):
            backup.save()
    if manifest.result != INTERRUPTED:
        return None
    return Interrupted(backup.directory, manifest)
