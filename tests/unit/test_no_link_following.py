"""A service user cannot get root through a link in its own directory.

/etc/dkimkeys belongs to opendkim. Planted there: ``mail.private -> /etc/shadow`` (or a
dangling link). The wizard must refuse, name the path, and leave the target untouched; the
writes it does make go through descriptors (O_NOFOLLOW, fchown/fchmod, rename by dir fd).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailwizard import services
from mailwizard.apply import Backup, apply
from mailwizard.plan import FileChange, Plan
from mailwizard.steps.base import Rejected, errors
from mailwizard.steps.dkim import DkimAnswers, DkimStep
from mailwizard.system import System, UnsafeFile
from tests.support import RecordingRunner

STEP = DkimStep()
ANSWERS = DkimAnswers(domain="example.com", selector="mail", bits=2048)
KEY = "/etc/dkimkeys/mail.private"


def shadow(sandbox: Path) -> tuple[Path, tuple[bytes, int, int, int]]:
    target = sandbox / "etc/shadow"
    target.write_bytes(b"root:$y$secret-hash:19000:0:99999:7:::\n")
    os.chmod(target, 0o640)
    st = target.stat()
    return target, (target.read_bytes(), st.st_mode, st.st_uid, st.st_gid)


def state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mode, st.st_uid, st.st_gid


def plant(sandbox: Path, name: str, target: Path | str) -> Path:
    link = sandbox / "etc/dkimkeys" / name
    link.unlink(missing_ok=True)
    os.symlink(target, link)
    return link


def test_link_to_shadow_is_refused_by_validate_and_apply(system: System, sandbox: Path) -> None:
    target, before = shadow(sandbox)
    plan = STEP.plan(ANSWERS, system)  # planned before the link was planted
    plant(sandbox, "mail.private", target)
    problems = errors(STEP.validate(ANSWERS, system))
    assert any(p.field == "dkim.selector" and KEY in p.message and "symbolic link" in p.message
               for p in problems), problems
    result = apply(system, plan)
    assert not result.ok and KEY in result.reason and "symbolic link" in result.reason
    assert "nothing was written" in result.reason
    assert state(target) == before


def test_dangling_link_is_refused_and_nothing_is_created(system: System, sandbox: Path) -> None:
    evil = sandbox / "etc/cron.d/evil"
    plan = STEP.plan(ANSWERS, system)  # planned before the link was planted
    plant(sandbox, "mail.txt", evil)
    assert any("mail.txt" in p.message for p in errors(STEP.validate(ANSWERS, system)))
    with pytest.raises(Rejected, match=r"mail\.txt is a symbolic link"):
        STEP.plan(ANSWERS, system)
    result = apply(system, plan)
    assert not result.ok and "/etc/dkimkeys/mail.txt" in result.reason
    assert not evil.exists() and not evil.parent.exists()


def test_link_planted_while_the_key_is_made_is_never_followed(
        system: System, sandbox: Path, runner: RecordingRunner) -> None:
    """The race: opendkim swaps in a link after the checks, while genkey runs."""
    target, before = shadow(sandbox)

    def genkey(argv: tuple[str, ...]) -> None:
        out = system.path(argv[argv.index("-D") + 1])
        assert oct(out.stat().st_mode & 0o777) == "0o700" and out.stat().st_uid == 0
        (out / "mail.private").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnew\n")
        (out / "mail.txt").write_bytes(b"mail._domainkey IN TXT ( \"v=DKIM1; p=x\" )\n")
        plant(sandbox, "mail.private", target)

    runner.effects["opendkim-genkey"] = genkey  # type: ignore[assignment]
    result = apply(system, STEP.plan(ANSWERS, system))
    assert not result.ok and KEY in result.reason and "symbolic link" in result.reason
    assert state(target) == before  # never chowned, chmodded or written
    assert not (sandbox / "etc/dkimkeys/mail.private").exists()  # the restore removed the link
    assert not list((sandbox / "tmp").glob("mailwizard-*"))  # private dir removed


def test_key_made_in_private_dir_lands_owned_by_opendkim(
        system: System, sandbox: Path, runner: RecordingRunner) -> None:
    seen: list[Path] = []

    def genkey(argv: tuple[str, ...]) -> None:
        out = system.path(argv[argv.index("-D") + 1])
        seen.append(out)
        (out / "mail.private").write_bytes(b"key")
        (out / "mail.txt").write_bytes(b"txt")

    runner.effects["opendkim-genkey"] = genkey  # type: ignore[assignment]
    result = apply(system, STEP.plan(ANSWERS, system))
    assert result.ok, result.reason
    info = system.info(KEY)
    assert info is not None and (info.mode, info.owner, info.group) == (
        0o600, "opendkim", "opendkim")
    assert seen and not seen[0].exists()


def test_fixing_the_mode_refuses_a_hard_link(system: System, sandbox: Path) -> None:
    target, before = shadow(sandbox)
    key = sandbox / "etc/dkimkeys/mail.private"
    os.link(target, key)  # as if fs.protected_hardlinks were off
    with pytest.raises(UnsafeFile, match="hard links"):
        system.set_meta(KEY, mode=0o600, owner="opendkim", group="opendkim")
    assert state(target) == before


# -- System.write_atomic, by descriptor ---------------------------------------------------


def test_write_atomic_refuses_a_link_and_names_it(system: System, sandbox: Path) -> None:
    target, before = shadow(sandbox)
    plant(sandbox, "mail.private", target)
    with pytest.raises(UnsafeFile, match=rf"{KEY} is a symbolic link \(to {target}\)"):
        system.write_atomic(KEY, b"x", mode=0o600, owner="opendkim", group="opendkim")
    assert state(target) == before
    assert sorted(p.name for p in (sandbox / "etc/dkimkeys").iterdir()) == [
        "README.PrivateKeys", "mail.private"]  # no temp file left


def test_restore_replaces_a_planted_link_not_its_target(system: System, sandbox: Path) -> None:
    conf = sandbox / "etc/opendkim.conf"
    original = conf.read_bytes()
    plan = Plan(files=(FileChange("/etc/opendkim.conf", original, b"new\n"),))
    backup = Backup.create(system, ["/etc/opendkim.conf"], plan)
    target, before = shadow(sandbox)
    conf.unlink()
    os.symlink(target, conf)
    assert backup.restore() == ["/etc/opendkim.conf"]
    assert not conf.is_symlink() and conf.read_bytes() == original
    assert state(target) == before


def test_backup_never_copies_through_a_link(system: System, sandbox: Path) -> None:
    target, _ = shadow(sandbox)
    plant(sandbox, "mail.private", target)
    with pytest.raises(UnsafeFile):
        Backup.create(system, [KEY], Plan())


def test_temp_names_are_unique_and_cleaned(system: System, sandbox: Path) -> None:
    for _ in range(3):
        system.write_atomic("/etc/mailname", b"a\n")
    assert sorted(p.name for p in (sandbox / "etc").glob(".mailname*")) == []


# -- signals: only to the daemon the pidfile claims ------------------------------------------


def test_pidfile_naming_another_process_is_not_signalled(
        system: System, sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    victim = subprocess.Popen(["sleep", "30"])
    try:
        pidfile = system.path(services.OPENDKIM_PIDFILE)
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{victim.pid}\n")
        assert services.opendkim_pid(system) is None
        monkeypatch.setattr(System, "has_systemd", property(lambda self: False))
        system.run_commands = True
        services.control(system, "opendkim", "restart")
        assert victim.poll() is None, "sleep was killed through opendkim's pidfile"
    finally:
        victim.kill()
        victim.wait()


def test_only_the_daemons_own_binary_counts(tmp_path: Path) -> None:
    import subprocess

    fake = tmp_path / "opendkim"  # a process merely named like the daemon
    shutil.copy("/bin/sleep", fake)
    proc = subprocess.Popen([str(fake), "30"])
    real = subprocess.Popen(["sleep", "30"])
    try:
        assert not services.is_daemon(proc.pid, "opendkim")
        assert services.is_daemon(real.pid, "sleep")
        assert not services.is_daemon(os.getpid(), "opendkim")
    finally:
        for p in (proc, real):
            p.kill()
            p.wait()
