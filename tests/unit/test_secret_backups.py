"""Issue 8 item 5: a kill during a password change must not leave the old password in clear in
the backup set. The copy of sasldb2 that a restore needs lives under /run (tmpfs: never on
disk, gone at a power loss), root-only (0700 directories, 0600 file), and is deleted as soon as
the apply has succeeded or been restored, when the interrupted apply is rolled back, and when
a later apply succeeds (then the interrupted one is no longer what rollback undoes)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailwizard import journal
from mailwizard.apply import BACKUP_ROOT, SECRET_ROOT, apply, rollback
from mailwizard.secret import Secret
from mailwizard.steps.sasl import SASLDB, stored_passwords
from mailwizard.system import System
from tests.passwordproc import LOGIN, NEW, acting_runner, change_plan
from tests.support import OLD, sandbox_system, seed_logins

PROJECT = Path(__file__).resolve().parents[2]
SAMPLED: list[str] = []  # the places searched for a password, for the closing note


def holders(root: Path, *secrets: str) -> list[str]:
    """Every file under the backups and /run that holds one of ``secrets`` in clear."""
    found = []
    for top in (root / BACKUP_ROOT.lstrip("/"), root / "run"):
        for path in top.rglob("*"):
            if path.is_file() and not path.is_symlink():
                SAMPLED.append(str(path.relative_to(root)))
                data = path.read_bytes()
                found += [str(path.relative_to(root)) for s in secrets if s.encode() in data]
    return found


def kill_mid_change(sandbox: Path) -> None:
    """Start the password change in a process of its own and kill -9 it inside saslpasswd2."""
    marker = sandbox.parent / "reached-saslpasswd2"
    proc = subprocess.Popen([sys.executable, "-m", "tests.passwordproc", str(sandbox),
                             str(marker)], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the apply ended early: {proc.communicate()[0]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the apply never reached saslpasswd2")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


@pytest.fixture
def seeded(sandbox: Path) -> Path:
    seed_logins(sandbox, LOGIN)  # alice with OLD, in /etc/sasldb2 and the chroot copy
    return sandbox


def test_kill_9_mid_password_change_leaves_no_password_in_the_backups(seeded: Path) -> None:
    before = (seeded / SASLDB.lstrip("/")).read_bytes()
    kill_mid_change(seeded)
    backups = seeded / BACKUP_ROOT.lstrip("/")
    assert any(backups.iterdir()), "the apply made its backup before saslpasswd2"
    assert [p for p in holders(seeded, OLD) if p.startswith("var/")] == []
    # The one copy a rollback needs: root-only, under /run.
    copies = [p for p in (seeded / SECRET_ROOT.lstrip("/")).rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in copies] == [before, before]  # sasldb2 and its chroot copy
    for path in [*copies, *(p for p in (seeded / "run/mailwizard").rglob("*") if p.is_dir()),
                 seeded / "run/mailwizard"]:
        st = path.stat()
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == (0o600 if path.is_file()
                                                               else 0o700), path


def test_rollback_of_the_killed_change_restores_then_scrubs(seeded: Path) -> None:
    before = (seeded / SASLDB.lstrip("/")).read_bytes()
    kill_mid_change(seeded)
    system = System(root=seeded)
    found = journal.find(system)
    assert found is not None and found.changed
    result = rollback(system)
    assert result.ok, result
    assert (seeded / SASLDB.lstrip("/")).read_bytes() == before  # byte for byte
    assert stored_passwords(system) == {LOGIN: Secret(OLD)}
    assert holders(seeded, OLD, NEW) == []


def test_a_later_good_apply_scrubs_the_killed_ones_copy(seeded: Path) -> None:
    kill_mid_change(seeded)
    system = sandbox_system(seeded, acting_runner())
    third = "Th1rd-Passw0rd-Quietly"
    result = apply(system, change_plan(system, third))  # type: ignore[arg-type]
    assert result.ok, result
    assert stored_passwords(system) == {LOGIN: Secret(third)}
    assert holders(seeded, OLD, NEW, third) == []
    assert not any((seeded / SECRET_ROOT.lstrip("/")).rglob("*"))


def test_while_the_change_runs_the_copy_is_under_run_only(seeded: Path) -> None:
    seen: list[list[str]] = []
    runner = acting_runner(lambda: seen.append(holders(seeded, OLD)))
    system = sandbox_system(seeded, runner)
    result = apply(system, change_plan(system))  # type: ignore[arg-type]
    assert result.ok, result
    assert len(seen) == 1 and seen[0] and all(p.startswith("run/") for p in seen[0]), seen
    assert holders(seeded, OLD, NEW) == []


def test_a_failed_change_is_restored_from_the_run_copy_then_scrubbed(seeded: Path) -> None:
    before = (seeded / SASLDB.lstrip("/")).read_bytes()
    runner = acting_runner()
    runner.fail_on = lambda argv: argv[0] == "mv"  # after saslpasswd2 changed the database
    system = sandbox_system(seeded, runner)
    result = apply(system, change_plan(system))  # type: ignore[arg-type]
    assert not result.ok and result.restored, result
    assert (seeded / SASLDB.lstrip("/")).read_bytes() == before
    assert holders(seeded, OLD, NEW) == []


def test_after_a_power_loss_the_copy_is_gone_and_rollback_says_so(seeded: Path) -> None:
    kill_mid_change(seeded)
    for path in sorted((seeded / "run").rglob("*"), reverse=True):  # tmpfs after a reboot
        path.rmdir() if path.is_dir() else path.unlink()
    events: list[str] = []
    result = rollback(System(root=seeded), emit=lambda e: events.append(e.text))
    assert result.ok, result
    assert any(SASLDB in text and "holds passwords" in text for text in events), events
    assert holders(seeded, OLD) == []
    assert os.path.exists(seeded / SASLDB.lstrip("/"))
