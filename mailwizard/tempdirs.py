"""mailwizard's temporary directories: named for their process, always removed.

A process killed inside ``with tempfile.TemporaryDirectory()`` (a signal's default action,
kill -9, an SSH drop under the hub) never runs the clean-up: ~120 ``mailwizard-read-*``
copies of main.cf piled up in /tmp that way. Now every such directory carries the PID of
its process (``mailwizard-read-<pid>-<pid namespace>-xxxxxxxx``), SIGHUP and SIGTERM end a
run through its ``finally`` blocks (``cli``), and ``sweep()``, run by every mailwizard
start, removes what a dead process left behind (and, once an hour old, unnamed ones of
earlier versions and those of other PID namespaces, whose processes it cannot see).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LEGACY_AGE = 3600.0  # seconds: a directory of an earlier version (no PID in its name)
_NAME = re.compile(r"^mailwizard-(?:(?:read|stage|key)-)?(?:(\d+)-(\d+)-)?[a-z0-9_]{8}$")


def make(kind: str, directory: Path | str | None = None) -> str:
    """A new 0700 directory ``mailwizard-KIND-PID-PIDNS-xxxxxxxx`` (in TMPDIR by default).

    The PID namespace is in the name because /tmp may be shared with a container, where
    the same number names another process."""
    return tempfile.mkdtemp(prefix=f"mailwizard-{kind}-{os.getpid()}-{_pid_namespace()}-",
                            dir=directory)


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


@contextlib.contextmanager
def private(kind: str, directory: Path | str | None = None) -> Iterator[str]:
    """``make()`` for the block, then removed with what it holds."""
    path = make(kind, directory)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(*directories: Path | str) -> list[str]:
    """Remove the directories of ours that dead processes left in ``directories`` (TMPDIR
    when none): named by a PID that no longer runs, or unnamed and old. Only directories
    (never through a link) owned by this user; the removed paths."""
    removed: list[str] = []
    now = time.time()
    for top in directories or (tempfile.gettempdir(),):
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            match = _NAME.match(name)
            if match is None:
                continue
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                continue
            pid, namespace = match.group(1), match.group(2)
            ours = namespace is not None and int(namespace) == _pid_namespace()
            if ours and (int(pid) == os.getpid() or _running(int(pid))):
                continue
            if not ours and now - st.st_mtime < LEGACY_AGE:  # another version or namespace
                continue
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (a reused PID keeps a directory a little longer)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
