"""The machine the wizard works on: a filesystem root, atomic writes, commands.

Every path the rest of the code handles is a *logical* absolute path ("/etc/postfix/main.cf");
``System.path()`` maps it under ``root`` so a sandbox directory can stand in for ``/``.
Commands are argv lists, never a shell string, with a timeout on every call and secrets only
on stdin: what apply runs goes through the ``sh`` library (``ShRunner``), the read-only
queries a plan makes by the dozen through subprocess (``Reader``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import grp
import importlib
import os
import pwd
import queue
import secrets
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mailwizard.secret import MASK, Secret

DEFAULT_TIMEOUT = 60.0


class UnsafeFile(OSError):
    """A path mailwizard would have to follow through a link (or that is not a plain file)."""


class CommandError(Exception):
    """A command could not start, exited non-zero or timed out."""

    def __init__(self, argv: Sequence[str], rc: int | None, output: str, reason: str = "") -> None:
        self.argv = tuple(argv)
        self.rc = rc
        self.output = output
        self.reason = reason or (f"exit code {rc}" if rc is not None else "did not run")
        last = "\n".join(output.strip().splitlines()[-5:])
        super().__init__(f"{' '.join(self.argv)}: {self.reason}" + (f"\n{last}" if last else ""))


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


LineSink = Callable[[str], None]


class Runner(Protocol):
    """Runs argv lists. ``check=False`` returns non-zero exits instead of raising."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | Secret | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        on_line: LineSink | None = None,
        env: dict[str, str] | None = None,
    ) -> Result: ...


@dataclass(frozen=True)
class _Prepared:
    """A command checked before it starts: its program found, its input text, the clean
    environment, and what masks a secret input wherever the command echoes it."""

    argv: tuple[str, ...]
    exe: str
    data: str | None
    hide: Callable[[str], str]
    env: dict[str, str]


def _prepare(argv: Sequence[str], stdin: str | Secret | None,
             env: dict[str, str] | None) -> _Prepared:
    argv = tuple(argv)
    if not argv:
        raise CommandError(argv, None, "", "empty command")
    if "/" in argv[0]:
        exe: str | None = argv[0] if os.access(argv[0], os.X_OK) else None
    else:
        exe = shutil.which(argv[0])
    if exe is None:
        where = "no such program" if "/" in argv[0] else "not found on PATH"
        raise CommandError(argv, None, "", f"{argv[0]} is not installed ({where})")
    data = stdin.reveal() if isinstance(stdin, Secret) else stdin
    if data is not None:
        try:  # sh would fail to encode it in its feeder thread and the command wait
            data.encode("utf-8")
        except UnicodeEncodeError:
            raise CommandError(argv, None, "", "its input is not UTF-8 text") from None
    full_env = child_environment()
    if env:
        full_env.update(env)
    return _Prepared(argv, exe, data, _redactor(stdin), full_env)


def preload(*modules: str) -> None:
    """Import ``modules`` in a thread of its own while the caller goes on: the headless apply
    plans meanwhile, mostly waiting on postconf. The sh library takes 0.1 s (asyncio,
    importlib.metadata), which the first command would otherwise wait for; the SASL step's
    password check and template, 0.05 s. An import that asks meanwhile waits for this one."""

    def load() -> None:
        for name in modules:
            with contextlib.suppress(ImportError):  # the import that needs it will say
                importlib.import_module(name)

    threading.Thread(target=load, name="preload", daemon=True).start()


class ShRunner:
    """The real runner of apply-time commands, on the ``sh`` library."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | Secret | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        on_line: LineSink | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        import sh

        cmd = _prepare(argv, stdin, env)
        argv, hide = cmd.argv, cmd.hide
        # The timeout is ours, not sh's ``_timeout``: that one polls every 0.1 s and so adds
        # 0.1 s to every command. The command gets its own process group so that a timeout
        # kills what it started as well.
        kwargs: dict[str, object] = {
            "_bg": True,
            "_bg_exc": False,
            "_new_group": True,
            "_ok_code": list(range(256)),
            "_tty_out": False,
            "_env": cmd.env,
            "_encoding": "utf-8",
            "_decode_errors": "replace",
            "_return_cmd": True,
        }
        launch = _launch(cmd)
        # Always some input: with a callable ``_out`` and no ``_in`` the sh library gives
        # the command a pipe it keeps open for an interactive callback and polls every
        # 0.1 s, so every streamed command took 0.1 s longer (and one that reads its input
        # waited for its timeout). An empty input is what a command gets without a sink.
        kwargs["_in"] = "" if cmd.data is None else cmd.data
        lines: list[str] = []
        # sh reads the output in a thread of its own and stops 2 s after the command exits:
        # a slow ``on_line`` (the apply screen) must not hold that thread up, so the lines
        # queue here and this thread hands them on (``_stream``).
        queued: queue.SimpleQueue[object] = queue.SimpleQueue()
        if on_line is not None:
            kwargs.update(_out=queued.put, _err_to_out=True)

        def deliver(line: str) -> None:
            line = hide(line.rstrip("\n"))
            lines.append(line)
            assert on_line is not None
            on_line(line)
        command: Any = sh.Command(launch[0])
        expired = threading.Event()
        try:
            proc = command(*launch[1:], *argv[1:], **kwargs)

            def expire() -> None:
                expired.set()
                with contextlib.suppress(OSError):
                    proc.signal_group(signal.SIGKILL)

            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
            try:
                if on_line is None:
                    proc.wait()
                else:
                    _stream(proc, queued, deliver)
            except BaseException:  # Ctrl-C while waiting: leave nothing running behind
                if not expired.is_set():
                    with contextlib.suppress(OSError):
                        proc.signal_group(signal.SIGKILL)
                raise
            finally:
                timer.cancel()
            if expired.is_set():
                raise CommandError(argv, None, "", f"timed out after {timeout:g} s")
            rc = proc.exit_code
        except sh.SignalException as exc:
            if expired.is_set():
                # ``from None``: the library's own message repeats the output.
                raise CommandError(argv, None, "", f"timed out after {timeout:g} s") from None
            output = hide(_decode(exc.stdout) + _decode(exc.stderr)) or "\n".join(lines)
            if not check:
                return Result(argv, exc.exit_code, output, "")
            name = _signal_name(-exc.exit_code)
            raise CommandError(argv, exc.exit_code, output, f"killed by {name}") from None
        except sh.ForkException:
            raise CommandError(argv, None, "", "could not start (not an executable?)") from None
        except OSError as exc:
            raise CommandError(argv, None, "", f"could not start: {exc.strerror}") from None
        if on_line is not None:
            out, err = "\n".join(lines) + ("\n" if lines else ""), ""
        else:
            out, err = hide(str(proc)), hide(_decode(proc.stderr))
        failed = _exec_failure(rc, out + err)
        if failed:
            raise CommandError(argv, None, "", failed)
        result = Result(argv, rc, out, err)
        if check and rc != 0:
            raise CommandError(argv, rc, out + err)
        return result


class Reader:
    """Runs the read-only queries (``System.query``: postconf dumps and staging on a
    temporary copy, sasldblistusers2) through subprocess.

    A plan reads postconf some thirty times, and subprocess starts a command in half the
    time the sh library takes (measured: 6-8 ms against 12-14 ms for ``postconf -h``), so
    the reads go here and what apply runs on the system goes through ``ShRunner``. A query
    changes nothing and starts no daemon, so it needs no line sink and no drain of pipes
    a daemon kept open: its own process group, killed on the timeout, and PDEATHSIG.

    PDEATHSIG comes from util-linux's ``setpriv`` (``_launch``), which sets it and execs
    the query: a ``preexec_fn`` would do the same in Python, but makes subprocess fork the
    whole interpreter instead of vfork, 6 ms more for each query (measured: 14 against 8 ms
    for ``postconf -c``), and is not safe in threads. ShRunner starts its commands the same
    way (sh forks anyway; no ctypes to load for prctl). Unlike a preexec_fn, setpriv cannot
    see that the parent died before it ran (a window of microseconds): such a command runs
    to its end.
    """

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | Secret | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        on_line: LineSink | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        if on_line is not None:
            raise TypeError("Reader runs read-only queries: no line sink")
        cmd = _prepare(argv, stdin, env)
        argv = cmd.argv
        launch = _launch(cmd)
        try:
            proc = subprocess.Popen(
                [*launch, *argv[1:]], stdin=subprocess.DEVNULL if cmd.data is None
                else subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=cmd.env, process_group=0)
        except OSError as exc:
            if exc.errno == errno.ENOEXEC:
                raise CommandError(argv, None, "", "could not start (not an executable?)") from None
            raise CommandError(argv, None, "", f"could not start: {exc.strerror}") from None
        data = None if cmd.data is None else cmd.data.encode("utf-8")
        try:
            raw_out, raw_err = proc.communicate(data, timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise CommandError(argv, None, "", f"timed out after {timeout:g} s") from None
        except BaseException:  # Ctrl-C, SIGTERM's SystemExit: nothing left running
            _kill_group(proc)
            raise
        rc = proc.returncode
        out, err = cmd.hide(_decode(raw_out)), cmd.hide(_decode(raw_err))
        failed = _exec_failure(rc, err)
        if failed:
            raise CommandError(argv, None, "", failed)
        if rc < 0:
            if not check:
                return Result(argv, rc, out + err, "")
            raise CommandError(argv, rc, out + err, f"killed by {_signal_name(-rc)}") from None
        result = Result(argv, rc, out, err)
        if check and rc != 0:
            raise CommandError(argv, rc, out + err) from None
        return result


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


SETPRIV = "/usr/bin/setpriv"  # util-linux: Essential on Debian and Ubuntu
_SETPRIV_EXEC_FAILED = "setpriv: failed to execute"


def _launch(cmd: _Prepared) -> tuple[str, ...]:
    """The argv that starts ``cmd`` with PDEATHSIG: the kernel SIGKILLs it when this process
    dies (even by kill -9). setpriv sets it and execs the command; the setting does not pass
    to what the command forks itself (the daemons it starts). A file that is neither ELF nor
    a ``#!`` script is refused here: setpriv's execvp would hand it to sh."""
    try:
        with open(cmd.exe, "rb") as f:
            magic = f.read(4)
    except OSError:
        magic = b"#!"  # let the start say why
    if magic != b"\x7fELF" and not magic.startswith(b"#!"):
        raise CommandError(cmd.argv, None, "", "could not start (not an executable?)")
    return (SETPRIV, "--pdeathsig", "KILL", "--", cmd.exe)


def _exec_failure(rc: int, output: str) -> str | None:
    """Why the command could not start, when setpriv said it could not exec it."""
    if rc not in (126, 127) or not output.startswith(_SETPRIV_EXEC_FAILED):
        return None
    why = output.strip().rpartition(": ")[2]
    return "could not start (not an executable?)" if why == os.strerror(errno.ENOEXEC) \
        else f"could not start: {why}"


# What a child command may inherit: the search path, the home, the proxies apt-get needs.
# Nothing else (a password given as password_env lives in this process's environment).
INHERITED = ("PATH", "HOME", "TZ", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy",
             "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY")


def child_environment() -> dict[str, str]:
    """The environment every command starts with: INHERITED, and the C locale."""
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env.update({"LC_ALL": "C", "LANG": "C"})
    return env


_END = object()


def _stream(proc: Any, queued: queue.SimpleQueue[object],
            deliver: Callable[[str], None]) -> None:
    """Wait for ``proc`` (in a helper thread) while handing every queued line to ``deliver``
    here, until the last one; re-raise what ``proc.wait()`` raised."""
    raised: list[BaseException] = []

    def wait() -> None:
        try:
            proc.wait()
        except BaseException as exc:
            raised.append(exc)
        finally:
            queued.put(_END)

    waiter = threading.Thread(target=wait, name="command-wait", daemon=True)
    waiter.start()
    while True:
        try:
            item = queued.get(timeout=0.1)  # a timeout, so Ctrl-C gets through
        except queue.Empty:
            continue
        if item is _END:
            break
        assert isinstance(item, str)
        deliver(item)
    waiter.join()
    if raised:
        raise raised[0]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def _redactor(stdin: str | Secret | None) -> Callable[[str], str]:
    """Mask a secret's text (each of its lines) wherever a command echoes it back."""
    if not isinstance(stdin, Secret):
        return lambda text: text
    parts = sorted({p for p in stdin.reveal().splitlines() if p.strip()}, key=len, reverse=True)

    def hide(text: str) -> str:
        for part in parts:
            text = text.replace(part, MASK)
        return text

    return hide


@dataclass(frozen=True)
class FileInfo:
    mode: int
    owner: str
    group: str


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _uid(owner: str) -> int:
    return int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid


def _gid(group: str) -> int:
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


@dataclass
class System:
    """The filesystem root and the runner; everything the steps read goes through here."""

    root: Path = Path("/")
    runner: Runner = field(default_factory=ShRunner)
    # Runs the read-only queries (``query``); None: the runner does. Tests record the
    # runner's commands but let a real reader answer postconf and sasldblistusers2.
    reader: Runner | None = field(default_factory=Reader)
    # Reads of the live system that apply() never repeats (postconf dumps, user lists).
    cache: dict[str, object] = field(default_factory=dict)
    # Files as an earlier step's plan will leave them (logical path -> bytes, None = absent).
    overlay: dict[str, bytes | None] = field(default_factory=dict)
    # Whether apply() runs commands and controls services. Off by default under a sandbox
    # root, where they would act on the real machine; tests with a fake runner turn it on.
    run_commands: bool | None = None

    def __post_init__(self) -> None:
        if self.run_commands is None:
            self.run_commands = not self.sandboxed

    def with_files(self, files: dict[str, bytes | None]) -> System:
        """A view of this system in which ``files`` are already written (for chained plans)."""
        return dataclasses.replace(self, overlay={**self.overlay, **files})

    @property
    def sandboxed(self) -> bool:
        return self.root.resolve() != Path("/")

    def path(self, logical: str) -> Path:
        """Map a logical absolute path under ``root``."""
        if not logical.startswith("/"):
            raise ValueError(f"not an absolute path: {logical}")
        return self.root / logical.lstrip("/")

    def exists(self, logical: str) -> bool:
        if logical in self.overlay:
            return self.overlay[logical] is not None
        return self.path(logical).exists()

    def read_bytes(self, logical: str) -> bytes | None:
        if logical in self.overlay:
            return self.overlay[logical]
        try:
            return self.path(logical).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_text(self, logical: str) -> str | None:
        data = self.read_bytes(logical)
        return None if data is None else data.decode("utf-8", "replace")

    def info(self, logical: str) -> FileInfo | None:
        """Mode, owner and group; None if absent. A file the overlay writes keeps the mode and
        owner it has on disk, and a new one gets what ``write_atomic`` gives it."""
        if logical not in self.overlay:
            return self.disk_info(logical)
        if self.overlay[logical] is None:
            return None
        return self.disk_info(logical) or FileInfo(0o644, _owner_name(os.geteuid()),
                                                   _group_name(os.getegid()))

    def disk_info(self, logical: str) -> FileInfo | None:
        """Mode, owner and group of the file on disk, whatever the overlay says."""
        try:
            st = self.path(logical).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileInfo(stat.S_IMODE(st.st_mode), _owner_name(st.st_uid), _group_name(st.st_gid))

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    @property
    def has_systemd(self) -> bool:
        return self.path("/run/systemd/system").is_dir()

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | Secret | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        on_line: LineSink | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        """An apply-time command; ``env`` adds variables (DEBIAN_FRONTEND=noninteractive)."""
        if env is None:
            return self.runner.run(
                argv, stdin=stdin, timeout=timeout, check=check, on_line=on_line
            )
        return self.runner.run(
            argv, stdin=stdin, timeout=timeout, check=check, on_line=on_line, env=env
        )

    def query(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 20.0,
        check: bool = False,
        env: dict[str, str] | None = None,
    ) -> Result:
        """A read-only command (postconf -h, sasldblistusers2): safe in previews and tests."""
        runner = self.runner if self.reader is None else self.reader
        return runner.run(argv, timeout=timeout, check=check, env=env)

    def link_target(self, logical: str) -> str | None:
        """Where ``logical`` points when it is a symbolic link (dangling or not), else None."""
        try:
            return os.readlink(self.path(logical))
        except (FileNotFoundError, NotADirectoryError, OSError):
            return None

    def refuse_link(self, logical: str) -> None:
        """Raise UnsafeFile when a symbolic link stands where a file should be.

        A link in a directory another user can write (/etc/dkimkeys is opendkim's) would make
        root write, chown or chmod whatever it names (/etc/shadow)."""
        target = self.link_target(logical)
        if target is not None:
            raise UnsafeFile(
                f"{logical} is a symbolic link (to {target}), not a file: mailwizard never "
                "writes through a link; remove the link (or put the real file there) and "
                "run again")

    def read_nofollow(self, logical: str) -> bytes | None:
        """The bytes of a regular file, never through a link (UnsafeFile); None if absent."""
        fd = self._open_nofollow(logical)
        if fd is None:
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def _open_nofollow(self, logical: str) -> int | None:
        try:
            fd = os.open(self.path(logical), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.refuse_link(logical)
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise UnsafeFile(f"{logical} is not a regular file")
        return fd

    def set_meta(self, logical: str, *, mode: int, owner: str, group: str) -> None:
        """chmod and chown a regular file through its open descriptor: a link put there
        (or a second hard link to another file) is refused, never followed."""
        fd = self._open_nofollow(logical)
        if fd is None:
            raise FileNotFoundError(f"{logical} does not exist")
        try:
            if os.fstat(fd).st_nlink != 1:
                raise UnsafeFile(f"{logical} has other hard links: mailwizard will not "
                                 "change its owner or mode; remove the extra links")
            if os.geteuid() == 0:
                os.fchown(fd, _uid(owner), _gid(group))
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def write_atomic(
        self,
        logical: str,
        data: bytes,
        *,
        mode: int | None = None,
        owner: str | None = None,
        group: str | None = None,
        replace_link: bool = False,
    ) -> None:
        """Write via a temp file in the same directory, fsync, rename.

        Keeps the old file's mode and owner unless others are given; a new file gets 0644 root.
        All through descriptors: the temp file is created O_EXCL|O_NOFOLLOW, chmod and chown
        act on its fd, the rename is relative to the directory's fd. A symbolic link at
        ``logical`` is refused (UnsafeFile) unless ``replace_link`` (restore: the rename
        replaces the link itself, never what it names).
        """
        target = self.path(logical)
        target.parent.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                old: os.stat_result | None = os.stat(target.name, dir_fd=dir_fd,
                                                     follow_symlinks=False)
            except FileNotFoundError:
                old = None
            if old is not None and stat.S_ISLNK(old.st_mode):
                if not replace_link:
                    self.refuse_link(logical)
                old = None
            tmp = f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb", closefd=False) as fh:
                    fh.write(data)
                    fh.flush()
                final_mode = mode if mode is not None else (
                    stat.S_IMODE(old.st_mode) if old else 0o644)
                uid = _uid(owner) if owner else (old.st_uid if old else -1)
                gid = _gid(group) if group else (old.st_gid if old else -1)
                if os.geteuid() == 0 and (uid != -1 or gid != -1):
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, final_mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, target.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
            os.fsync(dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError, UnboundLocalError, OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        finally:
            os.close(dir_fd)

    def remove(self, logical: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(logical).unlink()
