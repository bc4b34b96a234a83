"""Isolated Linux namespaces for the integration tests.

A :class:`Namespace` is one long-lived set of mount, network, UTS and PID
namespaces in which real Postfix, opendkim and nsd can run on loopback without
touching the machine's own mail set-up:

* /etc, /var/spool/postfix, /var/lib/postfix, /var/mail, /var/log, /run,
  /var/backups, /var/lib/opendkim and /var/cache/debconf (when present) are
  overlayfs mounts whose upper layer lives on a private tmpfs: writes inside never
  reach the disk;
* the network is a fresh one with only ``lo`` (up), so nothing leaves the machine;
* the hostname is the test's own; /etc/resolv.conf says ``nameserver 127.0.0.1``;
* every process started inside dies with the namespace's init (``--pid``).

Commands run inside through ``nsenter`` (:meth:`Namespace.run`, a bash script
with the helper functions of :data:`HELPERS` defined), Python callables through
``fork`` + ``setns`` (:meth:`Namespace.call`). /tmp is shared with the host, and
:attr:`Namespace.tmp` is a private-to-the-test directory visible on both sides.

Anything missing (root, unshare, overlayfs) raises :class:`NsEnvError`: the
integration tests fail loudly instead of being skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import pickle
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "HELPERS",
    "OVERLAY_DIRS",
    "SYSTEMD_ENABLED",
    "SYSTEMD_MASKED",
    "SYSTEMD_OVERLAYS",
    "Namespace",
    "NsCommandError",
    "NsEnvError",
    "NsTimeoutError",
    "pids_in_pid_namespace",
    "run_in_ns",
]

T = TypeVar("T")

OVERLAY_DIRS: tuple[str, ...] = (
    "/etc",
    "/var/spool/postfix",
    "/var/lib/postfix",
    "/var/mail",
    "/var/log",
    "/run",
    "/var/backups",
    "/var/lib/opendkim",
    # make-ssl-cert and debconf-set-selections take debconf's lock: shared, a namespace
    # (or apt on the host) holding it failed another's apply, and writes reached the host.
    "/var/cache/debconf",
)
"""Directories made copy-on-write inside the namespace (missing ones are skipped)."""

SYSTEMD_OVERLAYS: tuple[str, ...] = ("/etc", "/var", "/root")
"""What a booted systemd writes to (with a private /run, /tmp, /dev, read-only /sys)."""

SYSTEMD_MASKED: tuple[str, ...] = (
    # Nothing takes the console; nothing of the host's own services or timers runs.
    "getty@tty1.service", "console-getty.service", "serial-getty@.service", "getty.target",
    "nsd.service", "postgresql.service", "systemd-timesyncd.service", "e2scrub_reap.service",
    "systemd-pstore.service", "apt-daily.timer", "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer", "man-db.timer",
    # Kernel-wide settings are the host's (/proc/sys is read-only inside as well).
    "systemd-sysctl.service", "systemd-modules-load.service", "systemd-binfmt.service",
)
"""Units masked in the booted namespace's /etc (an overlay)."""

SYSTEMD_ENABLED: tuple[str, ...] = ("postfix.service", "opendkim.service")
"""Units unmasked and enabled in the booted namespace's /etc, whatever the host's state."""

CGROUP_PARENT = "/sys/fs/cgroup/unified"
"""The host's cgroup2 hierarchy: each booted namespace gets a cgroup (and cgroup namespace)
of its own under it, so its systemd manages only its own subtree."""

CHECKOUT = Path(__file__).resolve().parents[2]
"""This checkout: the tests run its code inside (CI clones it under /tmp)."""

PRIVATE_DIR = "/run/mailwizard-test"
"""A scratch directory that exists only inside the namespace (under the /run overlay)."""

_TOOLS = ("unshare", "nsenter", "mount", "ip", "hostname", "bash")
_READY = "MW-NSENV-READY"
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWPID = 0x20000000
_NS_KINDS = (
    ("net", _CLONE_NEWNET),
    ("uts", _CLONE_NEWUTS),
    ("pid", _CLONE_NEWPID),
    ("mnt", _CLONE_NEWNS),
)


class NsEnvError(RuntimeError):
    """The isolated environment cannot be created or has died."""


class NsCommandError(AssertionError):
    """A command inside the namespace exited non-zero (``run(..., check=True)``)."""

    def __init__(self, result: subprocess.CompletedProcess[str], script: str) -> None:
        self.result = result
        self.script = script
        super().__init__(
            f"command in namespace exited {result.returncode}\n"
            f"--- script ---\n{script.strip()}\n"
            f"--- stdout ---\n{_tail(result.stdout)}\n"
            f"--- stderr ---\n{_tail(result.stderr)}"
        )


class NsTimeoutError(NsCommandError):
    """A command inside the namespace ran longer than its timeout and was killed."""


# Bash helpers defined for every script run by Namespace.run().
HELPERS = r"""
mw_die() { printf 'mw: %s\n' "$*" >&2; exit 1; }

# mw_wait_for TIMEOUT CMD...: run CMD every 0.2 s until it succeeds; 1 after TIMEOUT seconds.
mw_wait_for() {
  local deadline=$(( SECONDS + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

# mw_listening tcp|udp PORT: something listens on 127.0.0.1:PORT (or on all addresses).
mw_listening() {
  local flag=-t; [ "$1" = udp ] && flag=-u
  [ -n "$(ss -Hln "$flag" "sport = :$2")" ]
}

# mw_wait_port PORT [TIMEOUT]: wait until a TCP server listens on PORT.
mw_wait_port() {
  local timeout=${2:-15}
  mw_wait_for "$timeout" mw_listening tcp "$1" || mw_die "no listener on tcp/$1 after ${timeout}s"
}

# mw_maillog: the path of Postfix's log (syslog's mail.log, else maillog_file).
mw_maillog() {
  if [ -e /var/log/mail.log ]; then echo /var/log/mail.log; else postconf -h maillog_file; fi
}

# mw_maillog_text: Postfix's log of this boot: the journal's mail facility under systemd
# (no syslog daemon there), else the file of mw_maillog.
mw_maillog_text() {
  if [ -d /run/systemd/system ]; then
    journalctl -b --no-pager -o short SYSLOG_FACILITY=2
  else
    cat "$(mw_maillog)"
  fi
}

# mw_backdate_main_cf: a Postfix program reading a main.cf modified within the last ~2 s
# re-reads it every 0.3 s until it is older (a guard against half-written files): backdate it.
# (No postconf here: it would wait too.)
mw_backdate_main_cf() {
  touch -d "@$(( $(date +%s) - 10 ))" "${MAIL_CONFIG:-/etc/postfix}/main.cf"
}

# mw_boot: hostname files, Debian's chroot set-up, a log file without syslog, postfix start.
mw_boot() {
  local stopped=no
  # master -t exits 0 when no master runs ("postfix status" logs, slowly, without postlogd).
  "$(postconf -h daemon_directory)/master" -t 2>/dev/null && stopped=yes
  hostname "$MW_HOSTNAME"
  printf '%s\n' "$MW_HOSTNAME" > /etc/hostname
  /usr/lib/postfix/configure-instance.sh -
  if [ ! -e /var/log/mail.log ] && [ -z "$(postconf -h maillog_file)" ]; then
    postconf -e maillog_file=/var/log/postfix.log
    mw_backdate_main_cf
  fi
  if [ "$stopped" = yes ]; then postfix start; else postfix reload; fi
  mw_wait_port 25
}

# mw_nsd ZONE_TEXT [ORIGIN]: serve the zone (added to any served before) on 127.0.0.1:53.
mw_nsd() {
  local text=$1 origin=${2:-} d=$MW_PRIVATE/nsd
  [ -n "$origin" ] || origin=$(awk '$1 == "$ORIGIN" { print $2; exit }' <<<"$text")
  [ -n "$origin" ] || mw_die "mw_nsd: give ORIGIN or start the zone with \$ORIGIN"
  origin=${origin%.}
  mkdir -p "$d/zones"
  printf '%s\n' "$text" > "$d/zones/$origin.zone"
  nsd-checkzone "$origin" "$d/zones/$origin.zone" >&2 || mw_die "mw_nsd: zone $origin does not load"
  _mw_nsd_conf "$d" > "$d/nsd.conf"
  nsd-checkconf "$d/nsd.conf" || mw_die "mw_nsd: bad nsd.conf"
  if [ -s "$d/nsd.pid" ] && kill "$(cat "$d/nsd.pid")" 2>/dev/null; then
    mw_wait_for 10 eval '! mw_listening udp 53' || mw_die "mw_nsd: old nsd did not stop"
  fi
  nsd -c "$d/nsd.conf" || mw_die "mw_nsd: nsd did not start; see $d/nsd.log"
  rm -f /etc/resolv.conf; printf 'nameserver 127.0.0.1\n' > /etc/resolv.conf
  mw_wait_for 10 mw_listening udp 53 || mw_die "mw_nsd: nsd not listening; see $d/nsd.log"
}

_mw_nsd_conf() {
  local d=$1 z name
  cat <<EOF
server:
  ip-address: 127.0.0.1
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  server-count: 1
  database: ""
  zonesdir: "$d/zones"
  zonelistfile: "$d/zone.list"
  xfrdfile: "$d/xfrd.state"
  xfrdir: "$d"
  pidfile: "$d/nsd.pid"
  logfile: "$d/nsd.log"
  verbosity: 1
remote-control:
  control-enable: no
EOF
  for z in "$d"/zones/*.zone; do
    name=$(basename "$z" .zone)
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$name" "$z"
  done
}

# mw_wait_mail FILE PATTERN [TIMEOUT]: wait until FILE contains the (extended) regex PATTERN.
mw_wait_mail() {
  local file=$1 pattern=$2 timeout=${3:-20}
  if mw_wait_for "$timeout" grep -qE -- "$pattern" "$file"; then return 0; fi
  {
    echo "mw_wait_mail: '$pattern' not in $file after ${timeout}s"
    echo "--- queue ---"; postqueue -p 2>&1 || true
    echo "--- log ---"; mw_maillog_text 2>&1 | tail -n 30 || true
  } >&2
  return 1
}
"""

_INIT = r"""
set -euo pipefail
mount --make-rprivate /
mount -t tmpfs -o mode=0700 mw-nsenv "$MW_LAYERS"
for dir in $MW_OVERLAYS; do
  [ -d "$dir" ] || continue
  layer=$MW_LAYERS/$(printf '%s' "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  chown --reference="$dir" "$layer/upper"
  chmod --reference="$dir" "$layer/upper"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
ip link set lo up
hostname "$MW_HOSTNAME"
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\n' > /etc/resolv.conf
mkdir -p -m 0755 "$MW_PRIVATE"
echo "$MW_READY"
exec >/dev/null 2>&1
while read -r _; do :; done
"""

# The booted variant: overlays, then a private /dev, /tmp (the shared directory, and the
# checkout, venv and cwd when they are under /tmp, bound at their own paths: $MW_TMP_BINDS;
# systemd-tmpfiles empties /tmp at boot and stops at mount points), /run, a
# read-only /sys with the cgroup namespace's cgroup2 on /sys/fs/cgroup, a read-only
# /proc/sys; the gettys and the host's services masked; then systemd as PID 1. Its
# /dev/console is a pty of the test's ($MW_CONSOLE_TTY; systemd wants a terminal there, a
# file makes it fall back to /dev/null): what it prints is copied to Namespace.console.
_SYSTEMD_INIT = r"""
set -euo pipefail
trap 'echo "namespace init: line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
L=$MW_LAYERS
mount --make-rprivate /
mount -t tmpfs -o mode=0700 mw-nsenv "$L"
for dir in $MW_OVERLAYS; do
  layer=$L/$(printf '%s' "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  chown --reference="$dir" "$layer/upper"
  chmod --reference="$dir" "$layer/upper"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
mkdir -p "$L/dev"
mount -t tmpfs -o mode=0755,nosuid dev "$L/dev"
for n in null zero full random urandom tty; do
  touch "$L/dev/$n"; mount --bind "/dev/$n" "$L/dev/$n"
done
touch "$L/dev/console"; mount --bind "$MW_CONSOLE_TTY" "$L/dev/console"
mkdir -p "$L/dev/pts" "$L/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$L/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$L/dev/shm"
ln -s pts/ptmx "$L/dev/ptmx"; ln -s /proc/self/fd "$L/dev/fd"
for i in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${i%%:*}" "$L/dev/${i#*:}"; done
mount --move "$L/dev" /dev
mkdir -p "$L/tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$L/tmp"
while IFS= read -r dir; do
  [ -n "$dir" ] || continue
  mkdir -p "$L/tmp${dir#/tmp}"
  mount --bind "$dir" "$L/tmp${dir#/tmp}"
done <<<"$MW_TMP_BINDS"
mount --move "$L/tmp" /tmp
mount -t tmpfs -o mode=0755,nosuid,nodev run /run
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
ip link set lo up
hostname "$MW_HOSTNAME"
printf '%s\n' "$MW_HOSTNAME" > /etc/hostname
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\n' > /etc/resolv.conf
for unit in $MW_MASKED; do ln -sf /dev/null "/etc/systemd/system/$unit"; done
# The daemons under test start at boot whatever the host did to them (masked, disabled).
mkdir -p /etc/systemd/system/multi-user.target.wants
for unit in $MW_ENABLED; do
  rm -f "/etc/systemd/system/$unit"
  ln -sf "/lib/systemd/system/$unit" "/etc/systemd/system/multi-user.target.wants/$unit"
done
# A machine ID of its own: journald writes /var/log/journal/<ID>, and journalctl reads only
# this machine's files, never the host's journal (the same boot ID) in the /var overlay.
rm -f /etc/machine-id
tr -d - </proc/sys/kernel/random/uuid >/etc/machine-id
mkdir -p /etc/systemd/system.conf.d
printf '[Manager]\nShowStatus=yes\n' > /etc/systemd/system.conf.d/mailwizard-test.conf
eval "$MW_BEFORE_BOOT"
mkdir -p -m 0755 "$MW_PRIVATE"
echo "$MW_READY"
exec </dev/null >/dev/console 2>&1
exec env -i container=mailwizard-test /lib/systemd/systemd
"""


class Namespace:
    """One isolated mount+net+UTS+PID namespace, alive until :meth:`close`.

    ``systemd=True`` boots Debian's systemd as PID 1 (also new IPC and cgroup namespaces,
    :data:`SYSTEMD_OVERLAYS`, :data:`SYSTEMD_MASKED`); ``start()`` returns once
    ``systemctl is-system-running`` says ``running``. Its /tmp is private: of the host's
    /tmp it sees only :attr:`tmp`, and this checkout, the running Python's prefix, the cwd
    and ``host_paths`` where they lie under /tmp; ``before_boot`` is a bash snippet run in
    the namespace (overlays mounted) just before systemd starts. Use as a context manager;
    ``start()`` fails loudly (:class:`NsEnvError`, with systemd's console and journal when
    the boot fails) and leaves nothing behind when it does.
    """

    def __init__(
        self,
        hostname: str = "mail.example.com",
        overlays: Sequence[str] | None = None,
        start_timeout: float = 30.0,
        *,
        systemd: bool = False,
        host_paths: Sequence[str | os.PathLike[str]] = (),
        before_boot: str = "",
    ) -> None:
        self.hostname = hostname
        self.systemd = systemd
        self.host_paths = tuple(Path(p) for p in host_paths)
        self.before_boot = before_boot
        default = SYSTEMD_OVERLAYS if systemd else OVERLAY_DIRS
        self.overlays = tuple(default if overlays is None else overlays)
        self.start_timeout = start_timeout
        self.boot_seconds = 0.0
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._init_pid = 0
        self._cgroup: Path | None = None
        self._pty: tuple[int, int] | None = None  # (master, slave) of systemd's console
        self._console_copier: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------

    def __enter__(self) -> Namespace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Namespace:
        """Create the namespaces, overlays and loopback; return self once ready."""
        if self._proc is not None:
            raise NsEnvError("namespace already started")
        _preflight()
        self._tmp = Path(tempfile.mkdtemp(prefix="mw-nsenv-"))
        self._tmp.chmod(0o755)
        (self._tmp / ".layers").mkdir()
        (self._tmp / "helpers.sh").write_text(HELPERS)
        (self._tmp / "init.sh").write_text(_SYSTEMD_INIT if self.systemd else _INIT)
        self.console.touch()
        try:
            if self.systemd:
                self._open_console()
            self._spawn()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """End the namespace (killing every process in it) and remove :attr:`tmp`."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if self.systemd and self._init_pid and proc.poll() is None:
                # PID 1 of the namespace killed: the kernel kills every process in it.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._init_pid, signal.SIGKILL)
            _stop(proc)
        self._init_pid = 0
        self._close_console()
        cgroup, self._cgroup = self._cgroup, None
        if cgroup is not None:
            _remove_cgroup(cgroup)
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    @property
    def tmp(self) -> Path:
        """A directory under /tmp seen by the test and the namespace alike (``$MW_SHARED``)."""
        if self._tmp is None:
            raise NsEnvError("namespace is not started")
        return self._tmp

    @property
    def console(self) -> Path:
        """What the booted systemd printed on its /dev/console (status lines, its errors)."""
        return self.tmp / "console.log"

    def _open_console(self) -> None:
        """A pty for systemd's console; a thread copies what it prints to :attr:`console`.

        The slave stays open here until :meth:`close`, so the master never sees a hang-up."""
        master, slave = os.openpty()
        self._pty = (master, slave)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        log = self.console

        def copy() -> None:
            with log.open("ab", buffering=0) as out:
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EBADF/EIO: closed
                        return
                    if not chunk:
                        return
                    out.write(chunk)

        self._console_copier = threading.Thread(target=copy, name="systemd-console",
                                                daemon=True)
        self._console_copier.start()

    def _close_console(self) -> None:
        pty, self._pty = self._pty, None
        copier, self._console_copier = self._console_copier, None
        if pty is None:
            return
        master, slave = pty
        os.close(slave)  # no slave left open: the copier's read ends (EIO) once drained
        if copier is not None:
            copier.join(timeout=5)
        os.close(master)

    def tmp_binds(self) -> list[Path]:
        """Host directories under /tmp that a booted namespace's private /tmp shows.

        :attr:`tmp`, this checkout, ``sys.prefix`` (the venv), the cwd and ``host_paths``,
        where they are under /tmp; a directory inside another listed one is left out."""
        root = Path("/tmp").resolve()
        wanted = [self.tmp, CHECKOUT, Path(sys.prefix), Path.cwd(), *self.host_paths]
        under = sorted({p.resolve() for p in wanted
                        if p.resolve().is_relative_to(root) and p.resolve() != root})
        binds: list[Path] = []
        for path in under:  # sorted: a parent comes before what is inside it
            if not any(path.is_relative_to(b) for b in binds):
                binds.append(path)
        if root != Path("/tmp"):
            binds = [Path("/tmp") / b.relative_to(root) for b in binds]
        return binds

    @property
    def init_pid(self) -> int:
        """The host PID of the namespace's init (PID 1 inside)."""
        if self._proc is None or self._proc.poll() is not None or not self._init_pid:
            raise NsEnvError("namespace is not running")
        return self._init_pid

    @property
    def pid_namespace(self) -> str:
        """The PID namespace's identity, e.g. ``pid:[4026532291]``."""
        return os.readlink(f"/proc/{self.init_pid}/ns/pid")

    def alive(self) -> bool:
        """Whether the namespace's init still runs."""
        return self._proc is not None and self._proc.poll() is None

    # -- running things inside ---------------------------------------------

    def run(
        self,
        script: str,
        *,
        timeout: float = 60.0,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a bash script inside (``set -euo pipefail``, :data:`HELPERS` defined).

        The script sees the test's environment and cwd, plus ``$MW_HOSTNAME``,
        ``$MW_SHARED`` (:attr:`tmp`) and ``$MW_PRIVATE`` (a directory only inside).
        Raises :class:`NsCommandError` on a non-zero exit when ``check``, and
        :class:`NsTimeoutError` (after killing the script) past ``timeout``.
        """
        path = self._script_file(script)
        argv = [*self._nsenter(), "bash", "--noprofile", "--norc", str(path)]
        stdin = subprocess.DEVNULL if input is None else subprocess.PIPE
        with subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_below(proc.pid)
                try:
                    out, err = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    out, err = proc.communicate()
                err += f"\nmw: killed after {timeout}s"
                raise NsTimeoutError(
                    subprocess.CompletedProcess(argv, -9, out, err), script
                ) from None
            finally:
                path.unlink(missing_ok=True)
        result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if check and result.returncode != 0:
            raise NsCommandError(result, script)
        return result

    def boot(self, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Start Postfix inside (``mw_boot``) and wait until port 25 listens.

        Under systemd Postfix started at boot (``postfix@-``): it is reloaded through
        systemctl (what a test set up before is live, as after ``mw_boot``), then port 25."""
        if self.systemd:
            return self.run("systemctl reload postfix\nmw_wait_port 25", timeout=timeout)
        return self.run("mw_boot", timeout=timeout)

    def call(self, fn: Callable[..., T], /, *args: Any, timeout: float = 60.0, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` in a forked child that has entered the namespaces.

        The result (or the exception, with its traceback as a note) comes back
        pickled. The child's PID is outside; processes it starts are inside.
        """
        fds = _open_namespaces(self.init_pid)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            os.close(read_fd)
            _child(fds, write_fd, functools.partial(fn, *args, **kwargs))
        for fd in (write_fd, *fds):
            os.close(fd)
        try:
            data = _read_all(read_fd, pid, timeout)
        finally:
            os.close(read_fd)
        status, value = pickle.loads(data)
        if status == "err":
            raise value
        return value  # type: ignore[no-any-return]

    # -- internals --------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PATH", "/usr/bin:/bin")
        for sbin in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
            if sbin not in path.split(":"):
                path += ":" + sbin
        env.update(
            PATH=path,
            MW_HOSTNAME=self.hostname,
            MW_SHARED=str(self.tmp),
            MW_LAYERS=str(self.tmp / ".layers"),
            MW_OVERLAYS=" ".join(self.overlays),
            MW_READY=_READY,
            MW_PRIVATE=PRIVATE_DIR,
            MW_MASKED=" ".join(SYSTEMD_MASKED),
            MW_ENABLED=" ".join(SYSTEMD_ENABLED),
            MW_BEFORE_BOOT=self.before_boot,
            MW_CONSOLE_TTY=os.ttyname(self._pty[1]) if self._pty else "/dev/null",
            MW_TMP_BINDS="\n".join(str(p) for p in self.tmp_binds()) if self.systemd else "",
        )
        return env

    def _script_file(self, script: str) -> Path:
        """Write the script to a file in tmp, the preamble on its line 1 (line numbers hold)."""
        fd, name = tempfile.mkstemp(prefix="run-", suffix=".sh", dir=self.tmp)
        with os.fdopen(fd, "w") as f:
            f.write(f"set -euo pipefail; source {self.tmp / 'helpers.sh'}; {script}\n")
        return Path(name)

    def _nsenter(self) -> list[str]:
        target = str(self.init_pid)
        extra = ["-i", "-C"] if self.systemd else []
        return ["nsenter", "-t", target, "-m", "-n", "-u", "-p", *extra, f"--wd={os.getcwd()}"]

    def _spawn(self) -> None:
        preexec: Callable[[], None] | None = None
        namespaces = ["--ipc", "--cgroup"] if self.systemd else []
        if self.systemd:
            cgroup = _make_cgroup(self.tmp.name)
            self._cgroup = cgroup

            def preexec() -> None:  # the cgroup namespace's root is this cgroup
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))

        argv = [
            "unshare",
            *namespaces,
            "--mount",
            "--net",
            "--uts",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "bash",
            "--noprofile",
            "--norc",
            str(self.tmp / "init.sh"),
        ]
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self._env(),
            preexec_fn=preexec,
        )
        _await_ready(self._proc, self.start_timeout)
        self._init_pid = _child_pid(self._proc.pid)
        if self.systemd:
            self.boot_seconds = self._await_running()
            self._check_binds()

    def _await_running(self) -> float:
        """Wait until systemd inside says ``running``; the seconds it took."""
        started = time.monotonic()
        deadline = started + self.start_timeout
        state = ""
        while time.monotonic() < deadline:
            result = subprocess.run(
                [*self._nsenter(), "systemctl", "is-system-running", "--wait"],
                capture_output=True, text=True, env=self._env(), check=False,
                timeout=max(1.0, deadline - time.monotonic()),
            )
            state = result.stdout.strip()
            if state == "running":
                return time.monotonic() - started
            if state in ("degraded", "maintenance", "stopping"):
                break
            if not self._init_alive():
                raise NsEnvError("systemd (PID 1 of the namespace) died while booting\n"
                                 + self._boot_report(inside=False))
            time.sleep(0.1)  # its private socket is not there yet
        raise NsEnvError(f"systemd did not reach 'running' (state {state or 'unknown'!r}) "
                         f"within {self.start_timeout}s\n" + self._boot_report())

    def _init_alive(self) -> bool:
        return self.alive() and Path(f"/proc/{self._init_pid}").exists()

    def _inside(self, *argv: str) -> str:
        """stdout and stderr of a command inside, for a report (never raises)."""
        try:
            result = subprocess.run([*self._nsenter(), *argv], capture_output=True, text=True,
                                    env=self._env(), check=False, timeout=20)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"({' '.join(argv)}: {exc})"
        return (result.stdout + result.stderr).strip()

    def _boot_report(self, *, inside: bool = True) -> str:
        """What a failed boot shows: failed units, PID 1's journal, the console."""
        parts = []
        if inside and self._init_alive():
            failed = self._inside("systemctl", "--failed", "--no-pager", "--no-legend",
                                  "--plain")
            parts.append("--- failed units (systemctl --failed) ---\n" + failed)
            for unit in [line.split()[0] for line in failed.splitlines() if line.strip()][:5]:
                parts.append(f"--- journal of {unit} ---\n" + _tail(self._inside(
                    "journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-u", unit), 20))
            parts.append("--- jobs still queued (systemctl list-jobs) ---\n"
                         + self._inside("systemctl", "list-jobs", "--no-pager", "--no-legend"))
            parts.append("--- journal, warnings and worse ---\n" + _tail(self._inside(
                "journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-p", "warning"), 40))
        try:
            console = _plain(self.console.read_bytes().decode(errors="replace"))
        except OSError as exc:
            console = f"({exc})"
        parts.append(f"--- systemd's console ---\n{_tail(console, 60)}")
        return "\n".join(parts)

    def _check_binds(self) -> None:
        """Each host directory meant to be seen inside is there (NsEnvError naming it)."""
        binds = self.tmp_binds()
        script = "for d; do [ -d \"$d\" ] || echo \"$d\"; done"
        missing = self._inside("bash", "-c", script, "-", *map(str, binds))
        if missing:
            raise NsEnvError("host directories not visible in the booted namespace's private "
                             f"/tmp: {missing.splitlines()} (bound: {[str(b) for b in binds]})")


def run_in_ns(
    script: str, *, timeout: float = 120.0, hostname: str = "mail.example.com"
) -> subprocess.CompletedProcess[str]:
    """Run one script in a fresh namespace that ends with it (``check=False``)."""
    with Namespace(hostname) as ns:
        return ns.run(script, timeout=timeout, check=False)


def pids_in_pid_namespace(ns_id: str) -> list[int]:
    """Host PIDs of the processes whose PID namespace is ``ns_id``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") == ns_id:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


# -- helpers ------------------------------------------------------------------


def _preflight() -> None:
    """Raise NsEnvError unless root, the tools and overlayfs are available."""
    if os.geteuid() != 0:
        raise NsEnvError("the integration tests need root (unshare, mount, overlayfs)")
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        tools = ", ".join(missing)
        raise NsEnvError(f"missing tools for the namespace: {tools} (util-linux, iproute2)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        if shutil.which("modprobe"):
            subprocess.run(["modprobe", "overlay"], check=False, capture_output=True)
        if "overlay" not in Path("/proc/filesystems").read_text():
            raise NsEnvError("the kernel has no overlayfs (overlay not in /proc/filesystems)")


def _make_cgroup(name: str) -> Path:
    """A cgroup of its own for a booted namespace (NsEnvError without a cgroup2 hierarchy)."""
    parent = Path(CGROUP_PARENT)
    if not (parent / "cgroup.procs").exists():
        parent = Path("/sys/fs/cgroup")
    if not (parent / "cgroup.procs").exists() or not (parent / "cgroup.subtree_control").exists():
        raise NsEnvError("no cgroup2 hierarchy at /sys/fs/cgroup/unified or /sys/fs/cgroup: "
                         "a booted systemd needs one")
    cgroup = parent / name
    cgroup.mkdir()
    return cgroup


def _remove_cgroup(cgroup: Path) -> None:
    """rmdir the namespace's cgroup tree, deepest first (its processes are gone)."""
    for _ in range(50):
        dirs = sorted((p for p in cgroup.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True)
        try:
            for d in [*dirs, cgroup]:
                d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last processes exit
            time.sleep(0.1)


def _await_ready(proc: subprocess.Popen[str], timeout: float) -> None:
    """Wait for the READY line of the namespace's init; raise with its stderr if it dies."""
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if line.strip() == _READY:
            proc.stdout.close()
            proc.stderr.close()
            return
        if not line:
            proc.wait(timeout=5)
            detail = proc.stderr.read()
            raise NsEnvError(f"namespace set-up failed (exit {proc.returncode}):\n{detail}")
    proc.kill()
    raise NsEnvError(f"namespace set-up did not finish within {timeout}s")


def _child_pid(parent: int) -> int:
    """The PID of the single child of ``parent`` (unshare's forked init)."""
    pids = [pid for pid, ppid, _ in _processes() if ppid == parent]
    if len(pids) != 1:
        raise NsEnvError(f"expected one child of unshare ({parent}), found {pids}")
    return pids[0]


def _processes() -> Iterator[tuple[int, int, int]]:
    """(pid, ppid, process group) of every live (not zombie) process on the host."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            yield int(entry.name), int(fields[1]), int(fields[2])


def _kill_below(leader: int) -> None:
    """SIGKILL the process group of ``leader`` except the leader itself (nsenter).

    nsenter then reaps its child and exits; killing it first would hand its
    child to the host's init, which may leave it a zombie for a while.
    """
    for _ in range(50):  # again, in case one forked while we looked
        members = [pid for pid, _, group in _processes() if group == leader and pid != leader]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Close the init's stdin (it exits, the kernel kills the rest); force if needed."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _plain(text: str) -> str:
    """Terminal output without colour/cursor sequences and carriage returns."""
    return _ESCAPES.sub("", text)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _open_namespaces(pid: int) -> list[int]:
    """Open the namespace files of ``pid`` (before entering the mount namespace)."""
    return [os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC) for kind, _ in _NS_KINDS]


def _enter(fds: Sequence[int]) -> None:
    """setns() into each namespace (mount last), then return to the caller's cwd."""
    cwd = os.getcwd()
    libc = ctypes.CDLL(None, use_errno=True)
    for fd, (kind, flag) in zip(fds, _NS_KINDS, strict=True):
        if libc.setns(fd, flag) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({kind}): {os.strerror(err)}")
    os.chdir(cwd)


def _child(fds: Sequence[int], write_fd: int, fn: Callable[[], Any]) -> None:
    """In the forked child: enter, call, send the pickled outcome, _exit."""
    code = 0
    try:
        _enter(fds)
        outcome: tuple[str, Any] = ("ok", fn())
    except BaseException as exc:  # every failure goes back to the parent
        exc.add_note("in namespace:\n" + traceback.format_exc())
        outcome = ("err", exc)
        code = 1
    try:
        data = pickle.dumps(outcome)
    except Exception as exc:  # an unpicklable result or exception
        data = pickle.dumps(("err", NsEnvError(f"cannot send back {outcome[1]!r}: {exc}")))
    with os.fdopen(write_fd, "wb") as pipe:
        pipe.write(data)
    os._exit(code)


def _read_all(fd: int, pid: int, timeout: float) -> bytes:
    """Read the child's answer until EOF; kill it and raise after ``timeout``."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError(f"call in namespace did not return within {timeout}s")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    if not chunks:
        raise NsEnvError("call in namespace died without an answer")
    return b"".join(chunks)
