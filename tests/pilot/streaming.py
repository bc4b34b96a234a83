"""The responsiveness scenario (issue #9): a stand-in command streams lines into the apply
screen while the admin presses a key. Shared by the pilot test and the benchmark."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from textual import events
from textual.pilot import Pilot

from mailwizard.app import MailWizardApp
from mailwizard.plan import Command, Plan
from mailwizard.screens.streamlog import StreamLog
from mailwizard.system import System
from tests.pilot.harness import hub_ready, wait_for
from tests.support import SandboxReader

LINES = 10_000
# The log's lines before the command's own: backing up, backup in …, writing files,
# running commands, ▶ the command.
PREAMBLE = 5


BURST, PAUSE = 500, 0.25  # 10,000 lines in bursts over 5 s: the key lands mid-stream


def stand_in(lines: int = LINES, *, quiet_seconds: float = 0.0) -> Command:
    """A command that prints ``lines`` lines in bursts of ``BURST`` every ``PAUSE`` s or,
    with ``quiet_seconds``, nothing for that long (the baseline: the same screen, idle)."""
    if quiet_seconds:
        code = f"import time; time.sleep({quiet_seconds})"
    else:
        code = ("import sys, time\n"
                f"for i in range({lines}):\n"
                "    sys.stdout.write(f'line {i:05d}: a stand-in for apt or postmap output\\n')\n"
                f"    if i % {BURST} == {BURST - 1}:\n"
                "        sys.stdout.flush()\n"
                f"        time.sleep({PAUSE})\n")
    return Command((sys.executable, "-c", code), "a stand-in for a long, chatty command")


def streaming_app(sandbox: Path) -> MailWizardApp:
    """The app on a sandbox whose commands really run (the stand-in touches nothing)."""
    return MailWizardApp(System(root=sandbox, runner=SandboxReader(), reader=SandboxReader(),
                                run_commands=True),
                         euid=0)


def log_lines(pilot: Pilot[None]) -> int:
    """Lines in the apply log (0 while the screen is not composed yet)."""
    found = pilot.app.screen.query("#apply-log").results(StreamLog)
    return sum(log.line_count for log in found)


async def start_applying(pilot: Pilot[None], command: Command, *, lines: int) -> None:
    """From the hub, apply a plan of just ``command``; return once the log holds ``lines``
    of the command's output (0: once the command started)."""
    from mailwizard.screens.apply import ApplyScreen

    app = pilot.app
    assert isinstance(app, MailWizardApp)
    await hub_ready(pilot)
    app.start_apply(Plan(commands=(command,)), "Stream")
    await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen), what="the apply screen")
    await wait_for(pilot, lambda: log_lines(pilot) >= PREAMBLE + lines,
                   what=f"{lines} lines of output")


def send_key(pilot: Pilot[None], key: str) -> None:
    """The key as the terminal driver delivers it (``pilot.press`` also waits for the app to
    be idle, which it is not while output pours in)."""
    char = {"space": " ", "escape": None}.get(key, key if len(key) == 1 else None)
    event = events.Key(key, char)
    event.set_sender(pilot.app)
    driver = pilot.app._driver
    assert driver is not None
    driver.send_message(event)


async def press_and_time(pilot: Pilot[None], key: str = "escape") -> tuple[float, bool]:
    """Press ``key`` on the apply screen: (seconds from the key's arrival until its action
    ran, still applying then)."""
    from mailwizard.screens.apply import ApplyScreen

    screen = pilot.app.screen
    assert isinstance(screen, ApplyScreen)
    handled: list[tuple[float, bool]] = []
    original = screen.action_done

    def timed() -> None:
        handled.append((time.perf_counter(), not screen.finished))
        original()

    screen.action_done = timed  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        send_key(pilot, key)
        deadline = start + 30
        while not handled:
            assert time.perf_counter() < deadline, f"{key} was not handled in 30 s"
            await asyncio.sleep(0.001)
    finally:
        screen.action_done = original  # type: ignore[method-assign]
    return handled[0][0] - start, handled[0][1]
