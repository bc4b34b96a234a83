"""Issue 8 (leftovers): exit 2 means "not applied" whether the apply was stopped (a signal)
or failed; the CLI contract (/work/shared/DESIGN.md) has that one code for both, so the last
line of the output says which: ``mailwizard: outcome: ...``."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailwizard import cli, runlock
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
    out = " ".join(capsys.readouterr().out.split())
    assert ("2 apply failed, stopped or refused because another run holds the lock (files "
            "restored or untouched; its last line says which)") in out


# -- Another mailwizard holds the lock: the contract's code, a last line naming the holder -

def _held(sandbox: Path) -> subprocess.Popen[str]:
    from tests.unit.test_runlock import HOLD

    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(sandbox)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


@pytest.mark.parametrize("verb, args, prefix, nothing, code", [
    ("apply", (), "mailwizard: outcome:", "nothing was written", 2),
    ("rollback", ("--yes",), "mailwizard rollback: outcome:", "nothing was restored", 1),
])
def test_a_run_refused_by_the_lock_names_the_holder_and_what_to_do(
        sandbox: Path, capfd: pytest.CaptureFixture[str], verb: str, args: tuple[str, ...],
        prefix: str, nothing: str, code: int) -> None:
    before = (sandbox / "etc/hostname").read_bytes()
    proc = _held(sandbox)
    try:
        argv = [verb, answers(sandbox)] if verb == "apply" else [verb, *args]
        assert cli.main(["--root", str(sandbox), *argv]) == code  # DESIGN's CLI contract
    finally:
        proc.kill()
        proc.wait()
    err = capfd.readouterr().err
    line = last_line(err)
    assert line.startswith(f"{prefix} BUSY: another mailwizard (PID {proc.pid}, `"), err
    assert line.endswith(f"holds /run/mailwizard.lock; {nothing}; run this again once that "
                         f"one has finished (exit {code})"), err
    assert (sandbox / "etc/hostname").read_bytes() == before


def test_the_holder_is_named_by_its_command_line() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                             "apply", "answers.toml"])
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd python
        while b"sleep" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        described = runlock.who(proc.pid)
        assert described.startswith(f"PID {proc.pid}, `python"), described
        assert described.endswith(" -c import time; time.sleep(30) apply answers.toml`")
    finally:
        proc.kill()
        proc.wait()
    assert runlock.who(proc.pid) == f"PID {proc.pid}"  # gone: the PID alone
    assert runlock.who(None) == "a process that has not written its PID yet"

