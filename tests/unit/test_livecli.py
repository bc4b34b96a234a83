"""`mailwizard check --live`: where the password comes from, the options, the text form."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailwizard import cli, livecli
from mailwizard.checks import CheckResult, TranscriptLine
from mailwizard.secret import MASK


def test_password_from_the_environment_then_the_prompt_never_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILWIZARD_PASSWORD", "from-env-123")
    secret = livecli.read_password("u@example.com", ask=lambda prompt: "asked")
    assert secret is not None and secret.reveal() == "from-env-123"
    monkeypatch.delenv("MAILWIZARD_PASSWORD")
    prompts: list[str] = []
    asked = livecli.read_password("u@example.com", ask=lambda p: prompts.append(p) or "typed")
    assert asked is not None and asked.reveal() == "typed"
    assert prompts == ["Password for u@example.com: "]
    assert livecli.read_password(None, ask=lambda p: "x") is None
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert livecli.read_password("u@example.com") is None  # no terminal, no prompt


def test_there_is_no_password_option(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--root", str(tmp_path), "check", "--live", "--password", "x"])
    assert exc.value.code == 1


def test_nameserver_with_and_without_port() -> None:
    assert livecli.parse_nameserver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert livecli.parse_nameserver("ns.example.com") == ("ns.example.com", 53)
    assert livecli.parse_nameserver(None) is None
    with pytest.raises(ValueError, match=r"--nameserver 1\.2\.3\.4:x: the port"):
        livecli.parse_nameserver("1.2.3.4:x")


def test_text_form_shows_transcript_verdict_and_command() -> None:
    result = CheckResult(
        "live.auth", "pass", "u logs in", transcript=(
            TranscriptLine(0.0, "note", "connecting to 192.0.2.10:587"),
            TranscriptLine(0.012, "server", "220 mail.example.com ESMTP Postfix"),
            TranscriptLine(0.3, "client", f"AUTH PLAIN {MASK}"),
        ), command="swaks --server 192.0.2.10:587 --auth-hide-password")
    text = livecli.render([result])
    assert text.splitlines()[0].startswith("── live.auth  ✔ pass ──")
    assert "  0.012  S: 220 mail.example.com ESMTP Postfix" in text
    assert f"  0.300  C: AUTH PLAIN {MASK}" in text
    assert "repeat by hand: swaks --server 192.0.2.10:587" in text


def test_live_tests_that_cannot_run_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["check", "--live"], ["check"]):  # the report runs first: no traceback
        code = cli.main(["--root", str(tmp_path), *args])
        err = capsys.readouterr().err
        assert code == 2 and "is Postfix installed?" in err, err
