"""Start, reload and restart daemons the way this machine does it.

systemd where it runs (/run/systemd/system exists); otherwise the daemons' own commands,
as in containers and in the integration tests' namespaces.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from typing import Literal

from mailwizard import postfix
from mailwizard.system import Result, System

Action = Literal["reload", "restart"]

OPENDKIM_CONF = "/etc/opendkim.conf"
OPENDKIM_PIDFILE = "/run/opendkim/opendkim.pid"


def postfix_running(system: System) -> bool:
    """Whether Postfix's master runs: it holds an exclusive flock on its pidfile for as long
    as it lives. ``postfix status`` asks the same of ``master -t``, through a shell script
    that starts postconf and master (35 ms); testing the lock here takes 0.1 ms."""
    pidfile = system.path(f"{_queue_directory(system)}/pid/master.pid")
    try:
        fd = os.open(pidfile, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False  # never started here (or its queue is gone)
    except OSError:  # not ours to open as we are: let Postfix's own command tell
        return system.query(["postfix", "status"]).ok
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # a lock we got goes with the descriptor
    return False


def _queue_directory(system: System) -> str:
    """main.cf's queue_directory; Debian's default unless main.cf names it (no postconf start
    for the common case; when it does, the dump is usually cached from the plan)."""
    main = system.read_bytes(postfix.MAIN_CF) or b""
    if b"queue_directory" not in main:
        return "/var/spool/postfix"
    return postfix.get(system, "queue_directory") or "/var/spool/postfix"


def is_daemon(pid: int, name: str) -> bool:
    """Whether process ``pid`` runs the program ``name`` (/proc/PID/exe is its binary).

    A pidfile in a directory the daemon's user can write may name any process: root must
    not signal what it names without this check."""
    binary = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if binary is None:
        return False
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    exe = exe.removesuffix(" (deleted)")  # the package was upgraded under it
    return os.path.realpath(exe) == os.path.realpath(binary)


def _pid(system: System, pidfile: str, name: str) -> int | None:
    """The PID in ``pidfile`` when that process is ``name``; else None."""
    try:
        data = system.read_nofollow(pidfile)
    except OSError:
        return None
    text = (data or b"")[:32].decode("ascii", "replace").strip()
    if not text.isdigit() or int(text) <= 1:
        return None
    pid = int(text)
    return pid if is_daemon(pid, name) else None


def opendkim_pid(system: System) -> int | None:
    return _pid(system, OPENDKIM_PIDFILE, "opendkim")


def opendkim_running(system: System) -> bool:
    if system.has_systemd:
        return system.query(["systemctl", "is-active", "--quiet", "opendkim"]).ok
    return opendkim_pid(system) is not None


def running(system: System, service: str) -> bool:
    """Whether ``service`` runs now (postfix status; opendkim's verified pidfile or its unit)."""
    if service == "postfix":
        return postfix_running(system)
    if service == "opendkim":
        return opendkim_running(system)
    if system.has_systemd:
        return system.query(["systemctl", "is-active", "--quiet", service]).ok
    raise ValueError(f"no way to tell whether {service} runs without systemd")


def wait_running(system: System, service: str, seconds: float = 5.0) -> bool:
    """``running``, allowing a daemon that forks a moment to write its pidfile."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        if running(system, service):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def stop(system: System, service: str) -> None:
    """Stop ``service`` (a restore stopping a daemon the apply started)."""
    if system.has_systemd:
        system.run(["systemctl", "stop", service], timeout=90)
    elif service == "postfix":
        system.run(["postfix", "stop"], timeout=90)
    elif service == "opendkim":
        pid = opendkim_pid(system)
        if pid is not None:  # verified: this PID runs /usr/sbin/opendkim
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
    else:
        raise ValueError(f"no way to stop {service} without systemd")


def start_commands(system: System, service: str) -> list[tuple[str, ...]]:
    """The argvs that start a stopped ``service`` (for a plan the admin reviews)."""
    if system.has_systemd:
        return [("systemctl", "restart", service)]
    if service == "opendkim":
        return [("install", "-d", "-o", "opendkim", "-g", "opendkim", "-m", "750",
                 "/run/opendkim"),
                ("opendkim", "-x", OPENDKIM_CONF, "-P", OPENDKIM_PIDFILE)]
    if service == "postfix":
        return [("postfix", "start")]
    raise ValueError(f"no way to start {service} without systemd")


def control(system: System, service: str, action: Action, *,
            running: bool | None = None) -> list[Result]:
    """Reload or restart ``service``; start it when it is not running (``running``: known
    already, so not asked again; None: ask)."""
    if system.has_systemd:
        verb = "reload-or-restart" if action == "reload" else "restart"
        return [system.run(["systemctl", verb, service], timeout=90)]
    if service == "postfix":
        if not (postfix_running(system) if running is None else running):
            return [system.run(["postfix", "start"], timeout=90)]
        if action == "reload":
            return [system.run(["postfix", "reload"], timeout=90)]
        return [system.run(["postfix", "stop"], timeout=90),
                system.run(["postfix", "start"], timeout=90)]
    if service == "opendkim":
        pid = opendkim_pid(system)
        if pid is not None:  # verified: this PID runs /usr/sbin/opendkim
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)
        return [system.run(list(argv), timeout=30) for argv in start_commands(system, service)]
    raise ValueError(f"no way to control {service} without systemd")


def _wait_gone(pid: int, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
