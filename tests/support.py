"""Test helpers shared by unit, pilot and snapshot tests: a sandbox root and a fake runner."""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mailwizard import dns
from mailwizard.secret import Secret
from mailwizard.system import (
    DEFAULT_TIMEOUT,
    CommandError,
    LineSink,
    Reader,
    Result,
    ShRunner,
    System,
)

SANDBOX_POSTFIX_VERSION = "3.7.11"
"""The Postfix version every sandbox reports (``mail_version``), whatever the host runs: hub
snapshots and pilot tests must not change with the next Debian point release."""
_MAIL_VERSION = re.compile(r"(?m)^mail_version = .*$")

FIXTURE = Path(__file__).parent / "fixtures" / "debian12"
EMPTY_DIRS = ("etc/postfix/sasl", "var/spool/postfix/etc", "var/mail", "var/log", "run",
              "var/backups")


MASTER_PID = "var/spool/postfix/pid/master.pid"  # empty: Postfix "runs" while it is locked


def make_sandbox(target: Path) -> Path:
    """Copy the fresh-Debian fixture tree to ``target`` and return it."""
    shutil.copytree(FIXTURE, target, dirs_exist_ok=True, symlinks=True)
    (target / "README.md").unlink(missing_ok=True)
    for directory in EMPTY_DIRS:  # git keeps no empty directories
        (target / directory).mkdir(parents=True, exist_ok=True)
    return target


@dataclass
class Call:
    argv: tuple[str, ...]
    stdin: str | Secret | None
    env: dict[str, str] | None = None


class SandboxReader(Reader):
    """Real read-only queries, except ``postfix status``: the sandbox's Postfix "runs";
    and postconf's ``mail_version`` is :data:`SANDBOX_POSTFIX_VERSION`, not the host's.
    A command with a line sink (a test that streams real commands) goes through ShRunner.

    A bare ``postfix status`` would ask the host's Postfix, which is not the sandbox's; the
    reloads themselves are recorded by RecordingRunner. Postfix "runs" in a sandbox as a
    real master does: :meth:`hold_master_lock` holds the flock on the sandbox's master.pid
    that ``services.postfix_running`` tests.
    """

    def __init__(self, postfix_running: bool = True) -> None:
        self.postfix_running = postfix_running
        self._master_lock: IO[bytes] | None = None

    def hold_master_lock(self, root: Path) -> None:
        """Make the sandbox's Postfix "run" (when ``postfix_running``) for this reader's life."""
        if not self.postfix_running or self._master_lock is not None:
            return
        self._master_lock = (root / MASTER_PID).open("rb")
        with contextlib.suppress(BlockingIOError):  # held already by a test's apply in a
            fcntl.flock(self._master_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # child: "runs"

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
        if tuple(argv) == ("postfix", "status"):
            rc = 0 if self.postfix_running else 1
            return Result(tuple(argv), rc, "", "" if rc == 0 else "postfix is not running")
        runner = ShRunner() if on_line is not None else super()
        result = runner.run(argv, stdin=stdin, timeout=timeout, check=check, on_line=on_line,
                            env=env)
        if argv and argv[0] == "postconf" and "mail_version = " in result.stdout:
            pinned = _MAIL_VERSION.sub(f"mail_version = {SANDBOX_POSTFIX_VERSION}", result.stdout)
            return Result(result.argv, result.rc, pinned, result.stderr)
        return result


@dataclass
class RecordingRunner:
    """Records every apply-time command instead of running it.

    ``reader`` (real, but for ``postfix status``) is the System's reader for read-only
    queries (``System.query``; see ``sandbox_system``), so postconf staging works for real
    on the sandbox. ``fail_on`` makes a command fail, to
    test rollback; ``effects`` lets a test imitate what a command would change on disk.
    """

    calls: list[Call] = field(default_factory=list)
    fail_on: Callable[[tuple[str, ...]], bool] = lambda argv: False
    effects: dict[str, Callable[[tuple[str, ...]], None]] = field(default_factory=dict)
    reader: Reader = field(default_factory=SandboxReader)
    output: str = "ok\n"
    fail_output: str = ""  # what a failing command printed, instead of "fake failure: ..."

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
        argv = tuple(argv)
        self.calls.append(Call(argv, stdin, env))
        if argv[0] in self.effects:
            self.effects[argv[0]](argv)
        if self.fail_on(argv):
            if check:
                raise CommandError(argv, 1, self.fail_output or "fake failure: " + " ".join(argv))
            return Result(argv, 1, "", "fake failure")
        if on_line:
            for line in self.output.splitlines():
                on_line(line)
        return Result(argv, 0, self.output, "")

    def argvs(self) -> list[tuple[str, ...]]:
        return [c.argv for c in self.calls]


def sandbox_system(root: Path, runner: RecordingRunner | None = None) -> System:
    """A System on a sandbox root whose commands are recorded (and "run": run_commands) and
    whose queries the runner's real ``reader`` answers."""
    runner = runner or RecordingRunner()
    if isinstance(runner.reader, SandboxReader):
        runner.reader.hold_master_lock(root)
    return System(root=root, runner=runner, reader=runner.reader, run_commands=True)


# -- Things a test puts on the sandbox machine ---------------------------------------------

PW = "Corr3ct-Horse-Battery"  # SASL passwords: every SASL test hunts for these on screen
PW2 = "Sec0nd-Staple-Quartz"
OLD = "0ld-Password-Stored"  # the password seed_logins stores


def seed_logins(sandbox: Path, *logins: str, auth: bool = True) -> None:
    """Real sasldb2 (and its chroot copy) holding ``logins``; AUTH on in main.cf.

    (smtpd_tls_auth_only and smtpd_client_auth_rate_limit are set too: with several new
    parameters, ``postconf -e`` appends them in a random order (Postfix hash seeds), which
    would make snapshots flaky.)
    """
    db = sandbox / "etc/sasldb2"
    for login in logins:
        local, _, realm = login.rpartition("@")
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(db), "-u", realm, local],
                       input=OLD, text=True, check=True, capture_output=True)
    chroot = sandbox / "var/spool/postfix/etc/sasldb2"
    chroot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, chroot)
    chroot.chmod(0o640)
    shutil.chown(chroot, "root", "sasl")
    if auth:
        main = sandbox / "etc/postfix/main.cf"
        main.write_text(main.read_text()
                        + "smtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = yes\n"
                        "smtpd_client_auth_rate_limit = 10\n")


def make_key(sandbox: Path, selector: str = "mail") -> Path:
    """A real RSA key where opendkim-genkey would put it (mode 0600)."""
    keys = sandbox / "etc/dkimkeys"
    keys.mkdir(parents=True, exist_ok=True)
    key = keys / f"{selector}.private"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    key.chmod(0o600)
    return key


def fake_genkey(sandbox: Path) -> Callable[[tuple[str, ...]], None]:
    """A RecordingRunner effect like ``opendkim-genkey -D DIR -s SEL``: a real key and its
    (stand-in) record in the private directory."""
    def genkey(argv: tuple[str, ...]) -> None:
        sel = argv[argv.index("-s") + 1]
        out = sandbox / argv[argv.index("-D") + 1].lstrip("/")
        shutil.move(make_key(sandbox, sel), out / f"{sel}.private")
        (out / f"{sel}.txt").write_text(f'{sel}._domainkey IN TXT ( "v=DKIM1; k=rsa; p=x" )\n')
    return genkey


SANDBOX_HOST = "debian"  # the fixture's myhostname
TLS_CERT, TLS_KEY = "/etc/ssl/mail/cert.pem", "/etc/ssl/mail/key.pem"


def make_certs(directory: Path) -> Path:
    """Self-signed pairs in ``directory``: good.pem/good.key for the sandbox's host name,
    other.pem/other.key for other.example.org (the ``certs`` fixture)."""
    for name, cn in (("good", SANDBOX_HOST), ("other", "other.example.org")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={cn}",
                        "-days", "365", "-addext", f"subjectAltName=DNS:{cn}"],
                       cwd=directory, check=True, capture_output=True)
        (directory / f"{name}.key").chmod(0o600)
    return directory


def install_certs(sandbox: Path, certs: Path, cert: str, key: str,
                  to: tuple[str, str] = (TLS_CERT, TLS_KEY)) -> None:
    """Copy ``cert`` and ``key`` from ``certs`` into the sandbox at ``to``."""
    for src, dst in ((cert, to[0]), (key, to[1])):
        target = sandbox / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(certs / src, target)


DNS_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 348 + "IDAQAB"
DNS_CONFIG = dns.Config(
    hostname="mail.example.com", domains=("example.com",), ipv4=("192.0.2.10",),
    ipv6=("2001:db8::10",), spf="v=spf1 mx ~all", dkim_domain="example.com",
    dkim_selector="mail", dkim_key=DNS_KEY, dmarc="v=DMARC1; p=none; rua=mailto:pm@example.com",
)
"""A complete set of facts to publish records for (a made-up key)."""
