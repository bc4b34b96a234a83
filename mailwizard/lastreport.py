"""The results of the last DNS and configuration report in this process (the hub's DNS
row). Kept apart from :mod:`mailwizard.report` so the hub does not import dnspython."""

from __future__ import annotations

from collections.abc import Sequence

from mailwizard.checks import CheckResult

_LAST: list[list[CheckResult]] = []


def last() -> list[CheckResult] | None:
    return list(_LAST[-1]) if _LAST else None


def remember(results: Sequence[CheckResult]) -> None:
    _LAST[:] = [list(results)]


def forget() -> None:
    _LAST.clear()
