"""Shared by the pilot and snapshot tests: a fake machine, the app, waiting for workers."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from mailwizard.app import MailWizardApp
from tests.support import RecordingRunner, sandbox_system

if TYPE_CHECKING:
    from mailwizard.screens.apply import ApplyScreen
    from mailwizard.screens.hub import HubScreen
    from mailwizard.screens.step_base import StepScreen

FIXED_STAMP = "20260101T000000000000Z"
SIZES = [(80, 24), (120, 40)]  # a plain SSH window, and a larger one
Scenario = Callable[[Pilot[None]], Awaitable[None]]
SnapshotBody = Callable[..., None]  # see define_snapshot_tests


def define_snapshot_tests(
    namespace: dict[str, Any], names: Iterable[str], body: SnapshotBody,
    fixtures: Sequence[str] = (),
) -> None:
    """Add ``test_<name>_<W>x<H>`` to a test module for every scenario at every size.

    The names are the SVG file names (``snapshots/<module>/test_<name>_<W>x<H>.svg``: the one
    naming style of every snapshot); ``body(name, size, snap_compare, sandbox, runner,
    monkeypatch, *extra)`` builds the app and asserts ``snap_compare``, where ``extra`` are the
    values of the pytest ``fixtures`` named.
    """
    for name in names:
        for size in SIZES:
            def test(snap_compare: Any, sandbox: Path, runner: RecordingRunner,
                     monkeypatch: Any, request: Any, name: str = name,
                     size: tuple[int, int] = size) -> None:
                extra = [request.getfixturevalue(f) for f in fixtures]
                body(name, size, snap_compare, sandbox, runner, monkeypatch, *extra)

            test.__name__ = f"test_{name}_{size[0]}x{size[1]}"
            test.__doc__ = f"{name} at {size[0]}×{size[1]}"
            namespace[test.__name__] = test


def make_app(sandbox: Path, runner: RecordingRunner, start_step: str | None = None,
             euid: int | None = 0) -> MailWizardApp:
    return MailWizardApp(sandbox_system(sandbox, runner), start_step, euid=euid)


async def wait_for(pilot: Pilot[None], predicate: Callable[[], bool],
                   timeout: float = 60.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (workers, debounce timers)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause()


async def hub_ready(pilot: Pilot[None]) -> HubScreen:
    """Wait for the hub with every status filled in; return it."""
    from mailwizard.screens.hub import HubScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HubScreen), what="the hub")
    hub = app.screen
    assert isinstance(hub, HubScreen)
    await wait_for(pilot, lambda: not hub.checking and len(hub.statuses) == len(hub.listed),
                   what="hub statuses")
    return hub


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


async def burst(pilot: Pilot[None], *keys: str) -> None:
    """Send ``keys`` the way a terminal delivers a paste over SSH: all queued at once, with no
    chance for the app to handle one before the next arrives (``pilot.press`` waits for the
    app to go idle after every key). Keys are named as for ``pilot.press``."""
    import unicodedata

    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    driver = app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        char: str | None
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)
    await pilot.pause()


async def apply_from_review(pilot: Pilot[None]) -> ApplyScreen:
    """From the Review screen: press ``a`` and wait until the apply has finished.
    Returns the ApplyScreen; what its result must be is the test's to assert."""
    from mailwizard.screens.apply import ApplyScreen

    app = pilot.app
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen), what="apply")
    screen = app.screen
    assert isinstance(screen, ApplyScreen)
    await wait_for(pilot, lambda: screen.finished, what="apply to finish")
    return screen


async def settle(pilot: Pilot[None]) -> None:
    await asyncio.sleep(0)
    await pilot.pause()


def static_text(screen: object, selector: str) -> str:
    """The plain text a Static shows (rendered at 80 columns when it is not plain text)."""
    widget = screen.query_one(selector, Static)  # type: ignore[attr-defined]
    content = widget.content
    if isinstance(content, Text):
        return content.plain
    if isinstance(content, str):
        return content
    plain = getattr(content, "plain", None)  # e.g. the review's MarkedLines
    if isinstance(plain, str):
        return plain
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def field_message(screen: StepScreen[object], key: str) -> str:
    """The one line under a form field (what is wrong, or what is allowed)."""
    field = screen.field(key)
    return str(field.query_one(".field-message", Static).content)


DKIM_DOMAIN, DKIM_SELECTOR, DMARC_RUA = ("#field-dkim-domain", "#field-dkim-selector",
                                         "#field-dmarc-rua")


async def fill_dkim(pilot: Pilot[None]) -> None:
    """Valid DKIM answers: domain example.com, DMARC reports to postmaster@example.com."""
    await type_into(pilot, DKIM_DOMAIN, "example.com", keys=2)
    await type_into(pilot, DMARC_RUA, "postmaster@example.com", keys=2)
    await step_ready(pilot)


def screen_rows(app: App[None]) -> list[str]:
    """The terminal's rows as plain text, as the compositor would draw them now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
