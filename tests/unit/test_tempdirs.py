"""Issue 8 item 4: temp dirs are always removed, and commands die with mailwizard.

About 120 ``/tmp/mailwizard-read-*`` copies of main.cf were left on the build host: a
signal's default action (SIGHUP when a tmux session or an SSH connection closes under the
hub) or kill -9 ends the process inside ``TemporaryDirectory`` without its clean-up. And a
command the wizard ran lived on after mailwizard was killed (its own process group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailwizard import tempdirs
from tests.unit.test_journal import PROJECT


def old(path: Path, seconds: float = 2 * tempdirs.LEGACY_AGE) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_sweep_removes_what_dead_runs_left_and_nothing_else(tmp_path: Path) -> None:
    ns = os.stat("/proc/self/ns/pid").st_ino
    dead = tmp_path / f"mailwizard-read-{dead_pid()}-{ns}-abcd1234"
    live = tmp_path / f"mailwizard-read-{os.getppid()}-{ns}-abcd1234"  # pytest's parent
    elsewhere = tmp_path / f"mailwizard-key-{dead_pid()}-{ns + 1}-abcd1234"  # a container's
    mine = Path(tempdirs.make("stage", tmp_path))
    legacy_old = tmp_path / "mailwizard-read-0cejfw06"  # as the ~120 on the build host
    legacy_key = tmp_path / "mailwizard-x1y2z3_4"
    legacy_new = tmp_path / "mailwizard-stage-0h_q_pmm"  # may be a running old version's
    other = tmp_path / "mailwizard-something-else"
    for d in (dead, live, elsewhere, legacy_old, legacy_key, legacy_new, other):
        d.mkdir()
        (d / "main.cf").write_text("x")
    for d in (legacy_old, legacy_key, other):
        old(d)
    target = tmp_path / "victim"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmp_path / f"mailwizard-read-{dead_pid()}-{ns}-linklink"
    link.symlink_to(target)
    foreign = tmp_path / f"mailwizard-read-{dead_pid()}-{ns}-nobodys1"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    removed = tempdirs.sweep(tmp_path)
    assert sorted(removed) == sorted(str(p) for p in (dead, legacy_old, legacy_key))
    for kept in (live, mine, elsewhere, legacy_new, other, link, foreign, target / "keep"):
        assert os.path.lexists(kept), kept


def test_private_dirs_are_named_for_their_process_and_removed(tmp_path: Path) -> None:
    with tempdirs.private("read", tmp_path) as made:
        ns = os.stat("/proc/self/ns/pid").st_ino
        assert Path(made).name.startswith(f"mailwizard-read-{os.getpid()}-{ns}-")
        assert (os.stat(made).st_mode & 0o777) == 0o700
    assert not os.path.exists(made)


@pytest.fixture
def slow_postconf(tmp_path: Path, sandbox: Path) -> dict[str, str]:
    """The environment of a `mailwizard zone` whose postconf read takes 30 s (a shim first
    on PATH), with a TMPDIR of its own."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "postconf").write_text(f"#!/bin/sh\ntouch {tmp_path}/reading\nsleep 30\n"
                                   'exec /usr/sbin/postconf "$@"\n')
    (shim / "postconf").chmod(0o755)
    (tmp_path / "tmp").mkdir()
    return {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "TMPDIR": str(tmp_path / "tmp")}


def zone_until_reading(sandbox: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "mailwizard", "--root", str(sandbox), "zone"],
                            cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    reading = Path(env["TMPDIR"]).parent / "reading"
    deadline = time.monotonic() + 30
    while not reading.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    return proc


def left(env: dict[str, str]) -> list[str]:
    return sorted(os.listdir(env["TMPDIR"]))


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM],  # SIGINT always did
                         ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_a_postconf_read_leaves_no_temp_dir(
        sandbox: Path, slow_postconf: dict[str, str], signum: int) -> None:
    proc = zone_until_reading(sandbox, slow_postconf)
    assert len(left(slow_postconf)) == 1  # mailwizard-read-PID-xxxxxxxx, while it reads
    started = time.monotonic()
    proc.send_signal(signum)
    proc.communicate(timeout=20)
    assert time.monotonic() - started < 10  # the shim's sleep was killed, not waited for
    assert left(slow_postconf) == []


def test_after_kill_9_the_next_run_removes_the_temp_dir_and_the_command_died(
        sandbox: Path, slow_postconf: dict[str, str]) -> None:
    proc = zone_until_reading(sandbox, slow_postconf)
    shim_pids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                               text=True).stdout.split()
    assert shim_pids, "the postconf shim runs as a child"
    proc.kill()
    proc.wait(10)
    assert len(left(slow_postconf)) == 1  # kill -9: nothing could clean up
    deadline = time.monotonic() + 5
    while any(_alive(int(p)) for p in shim_pids):  # killed with its parent (PDEATHSIG)
        assert time.monotonic() < deadline, f"{shim_pids} outlived mailwizard"
        time.sleep(0.05)
    env = {**slow_postconf, "PATH": os.environ["PATH"]}
    subprocess.run([sys.executable, "-m", "mailwizard", "--root", str(sandbox), "zone"],
                   cwd=PROJECT, env=env, capture_output=True, timeout=60)
    assert left(slow_postconf) == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
