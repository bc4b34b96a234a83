"""The results of the last DNS and configuration report in this process (the hub's DNS
row). Kept apart from :mod:`mailwizard.report` so the hub does not import dnspython."""

from __future__ import annotations

from collections.abc import Sequence

from mailwizard.checks import CheckResult

_last: list[CheckResult] | None = None


def last() -> list[CheckResult] | None:
    return None if _last is None else list(_last)


def remember(results: Sequence[CheckResult]) -> None:
    global _last
    _last = list(results)
