"""Issue 8 item 7: a failed apply (or a rollback) leaves nothing behind and services as they were.

No directory the apply made, no daemon started that was not running before, no "did not
come back" for a daemon that runs. The namespace test (tests/integration/test_leftovers.py)
does the same on real daemons; here the recording runner shows which commands a restore ran.
"""

from __future__ import annotations

import json
from pathlib import Path

from mailwizard.apply import Backup, apply, rollback
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.system import System
from tests.support import RecordingRunner, SandboxReader, sandbox_system

MAIN_CF = "/etc/postfix/main.cf"


def tree(root: Path) -> dict[str, str]:
    """Every path under root (but the backups), files by content, directories as 'dir'."""
    return {str(p.relative_to(root)): ("dir" if p.is_dir() else p.read_bytes().hex())
            for p in sorted(root.rglob("*")) if not str(p.relative_to(root)).startswith(
                ("var/backups", "run/mailwizard.lock"))}


def failing_at_postfix_check(runner: RecordingRunner) -> None:
    runner.fail_on = lambda argv: argv == ("postfix", "check")


def dkim_like_plan(system: System) -> Plan:
    """main.cf and a file in two directories that do not exist yet; opendkim restarts."""
    main = system.read_bytes(MAIN_CF) or b""
    return Plan(files=(FileChange(MAIN_CF, main, main + b"milter_default_action = accept\n"),
                       FileChange("/etc/mailwizard/records/dns.toml", None, b"[spf]\n")),
                reload=frozenset({"postfix"}), restart=frozenset({"opendkim"}),
                steps=("dkim",))


def test_failed_apply_removes_the_directories_it_made(system: System, sandbox: Path,
                                                      runner: RecordingRunner) -> None:
    assert not (sandbox / "etc/mailwizard").exists()
    before = tree(sandbox)
    failing_at_postfix_check(runner)
    result = apply(system, dkim_like_plan(system))
    assert not result.ok and result.restored
    assert not (sandbox / "etc/mailwizard").exists()
    assert tree(sandbox) == before
    assert "restored: removed the empty directory /etc/mailwizard" in result.log


def test_a_made_directory_that_now_holds_other_files_is_kept(
        system: System, sandbox: Path, runner: RecordingRunner) -> None:
    plan = dkim_like_plan(system)
    applied = apply(system, plan)
    assert applied.ok and applied.backup is not None
    (sandbox / "etc/mailwizard/zone.txt").write_text("saved by the DNS screen\n")
    result = rollback(system)
    assert result.ok
    assert not (sandbox / "etc/mailwizard/records").exists()  # made by the apply, empty
    assert (sandbox / "etc/mailwizard/zone.txt").read_text() == "saved by the DNS screen\n"


def test_rollback_removes_the_directories_the_apply_made(system: System, sandbox: Path) -> None:
    before = tree(sandbox)
    applied = apply(system, dkim_like_plan(system))
    assert applied.ok and applied.backup is not None
    manifest = json.loads((sandbox / applied.backup.lstrip("/") / "manifest.json").read_text())
    assert manifest["made_dirs"] == ["/etc/mailwizard", "/etc/mailwizard/records"]
    assert rollback(system).ok
    assert tree(sandbox) == before


def test_restore_does_not_start_a_daemon_that_was_not_running(
        system: System, runner: RecordingRunner) -> None:
    """opendkim has no live pidfile in the sandbox: it is stopped, so the restore must not
    start it (today it ran install -d /run/opendkim and opendkim -x)."""
    failing_at_postfix_check(runner)
    result = apply(system, dkim_like_plan(system))
    assert not result.ok and result.restored
    assert not [argv for argv in runner.argvs() if "opendkim" in " ".join(argv)]
    assert ("postfix", "reload") in runner.argvs()  # postfix ran before: back on the old files
    assert "ok: opendkim left stopped, as it was before the apply" in result.log


def test_restore_does_not_start_postfix_when_it_was_stopped(sandbox: Path) -> None:
    runner = RecordingRunner(reader=SandboxReader(postfix_running=False))
    system = sandbox_system(sandbox, runner)
    failing_at_postfix_check(runner)
    result = apply(system, dkim_like_plan(system))
    assert not result.ok and result.restored
    assert ("postfix", "start") not in runner.argvs()
    assert ("postfix", "reload") not in runner.argvs()
    assert "ok: postfix left stopped, as it was before the apply" in result.log


def test_a_running_postfix_whose_reload_fails_is_not_said_to_be_gone(
        system: System, runner: RecordingRunner) -> None:
    """The reload fails in the apply and again in the restore, but Postfix runs throughout."""
    runner.fail_on = lambda argv: argv == ("postfix", "reload")
    main = system.read_bytes(MAIN_CF) or b""
    result = apply(system, Plan(files=(FileChange(MAIN_CF, main, main + b"biff = no\n"),),
                                reload=frozenset({"postfix"})))
    assert not result.ok and result.failed == "reload postfix" and result.restored
    text = "\n".join(result.log)
    assert "did not come back" not in text
    assert "postfix is running, but its reload failed" in text


def test_the_manifest_records_which_services_ran_before(system: System, sandbox: Path) -> None:
    applied = apply(system, dkim_like_plan(system))
    assert applied.ok and applied.backup is not None
    backup = Backup.load(system, applied.backup)
    assert backup.manifest.running_before == {"opendkim": False, "postfix": True}


def test_rollback_does_not_start_a_daemon_that_was_stopped_before_the_apply(
        system: System, sandbox: Path, runner: RecordingRunner) -> None:
    """opendkim was stopped before the apply (and, in the sandbox, is still): the rollback
    reloads postfix but starts no opendkim. Stopping one the apply started is tested on the
    real daemon in the namespace."""
    applied = apply(system, dkim_like_plan(system))
    assert applied.ok
    runner.calls.clear()
    result = rollback(system)
    assert result.ok
    assert ("postfix", "reload") in runner.argvs()
    assert not [argv for argv in runner.argvs() if "opendkim" in " ".join(argv)]


def test_a_certificate_hash_link_left_dangling_is_removed(system: System, sandbox: Path,
                                                          runner: RecordingRunner) -> None:
    """make-ssl-cert links /etc/ssl/certs/<hash>.0 to the certificate it makes; the restore
    removes the certificate, so the link must go too. Other links there stay."""
    certs = sandbox / "etc/ssl/certs"
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "other.pem").write_text("someone's certificate\n")
    (certs / "aaaa0000.0").symlink_to("other.pem")
    before = tree(sandbox)

    def make_ssl_cert(argv: tuple[str, ...]) -> None:
        (certs / "ssl-cert-snakeoil.pem").write_text("cert\n")
        (certs / "153054dd.0").symlink_to("ssl-cert-snakeoil.pem")
        (certs / "bbbb1111.0").symlink_to("other.pem")  # not dangling after: kept

    runner.effects["make-ssl-cert"] = make_ssl_cert
    failing_at_postfix_check(runner)
    main = system.read_bytes(MAIN_CF) or b""
    plan = Plan(files=(FileChange(MAIN_CF, main, main + b"biff = no\n"),),
                commands=(Command(("make-ssl-cert", "generate-default-snakeoil"), "snakeoil",
                                  touches=("/etc/ssl/certs/ssl-cert-snakeoil.pem",),
                                  links_in=("/etc/ssl/certs",)),),
                reload=frozenset({"postfix"}))
    result = apply(system, plan)
    assert not result.ok and result.restored
    assert not (certs / "153054dd.0").is_symlink()
    assert (certs / "bbbb1111.0").is_symlink()
    (certs / "bbbb1111.0").unlink()
    assert tree(sandbox) == before
    assert ("restored: removed the link /etc/ssl/certs/153054dd.0, which pointed at a "
            "removed file") in result.log

