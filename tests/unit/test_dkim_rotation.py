"""DKIM selector rotation in two phases (issue 11 item 2).

Phase 1, a new selector: the new key is made and its record shown, opendkim keeps signing
with the old key, and the rotation waits in ``ROTATION_FILE``. Phase 2, ``published =
true``: only when the DNS check sees the new record are Selector and KeyFile switched.
The DNS check itself (``dkim.published_check``) is replaced here by a recording stand-in;
tests/integration/test_spf_dkim.py runs it against nsd.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailwizard import dns, opendkim
from mailwizard.apply import apply
from mailwizard.checks import CheckResult
from mailwizard.steps import dkim
from mailwizard.steps.base import errors
from mailwizard.steps.dkim import ROTATION_FILE, DkimAnswers, DkimFacts, DkimStep, public_key
from mailwizard.system import System
from tests.unit.test_dkim import keyed, real_key  # noqa: F401  (fixtures)

STEP = DkimStep()
OLD = DkimAnswers(domain="example.com", selector="mail")
NEW = DkimAnswers(domain="example.com", selector="s2026")
PUBLISHED = DkimAnswers(domain="example.com", selector="s2026", published=True)

Checked = list[tuple[str, str, str]]


def _dns(monkeypatch: pytest.MonkeyPatch, status: str, found: str = "") -> Checked:
    """Replace the DNS check; return the (domain, selector, key) it was asked about."""
    asked: Checked = []

    def check(domain: str, selector: str, key: str) -> CheckResult:
        asked.append((domain, selector, key))
        name = f"{selector}._domainkey.{domain}."
        detail = f"{name}: the key on this server (2048 bits)" if status == "pass" else \
            f"{name}: absent"
        return CheckResult("dns.dkim", status, detail, f"{name} TXT v=DKIM1; ...",  # type: ignore[arg-type]
                           found or "absent: no such name (NXDOMAIN)")

    monkeypatch.setattr(dkim, "published_check", check)
    return asked


def _conf(system: System) -> tuple[str | None, str | None]:
    text = system.read_text(opendkim.CONF) or ""
    return opendkim.get(text, "Selector"), opendkim.get(text, "KeyFile")


@pytest.fixture
def signing(keyed: System) -> System:  # noqa: F811
    """opendkim signs with selector mail (applied, running)."""
    assert apply(keyed, STEP.plan(OLD, keyed)).ok
    assert _conf(keyed) == ("mail", "/etc/dkimkeys/mail.private")
    return keyed


def _phase1(system: System) -> None:
    assert apply(system, STEP.plan(NEW, system)).ok


def test_a_new_selector_makes_the_key_and_keeps_signing_with_the_old(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(NEW, signing)
    assert found.plan is not None
    plan = found.plan
    assert [c.argv[0] for c in plan.commands] == ["opendkim-genkey"]
    assert plan.commands[0].argv[plan.commands[0].argv.index("-s") + 1] == "s2026"
    conf = plan.file(opendkim.CONF)
    assert conf is None or opendkim.get((conf.after or b"").decode(), "Selector") == "mail"
    rotation = plan.file(ROTATION_FILE)
    assert rotation is not None and rotation.after is not None
    assert 'selector = "s2026"' in rotation.after.decode()
    assert 'signing = "mail"' in rotation.after.decode()
    assert "opendkim" not in plan.restart  # it signs as before: nothing to restart
    # The admin is told what happens next, at the field that finishes it.
    assert any(p.field == "dkim.published" and p.level == "warning" and "mail" in p.message
               for p in found.problems)
    assert asked == []  # no key, nothing to look for yet

    assert apply(signing, plan).ok
    assert "still signed with selector mail" in dkim.rotation_news(plan, signing)
    assert "published = true" in dkim.rotation_news(plan, signing)
    assert _conf(signing) == ("mail", "/etc/dkimkeys/mail.private")  # still the old key
    assert signing.exists("/etc/dkimkeys/s2026.private")
    # The form opens on the rotation; its plan is empty (nothing more to do until published).
    assert STEP.current(signing) == NEW
    assert STEP.plan(STEP.current(signing), signing).is_empty
    facts = STEP.propose(NEW, signing).facts
    assert isinstance(facts, DkimFacts) and facts.record is not None
    assert facts.record.name == "s2026._domainkey.example.com"
    assert facts.signing == "mail"
    status = STEP.status(signing)
    assert (status.state, status.summary) == ("warn", "s2026 waits for DNS")
    assert any("signing with mail" in line for line in status.now)
    # What the DNS check and the live test judge is still the key that signs.
    assert dkim.signing_answers(signing).selector == "mail"


def test_the_switch_is_refused_until_the_dns_shows_the_new_record(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    asked = _dns(monkeypatch, "fail")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is None
    bad = errors(list(found.problems))
    assert [p.field for p in bad] == ["dkim.published"]
    assert bad[0].message == ("not seen in the DNS yet (absent: no such name (NXDOMAIN)); "
                              "selector mail still signs until it is")
    key = public_key(signing, "s2026")
    assert asked == [("example.com", "s2026", key)]
    assert _conf(signing) == ("mail", "/etc/dkimkeys/mail.private")


def test_the_switch_once_the_dns_shows_it(signing: System,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    before = signing.read_bytes(ROTATION_FILE)
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is not None and not errors(list(found.problems))
    plan = found.plan
    assert asked == [("example.com", "s2026", public_key(signing, "s2026"))]
    assert [c.argv for c in plan.commands] == []  # no new key: the published one
    conf = plan.file(opendkim.CONF)
    assert conf is not None and conf.after is not None
    text = conf.after.decode()
    assert (opendkim.get(text, "Selector"), opendkim.get(text, "KeyFile")) == (
        "s2026", "/etc/dkimkeys/s2026.private")
    rotation = plan.file(ROTATION_FILE)
    assert rotation is not None and (rotation.before, rotation.after) == (before, None)
    assert plan.restart == {"opendkim"}
    # The old record may go later, not now: mail signed with it is still on its way.
    assert any(p.field == "dkim.published" and p.level == "warning"
               and "mail._domainkey.example.com" in p.message for p in found.problems)

    assert apply(signing, plan).ok
    news = " ".join(dkim.rotation_news(plan, signing).split())
    assert "now signed with selector s2026" in news
    assert "Keep mail._domainkey.example.com published for a few days" in news
    assert "then remove that record" in news
    assert _conf(signing) == ("s2026", "/etc/dkimkeys/s2026.private")
    assert not signing.exists(ROTATION_FILE)
    assert signing.exists("/etc/dkimkeys/mail.private")  # the old key is kept
    assert STEP.current(signing) == NEW
    assert STEP.status(signing).summary == "s2026._domainkey"
    # The same answers file again: nothing to do, and no second DNS query.
    asked.clear()
    assert STEP.plan(PUBLISHED, signing).is_empty
    assert asked == []


def test_published_with_a_key_made_now_only_makes_it(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is not None
    assert found.plan.commands[0].argv[0] == "opendkim-genkey"
    conf = found.plan.file(opendkim.CONF)
    assert conf is None or opendkim.get((conf.after or b"").decode(), "Selector") == "mail"
    assert any(p.field == "dkim.published" and p.level == "warning"
               and "only made now" in p.message for p in found.problems)
    assert asked == []


def test_back_to_the_signing_selector_cancels_the_rotation(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    _dns(monkeypatch, "pass")
    plan = STEP.plan(OLD, signing)
    assert [f.path for f in plan.changed_files()] == [ROTATION_FILE]
    assert plan.file(ROTATION_FILE).after is None  # type: ignore[union-attr]
    assert not plan.commands and not plan.restart
    assert apply(signing, plan).ok
    assert "Rotation cancelled" in dkim.rotation_news(plan, signing)
    assert STEP.current(signing) == OLD


def test_the_zone_checks_the_signing_key_during_a_rotation(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    main_cf = signing.path("/etc/postfix/main.cf")
    main_cf.write_text(main_cf.read_text().replace("myhostname = debian",
                                                   "myhostname = mail.example.com"))
    config = dns.read_config(signing, ipv4="192.0.2.10")
    assert (config.dkim_selector, config.dkim_key) == ("mail", public_key(signing, "mail"))


def test_published_is_an_answers_file_key(system: System) -> None:
    parsed = STEP.parse({"domain": "example.com", "selector": "s2026", "published": True})
    assert parsed == PUBLISHED
    assert STEP.parse({"domain": "example.com"}).published is False


def test_the_help_tells_the_two_phases() -> None:
    help_text = " ".join(STEP.help.split())
    assert "the old record keeps working while the new one propagates" not in help_text
    for words in ("published = true", "keeps signing with the old key",
                  "remove the old record"):
        assert words in help_text, words


CheckFn = Callable[[str, str, str], CheckResult]


def test_published_check_asks_the_dns_check_for_the_new_record(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """published_check is dnscheck.check_dkim for the new selector and key."""
    seen: list[tuple[str, str, str | None]] = []

    async def check_dkim(cfg: dns.Config, look: object) -> CheckResult:
        seen.append((cfg.dkim_domain, cfg.dkim_selector, cfg.dkim_key))
        return CheckResult("dns.dkim", "pass", "found", "", "")

    monkeypatch.setattr(dkim.dnscheck, "check_dkim", check_dkim)
    result = dkim.published_check("example.com", "s2026", "MIIBIjAN")
    assert result.status == "pass"
    assert seen == [("example.com", "s2026", "MIIBIjAN")]
