"""Snapshots of the DKIM screen at 80×24 and 120×40 (SVGs in snapshots/test_dkim_screen/).

Update with ``pytest tests/snapshot/test_dkim_screen.py --snapshot-update`` and look at them.
The "key" scenario uses the fixed TEST_KEY below so the record shown is always the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from mailwizard import opendkim
from mailwizard.app import MailWizardApp
from mailwizard.steps.dkim import ROTATION_FILE, Rotation, rotation_text
from tests.pilot.harness import (
    Scenario,
    define_snapshot_tests,
    make_app,
    step_ready,
    type_into,
)
from tests.support import RecordingRunner

# A throw-away 2048-bit RSA key made for these snapshots only (it signs nothing real).
TEST_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCzKqrJijQonFM2
lv3wAmqXqd96HyVTsSwiv6+Y155jxRG2B+/gcSwzh3wyifWLbrC16/9jSBqwkEO2
hR8v3lRJmUhTEPGGBXmetCl8nUOUa4OumHUo6o6Gi2Km/LlSgmQU+mFdG4vAsI3V
B58yC3i9DfSIhGfBVWJOULFlPO+mhhtY7AtNOHEBpg7NLH1fBB0+l9gRR75FvYad
4iKTwzWALXOHi652QazdiLFVAsjJIiebm32GH6cj3tHKAtgpuzTJRq71Rjvb4MSp
wQ+TFiZ3r6TQAXISgU/wFREBZxgq7tTxvtMJzHYMuQeOBpe+uKg/dz2UpfzyHKhR
DfSihi55AgMBAAECggEABAKksdtz3LZF6tcbX0n/szmA9yIsDVxyp/VRcD5OJl6M
zZSgVCCNhDqc6Y/T+GdcX14TA9isZWgPis35lISk0+kxWwahIn0wvclN3LVqcZ1j
UfXuXWq8WhsKveWyr/K/7k9rjzTktUXws1s29hO7zOgW2FjaXEFn8IxkjUJ9aneL
jvGESjjevzIE1jwlkJG3wyqv8Z9UgxGhiCtjAgIpsAxQiBcrqWGme3Uw/nXIFpoj
ZNWCN7sL9K6K/wg9JenUZG6aDhmGtQO3nhD1JjDPzxbmbaRHj7hRnuXn19j/6Uox
fHBiFYieKlnuhZjtfKpYxXtTW66WuYIGO4As0yo/RwKBgQD8hBDSnd6r2166uX1c
4mLcdn3o0mOvlFqSoZNg56CRt3b299pAxDM9pzEw7lEe8QxiQUuc7MnF1IfME/R3
xamO95XDKPTn31RnKnk6f/OadIfLHRqwx68THUdTr5rubA+SBTNuLucnDzDnh+HO
BDmXKCI8GG6h3AaTIY38GilU1wKBgQC1o4Sb8SCI6w83aYkXwsXReWEUZouHv6jH
Ud8JVCzdT9+u1oXnzx7zJrFFzNyF8Ho98m5CPD+PQsM9bjCmS3D9yny3+DgB4gXa
n9OuLppTfKfqdRZJhpNtgzIUnqYMgFchKEaxkZCCfWvZ2gmsd/kc9o5pW3d3/Sl8
l+aHRp7dLwKBgEHVNIWUfv8THClWPqa+psOPaNgQMckOxmZAFapH+QbEbBGLIK2N
+UXzltGI8EE+2tmq6EmrOheHhzffY/bt43zQc40D2oWxJdIXsq9buGjmRJjhp5m7
FZvIIFZjC+No7M5G6NerBryaK0fRlz8cvt73qaU9QWqVcGlfcCLvtyLVAoGAbHvb
KeAcFGp/zhKkJKLZz0B1cN/GGi+oOFN3qHSzzwJzkFLj6w1TaNoFKrEuTHjSKclv
fPPK6l9viHMVb1zDgXC8iIwht04tPOQUY4XF+nMLPwbrZsKPruqasKIIfpLwdwc9
IbTU4HrUPWryOCX3jQrdB6PveKSlcJqwvr65B1UCgYEAwsx5eEhDKkIi7bR+zUHR
qJz0b6orQloYceKMSYS/UhL4fts0R8EVA0huSyK4e4Hkg4Pfm1i5FNbdGBsw7zDT
VImiUBA9B3zSO6SkzjrNgLJBOPe03plo2qhZaxItHw3VjT5tn7prmFJmdNVFqFJp
QpY41KHSfuIzpHMBjKIa4TY=
-----END PRIVATE KEY-----
"""


async def _initial(pilot: Pilot[None]) -> None:
    await step_ready(pilot)


async def _key(pilot: Pilot[None]) -> None:
    """Valid answers, and a key for the selector: its record is shown to publish."""
    await step_ready(pilot)
    await type_into(pilot, "#field-dkim-domain", "example.com", keys=2)
    await type_into(pilot, "#field-dmarc-rua", "postmaster@example.com", keys=2)
    await step_ready(pilot)


async def _rotation(pilot: Pilot[None]) -> None:
    """A rotation waiting for its record: the Published tick and f8."""
    await step_ready(pilot)
    await type_into(pilot, "#field-dmarc-rua", "postmaster@example.com", keys=2)
    await step_ready(pilot)


SCENARIOS: dict[str, tuple[Scenario, bool]] = {
    "dkim": (_initial, False),
    "dkim_key": (_key, True),
    "dkim_rotation": (_rotation, True),
}


def _rotating(sandbox: Path) -> None:
    """opendkim signs with selector mail; s2026's key (the same test key) waits."""
    conf = sandbox / opendkim.CONF.lstrip("/")
    conf.write_text(opendkim.edit(conf.read_text(), {
        "Domain": "example.com", "Selector": "mail", "KeyFile": "/etc/dkimkeys/mail.private"}))
    key = sandbox / "etc/dkimkeys/s2026.private"
    key.write_text(TEST_KEY)
    key.chmod(0o600)
    rotation = sandbox / ROTATION_FILE.lstrip("/")
    rotation.parent.mkdir(parents=True, exist_ok=True)
    rotation.write_text(rotation_text(Rotation("example.com", "s2026", "mail")))


def _run(name: str, size: tuple[int, int], snap_compare: Any, sandbox: Path,
         runner: RecordingRunner, monkeypatch: Any) -> None:
    scenario, with_key = SCENARIOS[name]
    if with_key:
        key = sandbox / "etc/dkimkeys/mail.private"
        key.write_text(TEST_KEY)
        key.chmod(0o600)
    if name == "dkim_rotation":
        _rotating(sandbox)
    app: MailWizardApp = make_app(sandbox, runner, "dkim")
    assert snap_compare(app, terminal_size=size, run_before=scenario)


define_snapshot_tests(globals(), SCENARIOS, _run)
