"""Carry out a Plan as a transaction: backup → write → run → validate → reload.

On any failure every file the plan wrote or a command touched is restored byte for byte
(files that did not exist are removed), undo commands run, services reload again, and
the result says which step failed and why.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from mailwizard import postfix, runlock, runtemps, services, tempdirs
from mailwizard.failadvice import advice
from mailwizard.interrupt import Cancel
from mailwizard.plan import POSTFIX_CHECK, PRIVATE_DIR, Command, Install, Plan
from mailwizard.system import CommandError, System, UnsafeFile

BACKUP_ROOT = "/var/backups/mailwizard"
# Copies of files that hold passwords (sasldb2), one directory per backup: on tmpfs, so they
# never reach a disk and a power loss takes them; root-only; deleted once the apply succeeded
# or was restored (see Backup.scrub_secrets and scrub_secret_copies).
SECRET_ROOT = "/run/mailwizard/secrets"

EventKind = Literal["phase", "run", "line", "ok", "fail", "skip", "restored", "done"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    text: str
    done: int = 0  # units of work finished, for a progress bar
    total: int = 0


Emit = Callable[[Event], None]


@dataclass
class ApplyResult:
    ok: bool
    backup: str | None = None
    failed: str = ""  # what failed, e.g. "postfix check"
    reason: str = ""  # why, in words, with the last lines of output
    restored: bool = False
    log: list[str] = field(default_factory=list)


class ApplyFailed(Exception):
    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")


def _stamp() -> str:
    t = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f"{int(t * 1e6) % 1_000_000:06d}Z"


@dataclass
class FileEntry:
    """One file of a backup as it was before the apply (mode, owner and group if it existed).

    ``scrubbed``: the file holds passwords and its copy was deleted after the apply.
    """

    path: str
    existed: bool
    secret: bool = False
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    scrubbed: bool = False

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"path": self.path, "existed": self.existed,
                                   "secret": self.secret}
        if self.mode is not None:
            data.update(mode=self.mode, owner=self.owner, group=self.group)
        if self.scrubbed:
            data["scrubbed"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FileEntry:
        mode = data.get("mode")
        return cls(str(data["path"]), bool(data["existed"]), bool(data.get("secret", False)),
                   int(str(mode)) if mode is not None else None,
                   _str_or_none(data.get("owner")), _str_or_none(data.get("group")),
                   bool(data.get("scrubbed", False)))


# How an apply ended, in its manifest (``Manifest.result``):
RUNNING = "running"  # written, fsync'd, before the first change; still so if the process died
APPLIED = "applied"  # finished
RESTORED = "restored"  # failed or stopped by a signal; every file was put back at once
INTERRUPTED = "interrupted"  # the process died while RUNNING (kill -9, crash, power loss)
RESULTS = (RUNNING, APPLIED, RESTORED, INTERRUPTED)


@dataclass
class Manifest:
    """``manifest.json`` of a backup: the journal of one apply and how it ended.

    It is written (and fsync'd) with ``result`` RUNNING and ``changed`` False before the
    backup copies are made, again with the files and ``changed`` True before the first
    change, and once more with the result. ``pid`` and ``process`` (boot id and start time)
    name the applying process, so that a later run can tell a dead one (``journal``).
    ``detail`` says why it ended so ("interrupted by SIGHUP ..."); ``undo`` holds the undo
    commands of the commands that ran, in order. Manifests of earlier versions have no
    result (read as APPLIED) or "failed" (read as RESTORED).
    ``made_dirs``: directories that did not exist before (outermost first), removed again by
    a restore when empty. ``running_before``: which of ``services`` ran before the apply; a
    restore stops again one that did not (an older manifest has none: each is brought up).
    ``listed``: the names in each directory where a command adds links of unknown names
    (``Command.links_in``); a restore removes a new link there that its restore left dangling.
    """

    created: str
    steps: list[str]
    services: list[str]  # reloaded again by a restore
    files: list[FileEntry]
    result: str | None = None
    undo: list[tuple[str, ...]] = field(default_factory=list)
    pid: int | None = None
    process: str = ""
    changed: bool = True  # False: interrupted before the first change (nothing to undo)
    detail: str = ""
    made_dirs: list[str] = field(default_factory=list)
    running_before: dict[str, bool] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)
    # A signal ended it (an SSH drop): nobody may have seen how; the next run says so once.
    unseen: bool = False

    def to_json(self) -> str:
        data: dict[str, object] = {"created": self.created, "steps": self.steps,
                                   "services": self.services,
                                   "files": [f.to_json() for f in self.files],
                                   "made_dirs": self.made_dirs,
                                   "running_before": self.running_before,
                                   "listed": self.listed}
        if self.result is not None:
            data["result"] = self.result
            data["undo"] = [list(argv) for argv in self.undo]
            data["changed"] = self.changed
            if self.detail:
                data["detail"] = self.detail
            if self.unseen:
                data["unseen"] = True
        if self.pid is not None:
            data.update(pid=self.pid, process=self.process)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("manifest.json: not an object")
        undo = data.get("undo", [])
        result = data.get("result")
        if result == "failed":  # before 'restored' existed
            result = RESTORED
        pid = data.get("pid")
        before = data.get("running_before", {})
        listed = data.get("listed", {})
        return cls(str(data.get("created", "")), [str(s) for s in data.get("steps", [])],
                   [str(s) for s in data.get("services", [])],
                   [FileEntry.from_json(f) for f in data["files"]],
                   None if result is None else str(result),
                   [tuple(str(a) for a in argv) for argv in undo if isinstance(argv, list)]
                   if isinstance(undo, list) else [],
                   pid if isinstance(pid, int) else None, str(data.get("process", "")),
                   bool(data.get("changed", True)), str(data.get("detail", "")),
                   [str(d) for d in data.get("made_dirs", [])],
                   {str(k): bool(v) for k, v in before.items()}
                   if isinstance(before, dict) else {},
                   {str(k): [str(n) for n in v] for k, v in listed.items()
                    if isinstance(v, list)} if isinstance(listed, dict) else {},
                   unseen=bool(data.get("unseen", False)))

    @property
    def outcome(self) -> str:
        """The result, with earlier versions' missing one read as APPLIED."""
        return self.result or APPLIED


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class Backup:
    """A directory under /var/backups/mailwizard with a manifest and the files' old bytes."""

    def __init__(self, system: System, directory: str, manifest: Manifest) -> None:
        self.system = system
        self.directory = directory
        self.manifest = manifest
        self.failed: list[str] = []  # "path: reason" for files restore() could not put back
        self.skipped: list[str] = []  # secret files whose copies were deleted after the apply
        self.removed_dirs: list[str] = []  # directories the apply made, removed by restore()
        self.removed_links: list[str] = []  # new links left dangling, removed by restore()

    @classmethod
    def create(
        cls, system: System, paths: list[str], plan: Plan, secret: frozenset[str] = frozenset(),
        running_before: dict[str, bool] | None = None,
    ) -> Backup:
        """Make the backup, durably: the journal (result RUNNING, nothing changed yet) first,
        then the copies (each fsync'd), then the manifest with every file, ``changed``."""
        base = system.path(BACKUP_ROOT)
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o700)
        directory = f"{BACKUP_ROOT}/{_stamp()}"
        real = system.path(directory)
        real.mkdir(mode=0o700)
        _fsync_dir(base)
        manifest = Manifest(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                            list(plan.steps), sorted(plan.reload | plan.restart), [],
                            result=RUNNING, pid=os.getpid(), process=process_token(),
                            changed=False,
                            # until it ends: the undo of every planned command, for a
                            # rollback after a kill (hostname -F is harmless if not needed)
                            undo=[c.undo for c in plan.commands if c.undo],
                            made_dirs=_missing_dirs(system, paths),
                            running_before=dict(running_before or {}),
                            listed={d: _names(system, d) for d in _link_dirs(plan)})
        backup = cls(system, directory, manifest)
        backup.save()
        for path in paths:
            data = system.read_nofollow(path)  # a link is refused, never copied
            info = None if data is None else system.info(path)
            entry = FileEntry(path, info is not None, path in secret)
            if info is not None and data is not None:
                entry.mode, entry.owner, entry.group = info.mode, info.owner, info.group
                copy = backup.copy_of(entry)
                _private_dirs(_secret_root(system) if entry.secret else real, copy.parent)
                _write_synced(copy, data)
            manifest.files.append(entry)
        for directory_path in {p.parent for p in real.rglob("*") if p.is_file()}:
            _fsync_dir(directory_path)
        manifest.changed = True  # from here on the apply may change files
        backup.save()
        return backup

    def copy_of(self, entry: FileEntry) -> Path:
        """Where the old bytes of ``entry`` are kept: in the backup, or for a file that holds
        passwords under SECRET_ROOT (tmpfs, root-only)."""
        base = f"{SECRET_ROOT}/{PurePosixPath(self.directory).name}" if entry.secret else (
            f"{self.directory}/files")
        return self.system.path(f"{base}/{entry.path.lstrip('/')}")

    @classmethod
    def load(cls, system: System, directory: str) -> Backup:
        text = system.path(f"{directory}/manifest.json").read_text()
        return cls(system, directory, Manifest.from_json(text))

    def save(self) -> None:
        """Write manifest.json atomically and durably (fsync, rename, fsync the directory):
        after a power loss it is the old version or the new one, never a torn one."""
        self.system.write_atomic(f"{self.directory}/manifest.json",
                                 self.manifest.to_json().encode(), mode=0o600)

    def restore(self) -> list[str]:
        """Put every file back as it was; return the paths that differed.

        Reads the disk itself (never a System overlay); a file that cannot be put back is
        recorded in ``failed`` and the others are still restored.
        """
        restored = []
        self.failed = []
        for entry in self.manifest.files:
            try:
                if self._restore_one(entry):
                    restored.append(entry.path)
            except (OSError, KeyError, ValueError) as exc:
                self.failed.append(f"{entry.path}: {exc}")
        self.removed_links = self._remove_dangling_links()
        self.removed_dirs = []
        for directory in reversed(self.manifest.made_dirs):  # innermost first
            real = self.system.path(directory)
            if real.is_symlink() or not real.is_dir():
                continue
            try:
                real.rmdir()  # only when empty: another file in it since is kept, with it
            except OSError:
                continue
            self.removed_dirs.append(directory)
        return restored

    def _restore_one(self, entry: FileEntry) -> bool:
        path = entry.path
        if entry.scrubbed:
            self.skipped.append(path)
            return False
        real = self.system.path(path)
        linked = self.system.link_target(path) is not None  # planted since: replace the link
        try:
            current: bytes | None = None if linked else self.system.read_nofollow(path)
        except UnsafeFile:
            current = None
        if not entry.existed:
            if current is None and not real.is_symlink():
                return False
            self.system.remove(path)
            return True
        if entry.mode is None or entry.owner is None or entry.group is None:
            raise ValueError("the manifest has no mode, owner and group for it")
        copy = self.copy_of(entry)
        if entry.secret and not copy.is_file():  # /run is emptied at boot: a power loss
            self.skipped.append(path)
            return False
        data = copy.read_bytes()
        info = self.system.info(path)
        same_meta = info is not None and (info.mode, info.owner, info.group) == (
            entry.mode, entry.owner, entry.group)
        if current == data and same_meta and not linked:
            return False
        self.system.write_atomic(path, data, mode=entry.mode, owner=entry.owner,
                                 group=entry.group, replace_link=True)
        return True

    def _remove_dangling_links(self) -> list[str]:
        """Links that appeared in a listed directory and point at nothing now (make-ssl-cert's
        hash link to a certificate the restore removed); links to existing files stay."""
        removed = []
        for directory, names in self.manifest.listed.items():
            for name in sorted(set(_names(self.system, directory)) - set(names)):
                link = self.system.path(f"{directory}/{name}")
                if link.is_symlink() and not link.exists():
                    link.unlink()
                    removed.append(f"{directory}/{name}")
        return removed

    def finish(self, result: str, undo: list[tuple[str, ...]] | None = None,
               detail: str = "", unseen: bool = False) -> None:
        """Record in the manifest how the apply ended (APPLIED or RESTORED), why
        (``detail``; ``unseen``: a signal ended it, for ``journal.unseen``), and the undo
        commands of the commands that ran, for ``rollback``."""
        self.scrub_secrets()
        self.manifest.result = result
        self.manifest.detail = detail
        self.manifest.unseen = unseen
        self.manifest.undo = list(undo or [])
        with contextlib.suppress(OSError):
            self.save()

    def scrub_secrets(self) -> None:
        """Delete the copies of files that hold passwords: a backup must not keep them."""
        for entry in self.manifest.files:
            if entry.secret and entry.existed:
                self.copy_of(entry).unlink(missing_ok=True)
                entry.scrubbed = True
        shutil.rmtree(self.system.path(
            f"{SECRET_ROOT}/{PurePosixPath(self.directory).name}"), ignore_errors=True)


def _secret_root(system: System) -> Path:
    """SECRET_ROOT, made root-only (0700 at each level from /run down), never through a
    link: /run/mailwizard must be a real directory of ours."""
    run = system.path("/run")
    run.mkdir(parents=True, exist_ok=True)
    top = system.path(SECRET_ROOT)
    _private_dirs(run, top)
    for level in (top.parent, top):
        st = os.lstat(level)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise UnsafeFile(f"{level} is not a directory of this user: refusing to keep "
                             "password copies there")
        os.chmod(level, 0o700)
    return top


def scrub_secret_copies(system: System, keep: str | None = None) -> list[str]:
    """Delete the password copies of every backup but ``keep`` (the apply rollback would
    undo), marking them scrubbed in their manifests; returns the backups scrubbed."""
    top = system.path(SECRET_ROOT)
    if not top.is_dir() or top.is_symlink():
        return []
    keep_name = PurePosixPath(keep).name if keep else None
    scrubbed = []
    for held in sorted(top.iterdir()):
        if held.name == keep_name:
            continue
        directory = f"{BACKUP_ROOT}/{held.name}"
        try:
            backup = Backup.load(system, directory)
            backup.scrub_secrets()
            backup.save()
        except (OSError, ValueError, KeyError, TypeError):  # no backup left for it
            shutil.rmtree(held, ignore_errors=True)
        scrubbed.append(directory)
    return scrubbed


def _missing_dirs(system: System, paths: list[str]) -> list[str]:
    """The directories above ``paths`` that do not exist yet, outermost first: the apply
    will make them (write_atomic's mkdir -p, or a command)."""
    made: list[str] = []
    for path in paths:
        missing = []
        parent = PurePosixPath(path).parent
        while parent != parent.parent and not os.path.lexists(system.path(str(parent))):
            missing.append(str(parent))
            parent = parent.parent
        made.extend(d for d in reversed(missing) if d not in made)
    return sorted(made, key=lambda d: (d.count("/"), d))


def _link_dirs(plan: Plan) -> list[str]:
    return sorted({d for c in plan.commands for d in c.links_in})


def _names(system: System, directory: str) -> list[str]:
    try:
        return sorted(os.listdir(system.path(directory)))
    except OSError:
        return []


def _secret_paths(plan: Plan) -> frozenset[str]:
    return frozenset(p for c in plan.commands if c.secret_files for p in c.touches)


def _private_dirs(top: Path, directory: Path) -> None:
    """mkdir -p ``directory`` under ``top`` with every new level 0700 (mkdir's ``mode``
    does not apply to the parents it creates)."""
    missing = []
    while directory != top and not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700)
        os.chmod(new, 0o700)


def latest_backup(system: System) -> str | None:
    """The backup ``rollback`` undoes: the newest one not rolled back whose apply was not
    restored already (an applied one, or one that was interrupted or still runs)."""
    base = system.path(BACKUP_ROOT)
    if not base.is_dir():
        return None
    dirs = sorted(p.name for p in base.iterdir()
                  if (p / "manifest.json").is_file() and not p.name.endswith(".rolled-back")
                  and _result(p / "manifest.json") != RESTORED)
    return f"{BACKUP_ROOT}/{dirs[-1]}" if dirs else None


def _result(manifest: Path) -> str:
    """How the apply of a backup ended (RESTORED: already put back)."""
    try:
        return Manifest.from_json(manifest.read_text()).outcome
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def process_token(pid: int | None = None) -> str:
    """This boot and the process's start time ("BOOTID:TICKS"): with the PID, it names one
    process even after the PID is reused or the machine rebooted ("" if unreadable)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat_text = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
    except OSError:
        return ""
    fields = stat_text.rsplit(")", 1)[-1].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else ""


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.fchmod(fd, 0o600)
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _paths(plan: Plan) -> list[str]:
    seen: list[str] = []
    for path in [f.path for f in plan.changed_files()] + [p for c in plan.commands
                                                            for p in c.touches]:
        if path not in seen:
            seen.append(path)
    return seen


class _Log:
    """The events of an apply or a rollback: passed on, kept as log lines, counted."""

    def __init__(self, emit: Emit, total: int = 0) -> None:
        self.emit_to = emit
        self.log: list[str] = []
        self.total = total
        self.done = 0

    def emit(self, kind: EventKind, text: str, step: bool = False) -> None:
        """Pass the event on; a receiver that fails (a terminal that hung up, a screen
        that is gone) is dropped, never allowed to break an apply or its restore."""
        if step:
            self.done += 1
        self.log.append(f"{kind}: {text}" if kind != "line" else f"  {text}")
        try:
            self.emit_to(Event(kind, text, self.done, self.total))
        except Exception:
            self.emit_to = _ignore


def _ignore(event: Event) -> None:
    pass


class _Run(_Log):
    """One apply in progress; keeps the log and what must be undone."""

    def __init__(self, system: System, plan: Plan, emit: Emit,
                 cancel: Cancel | None = None) -> None:
        super().__init__(emit)
        self.system = system
        self.plan = plan
        self.cancel = cancel or Cancel()
        self.ran: list[Command] = []
        # backup + files + commands + postfix check + checks + validation + reload + done
        self.postfix_check = int(plan.checks_postfix)
        self.total = (len(plan.changed_files()) + len(plan.commands) + len(plan.checks)
                      + self.postfix_check + 4)

    def stop_if_asked(self) -> None:
        """Between two steps (the files and the services consistent): stop when asked."""
        if self.cancel.requested:
            raise ApplyFailed(INTERRUPTED, f"stopped by {self.cancel.reason}")

    def command(self, cmd: Command) -> None:
        self.stop_if_asked()
        self.emit("run", cmd.display())
        if not self.system.run_commands:
            name = cmd.argv[0] if cmd.argv else "install"
            self.emit("skip", f"{name}: not run (sandbox root)", step=True)
            return
        self.ran.append(cmd)
        private = _private_dir(self.system) if PRIVATE_DIR in cmd.argv else None
        try:
            if cmd.argv:
                argv = tuple(private if a == PRIVATE_DIR and private else a for a in cmd.argv)
                self.system.run(
                    argv, stdin=cmd.stdin, timeout=cmd.timeout,
                    on_line=lambda line: self.emit("line", line),
                )
            for item in cmd.installs:
                self._install(item, private)
        except CommandError as exc:
            raise ApplyFailed(cmd.display(), _why(exc)) from exc
        except UnsafeFile as exc:
            raise ApplyFailed(cmd.display(), str(exc)) from exc
        finally:
            if private is not None:
                shutil.rmtree(self.system.path(private), ignore_errors=True)
        self.emit("ok", cmd.display(), step=True)

    def _install(self, item: Install, private: str | None) -> None:
        system = self.system
        if item.source is None:
            system.set_meta(item.dest, mode=item.mode, owner=item.owner, group=item.group)
            return
        if private is None:
            raise ValueError(f"{item.source}: the command has no private directory")
        data = system.read_nofollow(f"{private}/{item.source}")
        if data is None:
            raise ApplyFailed(item.display(), f"the command made no {item.source}")
        system.write_atomic(item.dest, data, mode=item.mode, owner=item.owner, group=item.group)

    def validate(self, warnings_before: set[str]) -> None:
        system = self.system
        if not system.run_commands:
            self.done += len(self.plan.checks) + self.postfix_check
            self.emit("skip", "validation: not run (sandbox root)", step=True)
            return
        if self.plan.checks_postfix:
            new = [w for w in postfix.check_config(system) if w not in warnings_before]
            if new:
                raise ApplyFailed("postconf -n", "\n".join(new))
            self.emit("ok", "postconf -n: no warnings")
            self.command(POSTFIX_CHECK)
        for check in self.plan.checks:
            self.command(check)
        self.done += 1

    def reload(self, running_before: dict[str, bool]) -> None:
        """Reload or restart what the plan names; ``running_before`` (what ran when the
        apply began, which nothing since has started or stopped) spares a status check."""
        if not self.system.run_commands:
            self.emit("skip", "services: not reloaded (sandbox root)", step=True)
            return
        for name in sorted(self.plan.restart | self.plan.reload):
            action: services.Action = "restart" if name in self.plan.restart else "reload"
            self.emit("run", f"{action} {name}")
            try:
                services.control(self.system, name, action, running=running_before.get(name))
            except CommandError as exc:
                raise ApplyFailed(f"{action} {name}", _why(exc)) from exc
            self.emit("ok", f"{action} {name}")
        if "postfix" in self.plan.reload | self.plan.restart and not services.postfix_running(
            self.system
        ):
            raise ApplyFailed("postfix status", "Postfix is not running after the reload")
        self.done += 1


def _private_dir(system: System) -> str:
    """A fresh directory only root can enter (mkdtemp: 0700, unguessable name), logical."""
    base = system.path("/tmp")
    base.mkdir(parents=True, exist_ok=True)
    made = Path(tempdirs.make("key", base))
    return "/" + str(made.relative_to(system.root)).lstrip("/")


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _why(exc: CommandError) -> str:
    """The reason, the command's last lines, and what to do when the cause is outside."""
    hint = advice(exc.output)
    return f"{exc.reason}\n{_tail(exc.output)}" + (f"\n{hint}" if hint else "")


def apply(system: System, plan: Plan, emit: Emit | None = None,
          cancel: Cancel | None = None) -> ApplyResult:
    """Apply ``plan``; never raises for a failure of the plan itself (see ApplyResult).

    Holds the run lock (``runlock``): another apply or rollback at the same time is refused.
    Any exception after the backup (a failed command, an unknown owner, a service that
    cannot be controlled, even Ctrl-C) restores every file first; Ctrl-C is then re-raised.
    ``cancel`` (signals, the TUI's quit): looked at between steps; a stop restores every
    file (failed="interrupted"); one asked for during the last step lets the apply finish.
    """
    run = _Run(system, plan, emit or (lambda e: None), cancel)
    if plan.is_empty:
        run.emit("done", "nothing to do: the system already matches")
        return ApplyResult(ok=True, log=run.log)
    if run.cancel.requested:
        run.emit("fail", f"stopped by {run.cancel.reason} before it began")
        return ApplyResult(False, None, INTERRUPTED, f"stopped by {run.cancel.reason} "
                           "(nothing was written)", False, run.log)
    try:
        with runlock.hold(system):
            return _apply_locked(system, plan.for_run(_run_id()), run)
    except runlock.Busy as exc:
        run.emit("fail", f"lock: {exc}")
        return ApplyResult(False, None, "lock", f"{exc} (nothing was written)", False, run.log)


def _run_id() -> str:
    """Unique to one apply: this process and a random part (temp names, ``RUN_TOKEN``)."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _stale(system: System, plan: Plan) -> str | None:
    """The first planned file that no longer holds the bytes the plan was made from."""
    for change in plan.changed_files():
        if system.read_nofollow(change.path) != change.before:
            return change.path
    return None


def _apply_locked(system: System, plan: Plan, run: _Run) -> ApplyResult:
    run.plan = plan
    run.emit("phase", "backing up")
    try:
        for path in _paths(plan):
            system.refuse_link(path)
        stale = _stale(system, plan)
        if stale is not None:
            run.emit("fail", f"plan: {stale} changed since the plan was made")
            return ApplyResult(
                False, None, "plan",
                f"{stale} changed since the plan was made (another mailwizard run, or an "
                "edit): review the step again (nothing was written)", False, run.log)
        _sweep_run_temps(system, run, plan)
        warnings_before = set(postfix.check_config(system)) if (
            system.run_commands and postfix.installed(system)) else set()
        backup = Backup.create(system, _paths(plan), plan, _secret_paths(plan),
                               _running_now(system, plan.reload | plan.restart))
    except (OSError, ValueError, CommandError, postfix.StagingError) as exc:
        run.emit("fail", f"backup: {exc}")
        return ApplyResult(False, None, "backup", f"{exc} (nothing was written)", False, run.log)
    run.emit("ok", f"backup in {backup.directory}", step=True)
    phase = "writing files"
    try:
        run.stop_if_asked()
        run.emit("phase", phase)
        for change in plan.changed_files():
            run.stop_if_asked()
            if change.after is None:
                system.remove(change.path)
            else:
                system.write_atomic(change.path, change.after, mode=change.mode,
                                    owner=change.owner, group=change.group)
            run.emit("ok", f"wrote {change.path}", step=True)
        phase = "running commands"
        if plan.commands:
            run.emit("phase", phase)
        for cmd in plan.commands:
            run.command(cmd)
        phase = "validating"
        run.stop_if_asked()
        run.emit("phase", phase)
        run.validate(warnings_before)
        phase = "reloading services"
        run.stop_if_asked()  # the last point to stop at: from here the apply finishes
        run.emit("phase", phase)
        run.reload(backup.manifest.running_before)
    except BaseException as exc:
        what = exc.what if isinstance(exc, ApplyFailed) else phase
        reason = exc.reason if isinstance(exc, ApplyFailed) else (
            str(exc) or type(exc).__name__)
        run.emit("fail", f"{what}: {reason}")
        restored = _restore(system, run, backup,
                            [c.undo for c in reversed(run.ran) if c.undo],
                            reload=plan.reload, restart=plan.restart)
        backup.finish(RESTORED if restored else INTERRUPTED,
                      detail=f"{what}: {reason}" + ("" if restored else
                                                   "; NOT every file could be restored"),
                      unseen=run.cancel.signal is not None)
        system.cache.clear()
        if not isinstance(exc, Exception):
            raise
        return ApplyResult(False, backup.directory, what, reason, restored, run.log)
    system.cache.clear()
    late = f"; {run.cancel.reason} came during the last step, so it finished" if (
        run.cancel.requested) else ""
    backup.finish(APPLIED, [c.undo for c in run.ran if c.undo], detail=late.lstrip("; "),
                  unseen=run.cancel.signal is not None)
    scrub_secret_copies(system)  # an interrupted apply before this one is no longer undone
    keep_last(system)
    run.emit("done", "applied" + late, step=True)
    return ApplyResult(True, backup.directory, reason=late.lstrip("; "), log=run.log)


def _sweep_run_temps(system: System, log: _Log, plan: Plan | None = None) -> None:
    """Remove the temp databases a killed apply left (they hold passwords); under the lock."""
    for path in runtemps.sweep(system, frozenset(_paths(plan)) if plan else frozenset()):
        log.emit("phase", f"removed {path}: a temp file left by an apply that was killed")


def _running_now(system: System, names: frozenset[str]) -> dict[str, bool]:
    """Which of the services ``names`` run now (before an apply touches them)."""
    if not system.run_commands:
        return {}
    states = {}
    for name in sorted(names):
        with contextlib.suppress(ValueError, OSError, CommandError):
            states[name] = services.running(system, name)
    return states


def _settle(system: System, log: _Log, name: str, action: services.Action,
            was_running: bool | None) -> None:
    """Leave service ``name`` as it was before the apply: stopped if it was stopped (stop it
    when the apply started it), else reloaded on the restored files. Report what is true
    afterwards: a daemon that runs is never said to be gone."""
    if was_running is False:
        try:
            if not services.running(system, name):
                log.emit("ok", f"{name} left stopped, as it was before the apply")
                return
            services.stop(system, name)
            log.emit("ok", f"{name} stopped again: it was not running before the apply")
        except (CommandError, ValueError, OSError) as exc:
            log.emit("fail", f"{name} could not be stopped again (it was not running before "
                             f"the apply): {exc}")
        return
    error: Exception | None = None
    try:
        services.control(system, name, action)
    except (CommandError, ValueError, OSError) as exc:
        error = exc
    try:
        up = services.wait_running(system, name)
    except (CommandError, ValueError, OSError):
        up = error is None
    if up and error is None:
        log.emit("ok", f"{name} back on the old configuration")
    elif up:
        log.emit("ok", f"{name} is running, but its {action} failed ({_first_line(error)}): "
                       f"processes started before the restore may keep the new settings "
                       f"until it is {action}ed")
    else:
        log.emit("fail", f"{name} did not come back: "
                         f"{_first_line(error) if error else f'not running after the {action}'}")


def _first_line(exc: Exception | None) -> str:
    return str(exc).strip().splitlines()[0] if exc is not None and str(exc).strip() else (
        type(exc).__name__ if exc is not None else "")


def _restore(system: System, log: _Log, backup: Backup, undo: list[tuple[str, ...]], *,
             reload: frozenset[str], restart: frozenset[str] = frozenset()) -> bool:
    """Restore the files (and remove the directories the apply made), run the ``undo``
    commands, leave each service as it was before the apply; False if a file could not be
    put back."""
    log.emit("phase", "restoring files")
    for path in backup.restore():
        log.emit("restored", path)
    for link in backup.removed_links:
        log.emit("restored", f"removed the link {link}, which pointed at a removed file")
    for directory in backup.removed_dirs:
        log.emit("restored", f"removed the empty directory {directory}")
    for failure in backup.failed:
        log.emit("fail", f"could not restore {failure}")
    for path in backup.skipped:
        log.emit("skip", f"{path}: not restored (it holds passwords, so no copy was kept; "
                         "use the SASL step to set users again)")
    if system.run_commands:
        for argv in undo:
            try:
                system.run(argv, timeout=30)
            except CommandError as exc:
                log.emit("fail", f"undo {' '.join(argv)}: {exc.reason}")
        before = backup.manifest.running_before
        for name in sorted(restart | reload):
            _settle(system, log, name, "restart" if name in restart else "reload",
                    before.get(name))
    if backup.failed:
        log.emit("fail", "some files could not be restored: see above")
        return False
    log.emit("restored", "all files restored")
    return True


def rollback(system: System, directory: str | None = None, emit: Emit | None = None) -> ApplyResult:
    """Restore the files of the last apply (or of ``directory``), run the undo commands of
    the commands it ran (``hostname -F /etc/hostname``) and reload the services; under the
    run lock, like apply()."""
    try:
        with runlock.hold(system):
            return _rollback_locked(system, directory, emit)
    except runlock.Busy as exc:
        return ApplyResult(False, None, "lock", f"{exc} (nothing was restored)")


def _rollback_locked(system: System, directory: str | None, emit: Emit | None) -> ApplyResult:
    directory = directory or latest_backup(system)
    if directory is None:
        return ApplyResult(False, None, "rollback", "no backup found: nothing was applied yet")
    backup = Backup.load(system, directory)
    log = _Log(emit or (lambda e: None))
    _sweep_run_temps(system, log)
    if not backup.manifest.changed:  # interrupted while backing up: nothing to undo
        log.emit("phase", f"{directory}: that apply was interrupted before it changed any "
                          "file; nothing to undo")
        _scrub(backup)
        _retire(system, directory)
        return ApplyResult(True, directory, restored=True, log=log.log)
    log.emit("phase", f"restoring {directory}")
    ok = _restore(system, log, backup, list(reversed(backup.manifest.undo)),
                  reload=frozenset(backup.manifest.services))
    system.cache.clear()
    if not ok:
        return ApplyResult(False, directory, "rollback", "; ".join(backup.failed), False, log.log)
    _scrub(backup)
    _retire(system, directory)
    return ApplyResult(True, directory, restored=True, log=log.log)


def _scrub(backup: Backup) -> None:
    """After a rollback: the password copies it needed go too."""
    backup.scrub_secrets()
    with contextlib.suppress(OSError):
        backup.save()


def _retire(system: System, directory: str) -> None:
    done = system.path(directory)
    shutil.move(str(done), str(done) + ".rolled-back")


def keep_last(system: System, count: int = 20) -> None:
    """Prune old backups so /var/backups does not grow without end (after each apply)."""
    base: Path = system.path(BACKUP_ROOT)
    if not base.is_dir():
        return
    dirs = sorted(p for p in base.iterdir() if p.is_dir())
    for old in dirs[:-count]:
        shutil.rmtree(old, ignore_errors=True)
