"""The domains step: mydestination, mynetworks, and the relay guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailwizard import postfix, relay
from mailwizard.apply import apply
from mailwizard.steps.base import AnswersError
from mailwizard.steps.domains import (
    DomainsAnswers,
    DomainsStep,
    mail_domains,
    primary_domain,
    safe_relay_restrictions,
)
from mailwizard.system import System

STEP = DomainsStep()
GOOD = DomainsAnswers(
    mydestination=("example.com", "mail.example.com", "localhost.example.com", "localhost"),
    mynetworks=("127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"),
)


def set_main(sandbox: Path, name: str, value: str | None) -> None:
    """Replace (or with None delete) a parameter line in the sandbox's main.cf."""
    main = sandbox / "etc/postfix/main.cf"
    lines = [ln for ln in main.read_text().splitlines(keepends=True)
             if not ln.startswith(f"{name} =")]
    if value is not None:
        lines.append(f"{name} = {value}\n")
    main.write_text("".join(lines))


def main_after(plan_files: tuple[object, ...]) -> str:
    for change in plan_files:
        if getattr(change, "path", "") == postfix.MAIN_CF:
            after = getattr(change, "after", b"")
            return bytes(after).decode()
    return ""


def test_safe_relay_restrictions() -> None:
    kept = "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"
    assert safe_relay_restrictions(kept) == kept
    assert safe_relay_restrictions("permit_mynetworks, reject_unauth_destination") == (
        "permit_mynetworks, reject_unauth_destination")
    assert safe_relay_restrictions("permit_mynetworks, permit_sasl_authenticated") == (
        "permit_mynetworks permit_sasl_authenticated reject_unauth_destination")
    assert safe_relay_restrictions("") == (
        "permit_mynetworks permit_sasl_authenticated reject_unauth_destination")


def test_current(system: System) -> None:
    assert STEP.current(system) == DomainsAnswers(
        mydestination=("$myhostname", "debian", "localhost.localdomain", "localhost"),
        mynetworks=("127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"),
    )


def test_plan_keeps_existing_defer_unauth_destination(system: System) -> None:
    plan = STEP.plan(GOOD, system)
    text = main_after(plan.files)
    assert ("smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated "
            "defer_unauth_destination\n") in text
    assert "reject_unauth_destination" not in text
    assert "mydestination = example.com, mail.example.com, localhost.example.com, localhost\n" in (
        text)
    # The Debian default mynetworks is already what was asked: left alone.
    assert "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128\n" in text
    assert plan.reload == {"postfix"} and plan.steps == ("domains",)


def test_plan_adds_reject_unauth_destination_when_both_missing(
    system: System, sandbox: Path
) -> None:
    set_main(sandbox, "smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated")
    text = main_after(STEP.plan(GOOD, system).files)
    assert ("smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated "
            "reject_unauth_destination\n") in text


def test_plan_with_postfix_default_relay_restrictions(system: System, sandbox: Path) -> None:
    """Unset in main.cf: the default (defer_unauth_destination at compatibility level >= 1)
    is a guard; nothing is added, and the status is not "open relay"."""
    set_main(sandbox, "smtpd_relay_restrictions", None)
    plan = STEP.plan(GOOD, system)
    assert "smtpd_relay_restrictions" not in main_after(plan.files)
    assert STEP.status(system).state != "problem"


def test_plan_with_default_relay_restrictions_at_level_0(system: System, sandbox: Path) -> None:
    set_main(sandbox, "smtpd_relay_restrictions", None)
    set_main(sandbox, "compatibility_level", "0")
    assert STEP.status(system).state == "problem"
    text = main_after(STEP.plan(GOOD, system).files)
    line = next(ln for ln in text.splitlines() if ln.startswith("smtpd_relay_restrictions"))
    assert line.endswith("reject_unauth_destination")
    assert "{" not in line  # never the raw ${...} expression


def test_open_relay_refused_and_named(system: System) -> None:
    answers = DomainsAnswers(mydestination=GOOD.mydestination,
                             mynetworks=("127.0.0.0/8", "0.0.0.0/0"))
    problems = STEP.validate(answers, system)
    errors = [p for p in problems if p.level == "error"]
    assert [p.field for p in errors] == ["domains.mynetworks[1]"]
    assert "open relay" in errors[0].message
    with pytest.raises(AnswersError):
        STEP.plan(answers, system)


@pytest.mark.parametrize("nets", [
    ("0.0.0.0/1", "128.0.0.0/1"),
    ("0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"),
    ("[::]/1", "[8000::]/1"),
    tuple(f"{a}.0.0.0/8" for a in range(11, 20)),
])
def test_open_relay_by_arithmetic_refused(system: System, sandbox: Path,
                                          nets: tuple[str, ...]) -> None:
    answers = DomainsAnswers(mydestination=GOOD.mydestination, mynetworks=("127.0.0.0/8", *nets))
    errors = [p for p in STEP.validate(answers, system) if p.level == "error"]
    assert errors and all(p.field.startswith("domains.mynetworks") for p in errors)
    assert all("open relay" in p.message and "at most a /" in p.message for p in errors)
    with pytest.raises(AnswersError):
        STEP.plan(answers, system)
    set_main(sandbox, "mynetworks", " ".join(nets))  # already on the machine: a problem
    assert STEP.status(system).state == "problem"


def test_bad_destination_named(system: System) -> None:
    answers = DomainsAnswers(mydestination=("example.com", "bad domain"), mynetworks=())
    problems = STEP.validate(answers, system)
    assert [p.field for p in problems if p.level == "error"] == ["domains.mydestination[1]"]


def test_empty_mydestination_is_an_error(system: System) -> None:
    problems = STEP.validate(DomainsAnswers((), GOOD.mynetworks), system)
    assert any(p.field == "domains.mydestination" and p.level == "error" for p in problems)


def test_warns_when_myhostname_not_in_mydestination(system: System) -> None:
    answers = DomainsAnswers(mydestination=("example.com", "localhost"),
                             mynetworks=GOOD.mynetworks)
    problems = STEP.validate(answers, system)
    assert [(p.field, p.level) for p in problems] == [("domains.mydestination", "warning")]
    assert "debian" in problems[0].message
    with_var = DomainsAnswers(("$myhostname", "example.com"), GOOD.mynetworks)
    assert STEP.validate(with_var, system) == []


def test_warns_on_public_network_and_missing_loopback(system: System) -> None:
    answers = DomainsAnswers(mydestination=("$myhostname",), mynetworks=("8.8.8.0/24",))
    problems = STEP.validate(answers, system)
    assert {(p.field, p.level) for p in problems} == {
        ("domains.mynetworks[0]", "warning"), ("domains.mynetworks", "warning")}
    only_host = DomainsAnswers(("$myhostname",), ("127.0.0.1",))
    assert STEP.validate(only_host, system) == []


def test_apply_then_plan_again_is_empty(system: System, sandbox: Path) -> None:
    answers = DomainsAnswers(mydestination=GOOD.mydestination,
                             mynetworks=(*GOOD.mynetworks, "192.168.1.7/24", "2001:db8::/32"))
    plan = STEP.plan(answers, system)
    text = main_after(plan.files)
    assert ("mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 192.168.1.0/24 "
            "[2001:db8::]/32\n") in text
    assert apply(System(root=sandbox), plan).ok
    assert STEP.plan(answers, System(root=sandbox)).is_empty


def test_status_and_primary_domain(system: System, sandbox: Path) -> None:
    assert STEP.status(system).state == "todo"
    assert mail_domains(system) == []
    set_main(sandbox, "mydestination", "$myhostname, mail.example.com, example.com, localhost")
    fresh = System(root=sandbox)
    assert mail_domains(fresh) == ["mail.example.com", "example.com"]
    assert primary_domain(fresh) == "example.com"
    status = STEP.status(fresh)
    assert (status.state, status.summary) == ("ok", "example.com +1")
    set_main(sandbox, "mynetworks", "0.0.0.0/0")
    assert STEP.status(System(root=sandbox)).state == "problem"


def test_parse_types() -> None:
    assert STEP.parse({"mydestination": ["example.com"], "mynetworks": []}) == DomainsAnswers(
        ("example.com",), ())
    with pytest.raises(AnswersError) as exc:
        STEP.parse({"mydestination": "example.com", "mynetworks": [1]})
    fields = sorted(p.field for p in exc.value.problems)
    assert fields == ["domains.mydestination", "domains.mynetworks"]


# An smtpd_relay_restrictions expression on $compatibility_level written into main.cf (by
# Debian, an older mailwizard, or Postfix's default copied in by hand): the step writes the
# plain list it means, as the SASL step does, and a stranger still may not relay.
DEFAULT_EXPR = ("${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
                "permit_sasl_authenticated, defer_unauth_destination}}")
OLDER_MAILWIZARD = DEFAULT_EXPR + " permit_sasl_authenticated"
PLAIN = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"


def relay_after(plan_files: tuple[object, ...]) -> list[str]:
    return [line for line in main_after(plan_files).splitlines()
            if line.startswith("smtpd_relay_restrictions")]


def stranger_refused(items: list[str]) -> bool:
    """A guard, and before it nothing that permits an unknown, unauthenticated client."""
    guard = next((i for i, item in enumerate(items)
                  if item in ("reject_unauth_destination", "defer_unauth_destination")), None)
    allowed = {"permit_mynetworks", "permit_sasl_authenticated", "check_client_access"}
    return guard is not None and all(item in allowed or ":" in item
                                     for item in items[:guard])


@pytest.mark.parametrize("written", [DEFAULT_EXPR, OLDER_MAILWIZARD],
                         ids=["postfix-default-written-out", "older-mailwizard"])
def test_a_compatibility_level_expression_becomes_the_plain_list(
        system: System, sandbox: Path, written: str) -> None:
    set_main(sandbox, "smtpd_relay_restrictions", written)
    assert postfix.explicit(system)["smtpd_relay_restrictions"] == written
    plan = STEP.plan(GOOD, system)
    assert relay_after(plan.files) == [f"smtpd_relay_restrictions = {PLAIN}"]
    diff = [line for line in plan.diff().splitlines() if "smtpd_relay_restrictions" in line]
    assert diff == [f"-smtpd_relay_restrictions = {written}",
                    f"+smtpd_relay_restrictions = {PLAIN}"]
    view = system.with_files({f.path: f.after for f in plan.files})
    items = postfix.split_list(postfix.expanded(view, "smtpd_relay_restrictions"))
    assert items == ["permit_mynetworks", "permit_sasl_authenticated",
                     "reject_unauth_destination"]
    assert stranger_refused(items)
    assert STEP.status(view).state != "problem"
    assert "smtpd_relay_restrictions" not in STEP.plan(GOOD, view).diff()  # once plain: kept


def test_an_admins_own_expression_keeps_its_restrictions_in_the_plain_list(
        system: System, sandbox: Path) -> None:
    set_main(sandbox, "smtpd_relay_restrictions",
             "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
             "check_client_access hash:/etc/postfix/relay_ok, defer_unauth_destination}}")
    plan = STEP.plan(GOOD, system)
    assert relay_after(plan.files) == [
        "smtpd_relay_restrictions = permit_mynetworks check_client_access "
        "hash:/etc/postfix/relay_ok defer_unauth_destination"]
    view = system.with_files({f.path: f.after for f in plan.files})
    items = postfix.split_list(postfix.expanded(view, "smtpd_relay_restrictions"))
    assert stranger_refused(items) and "permit_sasl_authenticated" not in items


def test_an_expression_empty_at_this_level_gets_the_guard(system: System,
                                                          sandbox: Path) -> None:
    """At compatibility_level 0 the default expression means no restriction at all (an open
    relay but for smtpd_recipient_restrictions): the plain list with the guard."""
    set_main(sandbox, "smtpd_relay_restrictions", DEFAULT_EXPR)
    set_main(sandbox, "compatibility_level", "0")
    assert STEP.status(system).state == "problem"
    plan = STEP.plan(GOOD, system)
    assert relay_after(plan.files) == [f"smtpd_relay_restrictions = {PLAIN}"]
    view = system.with_files({f.path: f.after for f in plan.files})
    assert STEP.status(view).state != "problem"


@pytest.mark.parametrize("sasl, wanted", [
    (False, "permit_mynetworks check_client_access hash:/etc/postfix/relay_ok "
            "reject_unauth_destination"),
    (True, "permit_mynetworks check_client_access hash:/etc/postfix/relay_ok "
           "permit_sasl_authenticated reject_unauth_destination"),
], ids=["domains", "sasl"])
def test_an_expression_without_a_guard_gets_one_in_both_steps(
        system: System, sandbox: Path, sasl: bool, wanted: str) -> None:
    set_main(sandbox, "smtpd_relay_restrictions",
             "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
             "check_client_access hash:/etc/postfix/relay_ok}}")
    assert relay.plain_relay(system, sasl=sasl) == wanted
    assert stranger_refused(postfix.split_list(wanted))
