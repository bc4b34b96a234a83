"""Snapshots of the TLS screen at 80×24 and 120×40 (SVGs in snapshots/test_tls_screen/).

The certificate checks are real (openssl on throwaway files); the states shown carry no
date, so new certificates give the same picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.pilot.harness import (
    Scenario,
    define_snapshot_tests,
    make_app,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import TLS_CERT as CERT
from tests.support import TLS_KEY as KEY
from tests.support import RecordingRunner, install_certs


async def _initial(pilot: Pilot[None]) -> None:
    """A fresh machine: snakeoil suggested, to be generated."""
    await step_ready(pilot)
    screen = pilot.app.screen
    await wait_for(pilot, lambda: getattr(screen, "found", None) is not None)


async def _mismatch(pilot: Pilot[None]) -> None:
    """Own files: a certificate for another name and the key of another certificate."""
    await _initial(pilot)
    await pilot.click("#tls-own")
    await type_into(pilot, "#field-tls-cert_file", CERT, keys=2)
    await type_into(pilot, "#field-tls-key_file", KEY, keys=2)
    await step_ready(pilot)


SCENARIOS: dict[str, Scenario] = {"tls": _initial, "tls_mismatch": _mismatch}


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any, certs: Path) -> None:
    install_certs(sandbox, certs, "other.pem", "good.key")
    app = make_app(sandbox, runner, "tls")
    assert snap_compare(app, terminal_size=size, run_before=SCENARIOS[name])


define_snapshot_tests(globals(), SCENARIOS, _run, fixtures=["certs"])
