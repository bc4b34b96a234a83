"""The command line contract: verbs, exit codes, messages, nothing written on errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from mailwizard import __version__, cli
from mailwizard.steps import STEPS

GOOD = """
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["example.com", "mail.example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]
"""


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file (and the set of directories) under root."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def write(tmp_path: Path, text: str, name: str = "answers.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_writes_and_exits_0(sandbox: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--root", str(sandbox), "apply", write(tmp_path, GOOD))
    assert code == 0, err
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"
    main = (sandbox / "etc/postfix/main.cf").read_text()
    assert "myhostname = mail.example.com\n" in main
    assert "mydestination = example.com, mail.example.com, localhost.example.com, localhost\n" in (
        main)
    assert "--- /etc/hostname" in out and "+mail.example.com" in out
    assert "Applied. Backup of the old files: /var/backups/mailwizard/" in out
    assert "run: hostname mail.example.com" in out


def test_second_apply_is_nothing_to_do(sandbox: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    answers = write(tmp_path, GOOD)
    assert run(capsys, "--root", str(sandbox), "apply", answers)[0] == 0
    before = tree(sandbox)
    code, out, _ = run(capsys, "--root", str(sandbox), "apply", answers)
    assert code == 0
    assert "Nothing to do" in out
    assert tree(sandbox) == before


def test_invalid_answers_exit_1_and_write_nothing(sandbox: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    bad = GOOD.replace('fqdn = "mail.example.com"', 'fqdn = "mail"')
    code, out, err = run(capsys, "--root", str(sandbox), "apply", write(tmp_path, bad))
    assert code == 1
    assert "hostname.fqdn" in err and "nothing was written" in err
    assert out == ""
    assert tree(sandbox) == before


def test_open_relay_exit_1_names_the_entry(sandbox: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    bad = GOOD.replace('"[::1]/128"', '"0.0.0.0/0"')
    code, _, err = run(capsys, "--root", str(sandbox), "apply", write(tmp_path, bad))
    assert code == 1
    assert "domains.mynetworks[2]" in err and "open relay" in err
    assert tree(sandbox) == before


def test_unknown_key_exit_1(sandbox: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    code, _, err = run(capsys, "--root", str(sandbox), "apply",
                       write(tmp_path, GOOD + "colour = 1\n"))
    assert code == 1 and "domains.colour" in err
    assert tree(sandbox) == before


def test_missing_answers_file_exit_1(sandbox: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--root", str(sandbox), "apply", str(tmp_path / "none.toml"))
    assert code == 1 and "cannot read" in err


def test_dry_run_writes_nothing(sandbox: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    code, out, _ = run(capsys, "--root", str(sandbox), "apply", write(tmp_path, GOOD),
                       "--dry-run")
    assert code == 0
    assert "+myhostname = mail.example.com" in out
    assert "Dry run: nothing was written." in out
    assert tree(sandbox) == before


def test_dry_run_flag_before_file(sandbox: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    code, out, _ = run(capsys, "--root", str(sandbox), "apply", "--dry-run",
                       write(tmp_path, GOOD))
    assert code == 0 and "Dry run" in out
    assert tree(sandbox) == before


def test_rollback(sandbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(sandbox)
    code, _, err = run(capsys, "--root", str(sandbox), "rollback")
    assert code == 1 and "no backup" in err
    assert run(capsys, "--root", str(sandbox), "apply", write(tmp_path, GOOD))[0] == 0
    code, out, _ = run(capsys, "--root", str(sandbox), "rollback", "--yes")
    assert code == 0 and "Restored the files of /var/backups/mailwizard/" in out
    after = {k: v for k, v in tree(sandbox).items() if not k.startswith("var/backups")}
    assert after == {k: v for k, v in before.items() if not k.startswith("var/backups")}


def test_check_that_cannot_run_exits_2(sandbox: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--root", str(sandbox), "check", "--json")
    assert code == 2 and "myhostname is 'debian'" in err
    code, _, err = run(capsys, "--root", str(sandbox), "check", "--nameserver", "127.0.0.1:x")
    assert code == 2 and "--nameserver 127.0.0.1:x: the port must be a number" in err


def test_usage_errors_exit_1_not_2(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """2 means "apply failed, files restored": argparse's own 2 would be a lie."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["--root", str(sandbox), "apply"])
    assert exc.value.code == 1
    with pytest.raises(SystemExit) as exc:
        cli.main(["--bogus-option"])
    assert exc.value.code == 1
    code, _, err = run(capsys, "--root", str(sandbox), "frobnicate")
    assert code == 1 and "unknown step or verb" in err
    code, _, err = run(capsys, "--root", str(sandbox), "hostname", "extra")
    assert code == 1 and "unexpected arguments" in err


def test_root_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--root", str(tmp_path / "missing"), "rollback")
    assert code == 1 and "not a directory" in err


def test_help_names_every_step_and_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for step in STEPS:
        if step.listed:
            assert f"  {step.name} " in out, step.name
    for verb in ("apply", "check", "zone", "rollback"):
        assert f"  {verb} " in out, verb
    assert "--root" in out and "--version" in out and "exit codes" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mailwizard {__version__}"


def test_console_entry_point(sandbox: Path, tmp_path: Path) -> None:
    """The installed program, end to end, in its own process."""
    answers = write(tmp_path, GOOD)
    done = subprocess.run([sys.executable, "-m", "mailwizard", "--root", str(sandbox),
                           "apply", answers], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([sys.executable, "-m", "mailwizard", "--root", str(sandbox),
                          "apply", write(tmp_path, "[hostname]\nfqdn = 'x'\n", "bad.toml")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "hostname.fqdn" in bad.stderr


def test_unknown_verb_lists_the_valid_words_sorted(sandbox: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The same message every time (a set's order changes from run to run)."""
    code, _, err = run(capsys, "--root", str(sandbox), "frobnicate")
    assert code == 1
    words = err.split("(choose from ", 1)[1].rstrip(")\n").split(", ")
    assert words == sorted(words)
    assert {"hostname", "dkim", "apply", "rollback"} <= set(words)


def test_apply_whose_restore_fails_exits_2_and_says_not_every_file(
    sandbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The disk fills up mid-apply: /etc/hostname was written, /etc/mailname cannot be,
    nor can /etc/hostname be put back. The CLI must not claim every file was restored."""
    import errno

    from mailwizard.system import System

    real = System.write_atomic
    full = False

    def write_atomic(self: System, logical: str, data: bytes, **kw: object) -> None:
        nonlocal full
        if logical == "/etc/mailname" or (full and logical == "/etc/hostname"):
            full = True
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, logical, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(System, "write_atomic", write_atomic)
    before = tree(sandbox)
    code, out, err = run(capsys, "--root", str(sandbox), "apply", write(tmp_path, GOOD))
    assert code == 2, (out, err)
    assert "mailwizard: apply failed at writing files: " in err
    assert "fail: could not restore /etc/hostname: [Errno 28] No space left on device" in out
    assert "mailwizard: NOT every file could be restored: the old files are in " \
           "/var/backups/mailwizard/" in err
    assert "every file was restored" not in err
    assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"  # not put back
    after = tree(sandbox)
    for name in ("etc/mailname", "etc/hosts", "etc/postfix/main.cf"):
        assert after[name] == before[name], name
