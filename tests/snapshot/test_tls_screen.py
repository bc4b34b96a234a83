"""Snapshots of the TLS screen at 80×24 and 120×40 (SVGs in snapshots/test_tls_screen/).

The certificate checks are real (openssl on throwaway files); the states shown carry no
date, so new certificates give the same picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.pilot.harness import SIZES, Scenario, make_app, step_ready, type_into, wait_for
from tests.pilot.test_tls_screen import CERT, KEY, install
from tests.pilot.test_tls_screen import certs as certs  # the module-scoped fixture
from tests.support import RecordingRunner


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


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_tls_screen(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
                    runner: RecordingRunner, certs: Path) -> None:
    install(sandbox, certs, "other.pem", "good.key")
    app = make_app(sandbox, runner, "tls")
    assert snap_compare(app, terminal_size=size, run_before=SCENARIOS[name])
