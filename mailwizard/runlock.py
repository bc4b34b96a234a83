"""One apply or rollback at a time on a machine: an exclusive flock on /run/mailwizard.lock.

Two applies started 0.5 s apart once restored each other's backups over finished work. The
lock is an ``flock``, so the kernel drops it when its holder dies (even by kill -9): a stale
lock file never blocks. The holder's PID is written into the file so that a second run can
say who holds it. The file is opened O_NOFOLLOW and O_CLOEXEC: never through a planted link,
never inherited by the daemons an apply starts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Iterator

from mailwizard.system import System

LOCK = "/run/mailwizard.lock"


class Busy(Exception):
    """Another run holds the lock. ``who`` names it: its PID and, when /proc shows it, its
    command line (``PID 4242, `mailwizard apply answers.toml```)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.who = who(pid)
        super().__init__(
            f"another mailwizard ({self.who}) is applying or rolling back right now; wait for "
            f"it to finish and run again (it holds {LOCK})")


def who(pid: int | None) -> str:
    """The holder in words: ``PID 4242, `mailwizard apply a.toml``` (the command line from
    the kernel's /proc, which the lock's PID belongs to, --root or not), or ``PID 4242``."""
    if not pid:
        return "a process that has not written its PID yet"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return f"PID {pid}"
    argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
    if len(argv) > 1 and os.path.basename(argv[0]).startswith("python") and \
            not argv[1].startswith("-"):
        argv = argv[1:]  # python .../bin/mailwizard apply ...: the script is the command
    if not argv:
        return f"PID {pid}"
    argv[0] = os.path.basename(argv[0])
    command = " ".join(" ".join(argv).split())  # one line
    if len(command) > 60:
        command = command[:59] + "…"
    return f"PID {pid}, `{command}`"


# Locks this process holds: real path -> (fd, owning thread id, depth).
_held: dict[str, tuple[int, int, int]] = {}
_guard = threading.Lock()


def holder(system: System) -> int | None:
    """The PID written in the lock file (the holder, or the last one), if any."""
    try:
        fd = os.open(system.path(LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def hold(system: System) -> Iterator[None]:
    """Hold the lock for the block; raise Busy at once when another run (or another thread
    of this process) holds it. Nested holds in one thread are one hold."""
    path = str(system.path(LOCK))
    me = threading.get_ident()
    with _guard:
        held = _held.get(path)
        if held is not None and held[1] == me:
            _held[path] = (held[0], me, held[2] + 1)
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                fd, owner, depth = _held[path]
                _held[path] = (fd, owner, depth - 1)
        return
    fd = _acquire(system, path)
    with _guard:
        _held[path] = (fd, me, 1)
    try:
        yield
    finally:
        with _guard:
            del _held[path]
        # Remove the file while still holding it (a kill -9 leaves it, harmlessly), then
        # release. A run that opened the old file meanwhile sees it unlinked and retries.
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                os.unlink(path)
        os.close(fd)


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _acquire(system: System, path: str) -> int:
    system.path(LOCK).parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Busy(holder(system)) from None
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed it between our open and flock: open anew
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
