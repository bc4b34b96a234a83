"""Issue 8 item 4: the journal of an apply, for kill -9 and power loss.

An apply writes its manifest (result "running", fsync'd) before its first change; the next
mailwizard says an apply was interrupted and ``rollback`` undoes exactly that apply, even
when the kill came before the backup was complete (which used to undo the previous apply).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailwizard import cli, journal
from mailwizard.apply import (
    APPLIED,
    INTERRUPTED,
    RESTORED,
    RUNNING,
    Backup,
    apply,
    latest_backup,
    rollback,
)
from mailwizard.plan import FileChange, Plan
from mailwizard.system import System
from tests.applyproc import plan_for
from tests.support import RecordingRunner, sandbox_system
from tests.unit.test_apply import snapshot as all_files

PROJECT = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """The sandbox's files but the run lock (a kill -9 leaves it, harmlessly)."""
    files = all_files(root)
    files.pop("run/mailwizard.lock", None)
    return files


def start(sandbox: Path, moment: str, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    """An apply in a process of its own (tests.applyproc), stopped at ``moment``."""
    marker = sandbox.parent / f"reached-{moment}"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.applyproc", str(sandbox), moment, str(marker), *extra],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the apply ended before {moment}: {proc.communicate()[0]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the apply never reached {moment}")
        time.sleep(0.02)
    return proc, marker


def kill_at(sandbox: Path, moment: str) -> None:
    proc, _ = start(sandbox, moment)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def first_apply(system: System) -> str:
    """A good apply before the one that is killed (what a wrong rollback would undo)."""
    main = system.read_bytes("/etc/postfix/main.cf")
    assert main is not None
    result = apply(system, Plan(files=(
        FileChange("/etc/postfix/main.cf", main, main + b"# the first, good apply\n"),)))
    assert result.ok and result.backup
    return result.backup


@pytest.mark.parametrize("moment", ["write", "command"])
def test_after_kill_9_every_verb_says_so_and_rollback_undoes_exactly_that_apply(
        system: System, sandbox: Path, moment: str, capsys: pytest.CaptureFixture[str]) -> None:
    good = first_apply(system)
    before = snapshot(sandbox)
    kill_at(sandbox, moment)
    assert snapshot(sandbox) != before  # it was killed half way
    found = journal.find(system)
    assert found is not None and found.changed and found.directory != good
    assert found.manifest.steps == ["hostname", "domains"]
    for verb in (["zone"], ["apply", "--dry-run", str(sandbox / "none.toml")]):
        cli.main(["--root", str(sandbox), *verb])
        err = capsys.readouterr().err
        assert "the apply of hostname, domains started" in err, err
        assert "did not finish" in err and "mailwizard rollback" in err, err
    # the next run marked it: every manifest has a result
    assert Backup.load(system, found.directory).manifest.result == INTERRUPTED
    assert cli.main(["--root", str(sandbox), "rollback", "--yes"]) == 0
    assert snapshot(sandbox) == before  # the killed apply undone, the good one kept
    assert b"the first, good apply" in (sandbox / "etc/postfix/main.cf").read_bytes()
    assert journal.find(system) is None
    assert latest_backup(system) == good


def test_a_kill_during_the_backup_is_not_taken_for_the_apply_before(
        system: System, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = first_apply(system)
    before = snapshot(sandbox)
    kill_at(sandbox, "backup")
    assert snapshot(sandbox) == before  # nothing changed yet
    found = journal.find(system)
    assert found is not None and not found.changed
    assert "had not changed any file yet" in found.message()
    assert cli.main(["--root", str(sandbox), "rollback", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "before it changed any file; nothing to undo" in out, out
    # the previous, good apply is still in place and still the one a rollback would undo
    assert snapshot(sandbox) == before
    assert latest_backup(system) == good
    assert journal.find(system) is None


def test_the_journal_is_on_disk_and_synced_before_the_first_change(
        system: System, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    seen: dict[str, object] = {}
    write = system.write_atomic

    def first_write(logical: str, data: bytes, **kwargs: object) -> None:
        if not logical.startswith("/var/backups/") and not seen:
            backups = sorted((sandbox / "var/backups/mailwizard").iterdir())
            seen["manifest"] = json.loads((backups[-1] / "manifest.json").read_text())
            seen["synced"] = list(synced)
            seen["dir"] = backups[-1]
        write(logical, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(system, "write_atomic", first_write)
    assert apply(system, plan_for(system)).ok
    manifest = seen["manifest"]
    assert isinstance(manifest, dict)
    assert manifest["result"] == RUNNING and manifest["changed"] is True
    assert manifest["pid"] == os.getpid() and manifest["process"]
    assert {f["path"] for f in manifest["files"]} >= {"/etc/hostname", "/etc/postfix/main.cf"}
    directory = seen["dir"]
    assert isinstance(directory, Path)
    synced_paths = seen["synced"]
    assert isinstance(synced_paths, list)
    # the copies and the manifest reached the disk before the first change
    assert str(directory / "files/etc/hostname") in synced_paths
    assert str(directory / "files/etc/postfix/main.cf") in synced_paths
    assert str(directory) in synced_paths
    assert any(p.startswith(str(directory / ".manifest.json.")) for p in synced_paths)


def test_every_manifest_records_how_the_apply_ended(system: System, sandbox: Path,
                                                    runner: RecordingRunner) -> None:
    applied = apply(system, plan_for(system))
    assert applied.ok and applied.backup
    assert Backup.load(system, applied.backup).manifest.result == APPLIED
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    main = system.read_bytes("/etc/postfix/main.cf")
    assert main is not None
    failed = apply(system, Plan(files=(
        FileChange("/etc/postfix/main.cf", main, main + b"# a change\n"),)))
    assert not failed.ok and failed.backup
    manifest = Backup.load(system, failed.backup).manifest
    assert manifest.result == RESTORED and "postfix check" in manifest.detail
    assert latest_backup(system) == applied.backup


def test_a_live_apply_is_not_called_interrupted(sandbox: Path) -> None:
    proc, _ = start(sandbox, "command")
    try:
        system = sandbox_system(sandbox)
        assert journal.find(system) is None  # its process still runs
        directory = latest_backup(system)
        assert directory and Backup.load(system, directory).manifest.result == RUNNING
    finally:
        proc.kill()
        proc.wait(10)
    assert journal.find(sandbox_system(sandbox)) is not None
    assert journal.dead_runs(sandbox_system(sandbox)) == [directory]


def test_rollback_after_a_kill_also_runs_the_undo_commands(sandbox: Path) -> None:
    kill_at(sandbox, "command")
    runner = RecordingRunner()
    system = sandbox_system(sandbox, runner)
    assert rollback(system).ok
    assert ("hostname", "-F", "/etc/hostname") in runner.argvs()
    assert ("postfix", "reload") in runner.argvs()
