"""In-process figures (pytest-benchmark): keystroke to diff for every step, and a key press
on the apply screen while 10,000 lines stream in. ``python -m benchmarks`` runs this file
and turns the medians into ratios against the baselines measured here too: one
``postconf -n`` (first and last, pooled) and the same key press on an idle apply screen.

The step screens wait ``DEBOUNCE`` (0.3 s) after the last keystroke before planning, by
design; it is set to 1 ms here, so the figure is the work a keystroke causes.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from benchmarks.app_thread import AppThread
from tests.pilot.harness import make_app, step_ready
from tests.pilot.streaming import (
    press_and_time,
    send_key,
    stand_in,
    start_applying,
    streaming_app,
)
from tests.support import RecordingRunner, make_sandbox

# step: (the Input, a valid value to start from, the key that changes it, the key back);
# an empty value: the widget is not an Input, the key toggles it
KEYSTROKES: dict[str, tuple[str, str, str, str]] = {
    "hostname": ("#field-hostname-fqdn", "mail.example.com", "x", "backspace"),
    "domains": ("#field-domains-mydestination", "$myhostname, localhost, example.com",
                "x", "backspace"),
    "aliases": ("#alias-targets", "admin@example.net", "x", "backspace"),
    "tls": ("#field-tls-cert_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem", "x", "backspace"),
    "spf": ("#field-spf-extra", "ip4:192.0.2.1", "0", "backspace"),
    "dkim": ("#field-dkim-selector", "mail", "x", "backspace"),
    "sasl": ("#sasl-enabled", "", "space", "space"),  # its form: a list and a check box
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    return make_sandbox(tmp_path / "root")


def postconf_n(sandbox: Path) -> None:
    subprocess.run(["postconf", "-c", str(sandbox / "etc/postfix"), "-n"], check=True,
                   capture_output=True)


def test_baseline_postconf_n_first(benchmark: Any, sandbox: Path) -> None:
    benchmark.pedantic(postconf_n, args=(sandbox,), rounds=20, warmup_rounds=2)


async def until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    """Poll every millisecond (the pilot's wait_for polls every 50 ms)."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.001)


def _panel(pilot: Pilot[Any]) -> str:
    return str(pilot.app.screen.query_one("#changes-text", Static).render())


@pytest.mark.parametrize("step", list(KEYSTROKES))
def test_keystroke_to_diff(benchmark: Any, sandbox: Path, step: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mailwizard.screens import step_base

    monkeypatch.setattr(step_base, "DEBOUNCE", 0.001)
    selector, start, key, back = KEYSTROKES[step]
    app = make_app(sandbox, RecordingRunner(), step)
    with AppThread(app, (120, 40)) as thread:
        async def prepare(pilot: Pilot[Any]) -> str:
            await step_ready(pilot)
            if step == "tls":  # the paths are typed only for "your own files"
                pilot.app.screen.query_one("#tls-own", RadioButton).value = True
                await step_ready(pilot)
            widget = pilot.app.screen.query_one(selector)
            widget.focus()
            await pilot.pause()
            if isinstance(widget, Input):
                widget.value = start
                widget.cursor_position = len(start)
            await step_ready(pilot)
            return _panel(pilot)

        shown = thread.run(prepare)
        keys = iter([key, back] * 1000)

        async def keystroke(pilot: Pilot[Any]) -> None:
            screen = pilot.app.screen
            generation = screen.generation  # type: ignore[attr-defined]
            send_key(pilot, next(keys))
            await until(lambda: screen.generation > generation  # type: ignore[attr-defined]
                        and screen.settled and screen._timer is None)  # type: ignore[attr-defined]

        benchmark.pedantic(lambda: thread.run(keystroke), rounds=16, warmup_rounds=2)
        benchmark.extra_info["panel"] = " / ".join(shown.splitlines()[:2])[:90]


def test_key_on_the_apply_screen_while_idle(benchmark: Any, sandbox: Path) -> None:
    _apply_key_latency(benchmark, sandbox, quiet=True)


def test_key_on_the_apply_screen_while_streaming(benchmark: Any, sandbox: Path) -> None:
    _apply_key_latency(benchmark, sandbox, quiet=False)


def _apply_key_latency(benchmark: Any, sandbox: Path, *, quiet: bool) -> None:
    """The time pytest-benchmark reports is the pilot's whole press; the latency itself
    (key sent → its action ran) is kept in extra_info and used for the figure."""
    command = stand_in(quiet_seconds=60) if quiet else stand_in()
    latencies: list[float] = []
    with AppThread(streaming_app(sandbox)) as thread:
        thread.run(lambda pilot: start_applying(pilot, command, lines=0 if quiet else 100))

        async def press(pilot: Pilot[Any]) -> None:
            from mailwizard.screens.apply import ApplyScreen

            screen = pilot.app.screen
            if not isinstance(screen, ApplyScreen) or screen.finished:
                return  # the stream is over (esc now leaves the screen): nothing to measure
            seconds, applying = await press_and_time(pilot, "escape")
            if applying:  # a press after the stream ended measures nothing
                latencies.append(seconds)
            await asyncio.sleep(0.1)

        benchmark.pedantic(lambda: thread.run(press), rounds=15, warmup_rounds=1)
        benchmark.extra_info["latencies"] = latencies
        assert len(latencies) >= 6, f"only {len(latencies)} presses landed mid-stream"
        thread.run(_quit_applying)


async def _quit_applying(pilot: Pilot[Any]) -> None:
    """Leave nothing running: the stand-in is killed with the app's worker at exit."""
    await pilot.pause()


def test_baseline_postconf_n_last(benchmark: Any, sandbox: Path) -> None:
    benchmark.pedantic(postconf_n, args=(sandbox,), rounds=20, warmup_rounds=2)


@pytest.fixture(autouse=True)
def _cool_down() -> Iterator[None]:
    yield
    time.sleep(0.2)
