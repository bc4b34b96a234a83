"""The last DNS and configuration report (the hub's DNS row), kept on disk with its time.

`mailwizard check` and the DNS screen save each report here; the row reads it back, so the
hub says what the last check found, and how long ago, even after the wizard was closed.
Kept apart from :mod:`mailwizard.report` so the hub does not import dnspython.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mailwizard.checks import STATUSES, CheckResult
from mailwizard.system import System

#: Next to live-last.json (the integration namespaces overlay /etc, not /var/lib).
LAST = "/etc/mailwizard/dns-last.json"


@dataclass(frozen=True)
class Saved:
    """A saved report: each check's id, status and detail (not expected/found), and when."""

    results: tuple[CheckResult, ...]
    at: datetime

    def age(self, now: datetime | None = None) -> str:
        return age_text(((now or datetime.now(UTC)) - self.at).total_seconds())


def age_text(seconds: float) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def save(system: System, results: Sequence[CheckResult], now: datetime | None = None) -> None:
    """Replace the saved report with ``results`` (a report is always the whole set)."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    data = {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checks": [{"id": r.id, "status": r.status, "detail": r.detail} for r in results]}
    with contextlib.suppress(OSError):  # read-only: the results were still shown
        system.write_atomic(LAST, (json.dumps(data, indent=1) + "\n").encode(), mode=0o600)


def load(system: System) -> Saved | None:
    """The saved report; None when there is none (or the file is not one, or it is empty)."""
    try:
        text = system.read_text(LAST)
    except OSError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
        at = datetime.strptime(data["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        results = tuple(CheckResult(str(c["id"]), c["status"], str(c.get("detail", "")))
                        for c in data["checks"] if c.get("status") in STATUSES)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Saved(results, at) if results else None
