"""A SASL password change on a sandbox in a process of its own, held while saslpasswd2 runs,
for tests that kill it there: ``python -m tests.passwordproc ROOT MARKER [HOLD]``.

The sandbox holds alice@example.com with :data:`tests.support.OLD` (``seed_logins``). The
child plans the change to :data:`NEW` (saslpasswd2, then the chroot copy), and real
saslpasswd2, install and mv act on the sandbox. When saslpasswd2 starts (the backup is made,
the database not yet changed), the child writes MARKER and waits HOLD seconds (default 60).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mailwizard.secret import Secret
from mailwizard.steps.sasl import sasldb_plan
from mailwizard.system import System
from tests.support import RecordingRunner, sandbox_system

LOGIN = "alice@example.com"
NEW = "N3w-Passw0rd-Given-Today"


def acting_runner(hold: object = None) -> RecordingRunner:
    """saslpasswd2, install and mv really run (the password on saslpasswd2's stdin)."""
    runner = RecordingRunner()

    def saslpasswd2(argv: tuple[str, ...]) -> None:
        if callable(hold):
            hold()
        stdin = runner.calls[-1].stdin
        data = stdin.reveal() if isinstance(stdin, Secret) else (stdin or "")
        subprocess.run(argv, input=data, text=True, check=True, capture_output=True)

    def real(argv: tuple[str, ...]) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    runner.effects.update(saslpasswd2=saslpasswd2, install=real, mv=real, chown=real,
                          chmod=real)
    return runner


def change_plan(system: System, password: str = NEW) -> object:
    return sasldb_plan(system, [(LOGIN, Secret(password))])


def main(argv: list[str]) -> int:
    root, marker = Path(argv[0]), Path(argv[1])
    hold = float(argv[2]) if len(argv) > 2 else 60.0

    def reached() -> None:
        marker.write_text("saslpasswd2")
        time.sleep(hold)

    system = sandbox_system(root, acting_runner(reached))
    from mailwizard.apply import apply

    result = apply(system, change_plan(system))  # type: ignore[arg-type]
    print(f"ok={result.ok} failed={result.failed} restored={result.restored}", flush=True)
    return 0 if result.ok else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
