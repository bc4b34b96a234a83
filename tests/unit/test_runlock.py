"""One apply or rollback at a time: the lock, stale plans, unique temp names."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mailwizard import runlock
from mailwizard.apply import apply, rollback
from mailwizard.plan import RUN_TOKEN, Command, FileChange, Plan
from mailwizard.steps import sasl
from mailwizard.system import System
from tests.support import RecordingRunner

HOLD = """
import sys, time
from pathlib import Path
from mailwizard import runlock
from mailwizard.system import System
with runlock.hold(System(root=Path(sys.argv[1]))):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(sandbox: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(sandbox)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _plan() -> Plan:
    return Plan(files=(FileChange("/etc/mailwizard-lock-test", None, b"new\n"),))


def test_second_run_names_the_pid_that_holds_the_lock(system: System, sandbox: Path) -> None:
    proc = _holder(sandbox)
    try:
        with pytest.raises(runlock.Busy) as caught, runlock.hold(system):
            pass
        assert caught.value.pid == proc.pid
        assert f"PID {proc.pid}" in str(caught.value)
        result = apply(system, _plan())
        assert not result.ok and result.failed == "lock"
        assert f"PID {proc.pid}" in result.reason and "nothing was written" in result.reason
        assert not (sandbox / "etc/mailwizard-lock-test").exists()
        back = rollback(system)
        assert not back.ok and f"PID {proc.pid}" in back.reason
    finally:
        proc.kill()
        proc.wait()


def test_stale_lock_of_a_dead_process_does_not_block(system: System, sandbox: Path) -> None:
    proc = _holder(sandbox)
    proc.kill()  # kill -9: the lock file stays, with the dead PID in it
    proc.wait()
    lock = sandbox / runlock.LOCK.lstrip("/")
    assert lock.read_text().strip() == str(proc.pid)
    result = apply(system, _plan())
    assert result.ok, result
    assert (sandbox / "etc/mailwizard-lock-test").read_bytes() == b"new\n"


def test_lock_is_reentrant_in_one_thread_not_across_threads(system: System) -> None:
    seen: list[BaseException | None] = []
    with runlock.hold(system), runlock.hold(system):
        def other() -> None:
            try:
                with runlock.hold(system):
                    seen.append(None)
            except runlock.Busy as exc:
                seen.append(exc)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert isinstance(seen[0], runlock.Busy) and seen[0].pid == os.getpid()
    with runlock.hold(system):  # released after the outer exit
        pass


def test_lock_file_is_never_followed_through_a_link(system: System, sandbox: Path,
                                                      tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    lock = sandbox / runlock.LOCK.lstrip("/")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.symlink_to(victim)
    with pytest.raises(OSError), runlock.hold(system):
        pass
    assert victim.read_text() == "keep me\n"


def test_lock_is_not_inherited_by_commands(system: System, sandbox: Path) -> None:
    """A daemon started during an apply (postfix start) must not keep the lock."""
    with runlock.hold(system):
        fd_targets = subprocess.run(
            ["sh", "-c", "ls -l /proc/$$/fd"], capture_output=True, text=True).stdout
    assert runlock.LOCK.lstrip("/") not in fd_targets


def test_plan_made_before_another_run_changed_the_file_is_refused(
        system: System, sandbox: Path) -> None:
    """The second of two runs planned from the old bytes: applying it would undo the first."""
    path = sandbox / "etc/mailname"
    old = path.read_bytes()
    plan = Plan(files=(FileChange("/etc/mailname", old, b"second.example.com\n"),))
    path.write_bytes(b"first.example.com\n")  # the first run applied meanwhile
    result = apply(system, plan)
    assert not result.ok and result.failed == "plan"
    assert "/etc/mailname changed since the plan was made" in result.reason
    assert path.read_bytes() == b"first.example.com\n"


def test_temp_names_are_unique_per_run(system: System, sandbox: Path,
                                       runner: RecordingRunner) -> None:
    cmds = sasl.copy_commands(system)
    assert any(RUN_TOKEN in a for c in cmds for a in c.argv)
    plan = Plan(commands=cmds)
    tmp_paths = []
    for _ in range(2):
        runner.calls.clear()
        assert apply(system, plan).ok
        install = next(a for a in runner.argvs() if a[0] == "install")
        tmp_paths.append(install[-1])
        assert RUN_TOKEN not in " ".join(install)
    assert tmp_paths[0] != tmp_paths[1]
    assert all("/var/spool/postfix/etc/.sasldb2." in p for p in tmp_paths)


def test_run_token_is_replaced_in_touches_too() -> None:
    plan = Plan(commands=(Command(("mv", f"/x/.a.{RUN_TOKEN}", "/x/a"), "move",
                                  touches=(f"/x/.a.{RUN_TOKEN}", "/x/a")),))
    concrete = plan.for_run("123-abc")
    assert concrete.commands[0].argv == ("mv", "/x/.a.123-abc", "/x/a")
    assert concrete.commands[0].touches == ("/x/.a.123-abc", "/x/a")
