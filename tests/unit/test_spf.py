"""SPF: record building and checking, restriction ordering, the spfcheck service, idempotence."""

from __future__ import annotations

import re
import tomllib

import pytest

from mailwizard import answers, dnsrecords, postfix, services
from mailwizard.apply import apply
from mailwizard.dnsrecords import SpfParts, build_spf, check_spf, spf_parts
from mailwizard.steps import by_name
from mailwizard.steps import spf as spf_mod
from mailwizard.steps.base import errors
from mailwizard.steps.spf import (
    POLICY_FAIL_OPEN,
    POLICY_PLAIN,
    SpfAnswers,
    SpfStep,
    merge_restrictions,
    restriction_groups,
)
from mailwizard.system import System
from mailwizard.validate import Invalid

STEP = SpfStep()


@pytest.fixture(autouse=True)
def _postfix_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """apply() asks whether Postfix runs after the reload; in the sandbox it "does"."""
    monkeypatch.setattr(services, "postfix_running", lambda system: True)


def _apply(system: System, a: SpfAnswers) -> None:
    assert not errors(STEP.validate(a, system))
    result = apply(system, STEP.plan(a, system))
    assert result.ok, result.reason


# -- the record --------------------------------------------------------------------------


def test_default_record_is_valid_without_warnings() -> None:
    check = check_spf("v=spf1 mx ~all")
    assert (check.record, check.lookups, check.warnings) == ("v=spf1 mx ~all", 1, [])


def test_builder_and_parts_round_trip() -> None:
    parts = SpfParts(mx=True, a=True, ip4=("192.0.2.10", "198.51.100.0/24"),
                     ip6=("2001:db8::/32",), include=("_spf.example.net",), all="-all")
    record = build_spf(parts)
    assert record == ("v=spf1 mx a ip4:192.0.2.10 ip4:198.51.100.0/24 ip6:2001:db8::/32 "
                      "include:_spf.example.net -all")
    assert check_spf(record).warnings == []
    assert spf_parts(record) == parts
    assert spf_parts("v=spf1 exists:%{i}.x.example.net ~all") is None


@pytest.mark.parametrize(("record", "words"), [
    ("v=spf2 mx ~all", "v=spf1"),
    ("v=spf1 mx +all", "+all"),
    ("v=spf1 mx all", "+all"),
    ("v=spf1 ip4:999.1.1.1 ~all", "ip4"),
    ("v=spf1 ip4:2001:db8::1 ~all", "IPv4"),
    ("v=spf1 ip4:0.0.0.0/0 ~all", "every address"),
    ("v=spf1 -all mx", "after 'all'"),
    ("v=spf1 include: ~all", "needs a domain"),
    ("v=spf1 bogus ~all", "not an SPF mechanism"),
    ('v=spf1 mx "~all"', "quotes"),
    ("v=spf1 mx ~all\nv=spf1", "one line"),
    ("v=spf1 mx/33 ~all", "prefix length"),
    # As open as +all by arithmetic
    ("v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 ~all", "as open as '+all'"),
    ("v=spf1 +ip4:0.0.0.0/2 ip4:64.0.0.0/2 ip4:128.0.0.0/2 ip4:192.0.0.0/2 -all", "+all"),
    ("v=spf1 ip6:::/1 ip6:8000::/1 ~all", "public IPv6"),
    ("v=spf1 ip4:4.0.0.0/7 ~all", "at most a /8"),
    ("v=spf1 a/0 ~all", "as open as '+all'"),
    ("v=spf1 mx/0 -all", "as open as '+all'"),
    ("v=spf1 +a:mail.example.com/1 -all", "as open as '+all'"),
    ("v=spf1 mx//0 -all", "as open as '+all'"),
])
def test_bad_records_are_refused_saying_why(record: str, words: str) -> None:
    with pytest.raises(Invalid, match=re.escape(words)):
        check_spf(record)


def test_neutral_or_failing_wide_terms_and_small_prefixes_pass() -> None:
    check_spf("v=spf1 -ip4:0.0.0.0/1 ~ip4:128.0.0.0/1 mx/24 a//64 ip4:192.0.2.0/24 -all")


def test_warning_past_ten_dns_lookups() -> None:
    record = "v=spf1 mx a " + " ".join(f"include:s{i}.example.net" for i in range(9)) + " ~all"
    check = check_spf(record)
    assert check.lookups == 11
    assert any("11 DNS lookups" in w and "10" in w for w in check.warnings)
    ten = "v=spf1 mx a " + " ".join(f"include:s{i}.example.net" for i in range(8)) + " ~all"
    assert not any("11 DNS" in w for w in check_spf(ten).warnings)


def test_lookup_warning_reaches_the_answers_problems(system: System) -> None:
    record = "v=spf1 " + " ".join(f"a:h{i}.example.net" for i in range(11)) + " -all"
    problems = STEP.validate(SpfAnswers(record=record), system)
    assert not errors(problems)
    assert any(p.field == "spf.record" and "permerror" in p.message for p in problems)


def test_invalid_record_names_the_field(system: System) -> None:
    problems = STEP.validate(SpfAnswers(record="v=spf1 +all"), system)
    assert [p.field for p in errors(problems)] == ["spf.record"]


# -- smtpd_recipient_restrictions ------------------------------------------------------------


def test_empty_restrictions_get_the_guides_order() -> None:
    assert merge_restrictions("", True, POLICY_PLAIN) == [
        "permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination",
        POLICY_PLAIN,
    ]


def test_policy_goes_right_after_the_guard_and_the_admins_entries_stay() -> None:
    current = ("permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, "
               "reject_rbl_client zen.spamhaus.org, check_client_access hash:/etc/postfix/ok")
    assert merge_restrictions(current, True, POLICY_FAIL_OPEN) == [
        "permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination",
        POLICY_FAIL_OPEN, "reject_rbl_client zen.spamhaus.org",
        "check_client_access hash:/etc/postfix/ok",
    ]


def test_policy_before_the_guard_is_moved_after_it() -> None:
    current = ("permit_mynetworks, check_policy_service unix:private/spfcheck, "
               "reject_unauth_destination")
    assert merge_restrictions(current, True, POLICY_PLAIN) == [
        "permit_mynetworks", "reject_unauth_destination", POLICY_PLAIN,
    ]


def test_list_without_guard_keeps_permits_first() -> None:
    out = merge_restrictions("reject_non_fqdn_recipient", True, POLICY_PLAIN)
    assert out == ["permit_mynetworks", "permit_sasl_authenticated",
                   "reject_non_fqdn_recipient", "reject_unauth_destination", POLICY_PLAIN]


def test_policy_already_placed_later_keeps_its_place_in_the_wanted_form() -> None:
    current = ("permit_mynetworks, reject_unauth_destination, reject_unknown_recipient_domain, "
               "check_policy_service unix:private/spfcheck, "
               "check_policy_service unix:private/spfcheck")
    assert merge_restrictions(current, True, POLICY_FAIL_OPEN) == [
        "permit_mynetworks", "reject_unauth_destination", "reject_unknown_recipient_domain",
        POLICY_FAIL_OPEN,
    ]


def test_turning_off_removes_only_the_policy() -> None:
    current = f"permit_mynetworks, reject_unauth_destination, {POLICY_FAIL_OPEN}, permit"
    assert merge_restrictions(current, False, POLICY_FAIL_OPEN) == [
        "permit_mynetworks", "reject_unauth_destination", "permit",
    ]


def test_groups_keep_braces_and_arguments_whole() -> None:
    assert restriction_groups(f"permit_mynetworks {POLICY_FAIL_OPEN}, warn_if_reject "
                              "reject_unknown_client_hostname") == [
        "permit_mynetworks", POLICY_FAIL_OPEN, "warn_if_reject reject_unknown_client_hostname",
    ]


# -- plans on the sandbox ---------------------------------------------------------------------


def test_plan_stages_service_restrictions_and_time_limit(system: System) -> None:
    plan = STEP.plan(SpfAnswers(), system)
    main = plan.file(postfix.MAIN_CF)
    master = plan.file(postfix.MASTER_CF)
    assert main is not None and master is not None and main.after and master.after
    view = system.with_files({f.path: f.after for f in plan.files})
    assert postfix.get(view, "smtpd_recipient_restrictions") == (
        "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, "
        + POLICY_FAIL_OPEN)
    assert postfix.get(view, "spfcheck_time_limit") == "3600"
    assert postfix.services(view)["spfcheck/unix"] == spf_mod.SERVICE
    assert plan.reload == {"postfix"}
    # postconf accepts the { } form and the new parameter: no warning at all.
    assert postfix.stage(view).warnings == ()


def test_exactly_one_spfcheck_entry_after_two_stagings(system: System) -> None:
    entry = f"spfcheck/unix={spf_mod.SERVICE}"
    first = postfix.stage(system, set_services=[entry])
    view = system.with_files({c.path: c.after for c in first.changes})
    second = postfix.stage(view, set_services=[entry])
    view = view.with_files({c.path: c.after for c in second.changes})
    master = view.read_text(postfix.MASTER_CF) or ""
    assert sum(1 for line in master.splitlines() if line.startswith("spfcheck")) == 1
    assert [k for k in postfix.services(view) if k.startswith("spfcheck")] == ["spfcheck/unix"]


def test_second_apply_plans_nothing_and_one_entry_remains(system: System) -> None:
    _apply(system, SpfAnswers())
    again = STEP.plan(SpfAnswers(), system)
    assert again.is_empty, again.diff()
    _apply(system, SpfAnswers())
    master = system.read_text(postfix.MASTER_CF) or ""
    assert sum(1 for line in master.splitlines() if line.startswith("spfcheck")) == 1
    assert STEP.current(system) == SpfAnswers()


def test_record_is_stored_for_the_dns_step(system: System) -> None:
    _apply(system, SpfAnswers(record="v=spf1  mx   ip4:192.0.2.10 -all"))
    data = tomllib.loads(system.read_text(dnsrecords.RECORDS_FILE) or "")
    assert data["spf"] == {"record": "v=spf1 mx ip4:192.0.2.10 -all"}
    assert system.info(dnsrecords.RECORDS_FILE).mode == 0o644  # type: ignore[union-attr]
    assert STEP.current(system).record == "v=spf1 mx ip4:192.0.2.10 -all"


def test_turning_the_check_off_removes_the_policy_and_keeps_the_service(
    system: System,
) -> None:
    _apply(system, SpfAnswers())
    _apply(system, SpfAnswers(check_incoming=False))
    groups = restriction_groups(postfix.get(system, "smtpd_recipient_restrictions"))
    assert not any("spfcheck" in g for g in groups)
    assert "reject_unauth_destination" in groups
    assert "spfcheck/unix" in postfix.services(system)
    assert STEP.current(system).check_incoming is False
    assert STEP.plan(SpfAnswers(check_incoming=False), system).is_empty


def test_fail_closed_uses_the_plain_policy(system: System) -> None:
    _apply(system, SpfAnswers(fail_open=False))
    assert postfix.get(system, "smtpd_recipient_restrictions").endswith(POLICY_PLAIN)
    assert STEP.current(system).fail_open is False


def test_old_postfix_gets_the_plain_policy_and_a_warning(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spf_mod, "fail_open_supported", lambda system: False)
    problems = STEP.validate(SpfAnswers(), system)
    assert any(p.field == "spf.fail_open" and p.level == "warning" for p in problems)
    view = system.with_files({f.path: f.after for f in STEP.plan(SpfAnswers(), system).files})
    assert postfix.get(view, "smtpd_recipient_restrictions").endswith(POLICY_PLAIN)


def test_answers_file_section(system: System) -> None:
    chosen = answers.load_text('[spf]\nrecord = "v=spf1 mx ~all"\ncheck_incoming = true\n')
    assert chosen[0].answers == SpfAnswers("v=spf1 mx ~all", True, True)
    plan, problems = answers.plan_all(system, chosen)
    assert not errors(problems) and not plan.is_empty
    assert by_name("spf") is not None


def test_status_lines(system: System) -> None:
    assert STEP.status(system).state == "todo"
    _apply(system, SpfAnswers())
    status = STEP.status(system)
    # The sandbox has no postfix-policyd-spf-perl: a configured check without it is a problem.
    assert status.state == "problem" and "policyd-spf" in status.summary
    # No plan of its own fixes it (installing is the admin's): the words say what to run.
    assert status.action == ("run: apt-get install postfix-policyd-spf-perl "
                             "(incoming mail is checked with it)")
    (system.path(spf_mod.POLICY_PROGRAM)).parent.mkdir(parents=True, exist_ok=True)
    system.path(spf_mod.POLICY_PROGRAM).write_text("#!/usr/bin/perl\n")
    status = STEP.status(system)
    assert (status.state, status.summary) == ("ok", "v=spf1 mx ~all · incoming checked")
    assert status.action == ""
