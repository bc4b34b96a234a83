"""postconf staging and reading, for real, on the sandbox's main.cf and master.cf."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mailwizard import postfix
from mailwizard.system import Reader, Result, System
from tests.support import RecordingRunner, sandbox_system


class CountingReader(Reader):
    """The real runner, remembering every argv it ran."""

    def __init__(self) -> None:
        self.argvs: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], **kwargs: Any) -> Result:
        self.argvs.append(tuple(argv))
        return super().run(argv, **kwargs)

    def postconf_calls(self) -> list[tuple[str, ...]]:
        return [a for a in self.argvs if a[0] == "postconf"]


@pytest.fixture
def reader() -> CountingReader:
    return CountingReader()


@pytest.fixture
def counted(sandbox: Path, reader: CountingReader) -> System:
    return sandbox_system(sandbox, RecordingRunner(reader=reader))


def test_params_reads_the_sandbox(system: System) -> None:
    values = postfix.params(system)
    assert values["myhostname"] == "debian"
    assert values["mydestination"] == "$myhostname, debian, localhost.localdomain, localhost"
    assert values["relayhost"] == ""
    # Defaults are there too, unexpanded.
    assert "mail_version" in values
    assert postfix.get(system, "nonexistent_parameter_xyz") == ""


def test_threads_asking_at_once_share_one_postconf(counted: System,
                                                   reader: CountingReader) -> None:
    """The hub's statuses and the report's checks read in threads: the first to ask runs
    postconf, the others wait for its answer instead of starting their own."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    started = threading.Barrier(4)
    slow_run = reader.run

    def slowly(argv: Sequence[str], **kwargs: Any) -> Result:
        result = slow_run(argv, **kwargs)
        time.sleep(0.2)  # every thread has asked before this answer is cached
        return result

    reader.run = slowly  # type: ignore[method-assign]

    def ask(_: int) -> str:
        started.wait()
        return postfix.get(counted, "myhostname")

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(ask, range(4))) == ["debian"] * 4
    assert len(reader.postconf_calls()) == 1


def test_params_is_cached_by_content(counted: System, reader: CountingReader) -> None:
    postfix.params(counted)
    first = len(reader.postconf_calls())
    assert first == 1
    postfix.params(counted)
    postfix.get(counted, "myhostname")
    assert len(reader.postconf_calls()) == first
    # A view with an edited main.cf is a different content: one new read.
    main = counted.read_bytes(postfix.MAIN_CF)
    assert main is not None
    view = counted.with_files({postfix.MAIN_CF: main + b"relayhost = [smtp.example.net]\n"})
    assert postfix.get(view, "relayhost") == "[smtp.example.net]"
    assert len(reader.postconf_calls()) == first + 1
    assert postfix.get(counted, "relayhost") == ""
    assert len(reader.postconf_calls()) == first + 1


def test_expanded_evaluates_the_default_relay_restrictions(system: System) -> None:
    main = system.read_text(postfix.MAIN_CF)
    assert main is not None
    text = "".join(line for line in main.splitlines(keepends=True)
                   if not line.startswith("smtpd_relay_restrictions"))
    view = system.with_files({postfix.MAIN_CF: text.encode()})
    assert "{" in postfix.get(view, "smtpd_relay_restrictions")
    assert postfix.split_list(postfix.expanded(view, "smtpd_relay_restrictions")) == [
        "permit_mynetworks", "permit_sasl_authenticated", "defer_unauth_destination"]


def test_plain_references_are_expanded_without_postconf_x(counted: System,
                                                          reader: CountingReader) -> None:
    """No ``postconf -x`` for a value of text and plain ``$name`` references (expanded from
    the dump); one for a ``${name?...}`` expression, and its answer is postconf's."""
    main = counted.read_bytes(postfix.MAIN_CF) or b""
    view = counted.with_files({postfix.MAIN_CF: main + b"\nsmtpd_banner = plain banner\n"
                               b"smtp_helo_name = $myhostname\n"
                               b"smtpd_tls_CApath = ${config_directory}/x $(mail_name)\n"
                               b"bounce_notice_recipient = ${mydomain?in $mydomain}\n"})
    assert postfix.expanded(view, "smtpd_banner") == "plain banner"
    assert postfix.expanded(view, "smtp_helo_name") == postfix.get(view, "myhostname") != ""
    assert postfix.expanded(view, "smtpd_tls_CApath") == "/etc/postfix/x Postfix"
    assert not [a for a in reader.postconf_calls() if a[3:] == ("-x",)]
    mydomain = postfix.get(view, "mydomain")
    assert postfix.expanded(view, "bounce_notice_recipient") == f"in {mydomain}"
    assert [a[3:] for a in reader.postconf_calls() if a[3:] == ("-x",)] == [("-x",)]


def test_every_plain_expansion_is_what_postconf_x_prints(system: System) -> None:
    """Against Postfix itself, for every parameter of a configuration that uses each form."""
    main = system.read_bytes(postfix.MAIN_CF) or b""
    view = system.with_files({postfix.MAIN_CF: main + b"\nsmtp_helo_name = $myhostname\n"
                              b"smtpd_banner = ${myhostname} ESMTP $(mail_name) ($mail_version)\n"
                              b"mydestination = $myhostname, localhost.$mydomain, localhost\n"})
    plain = postfix.params(view)
    by_postconf = postfix._dump(view, ("-x",))
    checked = 0
    for name in plain:
        mine = postfix._expand_plain(plain, name)
        if mine is not None:
            assert mine == by_postconf[name], name
            checked += 1
    assert checked > 500  # nearly every parameter is text or plain references


def test_stage_all_keys_in_one_call(counted: System, reader: CountingReader) -> None:
    before = counted.read_bytes(postfix.MAIN_CF)
    staged = postfix.stage(counted, set_main={"myhostname": "mail.example.com",
                                              "relayhost": "[smtp.example.net]:587",
                                              "biff": "no"}, why="test")
    edits = [a for a in reader.postconf_calls() if "-e" in a]
    assert len(edits) == 1
    assert edits[0][-3:] == ("myhostname=mail.example.com", "relayhost=[smtp.example.net]:587",
                             "biff=no")
    assert staged.warnings == ()
    assert len(staged.changes) == 1
    change = staged.changes[0]
    assert change.path == postfix.MAIN_CF and change.why == "test"
    assert change.before == before
    assert change.after is not None
    assert b"myhostname = mail.example.com\n" in change.after
    assert b"relayhost = [smtp.example.net]:587\n" in change.after
    # Staging never touches the files themselves.
    assert counted.read_bytes(postfix.MAIN_CF) == before


def test_stage_same_value_is_no_change(system: System) -> None:
    staged = postfix.stage(system, set_main={"myhostname": "debian"})
    assert staged.changes == ()


def test_stage_unknown_parameter_warns(system: System) -> None:
    staged = postfix.stage(system, set_main={"myhostnam": "mail.example.com"})
    assert len(staged.warnings) == 1
    warning = staged.warnings[0]
    assert "unused parameter" in warning and "myhostnam" in warning
    assert warning.startswith("/etc/postfix/main.cf")  # the temp path is not shown


def test_stage_does_not_repeat_warnings_the_files_already_had(system: System) -> None:
    """A hand-made stray parameter must not block every later step."""
    main = system.read_bytes(postfix.MAIN_CF)
    assert main is not None
    view = system.with_files({postfix.MAIN_CF: main + b"my_typo = 1\n"})
    assert postfix.stage(view, set_main={"biff": "yes"}).warnings == ()
    assert len(postfix.stage(view, set_main={"other_typo": "1"}).warnings) == 1


def test_stage_service_then_its_parameter_gives_no_warning(system: System) -> None:
    staged = postfix.stage(
        system,
        set_services=["spfcheck/unix=spfcheck unix - n n - 0 spawn user=policyd-spf "
                      "argv=/usr/sbin/postfix-policyd-spf-perl"],
        set_main={"spfcheck_time_limit": "3600"},
    )
    assert staged.warnings == ()
    paths = {c.path for c in staged.changes}
    assert paths == {postfix.MAIN_CF, postfix.MASTER_CF}
    # Without the service the same parameter is unknown.
    assert postfix.stage(system, set_main={"spfcheck_time_limit": "3600"}).warnings


def test_stage_service_twice_leaves_one_entry(system: System) -> None:
    entry = ("spfcheck/unix=spfcheck unix - n n - 0 spawn user=policyd-spf "
             "argv=/usr/sbin/postfix-policyd-spf-perl")
    staged = postfix.stage(system, set_services=[entry])
    master = staged.changes[0].after
    assert master is not None
    view = system.with_files({postfix.MASTER_CF: master})
    assert postfix.stage(view, set_services=[entry]).changes == ()
    assert "spfcheck/unix" in postfix.services(view)
    assert master.count(b"\nspfcheck ") == 1


def test_stage_service_params_and_remove(system: System) -> None:
    staged = postfix.stage(
        system,
        set_services=["submission/inet=submission inet n - y - - smtpd"],
        set_service_params=["submission/inet/smtpd_tls_security_level=encrypt"],
        remove_main=["relayhost"],
    )
    by_path = {c.path: c for c in staged.changes}
    master = by_path[postfix.MASTER_CF].after
    main = by_path[postfix.MAIN_CF].after
    assert master is not None and main is not None
    assert b"smtpd_tls_security_level=encrypt" in master
    assert b"relayhost" not in main


def test_stage_refused_edit_raises(system: System) -> None:
    with pytest.raises(postfix.StagingError):
        postfix.stage(system, set_services=["smtp/inet=smtp inet"])


def test_stage_without_main_cf(sandbox: Path) -> None:
    (sandbox / "etc/postfix/main.cf").unlink()
    with pytest.raises(postfix.StagingError, match="is Postfix installed"):
        postfix.stage(sandbox_system(sandbox), set_main={"biff": "no"})


def test_services_map(system: System) -> None:
    entries = postfix.services(system)
    assert entries["smtp/inet"].startswith("smtp inet")
    assert "pickup/unix" in entries


def test_check_config_on_live_files(system: System, sandbox: Path) -> None:
    assert postfix.check_config(system) == []
    with (sandbox / "etc/postfix/main.cf").open("a") as fh:
        fh.write("bogus_name = 1\n")
    warnings = postfix.check_config(system)
    assert len(warnings) == 1 and "bogus_name" in warnings[0]
    assert str(sandbox) not in warnings[0]


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("", []),
        ("a, b c,d", ["a", "b", "c", "d"]),
        ("  a ,\n\tb  ", ["a", "b"]),
        ("$myhostname, localhost.$mydomain, localhost",
         ["$myhostname", "localhost.$mydomain", "localhost"]),
        ("permit_mynetworks, check_policy_service { unix:private/spfcheck, "
         "default_action=DUNNO }, reject",
         ["permit_mynetworks", "check_policy_service",
          "{ unix:private/spfcheck, default_action=DUNNO }", "reject"]),
        ("a {b {c, d}, e} f", ["a", "{b {c, d}, e}", "f"]),
    ],
)
def test_split_list(value: str, items: list[str]) -> None:
    assert postfix.split_list(value) == items


def test_versions(system: System) -> None:
    assert postfix.version_tuple("3.7.11") == (3, 7, 11)
    assert postfix.version_tuple(postfix.version(system)) >= (3, 0)
    assert postfix.installed(system)


def test_several_new_parameters_are_staged_in_the_same_order_every_time(system: System) -> None:
    """postconf -e appends new names in a random order unless NORANDOMIZE is set."""
    edits = {f"smtpd_{name}": "yes" for name in (
        "sasl_auth_enable", "tls_auth_only", "tls_received_header", "tls_loglevel",
        "delay_reject", "helo_required")}
    edits["smtpd_tls_loglevel"] = "1"
    results = {postfix.stage(system, set_main=edits).changes[0].after for _ in range(6)}
    assert len(results) == 1


def test_the_sandbox_reports_its_own_postfix_version_not_the_hosts(sandbox: Path) -> None:
    """A host on another point release (imitated: main.cf overriding mail_version, which the
    host's postconf then reports) must not change the hub's header in pilot and snapshot tests."""
    from mailwizard.system import System
    from tests.support import SANDBOX_POSTFIX_VERSION, SandboxReader

    main = sandbox / "etc/postfix/main.cf"
    main.write_text(main.read_text() + "mail_version = 3.7.99\n")
    assert "3.7.99" in System(root=sandbox).query(
        ["postconf", "-c", str(main.parent), "-h", "mail_version"]).stdout  # the host's answer
    assert postfix.version(System(root=sandbox, reader=SandboxReader())) == (
        SANDBOX_POSTFIX_VERSION)


def test_a_second_identical_stage_runs_no_postconf(counted: System, reader: CountingReader) -> None:
    edit = {"myhostname": "mail.example.com", "relayhost": "[smtp.example.net]:587"}
    first = postfix.stage(counted, set_main=edit, remove_main=["biff"], why="first")
    ran = len(reader.postconf_calls())
    again = postfix.stage(counted, set_main=dict(edit), remove_main=["biff"], why="again")
    assert len(reader.postconf_calls()) == ran
    assert [c.after for c in again.changes] == [c.after for c in first.changes]
    assert [c.before for c in again.changes] == [c.before for c in first.changes]
    assert again.warnings == first.warnings
    assert [c.why for c in again.changes] == ["again"]  # the why is the caller's, not cached


def test_a_different_edit_or_content_is_staged_again(counted: System,
                                                      reader: CountingReader) -> None:
    postfix.stage(counted, set_main={"myhostname": "mail.example.com"})
    ran = len(reader.postconf_calls())
    other = postfix.stage(counted, set_main={"myhostname": "mx.example.com"})
    assert len(reader.postconf_calls()) > ran
    assert b"myhostname = mx.example.com\n" in (other.changes[0].after or b"")
    ran = len(reader.postconf_calls())
    postfix.stage(counted, set_main={"myhostname": "mail.example.com"}, remove_main=["biff"])
    assert len(reader.postconf_calls()) > ran
    ran = len(reader.postconf_calls())
    # The same edit of other files: staged anew, on those files.
    main = counted.read_bytes(postfix.MAIN_CF)
    assert main is not None
    view = counted.with_files({postfix.MAIN_CF: main + b"my_typo = 1\n"})
    staged = postfix.stage(view, set_main={"myhostname": "mail.example.com"})
    assert len(reader.postconf_calls()) > ran
    assert b"my_typo = 1\n" in (staged.changes[0].after or b"")
    # The same parameters in another order are another edit (postconf appends in order).
    ran = len(reader.postconf_calls())
    postfix.stage(counted, set_main={"relayhost": "[a.example]", "myhostname": "b.example"})
    postfix.stage(counted, set_main={"myhostname": "b.example", "relayhost": "[a.example]"})
    assert len([a for a in reader.postconf_calls()[ran:] if "-e" in a]) == 2


def test_the_staged_files_warnings_are_the_next_reads(counted: System,
                                                      reader: CountingReader) -> None:
    """The staged result's check (every parameter, ``postconf -c STAGE``) serves the next
    step's warnings before its edit, its reads of parameters and apply's check of the
    written files: no second scan of the same content."""
    staged = postfix.stage(counted, set_main={"my_typo": "1"})
    after = staged.changes[0].after
    assert after is not None and len(staged.warnings) == 1
    view = counted.with_files({postfix.MAIN_CF: after})
    ran = len(reader.postconf_calls())
    assert postfix.check_config(view) == list(staged.warnings)
    assert len(reader.postconf_calls()) == ran
    fresh = sandbox_system(Path(str(counted.root)))  # no cache: the same answer, read anew
    assert postfix.check_config(fresh.with_files({postfix.MAIN_CF: after})) == list(
        staged.warnings)
    # The next step's stage on it: its own edit and check, but not the "before" scan.
    assert "my_typo" not in postfix.params(view) and "biff" in postfix.params(view)
    assert len(reader.postconf_calls()) == ran
    postfix.stage(view, set_main={"biff": "no"})
    assert [a[3:] for a in reader.postconf_calls()[ran:]] == [("-e", "biff=no"), ()]
