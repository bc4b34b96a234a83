"""services.postfix_running: the master's flock on its pidfile, as ``master -t`` tests it."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from mailwizard import services
from mailwizard.system import System
from tests.support import MASTER_PID, RecordingRunner, SandboxReader, sandbox_system


def bare(root: Path) -> System:
    """A System on the sandbox whose reader holds no lock (Postfix not started)."""
    return sandbox_system(root, RecordingRunner(reader=SandboxReader(postfix_running=False)))


def test_running_while_a_process_holds_the_pidfile_lock(sandbox: Path) -> None:
    """Another process holds the lock, as the real master does for its whole life."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'rb'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
         str(sandbox / MASTER_PID)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert services.postfix_running(bare(sandbox))
    finally:
        holder.communicate("")
    assert not services.postfix_running(bare(sandbox))  # it exited: the lock went with it


def test_a_stale_pidfile_is_not_a_running_postfix(sandbox: Path) -> None:
    (sandbox / MASTER_PID).write_text("      4242\n")  # left by a master that died
    assert not services.postfix_running(bare(sandbox))


def test_no_pidfile_is_not_a_running_postfix(sandbox: Path) -> None:
    (sandbox / MASTER_PID).unlink()
    assert not services.postfix_running(bare(sandbox))


def test_the_check_takes_no_lock_that_outlives_it(sandbox: Path) -> None:
    """A master starting right after the check must get its exclusive lock."""
    services.postfix_running(bare(sandbox))
    with (sandbox / MASTER_PID).open("rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the check kept one


def test_a_queue_directory_named_in_main_cf_is_where_the_pidfile_is(sandbox: Path) -> None:
    queue = sandbox / "srv/postfix-queue"
    (queue / "pid").mkdir(parents=True)
    (queue / "pid/master.pid").touch()
    main = sandbox / "etc/postfix/main.cf"
    main.write_text(main.read_text() + "queue_directory = /srv/postfix-queue\n")
    system = sandbox_system(sandbox, RecordingRunner())  # holds the default queue's lock
    assert not services.postfix_running(system)
    with (queue / "pid/master.pid").open("rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        assert services.postfix_running(system)


def test_the_sandbox_postfix_runs_by_default(system: System) -> None:
    assert services.postfix_running(system)
