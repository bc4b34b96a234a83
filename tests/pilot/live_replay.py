"""Recorded `check --live --json` runs (tests/fixtures/live/) replayed into the Test screen.

``install(monkeypatch, name)`` makes the screen's context a stand-in and each session a
replay of the recorded transcript, line by line through the screen's sink.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailwizard import livecontext, livetest
from mailwizard.checks import CheckResult, TranscriptLine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "live"


def recorded(name: str) -> dict[str, CheckResult]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    out = {}
    for c in data["checks"]:
        lines = tuple(TranscriptLine(t["t"], t["kind"], t["text"]) for t in c["transcript"])
        out[c["id"]] = CheckResult(c["id"], c["status"], c["detail"], c["expected"],
                                   c["found"], lines, c.get("command", ""))
    return out


def install(monkeypatch: Any, name: str, calls: list[tuple[str, Any]] | None = None) -> None:
    results = recorded(name)

    def build(system: Any, **kw: Any) -> Any:
        if calls is not None:
            calls.append(("build", kw))
        return object()

    async def run_session(test_id: str, ctx: Any,
                          sink: Callable[[TranscriptLine], None] | None = None) -> CheckResult:
        if calls is not None:
            calls.append(("run", test_id))
        result = results[test_id]
        for line in result.transcript:
            if sink is not None:
                sink(line)
        return result

    monkeypatch.setattr(livecontext, "build", build)
    monkeypatch.setattr(livetest, "run_session", run_session)
