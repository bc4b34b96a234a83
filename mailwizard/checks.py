"""Results of the checks that judge the server (DNS, configuration, live SMTP sessions).

DNS and Test are not steps: they change nothing. Each check family (`mailwizard.dns`,
`mailwizard.livetest`, the `config.*` checks) yields `CheckResult`s; the CLI (`check`,
`check --live`) and the screens consume the same objects. The JSON shape and the exit
codes are a contract (README.md, "Using it"): `{"checks": [{"id", "status", "detail", "expected",
"found"}]}`, live tests add `"transcript"`; exit 0 when nothing failed (warnings allowed),
1 when something failed, 2 when the checks could not run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "skip")

#: A mark per status that does not rely on colour.
MARKS: dict[Status, str] = {"pass": "✔", "warn": "▲", "fail": "✖", "skip": "–"}

EXIT_CHECKS_OK, EXIT_CHECKS_FAILED, EXIT_CHECKS_COULD_NOT_RUN = 0, 1, 2

# The DNS checks' bounds (`mailwizard.dnscheck`), here so that callers can name them without
# loading dnspython.
QUERY_TIMEOUT = 4.0  # seconds for one query (all tries)
TRY_TIMEOUT = 2.0  # seconds for one try at one server
BOUND = 15.0  # seconds for any one check, whatever its queries do


@dataclass(frozen=True)
class TranscriptLine:
    """One line of an SMTP dialogue as it happened; secrets are masked before this exists.

    `kind` is "client" (what we sent), "server" (a reply line), "tls" (STARTTLS done,
    cipher) or "note" (a comment of ours, e.g. "connecting to 192.0.2.10:25").
    """

    elapsed: float
    kind: Literal["client", "server", "tls", "note"]
    text: str

    def render(self) -> str:
        arrow = {"client": "C:", "server": "S:", "tls": "**", "note": "--"}[self.kind]
        return f"{self.elapsed:7.3f}  {arrow} {self.text}"

    def as_json(self) -> dict[str, object]:
        return {"t": round(self.elapsed, 3), "kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class CheckResult:
    """What one check found. `expected`/`found` are plain text an admin can compare."""

    id: str
    status: Status
    detail: str
    expected: str = ""
    found: str = ""
    transcript: tuple[TranscriptLine, ...] = field(default=())
    #: The command an admin can run by hand to repeat a live test (never with a secret).
    command: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.id}: status {self.status!r} is not one of {STATUSES}")

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id, "status": self.status, "detail": self.detail,
            "expected": self.expected, "found": self.found,
        }
        if self.id.startswith("live.") or self.transcript:
            out["transcript"] = [line.as_json() for line in self.transcript]
        if self.command:
            out["command"] = self.command
        return out


def exit_code(results: Iterable[CheckResult]) -> int:
    """0 when nothing failed (warnings and skips allowed), 1 when one check failed."""
    return EXIT_CHECKS_FAILED if any(r.status == "fail" for r in results) else EXIT_CHECKS_OK


def to_json(results: Sequence[CheckResult]) -> str:
    return json.dumps({"checks": [r.as_json() for r in results]}, indent=2, ensure_ascii=False)


def to_table(results: Sequence[CheckResult]) -> str:
    """The text form of `mailwizard check`: one row per check, expected/found beneath a failure."""
    if not results:
        return "no checks ran"
    width = max(len(r.id) for r in results)
    lines: list[str] = []
    for r in results:
        lines.append(f"{r.mark} {r.status:<4}  {r.id:<{width}}  {r.detail}")
        if r.status in ("fail", "warn"):
            if r.expected:
                lines.append(f"{'':>{width + 9}}expected: {r.expected}")
            if r.found:
                lines.append(f"{'':>{width + 9}}found:    {r.found}")
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    lines.append("")
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) or "nothing")
    return "\n".join(lines)
