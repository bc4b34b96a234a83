from __future__ import annotations

from pathlib import Path

import pytest

from mailwizard.system import System
from tests.support import RecordingRunner, make_sandbox, sandbox_system


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A fresh Debian 12 root (postfix installed, nothing configured) in a temp directory."""
    return make_sandbox(tmp_path / "root")


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture
def system(sandbox: Path, runner: RecordingRunner) -> System:
    return sandbox_system(sandbox, runner)
