"""Issue 8 item 4: SIGHUP (an SSH drop), SIGTERM and SIGINT during an apply.

They used to end the process wherever it was (a DKIM apply left opendkim.conf naming a key
opendkim could not read). Now a signal asks for a stop: the apply stops at its next safe
point and restores every file it touched, or, asked during its last step, finishes; either
way it says which (the CLI, the manifest).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mailwizard import cli
from mailwizard.apply import APPLIED, INTERRUPTED, RESTORED, Backup, Event, apply, latest_backup
from mailwizard.interrupt import Cancel
from mailwizard.plan import FileChange, Plan
from mailwizard.system import System
from tests.applyproc import plan_for
from tests.support import RecordingRunner
from tests.unit.test_journal import snapshot, start

SIGNALS = [signal.SIGHUP, signal.SIGTERM, signal.SIGINT]
RECOVERED: list[str] = []  # moment × signal, for the closing note


@pytest.mark.parametrize("moment", ["backup", "write", "command"])
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_mid_apply_restores_every_file_and_says_so(
        sandbox: Path, moment: str, signum: int) -> None:
    before = snapshot(sandbox)
    proc, _ = start(sandbox, moment, "1.0", "--signals")
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2, out
    assert "ok=False failed=interrupted restored=True" in out, out
    assert snapshot(sandbox) == before
    directory = sorted((sandbox / "var/backups/mailwizard").iterdir())[-1]
    manifest = Backup.load(System(root=sandbox), f"/var/backups/mailwizard/{directory.name}")
    name = signal.Signals(signum).name
    assert manifest.manifest.result == RESTORED, manifest.manifest
    assert f"stopped by {name}" in manifest.manifest.detail
    RECOVERED.append(f"{moment}×{name}")


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_in_the_last_step_lets_the_apply_finish_and_says_so(
        sandbox: Path, signum: int) -> None:
    proc, _ = start(sandbox, "reload", "1.0", "--signals")
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "ok=True" in out, out
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"
    directory = latest_backup(System(root=sandbox))
    assert directory is not None
    manifest = Backup.load(System(root=sandbox), directory).manifest
    name = signal.Signals(signum).name
    assert manifest.result == APPLIED
    assert f"{name}" in manifest.detail and "so it finished" in manifest.detail
    RECOVERED.append(f"reload×{name} (finished)")


def test_mailwizard_apply_on_sigterm_restores_and_says_so(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    answers = sandbox.parent / "answers.toml"
    answers.write_text('[hostname]\nfqdn = "mail.example.com"\n')
    before = snapshot(sandbox)
    write = System.write_atomic
    sent: list[int] = []

    def signalled_write(self: System, logical: str, data: bytes, **kwargs: object) -> None:
        write(self, logical, data, **kwargs)  # type: ignore[arg-type]
        if logical == "/etc/hostname" and not sent:
            sent.append(signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would, in the middle

    monkeypatch.setattr(System, "write_atomic", signalled_write)
    assert cli.main(["--root", str(sandbox), "apply", str(answers)]) == 2
    err = capfd.readouterr().err
    assert "SIGTERM (asked to stop): stopping at the next safe point" in err, err
    assert "mailwizard: apply stopped by SIGTERM" in err, err
    assert "every file was restored from /var/backups/mailwizard/" in err, err
    assert snapshot(sandbox) == before
    # the handler was only there for the apply
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_stop_asked_before_the_apply_writes_nothing(system: System, sandbox: Path) -> None:
    before = snapshot(sandbox)
    cancel = Cancel()
    cancel.request("SIGHUP (the terminal or the SSH connection went away)")
    result = apply(system, plan_for(system), cancel=cancel)
    assert not result.ok and result.failed == INTERRUPTED and result.backup is None
    assert "nothing was written" in result.reason
    assert snapshot(sandbox) == before


def test_a_terminal_that_hung_up_never_stops_the_restore(
        system: System, sandbox: Path, runner: RecordingRunner) -> None:
    """After SIGHUP every write to the terminal fails (EIO): the restore must go on."""
    before = snapshot(sandbox)
    runner.fail_on = lambda argv: argv == ("postfix", "check")

    def hung_up(event: Event) -> None:
        if event.kind != "phase":
            raise OSError(5, "Input/output error")

    main = system.read_bytes("/etc/postfix/main.cf")
    assert main is not None
    plan = plan_for(system).then(Plan(files=(FileChange("/etc/zz", None, b"x"),)))
    result = apply(system, plan, hung_up)
    assert not result.ok and result.restored
    assert snapshot(sandbox) == before


def test_closing_count() -> None:
    print(f"moments × signals interrupted and recovered: {len(RECOVERED)}: {RECOVERED}")


@pytest.mark.parametrize(("moment", "said"), [
    ("command", ("stopped by SIGHUP", "every file was restored")),
    ("reload", ("SIGHUP", "so it finished")),  # the late signal: the apply finished
], ids=["restored", "finished"])
def test_after_an_ssh_drop_the_next_run_says_once_what_became_of_the_apply(
        sandbox: Path, capsys: pytest.CaptureFixture[str], moment: str,
        said: tuple[str, ...]) -> None:
    """SIGHUP: nobody saw the apply's last words; the next mailwizard says them once."""
    proc, _ = start(sandbox, moment, "1.0", "--signals")
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=30)
    cli.main(["--root", str(sandbox), "zone"])
    err = capsys.readouterr().err
    assert "the last apply (hostname, domains, started" in err, err
    assert all(words in err for words in said), err
    cli.main(["--root", str(sandbox), "zone"])
    assert "the last apply" not in capsys.readouterr().err  # said once
