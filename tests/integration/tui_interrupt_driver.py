"""The real app (pilot, real runner) applying the full answers file on this machine, cut
short while opendkim-genkey runs: ``python -m tests.integration.tui_interrupt_driver
ANSWERS MARKER MODE``, MODE one of ``ctrl+q stop``, ``ctrl+q finish``, ``HUP``, ``TERM``,
``INT``. A PATH shim creates MARKER when genkey starts. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from mailwizard import answers
from mailwizard.app import MailWizardApp
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.interrupted import StopApplyDialog
from mailwizard.system import System
from tests.pilot.harness import hub_ready, wait_for


async def drive(answers_file: str, marker: str, mode: str) -> dict[str, object]:
    system = System()
    plan, problems = answers.plan_all(system, answers.load(answers_file))
    assert not [p for p in problems if p.level == "error"], problems
    app = MailWizardApp(system, handle_signals=True)
    out: dict[str, object] = {}
    async with app.run_test(size=(100, 32)) as pilot:
        await hub_ready(pilot)
        app.start_apply(plan, "Everything")
        await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen), what="apply")
        screen = app.screen
        assert isinstance(screen, ApplyScreen)
        await wait_for(pilot, Path(marker).exists, timeout=120, what="opendkim-genkey")
        if mode.startswith("ctrl+q"):
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, StopApplyDialog),
                           what="the question")
            out["asked"] = True
            out["running_when_asked"] = screen.result is None
            await pilot.press("s" if mode.endswith("stop") else "f")
        else:
            os.kill(os.getpid(), getattr(signal, f"SIG{mode}"))
        await wait_for(pilot, lambda: not app.is_running, timeout=120, what="the quit")
    loop = asyncio.get_running_loop()
    for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(s)
    assert screen.result is not None
    out.update(ok=screen.result.ok, restored=screen.result.restored,
               failed=screen.result.failed, said=app.said_on_exit)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(drive(*sys.argv[1:4]))))
