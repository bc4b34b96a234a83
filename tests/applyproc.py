"""An apply on a sandbox in a process of its own, that stops at a chosen moment, for tests
that kill or signal it there: ``python -m tests.applyproc ROOT MOMENT MARKER [HOLD]``.

Moments: ``backup`` (while the backup copies are made: nothing changed yet), ``write``
(after the first planned file was written), ``command`` (while ``newaliases`` runs),
``reload`` (while ``postfix reload`` runs, the last step). At the moment the process
writes MARKER and waits HOLD seconds (default 60) before it goes on. With
``--signals`` it runs as ``mailwizard apply`` does, signals deferred (``interrupt``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mailwizard import answers
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.system import System
from tests.support import RecordingRunner, sandbox_system

ANSWERS = """
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["example.com", "mail.example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128", "192.168.1.0/24"]
"""
TOUCHED = "/etc/mailwizard-by-command"  # only a command touches it: backed up, not planned


def plan_for(system: System, extra_line: str = "") -> Plan:
    """hostname + domains from ANSWERS, a new file, and a command that touches a file."""
    text = ANSWERS.replace('"192.168.1.0/24"', f'"192.168.1.0/24"{extra_line}')
    plan, problems = answers.plan_all(system, answers.load_text(text))
    assert [p for p in problems if p.level == "error"] == [], problems
    extra = Plan(
        files=(FileChange("/etc/mailwizard-new.conf", None, b"created by the plan\n",
                          mode=0o600),),
        commands=(Command(("newaliases",), "rebuild aliases.db", touches=(TOUCHED,)),),
    )
    return plan.then(extra)


def main(argv: list[str]) -> int:
    signals = "--signals" in argv
    args = [a for a in argv if a != "--signals"]
    root, moment, marker = Path(args[0]), args[1], Path(args[2])
    hold = float(args[3]) if len(args) > 3 else 60.0

    def reached() -> None:
        marker.write_text(moment)
        time.sleep(hold)

    runner = RecordingRunner()
    system = sandbox_system(root, runner)

    def newaliases(argv: tuple[str, ...]) -> None:
        (root / TOUCHED.lstrip("/")).write_bytes(b"db made by newaliases")
        if moment == "command":
            reached()

    def postfix(argv: tuple[str, ...]) -> None:
        if moment == "reload" and argv[1:] == ("reload",):
            reached()

    runner.effects.update(newaliases=newaliases, postfix=postfix)
    plan = plan_for(system)
    if moment in ("backup", "write"):
        _hold_at(system, moment, reached)
    from mailwizard.apply import apply

    if not signals:
        result = apply(system, plan)
    else:
        from mailwizard import interrupt

        with interrupt.deferred() as cancel:
            result = apply(system, plan, cancel=cancel)
    print(f"ok={result.ok} failed={result.failed} restored={result.restored}", flush=True)
    return 0 if result.ok else 2


def _hold_at(system: System, moment: str, reached: object) -> None:
    """Stop in the backup (reading the touched file) or after the first planned write."""
    assert callable(reached)
    if moment == "backup":
        read = system.read_nofollow

        def slow_read(logical: str) -> bytes | None:
            if logical == TOUCHED:
                reached()
            return read(logical)

        system.read_nofollow = slow_read  # type: ignore[method-assign]
        return
    write = system.write_atomic
    writes: list[str] = []

    def slow_write(logical: str, data: bytes, **kwargs: object) -> None:
        write(logical, data, **kwargs)  # type: ignore[arg-type]
        if not logical.startswith("/var/backups/"):
            writes.append(logical)
            if len(writes) == 1:
                reached()

    system.write_atomic = slow_write  # type: ignore[method-assign]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
