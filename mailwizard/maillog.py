"""Postfix's mail log, wherever it is: ``maillog_file``, /var/log/mail.log, or the journal.

The live tests follow a queue id through it ("QID: to=<...>, relay=..., status=sent (...)")
with polling that backs off (no fixed sleeps), bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mailwizard.system import System

T = TypeVar("T")

_DELIVERY = re.compile(
    r"\b(?P<qid>[0-9A-Za-z]+): to=<(?P<to>[^>]*)>,(?: orig_to=<(?P<orig>[^>]*)>,)?"
    r" relay=(?P<relay>[^,]+),.*? status=(?P<status>\w+)(?: \((?P<reason>.*)\))?\s*$"
)


@dataclass(frozen=True)
class Delivery:
    """One recipient's outcome in the log: ``status`` is sent, deferred, bounced, expired."""

    qid: str
    to: str
    orig_to: str
    relay: str
    status: str
    reason: str
    line: str

    def is_for(self, address: str) -> bool:
        address = address.lower()
        return address in (self.to.lower(), self.orig_to.lower())


def deliveries(lines: list[str], qid: str) -> list[Delivery]:
    out = []
    for line in lines:
        m = _DELIVERY.search(line)
        if m and m.group("qid") == qid:
            out.append(Delivery(qid, m.group("to"), m.group("orig") or "", m.group("relay"),
                                m.group("status"), m.group("reason") or "", line.strip()))
    return out


def lines_about(lines: list[str], qid: str) -> list[str]:
    return [line.strip() for line in lines if f" {qid}:" in line or f"[{qid}]" in line]


@dataclass(frozen=True)
class Mark:
    """Where the log stood when a session began (a file offset, or a time for the journal)."""

    offset: int
    since: float


class MailLog:
    """Postfix's log on this machine. ``path`` is None when it is the journal."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.path = self._find_file()

    def _find_file(self) -> str | None:
        from mailwizard import postfix

        configured = postfix.get(self.system, "maillog_file")
        if configured and not configured.startswith("/dev/"):
            return configured
        for candidate in ("/var/log/mail.log", "/var/log/maillog", "/var/log/syslog"):
            if self.system.exists(candidate):
                return candidate
        return None

    @property
    def where(self) -> str:
        if self.path:
            return self.path
        return "the journal" if self.system.which("journalctl") else "nowhere (no mail log found)"

    def mark(self) -> Mark:
        offset = 0
        if self.path:
            info = self.system.path(self.path)
            offset = info.stat().st_size if info.exists() else 0
        return Mark(offset, time.time())

    def read_since(self, mark: Mark) -> list[str]:
        if self.path:
            file = self.system.path(self.path)
            if not file.exists():
                return []
            with file.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(mark.offset if mark.offset <= size else 0)  # rotated: read it all
                return f.read().decode("utf-8", errors="replace").splitlines()
        if not self.system.which("journalctl"):
            return []
        result = self.system.query(
            ["journalctl", "--no-pager", "-q", "-o", "short", "SYSLOG_FACILITY=2",
             "--since", f"@{int(mark.since) - 1}"],
        )
        return result.stdout.splitlines() if result.ok else []


async def follow(
    log: MailLog, mark: Mark, found: Callable[[list[str]], T | None], timeout: float
) -> tuple[T | None, list[str]]:
    """Poll the log (0.1 s, doubling to 2 s) until ``found(lines)`` is not None or
    ``timeout`` passes; return it (or None) and the lines read last."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    lines: list[str] = []
    while True:
        lines = await asyncio.to_thread(log.read_since, mark)
        result = found(lines)
        if result is not None:
            return result, lines
        left = deadline - time.monotonic()
        if left <= 0:
            return None, lines
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, 2.0)
