from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailwizard.system import System
from tests.support import RecordingRunner, make_certs, make_sandbox, sandbox_system


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A fresh Debian 12 root (postfix installed, nothing configured) in a temp directory."""
    return make_sandbox(tmp_path / "root")


@pytest.fixture
def runner() -> RecordingRunner:
    return RecordingRunner()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Self-signed certificates made once (see ``tests.support.make_certs``)."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def real_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2048-bit key made once by opendkim-genkey (mail.private, mail.txt); tests
    copy it, never change it."""
    out = tmp_path_factory.mktemp("key")
    subprocess.run(["opendkim-genkey", "-b", "2048", "-d", "example.com", "-s", "mail",
                    "-D", str(out)], check=True)
    return out


@pytest.fixture
def system(sandbox: Path, runner: RecordingRunner) -> System:
    return sandbox_system(sandbox, runner)


# Snapshots (pytest-textual-snapshot 1.1.0): SVGs live in the top-level snapshots/ directory,
# one subfolder per test module (snapshots/test_screens/test_hub_80x24.svg).
def _snapshot_dirname(cls: type, *, test_location: PyTestLocation) -> str:
    module = Path(test_location.filepath).stem
    return str(Path(__file__).resolve().parent.parent / "snapshots" / module)


try:
    from pytest_textual_snapshot import SVGImageExtension
    from syrupy.location import PyTestLocation
except ImportError:  # pragma: no cover - the test extra is not installed
    pass
else:
    SVGImageExtension.dirname = classmethod(_snapshot_dirname)  # type: ignore[method-assign,assignment]
