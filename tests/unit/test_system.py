"""System: path mapping, atomic writes, overlays; ShRunner: the real command runner."""

from __future__ import annotations

import os
import pwd
import signal
import stat
import time
from pathlib import Path

import pytest

from mailwizard.secret import MASK, Secret
from mailwizard.system import CommandError, FileInfo, Reader, ShRunner, System
from tests.support import RecordingRunner, sandbox_system

PASSWORD = "correct-horse-battery-staple"

# --- System ----------------------------------------------------------------------------


def test_path_maps_under_root(sandbox: Path) -> None:
    system = System(root=sandbox)
    assert system.path("/etc/hostname") == sandbox / "etc/hostname"
    with pytest.raises(ValueError):
        system.path("etc/hostname")
    assert system.sandboxed
    assert not System(root=Path("/")).sandboxed


def test_run_commands_default_follows_the_root(sandbox: Path) -> None:
    assert System(root=sandbox).run_commands is False
    assert System(root=Path("/")).run_commands is True
    assert System(root=sandbox, run_commands=True).run_commands is True


def test_reads(system: System) -> None:
    assert system.read_text("/etc/hostname") == "debian\n"
    assert system.read_bytes("/etc/nonexistent") is None
    assert system.read_bytes("/etc/hostname/below-a-file") is None
    assert system.exists("/etc/hostname")
    assert not system.exists("/etc/nonexistent")
    info = system.info("/etc/hostname")
    assert info is not None and info.mode == 0o644
    assert system.info("/etc/nonexistent") is None
    assert system.info("/etc/hostname/below-a-file") is None
    assert not system.has_systemd


def test_with_files_overlay(system: System) -> None:
    view = system.with_files({"/etc/hostname": b"mail\n", "/etc/mailname": None,
                              "/etc/new": b"x"})
    assert view.read_text("/etc/hostname") == "mail\n"
    assert view.read_bytes("/etc/mailname") is None and not view.exists("/etc/mailname")
    assert view.exists("/etc/new")
    # The real system is untouched; the view shares the cache and the runner.
    assert system.read_text("/etc/hostname") == "debian\n"
    assert view.cache is system.cache and view.runner is system.runner
    assert view.run_commands == system.run_commands
    layered = view.with_files({"/etc/new": b"y"})
    assert layered.read_bytes("/etc/new") == b"y" and layered.read_bytes("/etc/hostname") == (
        b"mail\n")
    assert layered.reader is system.reader is not None


def test_info_honours_the_overlay(system: System, sandbox: Path) -> None:
    os.chmod(sandbox / "etc/mailname", 0o600)
    view = system.with_files({"/etc/hostname": b"mail\n", "/etc/mailname": None,
                              "/etc/new": b"x"})
    assert view.info("/etc/mailname") is None  # the plan removes it
    assert system.info("/etc/mailname") == FileInfo(0o600, "root", "root")
    assert view.info("/etc/hostname") == system.info("/etc/hostname")  # rewritten in place
    assert view.info("/etc/new") == FileInfo(0o644, "root", "root")  # as write_atomic makes it
    assert system.info("/etc/new") is None
    assert view.disk_info("/etc/mailname") == FileInfo(0o600, "root", "root")


def _temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_write_atomic_keeps_mode_and_owner(system: System, sandbox: Path) -> None:
    target = sandbox / "etc/postfix/secret.cf"
    target.write_bytes(b"old\n")
    os.chmod(target, 0o640)
    nobody = pwd.getpwnam("nobody")
    os.chown(target, nobody.pw_uid, nobody.pw_gid)
    inode = target.stat().st_ino
    system.write_atomic("/etc/postfix/secret.cf", b"new\n")
    st = target.stat()
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert st.st_ino != inode  # renamed into place, not rewritten
    assert _temp_files(target.parent) == []


def test_write_atomic_new_file_is_0644(system: System, sandbox: Path) -> None:
    old = os.umask(0o077)
    try:
        system.write_atomic("/etc/brand/new/file", b"x")
    finally:
        os.umask(old)
    target = sandbox / "etc/brand/new/file"
    assert target.read_bytes() == b"x"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert system.info("/etc/brand/new/file") == FileInfo(0o644, "root", "root")


def test_write_atomic_explicit_mode_owner_group(system: System, sandbox: Path) -> None:
    system.write_atomic("/etc/hostname", b"mail\n", mode=0o600, owner="nobody",
                        group="nogroup")
    assert system.info("/etc/hostname") == FileInfo(0o600, "nobody", "nogroup")


def test_write_atomic_failure_leaves_no_temp_file(system: System, sandbox: Path) -> None:
    target = sandbox / "etc/hostname"
    with pytest.raises(KeyError):
        system.write_atomic("/etc/hostname", b"x", owner="no-such-user-xyz")
    assert target.read_bytes() == b"debian\n"
    assert _temp_files(target.parent) == []


def test_write_atomic_failure_while_writing_leaves_no_temp_file(
    system: System, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        system.write_atomic("/etc/hostname", b"x")
    assert (sandbox / "etc/hostname").read_bytes() == b"debian\n"
    assert _temp_files(sandbox / "etc") == []


def test_remove(system: System, sandbox: Path) -> None:
    system.remove("/etc/mailname")
    assert not (sandbox / "etc/mailname").exists()
    system.remove("/etc/mailname")  # already gone: fine


def test_query_uses_the_reader_and_run_the_runner(system: System) -> None:
    result = system.query(["echo", "hi"])
    assert result.ok and result.stdout == "hi\n"
    system.run(["hostname", "mail"])  # recorded, not run
    assert [c.argv for c in system.runner.calls] == [("hostname", "mail")]  # type: ignore[attr-defined]


def test_without_a_reader_the_runner_answers_queries(sandbox: Path) -> None:
    runner = RecordingRunner()  # it has a reader of its own, but the System is not told
    system = System(root=sandbox, runner=runner, reader=None)
    system.query(["echo", "hi"])
    assert runner.argvs() == [("echo", "hi")]


def test_queries_go_through_subprocess_and_commands_through_sh() -> None:
    system = System()
    assert isinstance(system.reader, Reader) and isinstance(system.runner, ShRunner)
    with pytest.raises(TypeError, match="no line sink"):
        system.reader.run(["true"], on_line=print)


# --- ShRunner and Reader: what both guarantee ------------------------------------------


@pytest.fixture
def sh_runner() -> ShRunner:
    return ShRunner()


@pytest.fixture(params=[ShRunner, Reader], ids=["sh", "reader"])
def either(request: pytest.FixtureRequest) -> ShRunner | Reader:
    made: ShRunner | Reader = request.param()
    return made


def test_stdin_reaches_the_process(either: ShRunner | Reader) -> None:
    result = either.run(["cat"], stdin="line one\nline two\n")
    assert result.ok and result.rc == 0
    assert result.stdout == "line one\nline two\n"
    assert result.argv == ("cat",)


def test_stdout_and_stderr_are_separate(either: ShRunner | Reader) -> None:
    result = either.run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_environment_is_c_locale(either: ShRunner | Reader) -> None:
    assert either.run(["sh", "-c", "echo $LC_ALL"]).stdout == "C\n"
    assert either.run(["sh", "-c", "echo $X"], env={"X": "y"}).stdout == "y\n"


def test_argv_is_not_a_shell_string(either: ShRunner | Reader, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = either.run(["echo", f"$(touch {marker}); `touch {marker}`"])
    assert "$(touch" in result.stdout
    assert not marker.exists()


def test_nonzero_exit(either: ShRunner | Reader) -> None:
    with pytest.raises(CommandError) as exc:
        either.run(["sh", "-c", "echo some output; exit 3"])
    assert exc.value.rc == 3
    assert "exit code 3" in str(exc.value) and "some output" in str(exc.value)
    result = either.run(["sh", "-c", "exit 3"], check=False)
    assert result.rc == 3 and not result.ok


def test_timeout(either: ShRunner | Reader) -> None:
    start = time.monotonic()
    with pytest.raises(CommandError) as exc:
        either.run(["sleep", "10"], timeout=0.3)
    assert "timed out" in str(exc.value)
    assert time.monotonic() - start < 5


def test_timeout_kills_what_the_command_started(either: ShRunner | Reader) -> None:
    start = time.monotonic()
    with pytest.raises(CommandError, match="timed out"):
        either.run(["sh", "-c", "sleep 10; echo late"], timeout=0.3)
    assert time.monotonic() - start < 5


def test_fast_commands_are_fast(either: ShRunner | Reader) -> None:
    either.run(["true"])
    times = []
    for _ in range(5):
        start = time.monotonic()
        either.run(["true"])
        times.append(time.monotonic() - start)
    assert min(times) < 0.08  # sh's own _timeout would add 0.1 s to every call


@pytest.mark.parametrize("streamed", [False, True])
def test_a_daemon_holding_the_output_open_does_not_hold_the_command(
        sh_runner: ShRunner, streamed: bool) -> None:
    """``postfix start`` and opendkim leave daemons behind: one that kept the command's
    output pipe is not waited for beyond a short drain, and what was printed is kept."""
    seen: list[str] = []
    started = time.monotonic()
    result = sh_runner.run(["sh", "-c", "echo started; setsid sleep 30 & echo $! >&2"],
                           on_line=seen.append if streamed else None, timeout=20)
    took = time.monotonic() - started
    daemon = int((result.stderr or result.stdout).split()[-1])
    try:
        assert result.ok and "started" in result.stdout
        assert took < 10, took
    finally:
        os.kill(daemon, signal.SIGKILL)


def test_a_query_whose_daemon_holds_the_output_ends_at_its_timeout() -> None:
    """A query starts no daemon; one that does anyway cannot hang the plan: it fails
    at its timeout (the daemon it left outside its group is not waited for)."""
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"timed out after 0\.5 s") as exc:
        Reader().run(["sh", "-c", "setsid sleep 3 & wait"], timeout=0.5)
    assert time.monotonic() - started < 10
    assert exc.value.rc is None


def test_missing_program(either: ShRunner | Reader) -> None:
    with pytest.raises(CommandError) as exc:
        either.run(["no-such-program-xyz", "--flag"])
    assert "not installed" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        either.run(["/nonexistent/bin/prog"])
    assert "not installed" in str(exc.value)


def test_not_an_executable(either: ShRunner | Reader, tmp_path: Path) -> None:
    script = tmp_path / "junk"
    script.write_bytes(b"\x00\x01\x02 not a program")
    script.chmod(0o755)
    with pytest.raises(CommandError, match="could not start"):
        either.run([str(script)])


def test_killed_by_a_signal(either: ShRunner | Reader) -> None:
    with pytest.raises(CommandError) as exc:
        either.run(["sh", "-c", "kill -9 $$"])
    assert "SIGKILL" in str(exc.value)
    assert either.run(["sh", "-c", "kill -9 $$"], check=False).rc == -9


def test_on_line_streams_lines(sh_runner: ShRunner) -> None:
    seen: list[str] = []
    result = sh_runner.run(["sh", "-c", "echo one; echo two >&2; printf three"],
                           on_line=seen.append)
    assert seen == ["one", "two", "three"]
    assert result.stdout == "one\ntwo\nthree\n"


def test_on_line_many_lines(sh_runner: ShRunner) -> None:
    seen: list[str] = []
    sh_runner.run(["seq", "1", "5000"], on_line=seen.append)
    assert seen == [str(i) for i in range(1, 5001)]


def test_on_line_gets_every_line_when_the_sink_is_slower_than_the_command(
        sh_runner: ShRunner) -> None:
    """The sink (the apply screen, one line at a time through the event loop) may lag far
    behind a command that has long exited: no line may be lost (the sh library stops
    reading 2 s after the exit)."""
    seen: list[str] = []

    def slow(line: str) -> None:
        if not seen:
            time.sleep(3)  # the command (300 short lines in the pipe) exits meanwhile
        seen.append(line)

    result = sh_runner.run(["seq", "1", "300"], on_line=slow)
    assert seen == [str(i) for i in range(1, 301)]
    assert result.stdout.splitlines() == seen


def test_a_streamed_command_without_input_reads_end_of_file_at_once(
        sh_runner: ShRunner) -> None:
    """With a line sink and no ``stdin`` the sh library would hand the command a pipe it
    keeps open for an interactive callback (and poll it every 0.1 s): a command that reads
    its input would wait until its timeout. It gets an empty input, as without a sink."""
    seen: list[str] = []
    result = sh_runner.run(["sh", "-c", "cat; echo read-to-the-end"], on_line=seen.append,
                           timeout=10)
    assert result.ok and seen == ["read-to-the-end"]


def test_secret_stdin_never_in_result(either: ShRunner | Reader) -> None:
    result = either.run(["cat"], stdin=Secret(PASSWORD))
    assert PASSWORD not in repr(result)
    assert result.stdout == MASK
    result = either.run(["sh", "-c", "cat >&2"], stdin=Secret(PASSWORD + "\n"))
    assert PASSWORD not in repr(result)


def test_secret_stdin_never_in_exception(either: ShRunner | Reader) -> None:
    with pytest.raises(CommandError) as exc:
        either.run(["sh", "-c", "cat; cat >&2; exit 1"], stdin=Secret(PASSWORD))
    text = f"{exc.value} {exc.value.output} {exc.value!r}"
    assert PASSWORD not in text
    with pytest.raises(CommandError) as exc:
        either.run(["sh", "-c", "cat; kill -9 $$"], stdin=Secret(PASSWORD))
    assert PASSWORD not in f"{exc.value} {exc.value.output}"
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


def test_secret_stdin_never_in_streamed_lines(sh_runner: ShRunner) -> None:
    seen: list[str] = []
    result = sh_runner.run(["cat"], stdin=Secret(PASSWORD + "\n"), on_line=seen.append)
    assert PASSWORD not in "".join(seen) + result.stdout


def test_secret_reaches_the_process_unmasked(either: ShRunner | Reader) -> None:
    result = either.run(["sh", "-c", f'read p; [ "$p" = "{PASSWORD}" ] && echo same'],
                           stdin=Secret(PASSWORD + "\n"))
    assert result.stdout == "same\n"


def test_sandbox_system_helper(sandbox: Path) -> None:
    assert sandbox_system(sandbox).run_commands is True


def test_preload_imports_in_a_thread_of_its_own_and_leaves_a_missing_module_to_the_user(
        ) -> None:
    import sys
    import threading

    from mailwizard.system import preload

    sys.modules.pop("colorsys", None)
    preload("no_such_module_for_mailwizard", "colorsys")
    deadline = time.monotonic() + 10
    while "colorsys" not in sys.modules or any(
            t.name == "preload" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "colorsys was not imported"
        time.sleep(0.01)
