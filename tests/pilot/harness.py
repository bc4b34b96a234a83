"""Shared by the pilot and snapshot tests: a fake machine, the app, waiting for workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual.pilot import Pilot

from mailwizard.app import MailWizardApp
from mailwizard.secret import Secret
from mailwizard.system import DEFAULT_TIMEOUT, LineSink, Result, ShRunner, System
from tests.support import RecordingRunner, sandbox_system

FIXED_STAMP = "20260101T000000000000Z"


@dataclass
class FakeReader:
    """Real read-only queries, except ``postfix status``: the sandbox's Postfix "runs".

    (A bare ``postfix status`` would ask the host's Postfix, which is not the sandbox's.)
    """

    postfix_running: bool = True
    real: ShRunner = field(default_factory=ShRunner)

    def run(self, argv: Sequence[str], *, stdin: str | Secret | None = None,
            timeout: float = DEFAULT_TIMEOUT, check: bool = True,
            on_line: LineSink | None = None, env: dict[str, str] | None = None) -> Result:
        if tuple(argv) == ("postfix", "status"):
            rc = 0 if self.postfix_running else 1
            return Result(tuple(argv), rc, "", "" if rc == 0 else "postfix is not running")
        return self.real.run(argv, stdin=stdin, timeout=timeout, check=check,
                             on_line=on_line, env=env)


@dataclass
class EnvRecordingRunner(RecordingRunner):
    """A RecordingRunner that also keeps each call's extra environment."""

    envs: list[dict[str, str] | None] = field(default_factory=list)

    def run(self, argv: Sequence[str], *, stdin: str | Secret | None = None,
            timeout: float = DEFAULT_TIMEOUT, check: bool = True,
            on_line: LineSink | None = None, env: dict[str, str] | None = None) -> Result:
        self.envs.append(env)
        return super().run(argv, stdin=stdin, timeout=timeout, check=check,
                           on_line=on_line, env=env)


def fake_system(sandbox: Path, runner: RecordingRunner) -> System:
    """The sandbox with recorded commands and a "running" Postfix."""
    runner.reader = FakeReader()  # type: ignore[assignment]
    return sandbox_system(sandbox, runner)


def make_app(sandbox: Path, runner: RecordingRunner, start_step: str | None = None,
             euid: int | None = 0) -> MailWizardApp:
    return MailWizardApp(fake_system(sandbox, runner), start_step, euid=euid)


async def wait_for(pilot: Pilot[None], predicate: Callable[[], bool],
                   timeout: float = 60.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (workers, debounce timers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


async def hub_ready(pilot: Pilot[None]) -> None:
    from mailwizard.screens.hub import HubScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HubScreen), what="the hub")
    hub = app.screen
    assert isinstance(hub, HubScreen)
    await wait_for(pilot, lambda: not hub.checking and len(hub.statuses) == len(hub.listed),
                   what="hub statuses")


async def step_ready(pilot: Pilot[None]) -> None:
    from mailwizard.screens.step_base import StepScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, StepScreen), what="a step screen")
    screen = app.screen
    assert isinstance(screen, StepScreen)
    await wait_for(pilot, lambda: screen.settled and screen._timer is None,
                   what="the step screen to settle")


async def type_into(pilot: Pilot[None], selector: str, text: str, *, keys: int = 0) -> None:
    """Clear an Input and type ``text``: the last ``keys`` characters key by key (all of
    them when 0), the rest pasted (each key press costs the pilot ~60 ms)."""
    from textual.widgets import Input

    field_input = pilot.app.screen.query_one(selector, Input)
    field_input.focus()
    await pilot.pause()  # focusing selects all; set the text after that
    split = len(text) - keys if keys else 0
    field_input.value = text[:split]
    field_input.cursor_position = split
    await pilot.pause()
    await pilot.press(*text[split:])


async def settle(pilot: Pilot[None]) -> None:
    await asyncio.sleep(0)
    await pilot.pause()
