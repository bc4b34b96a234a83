"""Issue 8 (leftovers): exit 2 means "not applied" whether the apply was stopped (a signal)
or failed; the CLI contract (/work/shared/DESIGN.md) has that one code for both, so the last
line of the output says which: ``mailwizard: outcome: ...``."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from mailwizard import cli
from mailwizard.system import System

ANSWERS = '[hostname]\nfqdn = "mail.example.com"\n'


def answers(sandbox: Path) -> str:
    path = sandbox.parent / "answers.toml"
    path.write_text(ANSWERS)
    return str(path)


def last_line(err: str) -> str:
    return err.rstrip("\n").splitlines()[-1]


def test_a_stopped_apply_says_stopped_not_failed(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    write = System.write_atomic

    def signalled(self: System, logical: str, data: bytes, **kwargs: object) -> None:
        write(self, logical, data, **kwargs)  # type: ignore[arg-type]
        if logical == "/etc/hostname":
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(System, "write_atomic", signalled)
    assert cli.main(["--root", str(sandbox), "apply", answers(sandbox)]) == 2
    err = capfd.readouterr().err
    assert last_line(err) == ("mailwizard: outcome: STOPPED by SIGTERM (asked to stop), not "
                              "failed; every file restored (exit 2)"), err


def test_a_failed_apply_says_failed(sandbox: Path, monkeypatch: pytest.MonkeyPatch,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    write = System.write_atomic
    failed: list[str] = []

    def full(self: System, logical: str, data: bytes, **kwargs: object) -> None:
        if logical == "/etc/mailname" and not failed:
            failed.append(logical)
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, logical, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(System, "write_atomic", full)
    assert cli.main(["--root", str(sandbox), "apply", answers(sandbox)]) == 2
    err = capfd.readouterr().err
    assert last_line(err) == ("mailwizard: outcome: FAILED at writing files; every file "
                              "restored (exit 2)"), err


def test_the_help_says_what_2_means(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "2 apply failed or stopped (files restored; its last line says which)" in out
