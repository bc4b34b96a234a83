"""Stopping an apply only where it is consistent: signals and the TUI's quit ask, apply decides.

An SSH drop (SIGHUP), ``kill`` (SIGTERM) or Ctrl-C (SIGINT) used to end the process
wherever it was, half way through an apply. While ``deferred()`` is in force they only
*request* a stop (``Cancel``); ``apply`` looks at the request between its steps (never in
the middle of a file write or a command), restores every file it touched and says so.
A request that comes during the last step lets the apply finish, and says that instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
WHY = {
    signal.SIGHUP: "SIGHUP (the terminal or the SSH connection went away)",
    signal.SIGTERM: "SIGTERM (asked to stop)",
    signal.SIGINT: "SIGINT (Ctrl-C)",
}


class Cancel:
    """A request to stop an apply at its next consistent point; thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.signal: int | None = None

    def request(self, reason: str, signum: int | None = None) -> None:
        """Ask for the stop; the first reason given is the one reported."""
        if not self._event.is_set():
            self.reason, self.signal = reason, signum
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


def describe(signum: int) -> str:
    return WHY.get(signal.Signals(signum), signal.Signals(signum).name)


@contextlib.contextmanager
def deferred(cancel: Cancel | None = None,
             notify: Callable[[str], None] | None = None) -> Iterator[Cancel]:
    """While the block runs, SIGHUP, SIGTERM and SIGINT request a stop instead of ending
    the process (main thread only; elsewhere signals cannot be caught). ``notify`` is
    told at once (from the signal handler: keep it to a raw write)."""
    cancel = cancel or Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        first = not cancel.requested
        cancel.request(describe(signum), signum)
        if notify is not None:
            notify(describe(signum) if first else "")

    old = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield cancel
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)


def write_stderr(text: str) -> None:
    """A write to fd 2 that is safe in a signal handler and after a hang-up (EIO)."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))
