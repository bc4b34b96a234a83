"""First frame: from launch until the hub's text is on screen in tmux at 80×24.

Baseline: a bare Textual app (Header, one Label, Footer) started the same way. Both run
under ``first_frame.sh`` in a tmux server kept for the run; the harness itself (tmux
session, polling capture-pane every 5 ms) is timed too, as a program that prints a line
at once, so the reader can see how much of each figure it is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .timing import Figure, bytecode_env, command, hyperfine

HERE = Path(__file__).parent
SOCKET = "mwbench"
HUB_MARKER = "DKIM signing"  # a step of the hub's list: the hub's body is painted
BARE_MARKER = "bare textual app"


def _frame(marker: str, *argv: str | Path) -> str:
    return command("bash", HERE / "first_frame.sh", SOCKET, marker, *argv)


def measure(rounds: int) -> list[Figure]:
    # The tmux server's environment (compiled bytecode, as an installed mailwizard has)
    # is what every session inherits.
    subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", "keep",
                    "-x", "80", "-y", "24"], check=True, env=bytecode_env())
    try:
        bare = _frame(BARE_MARKER, sys.executable, HERE / "bare_app.py")
        hub = _frame(HUB_MARKER, sys.executable, "-m", "mailwizard")
        empty = _frame("READY", "sh", "-c", "echo READY; exec sleep 60")
        t_bare, t_hub, t_empty = hyperfine([bare, hub, empty], rounds)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], check=False)
    return [
        Figure("first frame: `mailwizard` hub", "bare Textual app", t_hub, t_bare, goal=1.3,
               note="tmux 80×24, until the step list is on screen"),
        Figure("(harness alone: tmux + polling)", "bare Textual app", t_empty, t_bare,
               note="part of both sides of the figure above"),
    ]
