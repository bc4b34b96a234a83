"""The list with pending edits that the aliases and SASL screens share (mailwizard.pending),
and the two steps' adapters to it."""

from __future__ import annotations

import pytest

from mailwizard.pending import PendingEdits
from mailwizard.secret import Secret
from mailwizard.steps.aliases import AliasesAnswers, pending_table, table_answers
from mailwizard.steps.sasl import SaslAnswers, SaslUser, logins_answers, pending_logins
from mailwizard.validate import Invalid

TABLE = AliasesAnswers((("postmaster", ("root",)), ("root", ("a@example.net",))))


def test_marks_follow_the_edits() -> None:
    table = pending_table(TABLE)
    postmaster, root = table.entries
    assert [table.mark(e) for e in table.entries] == ["", ""]
    table.edit(root, value="a@example.net,  b@example.net")
    table.edit(postmaster, value="root")  # the same targets: no mark
    new = table.add("", "")
    assert table.mark(new) == "" and table.blank(new)  # a blank row is not an edit
    table.edit(new, key="support", value="s@example.net")
    assert [table.mark(e) for e in table.entries] == ["", "~", "+"]
    assert table.delete(postmaster) is True
    assert table.mark(postmaster) == "−" and postmaster in table.entries
    table.keep(postmaster)
    assert table.mark(postmaster) == ""
    assert table.delete(new) is False  # a new entry is forgotten, not marked
    assert new not in table.entries


def test_whitespace_only_edits_are_not_changes() -> None:
    table = pending_table(TABLE)
    root = table.entries[1]
    table.edit(root, value=" a@example.net ")
    assert table.mark(root) == "" and table.untouched(root)


def test_key_problems_name_the_clash() -> None:
    table = pending_table(TABLE)
    postmaster, root = table.entries
    new = table.add("", "x@example.net")
    assert table.key_problem("sup port", new) == "an alias name cannot contain a space"
    assert table.key_problem("Root", new) == "root is already in the table: edit that row"
    table.delete(root)
    assert table.key_problem("root", new) == (
        "root is marked for deletion: ctrl+d on it keeps it")
    assert table.key_problem("support", new) is None
    assert table.key_problem("postmaster", postmaster) is None  # its own name
    blank = table.add("", "")
    assert table.key_problem("", blank) is None  # a blank row is ignored


def test_value_problems_only_for_kept_entries_that_need_one() -> None:
    table = pending_table(TABLE)
    postmaster, _ = table.entries
    assert table.value_problem(postmaster, "") == (
        "give one or more addresses (ctrl+d removes the alias)")
    table.delete(postmaster)
    assert table.value_problem(postmaster, "") is None
    blank = table.add("", "")
    assert table.value_problem(blank) is None
    table.edit(blank, key="support")
    assert table.value_problem(blank) is not None


def test_result_refuses_what_cannot_be_written_naming_it() -> None:
    table = pending_table(TABLE)
    row = table.add("", "x@example.net")
    with pytest.raises(Invalid, match="row 3 has no alias name"):
        table.result()
    table.edit(row, key="ROOT")
    with pytest.raises(Invalid, match="root is in the table twice"):
        table.result()
    table.edit(row, key="support", value=" ")
    table.edit(row, value="")
    with pytest.raises(Invalid, match=r"support: give one or more addresses"):
        table.result()


def test_table_answers_are_the_minimal_edit() -> None:
    before = AliasesAnswers((("postmaster", ("root",)),
                             ("bounces", ('"|/usr/local/bin/bounce --quiet"',))))
    table = pending_table(before)
    postmaster, bounces = table.entries
    table.add("", "")  # blank: ignored
    support = table.add("support", "a@example.net, b@example.net")
    table.delete(postmaster)
    assert support.is_new
    # The untouched command keeps its form (it would not survive a split at spaces).
    assert table_answers(before, table) == AliasesAnswers(
        (("support", ("a@example.net", "b@example.net")), ("postmaster", ())))
    table.edit(bounces, key="bouncer")  # a rename: the old name goes
    assert table_answers(before, table).as_dict()["bouncer"] == (
        '"|/usr/local/bin/bounce --quiet"',)
    assert table_answers(before, table).as_dict()["bounces"] == ()


def test_logins_stay_sorted_and_give_the_answers() -> None:
    logins = pending_logins(SaslAnswers(users=(SaslUser("bob@example.com"),
                                               SaslUser("dan@example.com"))))
    bob, dan = logins.entries
    carol = logins.add("carol@example.com", Secret("Corr3ct-Horse-Battery"))
    assert logins.keys() == ["bob@example.com", "carol@example.com", "dan@example.com"]
    assert logins.key_problem("Bob@Example.com") == (
        "bob@example.com exists already: change its password instead")
    logins.edit(dan, value=Secret("Sec0nd-Staple-Quartz"))
    logins.delete(bob)
    assert [logins.mark(e) for e in logins.entries] == ["−", "+", "~"]
    answers = logins_answers(logins, enabled=True)
    assert answers.users == (SaslUser("carol@example.com", carol.value),
                             SaslUser("dan@example.com", dan.value))
    assert answers.remove == ("bob@example.com",)
    assert logins.key_problem("bob@example.com") == (
        "bob@example.com is marked for deletion: ctrl+d on it keeps it")


def test_the_model_is_generic() -> None:
    from mailwizard.pending import Words

    plain: PendingEdits[int] = PendingEdits(
        [("a", 1)], Words(exists="{key} exists", deleted="{key} deleted", empty="no value"),
        check_key=lambda k: k.strip(), is_empty=lambda v: v == 0)
    b = plain.add("b", 0)
    assert plain.value_problem(b) == "no value"
    with pytest.raises(Invalid, match="b: no value"):
        plain.result()
    plain.edit(b, value=2)
    assert [(k, e.value) for k, e in plain.result()] == [("a", 1), ("b", 2)]
