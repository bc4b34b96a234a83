"""Plans as data: diffs, counts, summaries, chaining."""

from __future__ import annotations

from mailwizard.plan import Command, FileChange, Plan, SummaryRow, combine
from mailwizard.secret import Secret


def test_diff_labels_use_the_logical_path() -> None:
    change = FileChange("/etc/mailname", b"debian\n", b"mail.example.com\n")
    diff = change.diff()
    assert diff.startswith("--- /etc/mailname\n+++ /etc/mailname\n")
    assert "-debian\n" in diff and "+mail.example.com\n" in diff


def test_diff_new_and_deleted_files_use_dev_null() -> None:
    new = FileChange("/etc/x", None, b"a\nb\n")
    assert new.diff().startswith("--- /dev/null\n+++ /etc/x\n")
    gone = FileChange("/etc/x", b"a\n", None)
    assert gone.diff().startswith("--- /etc/x\n+++ /dev/null\n")


def test_diff_marks_missing_final_newline() -> None:
    diff = FileChange("/etc/x", b"a", b"b").diff()
    assert "\\ No newline at end of file" in diff
    assert diff.endswith("\n")


def test_counts() -> None:
    assert FileChange("/x", b"a\nb\nc\n", b"a\nB\nc\nd\n").counts() == (2, 1)
    assert FileChange("/x", None, b"1\n2\n3\n").counts() == (3, 0)
    assert FileChange("/x", b"1\n2\n", None).counts() == (0, 2)
    assert FileChange("/x", b"same\n", b"same\n").counts() == (0, 0)


def test_counts_lines_that_look_like_diff_headers() -> None:
    """Content starting with "++" or "--" is still a changed line (not a header)."""
    assert FileChange("/x", b"-- old comment\n", b"++ new\n").counts() == (1, 1)
    assert FileChange("/x", b"a\n", b"a\n---\n+++\n").counts() == (2, 0)


def test_changed_and_is_empty() -> None:
    same = FileChange("/x", b"a\n", b"a\n")
    assert not same.changed
    assert Plan(files=(same,)).is_empty
    assert Plan().is_empty
    assert not Plan(files=(FileChange("/x", b"a\n", b"b\n"),)).is_empty
    assert not Plan(commands=(Command(("newaliases",), "rebuild"),)).is_empty
    # Services alone do nothing to reload for.
    assert Plan(reload=frozenset({"postfix"})).is_empty


def test_summary_lines() -> None:
    plan = Plan(
        files=(
            FileChange("/etc/postfix/main.cf", b"a = 1\nb = 2\n", b"a = 1\nb = 3\nc = 4\n"),
            FileChange("/etc/new", None, b"1\n2\n"),
            FileChange("/etc/old", b"x\n", None),
            FileChange("/etc/same", b"x\n", b"x\n"),
        ),
        commands=(
            Command(("newaliases",), "rebuild aliases.db"),
            Command(("saslpasswd2", "-p", "-c", "alice"), "add", stdin=Secret("s3cret-pass")),
        ),
        reload=frozenset({"postfix", "opendkim"}),
        restart=frozenset({"opendkim"}),
    )
    rows = plan.summary()
    assert rows[0] == SummaryRow("file", "/etc/postfix/main.cf", "+2 −1")
    assert rows[3] == SummaryRow("run", "newaliases")
    assert [str(row) for row in rows] == [
        "/etc/postfix/main.cf   +2 −1",
        "/etc/new   new, 2 lines",
        "/etc/old   deleted",
        "run: newaliases",
        "run: saslpasswd2 -p -c alice  < ••••••",
        "restart: opendkim",
        "reload: postfix",
    ]
    assert "s3cret-pass" not in "\n".join(map(str, rows))
    assert plan.changed_files() == plan.files[:3]
    assert plan.file("/etc/same") is plan.files[3]
    assert plan.file("/nope") is None
    assert plan.diff() == "".join(f.diff() for f in plan.files[:3])


def test_then_chains_before_and_after() -> None:
    first = Plan(
        files=(FileChange("/etc/postfix/main.cf", b"v1\n", b"v2\n", why="hostname"),
               FileChange("/etc/hostname", b"old\n", b"new\n", mode=0o644)),
        commands=(Command(("hostname", "new"), "rename"),),
        reload=frozenset({"postfix"}),
        checks=(Command(("postfix", "check"), "check"),),
        steps=("hostname",),
    )
    second = Plan(
        files=(FileChange("/etc/postfix/main.cf", b"v2\n", b"v3\n", owner="root",
                          why="domains"),
               FileChange("/etc/aliases", b"a\n", b"b\n")),
        commands=(Command(("newaliases",), "rebuild"),),
        restart=frozenset({"opendkim"}),
        checks=(Command(("postfix", "check"), "check"), Command(("opendkim", "-n"), "x")),
        steps=("domains", "hostname"),
    )
    total = first.then(second)
    main = total.file("/etc/postfix/main.cf")
    assert main is not None
    assert (main.before, main.after) == (b"v1\n", b"v3\n")
    assert main.owner == "root"
    assert main.why == "hostname; domains"
    assert [f.path for f in total.files] == ["/etc/postfix/main.cf", "/etc/hostname",
                                             "/etc/aliases"]
    assert total.commands == first.commands + second.commands
    assert total.reload == {"postfix"} and total.restart == {"opendkim"}
    assert [c.argv for c in total.checks] == [("postfix", "check"), ("opendkim", "-n")]
    assert total.steps == ("hostname", "domains")


def test_then_keeps_mode_of_earlier_change_unless_overridden() -> None:
    first = Plan(files=(FileChange("/k", b"1", b"2", mode=0o600, group="opendkim"),))
    second = Plan(files=(FileChange("/k", b"2", b"3"),))
    merged = first.then(second).files[0]
    assert (merged.mode, merged.group) == (0o600, "opendkim")
    third = Plan(files=(FileChange("/k", b"3", b"4", mode=0o640),))
    assert first.then(second).then(third).files[0].mode == 0o640


def test_then_back_to_the_start_is_empty() -> None:
    first = Plan(files=(FileChange("/x", b"a\n", b"b\n"),))
    back = Plan(files=(FileChange("/x", b"b\n", b"a\n"),))
    assert first.then(back).is_empty


def test_combine() -> None:
    plans = [Plan(files=(FileChange("/x", b"1", b"2"),)),
             Plan(files=(FileChange("/x", b"2", b"3"),)),
             Plan(files=(FileChange("/y", None, b"y"),))]
    total = combine(plans)
    assert [(f.path, f.before, f.after) for f in total.files] == [("/x", b"1", b"3"),
                                                                   ("/y", None, b"y")]
    assert combine([]).is_empty


def test_command_display_hides_secret_and_plain_stdin() -> None:
    assert Command(("cat",), "x", stdin="plain text").display() == "cat"
    shown = Command(("saslpasswd2", "-p"), "x", stdin=Secret("hunter2hunter2")).display()
    assert "hunter2" not in shown and "••••••" in shown


def test_actions_are_what_apply_runs_in_order() -> None:
    from mailwizard import postfix
    from mailwizard.plan import POSTFIX_CONFIG, Action

    assert {postfix.MAIN_CF, postfix.MASTER_CF} == POSTFIX_CONFIG
    domains_like = Plan(files=(FileChange(postfix.MAIN_CF, b"a = 1\n", b"a = 2\n"),),
                        reload=frozenset({"postfix"}))
    assert [a.text for a in domains_like.actions()] == ["postfix check", "reload postfix"]
    plan = Plan(
        files=(FileChange("/etc/opendkim.conf", b"x\n", b"y\n"),),
        commands=(Command(("saslpasswd2", "-c", "bob"), "add bob", stdin=Secret("pw-123456")),),
        checks=(Command(("opendkim", "-n"), "check opendkim"),),
        restart=frozenset({"opendkim"}),
        reload=frozenset({"opendkim", "postfix"}),
    )
    assert plan.actions() == (
        Action("saslpasswd2 -c bob  < ••••••", "add bob"),
        Action("opendkim -n", "check opendkim"),
        Action("restart opendkim"),
        Action("reload postfix", "after Postfix's own checks pass"),
    )
