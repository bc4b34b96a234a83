"""The aliases step: key-by-key edits of /etc/aliases, validation, postalias, idempotence."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mailwizard import answers
from mailwizard.aliasesfile import parse_file, table
from mailwizard.apply import apply
from mailwizard.plan import Plan
from mailwizard.steps import by_name
from mailwizard.steps.aliases import (
    ALIASES,
    AliasesAnswers,
    AliasesStep,
    db_stale,
    edit_file,
    edits,
)
from mailwizard.steps.base import AnswersError, Problem, errors
from mailwizard.system import System
from tests.support import RecordingRunner, sandbox_system

STEP = AliasesStep()

HAND_EDITED = """\
# See man 5 aliases for format
postmaster:    root

# the web team, kept by hand
web: alice,
     bob
# a comment inside the entry
     carol
abuse: root   # not a comment in aliases(5), part of the value
nobody: /dev/null
"""


def real_postalias(argv: tuple[str, ...]) -> None:
    """Imitate the command's effect by running it: its path is mapped into the sandbox."""
    subprocess.run(argv, check=True, capture_output=True)


def write(sandbox: Path, text: str, *, rebuild: bool = True) -> None:
    (sandbox / "etc/aliases").write_text(text)
    if rebuild:
        real_postalias(("postalias", f"hash:{sandbox}/etc/aliases"))


def plan_for(system: System, section: dict[str, list[str]]) -> tuple[Plan, list[Problem]]:
    chosen = answers.parse({"aliases": section})
    return answers.plan_all(system, chosen)


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


# -- the file format ------------------------------------------------------------------------


def test_parse_file_joins_continuation_lines_across_comments() -> None:
    entries = {e.key: e for e in parse_file(HAND_EDITED)}
    assert entries["web"].targets == ("alice", "bob carol")  # as postalias reads it
    assert (entries["web"].start, entries["web"].end) == (4, 8)
    assert table(HAND_EDITED)["postmaster"] == ("root",)
    assert table(HAND_EDITED)["nobody"] == ("/dev/null",)


def test_edit_keeps_every_other_line_byte_for_byte() -> None:
    new = edit_file(HAND_EDITED, {"postmaster": ("admin@example.net",)})
    assert new == HAND_EDITED.replace("postmaster:    root", "postmaster: admin@example.net")


def test_edit_replaces_a_multi_line_entry_in_place() -> None:
    new = edit_file(HAND_EDITED, {"web": ("alice", "dave")})
    lines = new.splitlines()
    assert lines[3:6] == ["# the web team, kept by hand", "web: alice, dave", "abuse: root   "
                          "# not a comment in aliases(5), part of the value"]
    assert "carol" not in new and "bob" not in new


def test_edit_removes_and_appends() -> None:
    new = edit_file(HAND_EDITED, {"nobody": (), "support": ("a@example.net", "b@example.net")})
    assert "nobody" not in new
    assert new.endswith("abuse: root   # not a comment in aliases(5), part of the value\n"
                        "support: a@example.net, b@example.net\n")


def test_edit_adds_a_newline_to_a_file_without_one() -> None:
    assert edit_file("postmaster: root", {"root": ("me@example.net",)}) == (
        "postmaster: root\nroot: me@example.net\n")


def test_edit_drops_later_duplicates_of_an_edited_name() -> None:
    text = "Root: a\n# keep me\nroot: b\nother: c\n"
    assert edit_file(text, {"root": ("me@example.net",)}) == (
        "root: me@example.net\n# keep me\nother: c\n")


def test_edit_leaves_an_entry_that_already_matches() -> None:
    assert edit_file(HAND_EDITED, {"postmaster": ("root",)}) == HAND_EDITED


# -- the answers file -----------------------------------------------------------------------


def test_answers_file_section_is_a_table() -> None:
    chosen = answers.load_text(
        '[aliases]\nroot = ["admin@example.net"]\n'
        'support = ["admin@example.net", "helper@example.net"]\nold = []\n'
    )
    assert chosen[0].step is by_name("aliases")
    assert chosen[0].answers == AliasesAnswers((
        ("root", ("admin@example.net",)),
        ("support", ("admin@example.net", "helper@example.net")),
        ("old", ()),
    ))


@pytest.mark.parametrize("toml", ['root = "admin@example.net"', "root = [1]", "root = {a = 1}"])
def test_answers_file_wrong_types_name_the_key(toml: str) -> None:
    with pytest.raises(AnswersError) as info:
        answers.load_text(f"[aliases]\n{toml}\n")
    assert fields(info.value.problems) == ["aliases.root"]


def test_to_section_round_trips_through_the_answers_file() -> None:
    a = AliasesAnswers((("root", ("a@example.net",)), ("first.last", ("b@example.net",)),
                        ("gone", ())))
    assert STEP.parse(STEP.to_section(a)) == a
    text = answers.dump([answers.Chosen(STEP, a)])
    assert '"first.last" = ["b@example.net"]' in text
    (chosen,) = answers.load_text(text)
    assert chosen.answers == a


# -- validation: nothing can smuggle a second entry -----------------------------------------


@pytest.mark.parametrize(
    ("section", "where", "says"),
    [
        ({"a\nb: c": ["root"]}, 'aliases."a\\nb: c"', "one line"),
        ({"x: y": ["root"]}, 'aliases."x: y"', "':'"),
        ({"sales": ["x, y"]}, "aliases.sales[0]", "','"),
        ({"sales": ["ok@example.net", "a@example.net\nroot: evil@example.org"]},
         "aliases.sales[1]", "one line"),
        ({"sales": ["|/bin/sh"]}, "aliases.sales[0]", "no commands or files"),
        ({"sales": ["/etc/passwd"]}, "aliases.sales[0]", "no commands or files"),
        ({"sales": [":include:/etc/list"]}, "aliases.sales[0]", "no commands or files"),
        ({"sales": ['"|/bin/sh"']}, "aliases.sales[0]", "no commands or files"),
        ({"sales": ["sales"]}, "aliases.sales[0]", "itself"),
        ({"first.last": ["a b@example.net"]}, 'aliases."first.last"[0]', "space"),
    ],
)
def test_injection_is_refused_naming_the_field(
    system: System, section: dict[str, list[str]], where: str, says: str
) -> None:
    plan, problems = plan_for(system, section)
    assert plan.is_empty
    errs = errors(problems)
    assert fields(errs) == [where], problems
    assert says in errs[0].message


def test_same_name_twice_in_other_case_is_refused(system: System) -> None:
    _, problems = plan_for(system, {"Root": ["a@example.net"], "root": ["b@example.net"]})
    assert fields(errors(problems)) == ["aliases.root"]


def test_an_unchanged_hand_written_entry_is_not_refused(system: System, sandbox: Path) -> None:
    write(sandbox, HAND_EDITED)
    plan, problems = plan_for(system, {"nobody": ["/dev/null"], "root": ["a@example.net"]})
    assert not errors(problems)
    assert b"nobody: /dev/null" in (plan.file(ALIASES).after or b"")  # type: ignore[union-attr]


def test_removing_postmaster_warns(system: System) -> None:
    plan, problems = plan_for(system, {"postmaster": []})
    assert [(p.field, p.level) for p in problems] == [("aliases.postmaster", "warning")]
    assert "postmaster" in problems[0].message
    assert b"postmaster" not in (plan.file(ALIASES).after or b"")  # type: ignore[union-attr]


def test_removing_a_name_that_is_not_there_is_nothing_to_do(system: System) -> None:
    plan, problems = plan_for(system, {"nothere": []})
    assert problems == [] and plan.is_empty


PASSWD = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"


def test_a_local_target_with_no_such_user_or_alias_warns(system: System, sandbox: Path) -> None:
    (sandbox / "etc/passwd").write_text(PASSWD)
    write(sandbox, HAND_EDITED)
    plan, problems = plan_for(system, {
        "sales": ["alice", "bobby", "web", "Root", "bobby@localhost.localdomain",
                  "carol@example.net", "team"],
        "team": ["root"],
    })
    assert not errors(problems)
    assert [(p.field, p.level) for p in problems] == [
        ("aliases.sales[1]", "warning"), ("aliases.sales[4]", "warning")]
    assert "bobby" in problems[0].message and "no user or alias" in problems[0].message
    assert b"bobby" in (plan.file(ALIASES).after or b"")  # a warning: still written


def test_no_passwd_file_means_no_guess_about_local_users(system: System) -> None:
    _, problems = plan_for(system, {"sales": ["bobby"]})
    assert problems == []


# -- plans -----------------------------------------------------------------------------------


def test_plan_is_a_minimal_diff_and_rebuilds_the_map(system: System, sandbox: Path) -> None:
    write(sandbox, HAND_EDITED)
    plan, problems = plan_for(system, {"root": ["Admin@Example.NET"],
                                       "support": ["a@example.net", "helper"]})
    assert problems == []
    assert plan.diff().splitlines()[2:] == [
        "@@ -9,2 +9,4 @@",
        " abuse: root   # not a comment in aliases(5), part of the value",
        " nobody: /dev/null",
        "+root: Admin@example.net",
        "+support: a@example.net, helper",
    ]
    (cmd,) = plan.commands
    assert cmd.argv == ("postalias", f"hash:{sandbox}/etc/aliases")
    assert cmd.touches == ("/etc/aliases.db",)
    assert plan.reload == frozenset()


def test_plan_follows_alias_database(system: System, sandbox: Path) -> None:
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e",
                    "alias_database=hash:/etc/aliases, lmdb:/etc/aliases"], check=True)
    plan, _ = plan_for(system, {"root": ["a@example.net"]})
    (cmd,) = plan.commands
    assert cmd.argv == ("postalias", f"hash:{sandbox}/etc/aliases", f"lmdb:{sandbox}/etc/aliases")
    assert cmd.touches == ("/etc/aliases.db", "/etc/aliases.lmdb")


def test_apply_twice_second_plan_is_empty(sandbox: Path) -> None:
    runner = RecordingRunner(effects={"postalias": real_postalias})
    system = sandbox_system(sandbox, runner)
    section = {"root": ["admin@example.net"], "support": ["admin@example.net", "helper"],
               "postmaster": ["root"]}
    plan, _ = plan_for(system, section)
    assert not plan.is_empty
    assert apply(system, plan).ok
    assert runner.argvs() == [("postalias", f"hash:{sandbox}/etc/aliases")]
    got = subprocess.run(["postalias", "-q", "support", f"hash:{sandbox}/etc/aliases"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert got == "admin@example.net, helper"
    again, problems = plan_for(system, section)
    assert problems == [] and again.is_empty
    assert STEP.plan(STEP.current(system), system).is_empty
    assert STEP.status(system).state == "ok"


def test_a_stale_map_is_rebuilt_even_when_the_file_is_right(system: System,
                                                           sandbox: Path) -> None:
    write(sandbox, "postmaster: root\nroot: a@example.net\n", rebuild=False)  # map left old
    assert db_stale(system)
    status = STEP.status(system)
    assert (status.state, status.summary) == ("problem", "aliases.db out of date")
    plan, _ = plan_for(system, {"root": ["a@example.net"]})
    assert plan.changed_files() == ()
    (cmd,) = plan.commands
    assert cmd.argv[0] == "postalias" and "out of date" in cmd.why


def test_a_missing_map_is_stale(system: System, sandbox: Path) -> None:
    (sandbox / "etc/aliases.db").unlink()
    assert db_stale(system)


def test_failed_rebuild_restores_file_and_map(sandbox: Path) -> None:
    runner = RecordingRunner(effects={"postalias": real_postalias},
                             fail_on=lambda argv: argv[0] == "postalias")
    system = sandbox_system(sandbox, runner)
    before = {p: (sandbox / p).read_bytes() for p in ("etc/aliases", "etc/aliases.db")}
    plan, _ = plan_for(system, {"root": ["a@example.net"]})
    result = apply(system, plan)
    assert not result.ok and result.restored
    assert {p: (sandbox / p).read_bytes() for p in before} == before


# -- the screen's path: current() -> edit -> plan ------------------------------------------


def test_screen_edit_gives_a_minimal_plan(system: System, sandbox: Path) -> None:
    write(sandbox, HAND_EDITED)
    now = STEP.current(system)
    edited = dict(now.entries)
    edited["root"] = ("me@example.net",)
    del edited["nobody"]
    change = edits(now, AliasesAnswers(tuple(edited.items())))
    assert change == AliasesAnswers((("root", ("me@example.net",)), ("nobody", ())))
    assert STEP.validate(change, system) == []
    diff = STEP.plan(change, system).diff()
    assert [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")] \
        == ["-nobody: /dev/null", "+root: me@example.net"]


# -- status -----------------------------------------------------------------------------------


def test_status_fresh_debian_root_unforwarded(system: System) -> None:
    status = STEP.status(system)
    assert (status.state, status.summary, status.symbol) == ("warn", "root unforwarded", "!")
    assert status.now == ("postmaster: root",)


def test_status_without_postmaster_is_a_problem(system: System, sandbox: Path) -> None:
    write(sandbox, "root: a@example.net\n")
    assert STEP.status(system).summary == "no postmaster alias"


def test_status_ok(system: System, sandbox: Path) -> None:
    write(sandbox, "postmaster: root\nroot: a@example.net\n")
    assert (STEP.status(system).state, STEP.status(system).summary) == ("ok", "2 aliases")
