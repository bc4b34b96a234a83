"""DMARC: the record text, its answers section, and the records file shared with SPF."""

from __future__ import annotations

import tomllib

import pytest

from mailwizard import answers, dnsrecords
from mailwizard.apply import apply
from mailwizard.steps import by_name
from mailwizard.steps.base import AnswersError, errors
from mailwizard.steps.dmarc import DmarcAnswers, DmarcStep
from mailwizard.system import System
from mailwizard.validate import Invalid

STEP = DmarcStep()


def test_record_text() -> None:
    assert dnsrecords.dmarc_record("none", "postmaster@example.com") == (
        "v=DMARC1; p=none; rua=mailto:postmaster@example.com")
    assert dnsrecords.dmarc_record("reject") == "v=DMARC1; p=reject"
    with pytest.raises(Invalid):
        dnsrecords.dmarc_record("block")


def test_answers_section_only_not_in_the_hub() -> None:
    step = by_name("dmarc")
    assert step.parseable and not step.listed
    chosen = answers.load_text('[dmarc]\npolicy = "none"\nrua = "postmaster@example.com"\n')
    assert chosen[0].answers == DmarcAnswers("none", "postmaster@example.com")
    with pytest.raises(AnswersError, match=r"dmarc\.pct"):
        answers.load_text('[dmarc]\npolicy = "none"\npct = 50\n')


def test_validation_names_the_fields(system: System) -> None:
    problems = STEP.validate(DmarcAnswers("block", "not an address"), system)
    assert sorted(p.field for p in errors(problems)) == ["dmarc.policy", "dmarc.rua"]
    warn = STEP.validate(DmarcAnswers("reject", "reports@example.net"), system)
    assert not errors(warn)
    assert any(p.field == "dmarc.policy" and "start with none" in p.message for p in warn)


def test_stored_next_to_spf_and_idempotent(system: System) -> None:
    chosen = answers.load_text(
        '[spf]\nrecord = "v=spf1 mx -all"\ncheck_incoming = false\n'
        '[dmarc]\npolicy = "quarantine"\nrua = "postmaster@example.com"\n')
    plan, problems = answers.plan_all(system, chosen)
    assert not errors(problems)
    assert apply(system, plan).ok
    data = tomllib.loads(system.read_text(dnsrecords.RECORDS_FILE) or "")
    assert data == {
        "spf": {"record": "v=spf1 mx -all"},
        "dmarc": {"policy": "quarantine", "rua": "postmaster@example.com",
                  "record": "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"},
    }
    again, _ = answers.plan_all(system, chosen)
    assert again.is_empty, again.diff()
    assert STEP.current(system) == DmarcAnswers("quarantine", "postmaster@example.com")
    status = STEP.status(system)
    assert (status.state, status.summary) == ("ok", "p=quarantine")
    # Changing DMARC leaves the SPF section as it was.
    plan = STEP.plan(DmarcAnswers("none", ""), system)
    assert apply(system, plan).ok
    data = tomllib.loads(system.read_text(dnsrecords.RECORDS_FILE) or "")
    assert data["spf"] == {"record": "v=spf1 mx -all"}
    assert data["dmarc"]["record"] == "v=DMARC1; p=none"


def test_default_before_anything_is_stored(system: System) -> None:
    assert STEP.status(system).state == "todo"
    assert STEP.current(system).policy == "none"
    assert STEP.current(system).rua.startswith("postmaster@")
