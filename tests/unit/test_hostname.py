"""The hostname step: /etc/hostname, /etc/mailname, /etc/hosts, myhostname."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailwizard import postfix
from mailwizard.apply import apply
from mailwizard.steps.hostname import (
    HostnameAnswers,
    HostnameStep,
    edit_hosts,
    hosts_127011,
    read_now,
)
from mailwizard.system import System
from mailwizard.validate import Invalid

STEP = HostnameStep()
DEBIAN_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "127.0.1.1\tdebian\n"
    "\n"
    "# The following lines are desirable for IPv6 capable hosts\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
)


def test_edit_hosts_changes_only_the_127011_line() -> None:
    new = edit_hosts(DEBIAN_HOSTS, "mail.example.com")
    old_lines, new_lines = DEBIAN_HOSTS.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [("127.0.1.1\tdebian", "127.0.1.1\tmail.example.com mail")]


def test_edit_hosts_is_idempotent() -> None:
    once = edit_hosts(DEBIAN_HOSTS, "mail.example.com")
    assert edit_hosts(once, "mail.example.com") == once
    # Same names, different spacing: left alone.
    spaced = DEBIAN_HOSTS.replace("127.0.1.1\tdebian", "127.0.1.1   mail.example.com   mail")
    assert edit_hosts(spaced, "mail.example.com") == spaced


def test_edit_hosts_adds_the_line_after_127001() -> None:
    text = "127.0.0.1 localhost\n::1 localhost\n"
    assert edit_hosts(text, "mail.example.com") == (
        "127.0.0.1 localhost\n127.0.1.1\tmail.example.com mail\n::1 localhost\n")
    no_newline = "127.0.0.1 localhost"
    assert edit_hosts(no_newline, "mail.example.com") == (
        "127.0.0.1 localhost\n127.0.1.1\tmail.example.com mail\n")


def test_edit_hosts_without_127001_puts_it_first() -> None:
    assert edit_hosts("::1 localhost\n", "mail.example.com") == (
        "127.0.1.1\tmail.example.com mail\n::1 localhost\n")


def test_edit_hosts_empty_file_gets_localhost_too() -> None:
    assert edit_hosts("", "mail.example.com") == (
        "127.0.0.1\tlocalhost\n127.0.1.1\tmail.example.com mail\n")


def test_edit_hosts_ignores_comments() -> None:
    text = "127.0.0.1 localhost\n#127.0.1.1 old\n"
    new = edit_hosts(text, "mail.example.com")
    assert "#127.0.1.1 old\n" in new
    assert hosts_127011(new) == "mail.example.com mail"
    assert hosts_127011(text) == ""


def test_current_and_status_on_fresh_debian(system: System) -> None:
    assert STEP.current(system) == HostnameAnswers("debian")
    status = STEP.status(system)
    assert status.state == "problem" and "not a full name" in status.summary
    now = read_now(system)
    assert (now.etc_hostname, now.mailname, now.hosts_line, now.myhostname) == (
        "debian", "debian", "debian", "debian")


def test_validate_names_the_field(system: System) -> None:
    problems = STEP.validate(HostnameAnswers("mail"), system)
    assert [p.field for p in problems] == ["hostname.fqdn"]
    assert STEP.validate(HostnameAnswers("mail.example.com"), system) == []
    with pytest.raises(Invalid):
        STEP.plan(HostnameAnswers("bad name.example.com"), system)


def test_plan_touches_every_place(system: System) -> None:
    plan = STEP.plan(HostnameAnswers("mail.example.com"), system)
    paths = [f.path for f in plan.changed_files()]
    assert paths == ["/etc/hostname", "/etc/mailname", "/etc/hosts", postfix.MAIN_CF]
    main = plan.file(postfix.MAIN_CF)
    assert main is not None and main.after is not None
    assert b"myhostname = mail.example.com\n" in main.after
    assert [c.argv for c in plan.commands] == [("hostname", "mail.example.com")]
    assert plan.commands[0].undo == ("hostname", "-F", "/etc/hostname")
    assert plan.reload == {"postfix"} and plan.steps == ("hostname",)


def test_plan_uses_hostnamectl_under_systemd(system: System, sandbox: Path) -> None:
    (sandbox / "run/systemd/system").mkdir(parents=True)
    plan = STEP.plan(HostnameAnswers("mail.example.com"), system)
    assert plan.commands[0].argv == ("hostnamectl", "set-hostname", "mail.example.com")


def test_plan_adds_missing_hosts_file_as_new(system: System, sandbox: Path) -> None:
    (sandbox / "etc/hosts").unlink()
    plan = STEP.plan(HostnameAnswers("mail.example.com"), system)
    hosts = plan.file("/etc/hosts")
    assert hosts is not None and hosts.before is None
    assert hosts.after == b"127.0.0.1\tlocalhost\n127.0.1.1\tmail.example.com mail\n"


def test_apply_then_plan_again_is_empty(system: System, sandbox: Path) -> None:
    answers = HostnameAnswers("Mail.Example.COM")
    plan = STEP.plan(answers, system)
    assert apply(System(root=sandbox), plan).ok  # sandbox: files only
    assert STEP.plan(answers, System(root=sandbox)).is_empty
    assert (sandbox / "etc/hosts").read_text() == DEBIAN_HOSTS.replace(
        "127.0.1.1\tdebian", "127.0.1.1\tmail.example.com mail") + (
        "ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n")
    status = STEP.status(System(root=sandbox))
    assert (status.state, status.summary) == ("ok", "mail.example.com")


def test_status_warns_when_names_differ(sandbox: Path) -> None:
    (sandbox / "etc/mailname").write_text("other.example.com\n")
    main = sandbox / "etc/postfix/main.cf"
    main.write_text(main.read_text().replace("myhostname = debian",
                                             "myhostname = mail.example.com"))
    status = STEP.status(System(root=sandbox))
    assert status.state == "warn" and "differ" in status.summary
    assert "/etc/mailname = other.example.com" in status.now


def test_parse_and_to_section() -> None:
    answers = STEP.parse({"fqdn": "mail.example.com"})
    assert answers == HostnameAnswers("mail.example.com")
    assert STEP.to_section(answers) == {"fqdn": "mail.example.com"}
