"""apply() as a transaction on the sandbox, with the recording runner."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mailwizard import answers
from mailwizard.apply import (
    BACKUP_ROOT,
    ApplyResult,
    Backup,
    Event,
    FileEntry,
    Manifest,
    apply,
    keep_last,
    latest_backup,
    rollback,
)
from mailwizard.failadvice import advice
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.secret import Secret
from mailwizard.system import System
from tests.applyproc import ANSWERS
from tests.support import RecordingRunner


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every file under root except the backups: sha256, mode, uid, gid."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith("var/backups") or path.is_dir():
            continue
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "link"
        out[rel] = (digest, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def full_plan(system: System) -> Plan:
    plan, problems = answers.plan_all(system, answers.load_text(ANSWERS))
    assert [p for p in problems if p.level == "error"] == []
    extra = Plan(
        files=(FileChange("/etc/mailwizard-new.conf", None, b"created by the plan\n",
                          mode=0o600),),
        commands=(Command(("newaliases",), "rebuild aliases.db",
                          touches=("/etc/mailwizard-by-command",)),),
    )
    return plan.then(extra)


def make_aliases_db(argv: tuple[str, ...], root: Path) -> None:
    (root / "etc/mailwizard-by-command").write_bytes(b"db made by newaliases")


def test_success_writes_files_and_backs_up(system: System, sandbox: Path,
                                           runner: RecordingRunner) -> None:
    before = snapshot(sandbox)
    events: list[Event] = []
    result = apply(system, full_plan(system), events.append)
    assert result.ok, result
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"
    assert b"myhostname = mail.example.com" in (sandbox / "etc/postfix/main.cf").read_bytes()
    assert (sandbox / "etc/mailwizard-new.conf").read_bytes() == b"created by the plan\n"
    assert stat.S_IMODE((sandbox / "etc/mailwizard-new.conf").stat().st_mode) == 0o600
    assert runner.argvs() == [
        ("hostname", "mail.example.com"),
        ("newaliases",),
        ("postfix", "check"),
        ("postfix", "reload"),
    ]
    kinds = [e.kind for e in events]
    assert kinds[0] == "phase" and kinds[-1] == "done"
    assert "fail" not in kinds
    assert events[-1].done == events[-1].total  # the progress bar ends full

    # The backup: root-only directory, a manifest, the old bytes.
    assert result.backup is not None and result.backup.startswith(BACKUP_ROOT + "/")
    backup = sandbox / result.backup.lstrip("/")
    for directory in [sandbox / BACKUP_ROOT.lstrip("/"), backup,
                      *[p for p in backup.rglob("*") if p.is_dir()]]:
        st = directory.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700, directory
        assert st.st_uid == 0
    manifest = json.loads((backup / "manifest.json").read_text())
    assert stat.S_IMODE((backup / "manifest.json").stat().st_mode) == 0o600
    assert manifest["steps"] == ["hostname", "domains"]
    assert manifest["services"] == ["postfix"]
    assert manifest["result"] == "applied"
    entries = {e["path"]: e for e in manifest["files"]}
    assert set(entries) == {"/etc/hostname", "/etc/mailname", "/etc/hosts",
                            "/etc/postfix/main.cf", "/etc/mailwizard-new.conf",
                            "/etc/mailwizard-by-command"}
    assert entries["/etc/hostname"] == {"path": "/etc/hostname", "existed": True,
                                        "secret": False, "mode": 0o644, "owner": "root",
                                        "group": "root"}
    assert entries["/etc/mailwizard-new.conf"]["existed"] is False
    copy = backup / "files/etc/postfix/main.cf"
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    assert digest == before["etc/postfix/main.cf"][0]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert latest_backup(system) == result.backup


@pytest.mark.parametrize(
    "failing",
    [
        ("hostname", "mail.example.com"),  # the first command
        ("newaliases",),  # after a command that has an undo
        ("postfix", "check"),  # validation
        ("postfix", "reload"),  # the reload
    ],
)
def test_failure_restores_every_file_byte_for_byte(
    system: System, sandbox: Path, runner: RecordingRunner, failing: tuple[str, ...]
) -> None:
    runner.effects["newaliases"] = lambda argv: make_aliases_db(argv, sandbox)
    os.chmod(sandbox / "etc/hosts", 0o640)
    os.chown(sandbox / "etc/mailname", 65534, 65534)
    before = snapshot(sandbox)
    plan = full_plan(system)
    runner.fail_on = lambda argv: argv == failing
    events: list[Event] = []
    result = apply(system, plan, events.append)
    assert not result.ok
    assert result.restored
    expected = "reload postfix" if failing == ("postfix", "reload") else " ".join(failing)
    assert result.failed == expected
    assert "fake failure" in result.reason
    assert snapshot(sandbox) == before
    assert not (sandbox / "etc/mailwizard-new.conf").exists()
    assert not (sandbox / "etc/mailwizard-by-command").exists()
    argvs = runner.argvs()
    # The hostname command ran (or was tried): its undo ran after the files came back.
    assert ("hostname", "-F", "/etc/hostname") in argvs
    assert argvs.index(("hostname", "-F", "/etc/hostname")) > argvs.index(
        ("hostname", "mail.example.com"))
    assert any(e.kind == "restored" and e.text == "all files restored" for e in events)
    # Postfix is put back on the old configuration.
    assert argvs[-1] == ("postfix", "reload")
    # A failed apply is not what `rollback` would restore.
    assert latest_backup(system) is None


def test_failure_log_names_the_step(system: System, runner: RecordingRunner) -> None:
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    result = apply(system, full_plan(system))
    assert result.failed == "postfix check"
    assert any(line.startswith("fail: postfix check") for line in result.log)


DEBCONF_LOCKED = ('debconf: DbDriver "config": /var/cache/debconf/config.dat is locked by '
                  "another process: Resource temporarily unavailable")


def test_apply_failure_reason_carries_the_advice_and_the_output(
    system: System, runner: RecordingRunner
) -> None:
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    runner.fail_output = DEBCONF_LOCKED
    result = apply(system, full_plan(system))
    assert not result.ok and result.restored
    assert DEBCONF_LOCKED in result.reason
    assert result.reason.rstrip().endswith(advice(DEBCONF_LOCKED))
    assert "unattended-upgrades" in result.reason


def test_postconf_warning_after_writing_fails_and_restores(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    before = snapshot(sandbox)
    main = (sandbox / "etc/postfix/main.cf").read_bytes()
    plan = Plan(files=(FileChange("/etc/postfix/main.cf", main, main + b"typo_param = 1\n"),),
                reload=frozenset({"postfix"}))
    result = apply(system, plan)
    assert not result.ok and result.failed == "postconf -n"
    assert "typo_param" in result.reason
    assert snapshot(sandbox) == before


def test_warnings_already_there_do_not_fail(system: System, sandbox: Path) -> None:
    with (sandbox / "etc/postfix/main.cf").open("ab") as fh:
        fh.write(b"old_typo = 1\n")
    main = (sandbox / "etc/postfix/main.cf").read_bytes()
    plan = Plan(files=(FileChange("/etc/postfix/main.cf", main,
                                  main + b"delay_warning_time = 4h\n"),))
    assert apply(system, plan).ok


def test_unexpected_error_still_restores(system: System, sandbox: Path,
                                         runner: RecordingRunner) -> None:
    """A service that cannot be controlled (ValueError), not only a CommandError."""
    before = snapshot(sandbox)
    plan = full_plan(system).then(Plan(reload=frozenset({"no-such-daemon"})))
    result = apply(system, plan)
    assert not result.ok and result.restored
    assert "no-such-daemon" in result.reason
    assert snapshot(sandbox) == before


def test_bad_owner_while_writing_restores(system: System, sandbox: Path) -> None:
    before = snapshot(sandbox)
    plan = full_plan(system).then(
        Plan(files=(FileChange("/etc/zz-owned", None, b"x", owner="no-such-user-xyz"),)))
    result = apply(system, plan)
    assert not result.ok and result.failed == "writing files"
    assert snapshot(sandbox) == before


def test_keyboard_interrupt_restores_then_propagates(system: System, sandbox: Path,
                                                     runner: RecordingRunner) -> None:
    before = snapshot(sandbox)

    def interrupt(argv: tuple[str, ...]) -> None:
        raise KeyboardInterrupt

    runner.effects["newaliases"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        apply(system, full_plan(system))
    assert snapshot(sandbox) == before


def test_backup_impossible_writes_nothing(system: System, sandbox: Path) -> None:
    (sandbox / "var/backups").mkdir(parents=True, exist_ok=True)
    (sandbox / "var/backups/mailwizard").write_text("not a directory")
    before = snapshot(sandbox)
    result = apply(system, full_plan(system))
    assert not result.ok and result.failed == "backup" and result.backup is None
    assert not result.restored
    assert snapshot(sandbox) == before
    assert system.runner.calls == []  # type: ignore[attr-defined]


def test_empty_plan_writes_nothing(system: System, sandbox: Path,
                                   runner: RecordingRunner) -> None:
    before = snapshot(sandbox)
    events: list[Event] = []
    result = apply(system, Plan(reload=frozenset({"postfix"})), events.append)
    assert result == ApplyResult(ok=True, log=result.log)
    assert result.backup is None
    assert snapshot(sandbox) == before
    assert not (sandbox / "var/backups/mailwizard").exists()
    assert runner.calls == []
    assert [e.kind for e in events] == ["done"]


def test_sandbox_root_writes_files_but_runs_nothing(sandbox: Path) -> None:
    runner = RecordingRunner()
    system = System(root=sandbox, runner=runner, reader=runner.reader)  # run_commands: off
    result = apply(system, full_plan(system))
    assert result.ok
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"
    assert runner.calls == []
    assert any(line.startswith("skip:") for line in result.log)


def test_secret_stdin_not_in_log(system: System, runner: RecordingRunner) -> None:
    password = "a-very-secret-password"
    plan = Plan(commands=(Command(("saslpasswd2", "-p", "-c", "alice"), "add user",
                                  stdin=Secret(password)),))
    result = apply(system, plan)
    assert result.ok
    assert password not in "\n".join(result.log)
    assert runner.calls[0].stdin == Secret(password)


def test_rollback_restores_the_last_apply(system: System, sandbox: Path,
                                          runner: RecordingRunner) -> None:
    runner.effects["newaliases"] = lambda argv: make_aliases_db(argv, sandbox)
    before = snapshot(sandbox)
    applied = apply(system, full_plan(system))
    assert applied.ok and snapshot(sandbox) != before
    runner.calls.clear()
    result = rollback(system)
    assert result.ok and result.restored and result.backup == applied.backup
    assert snapshot(sandbox) == before
    # The running host name goes back too, and Postfix reloads.
    assert runner.argvs() == [("hostname", "-F", "/etc/hostname"), ("postfix", "reload")]
    assert applied.backup is not None
    assert (sandbox / (applied.backup.lstrip("/") + ".rolled-back")).is_dir()
    assert latest_backup(system) is None
    again = rollback(system)
    assert not again.ok and "no backup" in again.reason


def test_rollback_skips_a_failed_apply(system: System, sandbox: Path,
                                       runner: RecordingRunner) -> None:
    before = snapshot(sandbox)
    first = apply(system, full_plan(system))
    assert first.ok
    main = (sandbox / "etc/postfix/main.cf").read_bytes()
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    failed = apply(system, Plan(files=(FileChange("/etc/postfix/main.cf", main,
                                                  main + b"biff = yes\n"),)))
    assert not failed.ok
    runner.fail_on = lambda argv: False
    assert latest_backup(system) == first.backup
    assert rollback(system).ok
    assert snapshot(sandbox) == before


def test_manifest_round_trips_and_reads_what_earlier_versions_wrote(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    applied = apply(system, full_plan(system))
    assert applied.ok and applied.backup is not None
    backup = Backup.load(system, applied.backup)
    manifest = backup.manifest
    assert manifest.result == "applied" and manifest.services == ["postfix"]
    assert manifest.undo == [("hostname", "-F", "/etc/hostname")]
    hostname = next(f for f in manifest.files if f.path == "/etc/hostname")
    assert hostname == FileEntry("/etc/hostname", True, False, 0o644, "root", "root")
    assert Manifest.from_json(manifest.to_json()) == manifest
    # A manifest as the first versions wrote it (no result yet, no undo): still rolls back.
    old = {"created": "2026-01-01 00:00:00 UTC", "steps": ["hostname"],
           "services": ["postfix"],
           "files": [{"path": "/etc/mailwizard-new.conf", "existed": False, "secret": False}]}
    assert Manifest.from_json(json.dumps(old)) == Manifest(
        "2026-01-01 00:00:00 UTC", ["hostname"], ["postfix"],
        [FileEntry("/etc/mailwizard-new.conf", False)])
    (sandbox / applied.backup.lstrip("/") / "manifest.json").write_text(json.dumps(old))
    runner.calls.clear()
    assert rollback(system).ok
    assert not (sandbox / "etc/mailwizard-new.conf").exists()
    assert runner.argvs() == [("postfix", "reload")]


def test_keep_last(system: System, sandbox: Path) -> None:
    base = sandbox / "var/backups/mailwizard"
    for i in range(5):
        (base / f"2026010{i}T000000000000Z").mkdir(parents=True)
    keep_last(system, 2)
    assert sorted(p.name for p in base.iterdir()) == ["20260103T000000000000Z",
                                                      "20260104T000000000000Z"]


def _secret_db_plan(sandbox: Path) -> Plan:
    (sandbox / "etc/sasldb2").write_bytes(b"userPassword old-secret-123")
    return Plan(commands=(Command(("saslpasswd2", "-p", "-c", "alice"), "add alice",
                                  stdin=Secret("new-secret-456"), touches=("/etc/sasldb2",),
                                  secret_files=True),))


def _write_db(sandbox: Path) -> Any:
    return lambda argv: (sandbox / "etc/sasldb2").write_bytes(b"userPassword new-secret-456")


def test_secret_files_are_restored_on_failure_then_not_kept(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    plan = _secret_db_plan(sandbox)
    runner.effects["saslpasswd2"] = _write_db(sandbox)
    runner.fail_on = lambda argv: argv[0] == "saslpasswd2"
    result = apply(system, plan)
    assert not result.ok and result.restored
    assert (sandbox / "etc/sasldb2").read_bytes() == b"userPassword old-secret-123"
    backup = sandbox / str(result.backup).lstrip("/")
    assert not any(b"-secret-" in p.read_bytes() for p in backup.rglob("*") if p.is_file())


def test_secret_files_leave_no_copy_after_success_and_rollback_says_so(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    plan = _secret_db_plan(sandbox)
    runner.effects["saslpasswd2"] = _write_db(sandbox)
    runner.effects["postfix"] = lambda argv: None
    result = apply(system, plan)
    assert result.ok, result.reason
    backup = sandbox / str(result.backup).lstrip("/")
    assert not any(b"-secret-" in p.read_bytes() for p in backup.rglob("*") if p.is_file())
    events: list[str] = []
    rolled = rollback(system, emit=lambda e: events.append(e.text))
    assert rolled.ok
    assert (sandbox / "etc/sasldb2").read_bytes() == b"userPassword new-secret-456"
    assert any("not restored (it holds passwords" in e for e in events), events


def test_a_restore_that_fails_says_so_and_still_restores_the_rest(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    """A command puts a directory where a file was, then fails: that file cannot come back
    (rename onto a directory), every other one must, and the result must not claim success."""
    victim = sandbox / "etc/mailwizard-victim.conf"
    victim.write_bytes(b"old victim\n")

    def clobber(argv: tuple[str, ...]) -> None:
        victim.unlink()
        (victim / "sub").mkdir(parents=True)

    runner.effects["clobber"] = clobber
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    before = snapshot(sandbox)
    plan = full_plan(system).then(Plan(commands=(Command(
        ("clobber",), "turn the file into a directory",
        touches=("/etc/mailwizard-victim.conf",)),)))
    events: list[Event] = []
    result = apply(system, plan, events.append)
    assert not result.ok and result.failed == "postfix check"
    assert result.restored is False
    assert result.backup is not None
    fails = [e.text for e in events if e.kind == "fail"]
    victim_failed = "could not restore /etc/mailwizard-victim.conf: "
    assert any(t.startswith(victim_failed) for t in fails), fails
    assert "some files could not be restored: see above" in fails
    assert not any(e.kind == "restored" and e.text == "all files restored" for e in events)
    # Everything else is back byte for byte; the victim's old bytes wait in the backup.
    after = snapshot(sandbox)
    assert {k: v for k, v in after.items() if "victim" not in k} == {
        k: v for k, v in before.items() if "victim" not in k}
    copy = sandbox / result.backup.lstrip("/") / "files/etc/mailwizard-victim.conf"
    assert copy.read_bytes() == b"old victim\n"


def test_owner_and_mode_only_changes_are_restored(
    system: System, sandbox: Path, runner: RecordingRunner
) -> None:
    """What the DKIM step's chown/chmod change: the bytes stay, owner and mode do not."""
    key = sandbox / "etc/dkimkeys/mail.private"
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    os.chmod(key, 0o644)
    os.chown(key, 0, 0)

    def chown(argv: tuple[str, ...]) -> None:
        os.chown(key, 65534, 65534)
        os.chmod(key, 0o600)

    runner.effects["chown"] = chown
    plan = Plan(commands=(Command(("chown", "nobody:nogroup", "/etc/dkimkeys/mail.private"),
                                  "the key is opendkim's",
                                  touches=("/etc/dkimkeys/mail.private",)),
                          Command(("opendkim", "-n"), "check")))
    before = snapshot(sandbox)
    runner.fail_on = lambda argv: argv[0] == "opendkim"
    result = apply(system, plan)
    assert not result.ok and result.restored
    assert snapshot(sandbox) == before
    st = key.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    # The same through rollback after a successful apply.
    runner.fail_on = lambda argv: False
    assert apply(system, plan).ok
    assert key.stat().st_uid == 65534
    assert rollback(system).ok
    assert snapshot(sandbox) == before
