"""The TOML answers file: parsing, errors that name the field, chained plans, dump."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mailwizard import answers
from mailwizard.steps import by_name
from mailwizard.steps.base import AnswersError
from mailwizard.steps.domains import DomainsAnswers
from mailwizard.steps.hostname import HostnameAnswers
from mailwizard.system import System

GOOD = """
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["example.com", "mail.example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]
"""


def fields(exc: pytest.ExceptionInfo[AnswersError]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_load_good() -> None:
    chosen = answers.load_text(GOOD)
    assert [c.step.name for c in chosen] == ["hostname", "domains"]
    assert chosen[0].answers == HostnameAnswers("mail.example.com")
    assert isinstance(chosen[1].answers, DomainsAnswers)
    assert answers.load_text("") == []


def test_order_follows_the_registry_not_the_file() -> None:
    text = '[domains]\nmydestination = ["example.com"]\nmynetworks = []\n' \
           '[hostname]\nfqdn = "mail.example.com"\n'
    assert [c.step.name for c in answers.load_text(text)] == ["hostname", "domains"]


def test_unknown_key_is_named() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text('[hostname]\nfqdn = "mail.example.com"\nfoo = 1\n')
    assert fields(exc) == ["hostname.foo"]
    assert "unknown key" in str(exc.value) and "fqdn" in str(exc.value)


def test_unknown_section_is_named() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text('[hostnam]\nfqdn = "x"\n')
    assert fields(exc) == ["hostnam"]
    assert "unknown section" in str(exc.value)


def test_missing_required_key() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text("[hostname]\n")
    assert fields(exc) == ["hostname.fqdn"]
    assert "required" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("[hostname]\nfqdn = 5\n", "hostname.fqdn", "string"),
        ("[hostname]\nfqdn = [\"a\"]\n", "hostname.fqdn", "string"),
        ("[domains]\nmydestination = \"example.com\"\nmynetworks = []\n",
         "domains.mydestination", "list of strings"),
        ("[domains]\nmydestination = [\"a.example\"]\nmynetworks = [true]\n",
         "domains.mynetworks", "list of strings"),
    ],
)
def test_wrong_types(text: str, field: str, needle: str) -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text(text)
    assert fields(exc) == [field]
    assert needle in str(exc.value)


def test_section_must_be_a_table() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text('hostname = "mail.example.com"\n')
    assert fields(exc) == ["hostname"]


def test_every_problem_at_once() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text('[hostname]\nfqdn = 1\nx = 2\n[nope]\n')
    assert sorted(fields(exc)) == ["hostname.fqdn", "hostname.x", "nope"]


def test_bad_toml() -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text("[hostname\n", where="a.toml")
    assert fields(exc) == ["a.toml"] and "not valid TOML" in str(exc.value)


def test_load_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load(tmp_path / "missing.toml")
    assert "cannot read" in str(exc.value)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AnswersError) as exc:
        answers.load(binary)
    assert "UTF-8" in str(exc.value)


def test_plan_all_chains_steps(system: System) -> None:
    plan, problems = answers.plan_all(system, answers.load_text(GOOD))
    assert problems == []
    assert plan.steps == ("hostname", "domains")
    main = plan.file("/etc/postfix/main.cf")
    assert main is not None and main.after is not None
    # One change for main.cf that holds both steps' edits, from the original bytes.
    assert main.before == system.read_bytes("/etc/postfix/main.cf")
    assert b"myhostname = mail.example.com" in main.after
    assert b"mydestination = example.com, mail.example.com" in main.after
    assert [f.path for f in plan.files].count("/etc/postfix/main.cf") == 1


def test_plan_all_sees_the_earlier_step(system: System) -> None:
    """domains warns about myhostname as the hostname step leaves it, not as it is now."""
    text = GOOD.replace('"mail.example.com", "localhost.example.com"', '"localhost.example.com"')
    _, problems = answers.plan_all(system, answers.load_text(text))
    assert [(p.field, p.level) for p in problems] == [("domains.mydestination", "warning")]
    assert "mail.example.com" in problems[0].message


def test_plan_all_error_gives_empty_plan(system: System) -> None:
    text = GOOD.replace('"[::1]/128"', '"0.0.0.0/0"')
    plan, problems = answers.plan_all(system, answers.load_text(text))
    assert plan.is_empty and plan.files == ()
    assert [p.field for p in problems if p.level == "error"] == ["domains.mynetworks[2]"]


def test_plan_all_bad_fqdn(system: System) -> None:
    plan, problems = answers.plan_all(system, answers.load_text('[hostname]\nfqdn = "mail"\n'))
    assert plan.is_empty
    assert [p.field for p in problems] == ["hostname.fqdn"]


def test_dump_round_trip() -> None:
    chosen = answers.load_text(GOOD)
    text = answers.dump(chosen)
    again = answers.load_text(text)
    assert [(c.step.name, c.answers) for c in again] == [(c.step.name, c.answers) for c in chosen]


def test_dump_escapes_strings() -> None:
    tricky = 'a"b\\c\nd\te\x7f\x01'
    chosen = [answers.Chosen(by_name("hostname"), HostnameAnswers(tricky))]
    loaded = tomllib.loads(answers.dump(chosen))
    assert loaded["hostname"]["fqdn"] == tricky
