"""The hub's Test row: the last live-test results (kept without transcripts, never a secret).

`check --live` and the Test screen save each result here; the row reads them back, so the
hub says what the last run found even after the wizard was closed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

from mailwizard.checks import MARKS, CheckResult
from mailwizard.steps.base import State, Status, Step
from mailwizard.system import System

#: Next to dns.toml (the integration namespaces overlay /etc, not /var/lib).
LAST = "/etc/mailwizard/live-last.json"


def load(system: System) -> dict[str, dict[str, str]]:
    text = system.read_text(LAST)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return {k: v for k, v in data.get("checks", {}).items() if isinstance(v, dict)}


def last_inputs(system: System) -> dict[str, str]:
    """The outside address and user of the last run (to fill the Test screen's fields)."""
    text = system.read_text(LAST)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    inputs = data.get("inputs", {})
    return {k: str(v) for k, v in inputs.items() if k in ("to", "user") and v}


def save(system: System, results: Sequence[CheckResult], *, to: str | None = None,
         user: str | None = None) -> None:
    """Merge ``results`` into the saved ones (a re-run of one test replaces only it)."""
    checks = load(system)
    for r in results:
        checks[r.id] = {"status": r.status, "detail": r.detail}
    inputs = {k: v for k, v in (("to", to), ("user", user)) if v}
    data = {"checks": checks, "inputs": inputs or last_inputs(system)}
    with contextlib.suppress(OSError):  # read-only: the results were still shown
        system.write_atomic(LAST, (json.dumps(data, indent=1) + "\n").encode(), mode=0o600)


def summary(checks: dict[str, dict[str, str]]) -> Status:
    if not checks:
        return Status("todo", "never run")
    statuses = [c.get("status", "") for c in checks.values()]
    failed = [k.removeprefix("live.") for k, c in checks.items() if c.get("status") == "fail"]
    passed = statuses.count("pass")
    state: State = "problem" if failed else ("warn" if "warn" in statuses else "ok")
    text = f"{passed}/{len(statuses)} passed" + (f", {', '.join(failed)} failed" if failed else "")
    marks = {str(k): v for k, v in MARKS.items()}
    now = tuple(f"{marks.get(c.get('status', ''), '?')} {k}: {c.get('detail', '')}"
                for k, c in checks.items())
    return Status(state, text, now)


class LiveTestRow(Step[None]):
    """Not a step (it changes nothing): the hub's row for the Test screen."""

    name = "test"
    title = "Test"
    blurb = ("Prove the server works: telnet-style SMTP sessions that receive, send, log in, "
             "try to relay, and check the DKIM signature and SPF, each shown line by line.")
    parseable = False
    answers = type(None)

    def status(self, system: System) -> Status:
        return summary(load(system))
