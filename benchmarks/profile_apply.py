"""Profile the headless full apply: ``python -m benchmarks.profile_apply [OUT]``.

The namespace and the fresh state are the apply figure's (``apply_vs_shell``). The apply runs
there twice from the fresh state: once recording every command the runner starts (how it
was started, captured or streamed, and how long it took), once under pyinstrument. A third
run lists the slowest imports (``-X importtime``). The reports go to OUT (default:
apply-profile.txt). Needs root.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

from .apply_vs_shell import FRESH, PASSWORD, RESTORE, SAVE, SAVED
from .timing import ROOT

# Runs inside the namespace: the CLI's apply, with the runner wrapped to log each command.
RECORD = """
import sys, threading, time
from mailwizard import system
from mailwizard.cli import main
log = []
def recorded(cls, how):
    real = cls.run
    def run(self, argv, **kw):
        start = time.perf_counter()
        try:
            return real(self, argv, **kw)
        finally:
            kind = "streamed" if kw.get("on_line") else how
            where = "" if threading.current_thread() is threading.main_thread() else " (bg)"
            log.append(f"{start * 1000:10.1f} {(time.perf_counter() - start) * 1000:8.1f} ms"
                       f"  {kind + where:13}  " + " ".join(argv)[:100])
    cls.run = run
recorded(system.ShRunner, "sh")
recorded(system.Reader, "query")
start = time.perf_counter()
rc = main(["apply", sys.argv[1]])
total = (time.perf_counter() - start) * 1000
log.sort()
with open(sys.argv[2], "w") as out:
    print(f"exit {rc}; {len(log)} commands in {total:.0f} ms of main(); started at (ms), took",
          file=out)
    print("\\n".join(f"{float(l.split()[0]) - start * 1000:8.1f} {l.split(None, 1)[1]}"
                     for l in log), file=out)
"""


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.integration.nsenv import Namespace
    from tests.integration.wizard import full_answers

    out = Path(argv[0] if argv else "apply-profile.txt").resolve()
    with Namespace(hostname="old.example.org") as ns:
        shared = ns.tmp
        answers = shared / "answers.toml"
        answers.write_text(full_answers())
        password = shared / "password"
        password.touch(mode=0o600)
        password.write_text(PASSWORD)
        ns.run(FRESH)
        ns.boot()
        ns.run(SAVE.format(saved=" ".join(SAVED)), timeout=120)
        (shared / "restore.sh").write_text(RESTORE.format(shared=shared))
        (shared / "record.py").write_text(RECORD)
        enter = [*ns._nsenter(), "env", f"PATH={ns._env()['PATH']}",
                 f"MAILWIZARD_PASSWORD_POSTMASTER={PASSWORD}", "PYTHONPATH=" + str(ROOT)]
        restore = [*enter, "bash", str(shared / "restore.sh")]
        commands, profile = shared / "commands.txt", shared / "profile.txt"
        took: list[float] = []
        for run in ([sys.executable, str(shared / "record.py"), str(answers), str(commands)],
                    [sys.executable, "-m", "pyinstrument", "-i", "0.0005", "-o", str(profile),
                     "-m", "mailwizard", "apply", str(answers)]):
            subprocess.run(restore, cwd=ROOT, check=True, capture_output=True)
            started = time.perf_counter()
            subprocess.run([*enter, *run], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            took.append((time.perf_counter() - started) * 1000)
        subprocess.run(restore, cwd=ROOT, check=True, capture_output=True)
        timed = subprocess.run([*enter, sys.executable, "-X", "importtime", "-m", "mailwizard",
                                "apply", str(answers)], cwd=ROOT, check=True, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out.write_text(f"the recorded run took {took[0]:.0f} ms as a process (nsenter and "
                       f"the interpreter included)\n" + commands.read_text() + "\n"
                       + profile.read_text() + "\n" + _slowest_imports(timed.stderr))
    print(f"wrote {out} ({shlex.join(['apply', str(answers)])})", file=sys.stderr)
    return 0


def _slowest_imports(stderr: str, top: int = 30) -> str:
    """The ``top`` imports of largest cumulative time (µs) from ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()[1:]))  # indented by depth
    rows.sort(reverse=True)
    total = sum(c for c, name in rows if not name.startswith(" "))
    return (f"imports: {total / 1000:.0f} ms at top level; the {top} largest (cumulative µs):\n"
            + "\n".join(f"{c:9d} {name}" for c, name in rows[:top]) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
