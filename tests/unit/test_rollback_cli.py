"""Issue 8 item 8: a rollback you can see.

`rollback --list` (date, steps, result, files); `rollback [ID]` shows what it will change,
asks (``--yes`` for scripts; no terminal and no --yes: refused), restores, reloads and says
what it cannot restore; a user who is not root is told "needs root" instead of a traceback,
and `apply` says so before it plans anything.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import shutil
import tempfile
import traceback
from pathlib import Path

import pytest

from mailwizard import answers, cli
from mailwizard.apply import apply
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.system import System
from tests.support import RecordingRunner, make_sandbox, sandbox_system

HOSTNAME = '[hostname]\nfqdn = "mail.example.com"\n'
DOMAINS = """[domains]
mydestination = ["example.com", "mail.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::1]/128"]
"""


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not str(p.relative_to(root)).startswith("var/backups")}


def applied(system: System, text: str) -> str:
    plan, problems = answers.plan_all(system, answers.load_text(text))
    assert not [p for p in problems if p.level == "error"]
    result = apply(system, plan)
    assert result.ok and result.backup is not None
    system.cache.clear()
    return result.backup.rsplit("/", 1)[1]


class Terminal(io.StringIO):
    """stdin that is a terminal, with the admin's answer typed in."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], sandbox: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--root", str(sandbox), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_each_backup_with_date_steps_result_and_files(
        system: System, sandbox: Path, runner: RecordingRunner,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, sandbox, "rollback", "--list")
    assert code == 0 and "no backups yet" in out, (out, err)
    first = applied(system, HOSTNAME)
    second = applied(system, DOMAINS)
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    main = system.read_bytes("/etc/postfix/main.cf") or b""
    failed = apply(system, Plan(files=(FileChange("/etc/postfix/main.cf", main,
                                                  main + b"biff = no\n"),), steps=("tls",)))
    assert not failed.ok and failed.backup is not None
    code, out, err = run(capsys, sandbox, "rollback", "--list")
    assert code == 0, err
    lines = out.splitlines()
    [row2] = [ln for ln in lines if ln.startswith(second)]
    [row1] = [ln for ln in lines if ln.startswith(first)]
    [row3] = [ln for ln in lines if ln.startswith(failed.backup.rsplit("/", 1)[1])]
    assert lines.index(row3) < lines.index(row2) < lines.index(row1)  # newest first
    assert " UTC " in row1 and "hostname" in row1 and "applied" in row1
    assert "domains" in row2 and "applied" in row2 and "`mailwizard rollback` undoes this" in row2
    assert "failed, already restored" in row3 and "tls" in row3
    block1 = lines[lines.index(row1) + 1:lines.index(row1) + 5]
    assert [ln.strip() for ln in block1] == ["/etc/hostname", "/etc/mailname", "/etc/hosts",
                                             "/etc/postfix/main.cf"]


def test_rollback_shows_the_diff_and_asks(system: System, sandbox: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    applied(system, HOSTNAME)
    after = tree(sandbox)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(capsys, sandbox, "rollback")
    assert "--- /etc/hostname (now)" in out and "+++ /etc/hostname (after the rollback)" in out
    assert "-mail.example.com" in out and "+debian" in out
    assert "Roll back these changes? [y/N]" in out
    assert code == 1 and "nothing was restored" in err
    assert tree(sandbox) == after
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, err = run(capsys, sandbox, "rollback")
    assert code == 0, err
    assert "Restored the files of" in out
    assert tree(sandbox) == before


def test_without_a_terminal_rollback_needs_yes(system: System, sandbox: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    applied(system, HOSTNAME)
    after = tree(sandbox)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # a pipe: not a terminal
    code, out, err = run(capsys, sandbox, "rollback")
    assert code == 1
    assert "no terminal to ask on: give --yes to roll back without a question" in err
    assert "nothing was restored" in err
    assert "+++ /etc/hostname (after the rollback)" in out  # it still shows what it would do
    assert tree(sandbox) == after
    code, out, err = run(capsys, sandbox, "rollback", "--yes")
    assert code == 0, err
    assert "Roll back these changes?" not in out


def test_rollback_by_id(system: System, sandbox: Path, runner: RecordingRunner,
                        capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    first = applied(system, HOSTNAME)
    applied(system, DOMAINS)
    code, out, err = run(capsys, sandbox, "rollback", "20990101T000000000000Z", "--yes")
    assert code == 1 and "no backup 20990101T000000000000Z" in err
    assert "mailwizard rollback --list" in err
    code, out, err = run(capsys, sandbox, "rollback", first, "--yes")
    assert code == 0, err
    assert "a later apply is not undone" in out  # the domains apply came after it
    # the hostname files are back; main.cf as before the first apply (both undone there)
    now = tree(sandbox)
    for name in ("etc/hostname", "etc/mailname", "etc/hosts", "etc/postfix/main.cf"):
        assert now[name] == before[name], name
    code, out, err = run(capsys, sandbox, "rollback", first, "--yes")
    assert code == 1 and f"{first} was already rolled back" in err
    runner.fail_on = lambda argv: argv == ("postfix", "check")
    main = system.read_bytes("/etc/postfix/main.cf") or b""
    failed = apply(system, Plan(files=(FileChange("/etc/postfix/main.cf", main,
                                                  main + b"biff = no\n"),)))
    assert failed.backup is not None
    ident = failed.backup.rsplit("/", 1)[1]
    code, out, err = run(capsys, sandbox, "rollback", ident, "--yes")
    assert code == 1 and "failed and was restored at once: nothing to roll back" in err


def test_rollback_says_what_it_cannot_restore(system: System, sandbox: Path,
                                              runner: RecordingRunner,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (sandbox / "etc/sasldb2").write_bytes(b"old users and passwords")
    runner.effects["saslpasswd2"] = lambda argv: (sandbox / "etc/sasldb2").write_bytes(b"new")
    result = apply(system, Plan(commands=(Command(
        ("saslpasswd2", "-p", "-c", "alice"), "set a password", touches=("/etc/sasldb2",),
        secret_files=True),), steps=("sasl",)))
    assert result.ok
    code, out, err = run(capsys, sandbox, "rollback", "--yes")
    assert code == 0, err
    shown = out.split("phase: restoring", 1)[0]  # what it showed before it began
    assert "cannot restore /etc/sasldb2: it holds passwords, so no copy was kept" in shown
    assert "cannot restore /etc/sasldb2" in out.split("Restored the files of", 1)[1]
    assert (sandbox / "etc/sasldb2").read_bytes() == b"new"


def test_a_binary_file_is_named_not_dumped(system: System, sandbox: Path,
                                           runner: RecordingRunner,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (sandbox / "etc/aliases.db").write_bytes(b"\x00\x01old")
    runner.effects["newaliases"] = lambda argv: (sandbox / "etc/aliases.db").write_bytes(
        b"\x00\x02new")
    assert apply(system, Plan(commands=(Command(("newaliases",), "db",
                                                touches=("/etc/aliases.db",)),))).ok
    code, out, err = run(capsys, sandbox, "rollback", "--yes")
    assert code == 0, err
    assert "/etc/aliases.db: binary file, put back as it was" in out
    assert (sandbox / "etc/aliases.db").read_bytes() == b"\x00\x01old"


def as_nobody(argv: list[str]) -> tuple[int | None, str, str]:
    """cli.main(argv) in a child process that is user nobody; (code, stdout+stderr, traceback
    of an exception that escaped, or "")."""
    # imported before the uid changes: the interpreter's own files under /root are 0700
    for module in ("answers", "apply", "history", "journal", "runlock", "steps.base"):
        importlib.import_module(f"mailwizard.{module}")

    assert os.geteuid() == 0, "these tests need root (to become another user)"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        code: int | None = None
        tb = ""
        out = io.StringIO()
        try:
            import contextlib
            import sys

            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    code = cli.main(argv)
                except SystemExit as exc:
                    code = int(exc.code or 0)
            sys.stdout.flush()
        except BaseException:
            tb = traceback.format_exc()
        os.write(write, pickle.dumps((code, out.getvalue(), tb)))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    result: tuple[int | None, str, str] = pickle.loads(data)
    return result


@pytest.mark.parametrize("argv", [["rollback"], ["rollback", "--list"], ["rollback", "--yes"]])
def test_rollback_as_a_user_says_it_needs_root(argv: list[str]) -> None:
    code, out, tb = as_nobody(argv)
    assert tb == "" and "Traceback" not in out, tb or out
    assert code == 1, out
    assert "mailwizard rollback: needs root" in out, out


def test_a_user_may_read_the_help() -> None:
    code, out, tb = as_nobody(["rollback", "--help"])
    assert tb == "" and code == 0 and "--list" in out and "needs root" not in out, tb or out


def test_apply_as_a_user_says_it_needs_root_before_planning(tmp_path: Path) -> None:
    answers_file = tmp_path / "a.toml"
    answers_file.write_text(HOSTNAME)
    answers_file.chmod(0o644)
    tmp_path.chmod(0o755)
    code, out, tb = as_nobody(["apply", str(answers_file)])
    assert tb == "" and "Traceback" not in out, tb or out
    assert code == 1, out
    assert "mailwizard apply: needs root" in out, out
    assert "---" not in out and "hostname" not in out.split("needs root", 1)[0], out  # no plan


def test_a_user_on_a_root_owned_sandbox_gets_a_message_not_a_traceback() -> None:
    """--root DIR lets a user work on a sandbox of their own; on root's files the refusal is
    a message. (Its own directory: pytest's tmp_path is 0700, closed to the user.)"""
    top = Path(tempfile.mkdtemp(prefix="mw-rollback-user-"))
    try:
        top.chmod(0o755)
        sandbox = make_sandbox(top / "root")
        system = sandbox_system(sandbox)
        applied(system, HOSTNAME)
        code, out, tb = as_nobody(["--root", str(sandbox), "rollback", "--yes"])
        assert tb == "" and "Traceback" not in out, tb or out
        assert code == 1, out
        assert "permission denied" in out and "needs root" in out, out
    finally:
        shutil.rmtree(top)


def test_an_interrupted_password_change_shows_its_kept_copy_as_restorable(
        system: System, sandbox: Path, runner: RecordingRunner,
        capsys: pytest.CaptureFixture[str]) -> None:
    """While an apply runs, the old sasldb2 is kept under /run (not /var/backups): a rollback
    of that apply after a kill puts it back, and the preview says so (a diff, no 'cannot')."""
    from mailwizard import apply as applying

    (sandbox / "etc/sasldb2").write_text("old users\n")
    plan = Plan(commands=(Command(("saslpasswd2", "-p", "-c", "alice"), "set a password",
                                  touches=("/etc/sasldb2",), secret_files=True),),
                steps=("sasl",))
    backup = applying.Backup.create(system, ["/etc/sasldb2"], plan, frozenset({"/etc/sasldb2"}))
    backup.manifest.pid = 999_999_999  # a process that is gone: the apply was killed
    backup.save()
    (sandbox / "etc/sasldb2").write_text("half written\n")
    code, out, err = run(capsys, sandbox, "rollback", "--yes")
    assert code == 0, err
    shown = out.split("phase: restoring", 1)[0]
    assert "cannot restore" not in shown, shown
    assert "-half written" in shown and "+old users" in shown, shown
    assert (sandbox / "etc/sasldb2").read_text() == "old users\n"
