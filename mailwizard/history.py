"""The backups of past applies, as `mailwizard rollback --list` and `rollback [ID]` show them.

Each backup under /var/backups/mailwizard/<ID>/ holds a manifest (``apply.Manifest``) and
the old bytes of the files. ``entries`` lists them; ``preview`` says what rolling one back
would change on this machine now: a diff from the files as they are to the files as the
backup holds them, what it cannot put back, the commands it runs and what becomes of each
service. Reads only.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from mailwizard.apply import (
    APPLIED,
    BACKUP_ROOT,
    INTERRUPTED,
    RESTORED,
    RUNNING,
    Backup,
    Manifest,
    latest_backup,
)
from mailwizard.system import System, UnsafeFile

ROLLED_BACK = ".rolled-back"

_SAID = {APPLIED: "applied", RESTORED: "failed, already restored",
         INTERRUPTED: "interrupted (never finished)", RUNNING: "running now"}


@dataclass(frozen=True)
class Entry:
    """One backup: ``ident`` is its directory's name, the ID `rollback ID` takes."""

    ident: str
    directory: str
    manifest: Manifest
    rolled_back: bool
    latest: bool  # what `mailwizard rollback` with no ID undoes

    @property
    def result(self) -> str:
        if self.rolled_back:
            return "rolled back"
        return _SAID.get(self.manifest.outcome, self.manifest.outcome)

    @property
    def files(self) -> list[str]:
        return [f.path for f in self.manifest.files]


class NotRollable(Exception):
    """The ID names no backup, or one there is nothing to roll back from; says which."""


def entries(system: System) -> list[Entry]:
    """Every readable backup, newest first."""
    base = system.path(BACKUP_ROOT)
    if not base.is_dir():
        return []
    latest = latest_backup(system)
    found = []
    for name in sorted(os.listdir(base), reverse=True):
        ident = name.removesuffix(ROLLED_BACK)
        directory = f"{BACKUP_ROOT}/{name}"
        try:
            backup = Backup.load(system, directory)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a backup (or a torn one): nothing to show or undo
        found.append(Entry(ident, directory, backup.manifest, name.endswith(ROLLED_BACK),
                           directory == latest))
    return found


def rollable(system: System, ident: str | None) -> Entry:
    """The backup `rollback [ID]` would restore; NotRollable says why there is none."""
    if ident is None:
        directory = latest_backup(system)
        if directory is None:
            raise NotRollable("no backup to roll back: nothing was applied yet (or every "
                              "apply was rolled back)")
        ident = directory.rsplit("/", 1)[1]
    matches = [e for e in entries(system) if e.ident == ident]
    if not matches:
        raise NotRollable(f"no backup {ident}: `mailwizard rollback --list` shows them")
    entry = next((e for e in matches if not e.rolled_back), matches[0])
    if entry.rolled_back:
        raise NotRollable(f"{ident} was already rolled back")
    if entry.manifest.outcome == RESTORED:
        raise NotRollable(f"the apply {ident} failed and was restored at once: nothing to "
                          "roll back")
    return entry


@dataclass
class Preview:
    """What a rollback of one backup changes now."""

    diff: str = ""  # unified diffs, files as they are now → as the rollback leaves them
    notes: list[str] = field(default_factory=list)  # binary files, removals, mode changes
    cannot: list[str] = field(default_factory=list)  # what it cannot put back, and why
    commands: list[str] = field(default_factory=list)  # undo commands it runs
    services: list[str] = field(default_factory=list)  # what it does with each service
    later: list[str] = field(default_factory=list)  # later applies, not undone

    @property
    def changes_nothing(self) -> bool:
        return not (self.diff or self.notes or self.commands)


def preview(system: System, entry: Entry) -> Preview:
    backup = Backup.load(system, entry.directory)
    manifest = backup.manifest
    out = Preview()
    out.later = [e.ident for e in entries(system)
                 if e.ident > entry.ident and not e.rolled_back
                 and e.manifest.outcome != RESTORED]
    if not manifest.changed:
        out.notes.append("that apply was interrupted before it changed any file: nothing "
                         "to undo")
        return out
    for item in manifest.files:
        path = item.path
        try:
            now = system.read_nofollow(path)
        except (UnsafeFile, OSError):
            now = None
        copy = backup.copy_of(item)
        if item.scrubbed or (item.secret and item.existed and not copy.is_file()):
            out.cannot.append(f"cannot restore {path}: it holds passwords, so no copy was "
                              "kept; set them again with the step that made them "
                              f"({', '.join(manifest.steps) or 'its step'})")
            continue
        if not item.existed:
            if now is not None or system.link_target(path) is not None:
                out.notes.append(f"remove {path} (that apply created it)")
            continue
        try:
            old = copy.read_bytes()
        except OSError as exc:
            out.cannot.append(f"cannot restore {path}: its copy is unreadable ({exc})")
            continue
        if old != now:
            if _binary(old) or (now is not None and _binary(now)):
                out.notes.append(f"{path}: binary file, put back as it was")
            else:
                out.diff += _diff(path, now, old)
        info = system.info(path)
        if info is not None and item.mode is not None and (
                info.mode, info.owner, info.group) != (item.mode, item.owner, item.group):
            out.notes.append(f"{path}: {info.mode:04o} {info.owner}:{info.group} → "
                             f"{item.mode:04o} {item.owner}:{item.group}")
    for directory in reversed(manifest.made_dirs):
        if system.path(directory).is_dir():
            out.notes.append(f"remove the directory {directory} if nothing else is in it")
    out.commands = [" ".join(argv) for argv in reversed(manifest.undo)]
    for name in manifest.services if system.run_commands else ():
        if manifest.running_before.get(name) is False:
            out.services.append(f"{name}: stopped if it runs (it was not running before "
                                "that apply)")
        else:
            out.services.append(f"{name}: reloaded on the restored files")
    return out


def _binary(data: bytes) -> bool:
    if b"\0" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _diff(path: str, now: bytes | None, old: bytes) -> str:
    a = (now or b"").decode("utf-8").splitlines(keepends=True)
    b = old.decode("utf-8").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, f"{path} (now)" if now is not None else "/dev/null",
                                 f"{path} (after the rollback)", n=2)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
