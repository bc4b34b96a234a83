"""The shared check result: JSON contract, table form, exit codes."""

from __future__ import annotations

import json

import pytest

from mailwizard.checks import CheckResult, TranscriptLine, exit_code, to_json, to_table


def test_json_shape_is_the_contract() -> None:
    results = [
        CheckResult(
            "dns.mx",
            "pass",
            "MX points at mail.example.com",
            "mail.example.com.",
            "mail.example.com.",
        ),
        CheckResult(
            "live.auth",
            "fail",
            "wrong password",
            transcript=(TranscriptLine(0.01, "client", "EHLO x"),),
        ),
    ]
    data = json.loads(to_json(results))
    assert [set(c) for c in data["checks"]] == [
        {"id", "status", "detail", "expected", "found"},
        {"id", "status", "detail", "expected", "found", "transcript"},
    ]
    assert data["checks"][1]["transcript"] == [{"t": 0.01, "kind": "client", "text": "EHLO x"}]


def test_exit_code_warnings_allowed_failures_not() -> None:
    assert exit_code([CheckResult("a", "pass", ""), CheckResult("b", "warn", "")]) == 0
    assert exit_code([CheckResult("a", "pass", ""), CheckResult("b", "fail", "")]) == 1


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        CheckResult("a", "ok", "")  # type: ignore[arg-type]


def test_table_shows_expected_and_found_under_a_failure_only() -> None:
    text = to_table(
        [
            CheckResult("dns.a", "pass", "ok", "1", "1"),
            CheckResult("dns.spf", "fail", "no", "v=spf1 mx ~all", "absent"),
        ]
    )
    assert "expected: v=spf1 mx ~all" in text and "found:    absent" in text
    assert text.count("expected:") == 1
    assert text.splitlines()[-1] == "1 pass, 1 fail"
