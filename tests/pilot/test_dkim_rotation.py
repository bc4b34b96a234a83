"""Pilot tests: a DKIM selector rotation on the DKIM screen.

A new selector makes the new key while the old one signs; the Published tick (and f8)
asks the DNS check, the review is refused until it sees the record, then the switch is
reviewed and applied. The DNS check is a recording stand-in here (the namespace test
asks nsd).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import DataTable

from mailwizard import opendkim, report, services
from mailwizard.checks import CheckResult
from mailwizard.screens.dkim import DkimScreen
from mailwizard.screens.dns import DnsScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.steps import dkim
from mailwizard.steps.dkim import ROTATION_FILE, Rotation, rotation_text
from tests.pilot.dns_recorded import CONFIG, KEY, Recorded
from tests.pilot.harness import (
    apply_from_review,
    field_message,
    hub_ready,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import RecordingRunner, fake_genkey, make_key

SIZE = (80, 24)
SELECTOR = "#field-dkim-selector"
RUA = "#field-dmarc-rua"


def _signing(sandbox: Path) -> None:
    """opendkim signs example.com with selector mail (its key on disk)."""
    make_key(sandbox, "mail")
    conf = sandbox / opendkim.CONF.lstrip("/")
    conf.write_text(opendkim.edit(conf.read_text(), {
        "Domain": "example.com", "Selector": "mail", "KeyFile": "/etc/dkimkeys/mail.private",
        "Socket": opendkim.SOCKET, "InternalHosts": opendkim.TRUSTED_HOSTS,
        "SubDomains": "yes"}))


def _rotating(sandbox: Path) -> None:
    """Phase 1 done: s2026's key made, the rotation waits for its record."""
    _signing(sandbox)
    make_key(sandbox, "s2026")
    path = sandbox / ROTATION_FILE.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rotation_text(Rotation("example.com", "s2026", "mail")))


def _dns(monkeypatch: pytest.MonkeyPatch, status: str) -> list[str]:
    asked: list[str] = []

    def check(domain: str, selector: str, key: str) -> CheckResult:
        asked.append(f"{selector}._domainkey.{domain}")
        return CheckResult("dns.dkim", status, "", "",  # type: ignore[arg-type]
                           "v=DKIM1; k=rsa; p=" + key if status == "pass" else
                           "absent: no such name (NXDOMAIN)")

    monkeypatch.setattr(dkim, "published_check", check)
    return asked


async def test_a_new_selector_keeps_the_old_key_signing_and_says_so(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _signing(sandbox)
    asked = _dns(monkeypatch, "pass")
    runner.effects = {"opendkim-genkey": fake_genkey(sandbox)}
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=SIZE) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        assert not screen.field("dkim.published").display  # no rotation: no such question
        await type_into(pilot, RUA, "postmaster@example.com", keys=2)
        await type_into(pilot, SELECTOR, "s2026", keys=2)
        await step_ready(pilot)
        assert screen.field("dkim.published").display
        assert field_message(screen, "dkim.published").startswith(
            "! a new key: selector mail signs until its record is published")
        changes = static_text(screen, "#changes-text")
        assert "opendkim-genkey -b 2048 -d example.com -s s2026" in changes
        assert ROTATION_FILE in changes and opendkim.CONF not in changes
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        applied = await apply_from_review(pilot)
        assert applied.result is not None and applied.result.ok, applied.result
        outcome = static_text(applied, "#apply-outcome")
        assert "Mail is still signed with selector mail." in " ".join(outcome.split())
        assert "TXT record at s2026._domainkey.example.com" in static_text(
            applied, "#apply-record")
    conf = (sandbox / opendkim.CONF.lstrip("/")).read_text()
    assert opendkim.get(conf, "Selector") == "mail"
    assert asked == []


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_published_checks_the_dns_and_refuses_until_it_sees_the_record(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch,
        size: tuple[int, int]) -> None:
    _rotating(sandbox)
    asked = _dns(monkeypatch, "fail")
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=size) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        # The form opens on the waiting rotation, with the new record to publish.
        assert screen.value("dkim.selector") == "s2026"
        assert screen.field("dkim.published").display and not screen.published.value
        assert field_message(screen, "dkim.published").startswith(
            "! publish it, then set this; until then selector mail signs")
        panel = screen.query_one("#dkim-record", VerticalScroll)
        assert panel.display and "selector mail signs until the switch" in str(
            panel.border_title)
        assert "TXT record at s2026._domainkey.example.com" in static_text(
            screen, "#dkim-record-text")
        assert screen.active_bindings["f8"].binding.description == "check DNS"
        assert asked == []
        await type_into(pilot, RUA, "postmaster@example.com", keys=2)  # DMARC's field
        await step_ready(pilot)

        await pilot.press("f8")  # ticks Published: the DNS is asked
        await wait_for(pilot, lambda: bool(asked), what="the DNS check")
        await step_ready(pilot)
        assert screen.published.value
        assert asked == ["s2026._domainkey.example.com"]
        message = field_message(screen, "dkim.published")
        assert message.startswith("✖ not seen in the DNS yet (absent: no such name")
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen  # refused: nothing to review

        _dns_ok = _dns(monkeypatch, "pass")
        await pilot.press("f8")
        await wait_for(pilot, lambda: bool(_dns_ok), what="the DNS check again")
        await step_ready(pilot)
        assert field_message(screen, "dkim.published").startswith(
            "! the DNS shows it: s2026 signs from now; keep mail._domainkey.example.com")
        changes = static_text(screen, "#changes-text")
        assert opendkim.CONF in changes and ROTATION_FILE in changes
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        applied = await apply_from_review(pilot)
        assert applied.result is not None and applied.result.ok, applied.result
        outcome = " ".join(static_text(applied, "#apply-outcome").split())
        assert "Mail is now signed with selector s2026." in outcome
        assert "then remove that record" in outcome
    conf = (sandbox / opendkim.CONF.lstrip("/")).read_text()
    assert (opendkim.get(conf, "Selector"), opendkim.get(conf, "KeyFile")) == (
        "s2026", "/etc/dkimkeys/s2026.private")
    assert not (sandbox / ROTATION_FILE.lstrip("/")).exists()
    assert (sandbox / "etc/dkimkeys/mail.private").exists()


async def test_the_hub_says_the_rotation_waits(sandbox: Path, runner: RecordingRunner,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _rotating(sandbox)
    main_cf = sandbox / "etc/postfix/main.cf"
    main_cf.write_text(main_cf.read_text() + f"smtpd_milters = {opendkim.MILTER}\n")
    monkeypatch.setattr(services, "opendkim_running", lambda system: True)
    app = make_app(sandbox, runner)
    async with app.run_test(size=SIZE) as pilot:
        hub = await hub_ready(pilot)
        status = hub.statuses["dkim"]
        assert (status.symbol, status.summary) == ("!", "s2026 waits for DNS")
        assert "dkim" not in hub.fixes  # a warning: the DKIM screen finishes it


async def test_the_dns_screen_lists_the_new_record_next_to_the_old(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    Recorded().install(monkeypatch)
    config = dataclasses.replace(CONFIG, dkim_next_selector="s2026", dkim_next_key=KEY)
    monkeypatch.setattr(report, "prepare", lambda system, request: config)
    app = make_app(sandbox, runner, start_step="dns")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DnsScreen), what="DNS screen")
        screen = app.screen
        assert isinstance(screen, DnsScreen)
        await wait_for(pilot, lambda: not screen.running, what="the checks")
        table = screen.query_one("#records", DataTable)
        names = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        at = names.index("s2026._domainkey.example.com.")
        assert names[at - 1] == "mail._domainkey.example.com."
        assert str(table.get_row_at(at)[0]) == "·"  # judged on the DKIM screen, not here
        table.move_cursor(row=at)
        await pilot.pause()
        text = " ".join(static_text(screen, "#dns-selected").split())
        assert "the new key of a DKIM rotation" in text and "f8" in text
        assert "value v=DKIM1; h=sha256; k=rsa; p=MIIB" in text  # folded to the width
