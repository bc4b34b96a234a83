"""Test helpers shared by unit, pilot and snapshot tests: a sandbox root and a fake runner."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailwizard.secret import Secret
from mailwizard.system import DEFAULT_TIMEOUT, CommandError, LineSink, Result, ShRunner, System

SANDBOX_POSTFIX_VERSION = "3.7.11"
"""The Postfix version every sandbox reports (``mail_version``), whatever the host runs: hub
snapshots and pilot tests must not change with the next Debian point release."""
_MAIL_VERSION = re.compile(r"(?m)^mail_version = .*$")

FIXTURE = Path(__file__).parent / "fixtures" / "debian12"
EMPTY_DIRS = ("etc/postfix/sasl", "var/spool/postfix/etc", "var/mail", "var/log", "run",
              "var/backups")


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


class SandboxReader(ShRunner):
    """Real read-only queries, except ``postfix status``: the sandbox's Postfix "runs";
    and postconf's ``mail_version`` is :data:`SANDBOX_POSTFIX_VERSION`, not the host's.

    A bare ``postfix status`` would ask the host's Postfix, which is not the sandbox's; the
    reloads themselves are recorded by RecordingRunner.
    """

    def __init__(self, postfix_running: bool = True) -> None:
        self.postfix_running = postfix_running

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
        result = super().run(argv, stdin=stdin, timeout=timeout, check=check, on_line=on_line,
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
    reader: ShRunner = field(default_factory=SandboxReader)
    output: str = "ok\n"

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
                raise CommandError(argv, 1, "fake failure: " + " ".join(argv))
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
    return System(root=root, runner=runner, reader=runner.reader, run_commands=True)
