"""The saved DNS report: what the hub's DNS row shows, with its age, across processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailwizard import lastreport
from mailwizard.checks import CheckResult
from mailwizard.steps.dns import DnsStep
from mailwizard.system import System

RESULTS = [
    CheckResult("dns.a", "pass", "mail.example.com. A 192.0.2.10", "expected", "found"),
    CheckResult("dns.dkim", "fail", "mail._domainkey.example.com.: absent"),
    CheckResult("dns.dmarc", "warn", "example.com: policy none"),
    CheckResult("config.relay", "pass", "strangers are refused"),
]
AT = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)


def test_a_saved_report_is_read_back_in_order_with_its_time(sandbox: Path) -> None:
    system = System(root=sandbox)
    assert lastreport.load(system) is None
    lastreport.save(system, RESULTS, now=AT)
    saved = lastreport.load(System(root=sandbox))  # another process: nothing in memory
    assert saved is not None and saved.at == AT
    assert [(r.id, r.status, r.detail) for r in saved.results] == [
        (r.id, r.status, r.detail) for r in RESULTS]
    path = sandbox / "etc/mailwizard/dns-last.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["at"] == "2026-12-03T14:05:00Z"


def test_a_new_report_replaces_the_old_one(sandbox: Path) -> None:
    system = System(root=sandbox)
    lastreport.save(system, RESULTS, now=AT)
    lastreport.save(system, RESULTS[:1], now=AT + timedelta(hours=1))
    saved = lastreport.load(system)
    assert saved is not None and [r.id for r in saved.results] == ["dns.a"]


@pytest.mark.parametrize(("seconds", "text"), [
    (5, "just now"), (59, "just now"), (60, "1 min ago"), (3599, "59 min ago"),
    (3600, "1 h ago"), (47 * 3600, "47 h ago"), (2 * 86400, "2 days ago")])
def test_age_text(seconds: float, text: str) -> None:
    assert lastreport.age_text(seconds) == text


def test_the_hub_row_shows_the_saved_report_and_its_age(sandbox: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    system = System(root=sandbox)
    assert DnsStep().status(system).summary == "not checked yet"
    lastreport.save(system, RESULTS, now=datetime.now(UTC) - timedelta(hours=3, minutes=2))
    status = DnsStep().status(system)
    assert status.state == "problem"
    assert status.summary == "1 fail, 1 warn, 3 h ago"
    assert status.now[0] == "✖ dns.dkim: mail._domainkey.example.com.: absent"
    assert status.now[-1].startswith("checked ") and "UTC: 2 of 4 passed" in status.now[-1]
    lastreport.save(system, [r for r in RESULTS if r.status == "pass"])
    status = DnsStep().status(system)
    assert (status.state, status.summary) == ("ok", "2 pass, just now")


@pytest.mark.parametrize("text", ["", "{", "[]", '{"at": "yesterday", "checks": []}',
                                  '{"at": "2026-12-03T14:05:00Z", "checks": [{"id": "x"}]}'])
def test_a_file_that_is_not_a_report_reads_as_not_checked(sandbox: Path, text: str) -> None:
    path = sandbox / "etc/mailwizard/dns-last.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    system = System(root=sandbox)
    assert lastreport.load(system) is None
    assert DnsStep().status(system).summary == "not checked yet"


def test_a_read_only_etc_does_not_stop_the_report(sandbox: Path) -> None:
    (sandbox / "etc/mailwizard").mkdir(parents=True, exist_ok=True)
    (sandbox / "etc/mailwizard/dns-last.json").mkdir()  # cannot be replaced by a file
    lastreport.save(System(root=sandbox), RESULTS, now=AT)  # no exception
