"""The sasl step on a sandbox root: answers, plans, secrets, idempotence, the screen's API."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mailwizard import answers, berkeleydb, cli, postfix
from mailwizard.apply import BACKUP_ROOT, Event, apply
from mailwizard.plan import Plan
from mailwizard.repair import fix_plan
from mailwizard.secret import Secret
from mailwizard.steps import by_name
from mailwizard.steps.base import AnswersError, Problem, errors
from mailwizard.steps.sasl import (
    CHROOT_SASLDB,
    CHROOT_TMP,
    GROUP,
    GSHADOW,
    SASLDB,
    SASLDB_DUMP,
    SASLDB_TMP,
    SMTPD_CONF,
    SaslAnswers,
    SaslStep,
    SaslUser,
    chroot_state,
    list_users,
    password_problems,
    stored_passwords,
    with_sasl_relay,
)
from mailwizard.system import System
from tests.support import RecordingRunner, sandbox_system

PW = "Corr3ct-Horse-Battery"  # the password every test hunts for
PW2 = "Sec0nd-Staple-Quartz"
ENV = "MAILWIZARD_PASSWORD_TEST_ALICE"
ENV2 = "MAILWIZARD_PASSWORD_TEST_BOB"
STEP = SaslStep()


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ENV, PW)
    monkeypatch.setenv(ENV2, PW2)
    yield


def answers_text(*users: tuple[str, str], extra: str = "") -> str:
    out = ["[sasl]", extra]
    for user, env in users:
        out += ["[[sasl.users]]", f'user = "{user}"', f'password_env = "{env}"']
    return "\n".join(out) + "\n"


def sasl_answers(text: str) -> SaslAnswers:
    (chosen,) = answers.load_text(text)
    assert isinstance(chosen.answers, SaslAnswers)
    return chosen.answers


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else repr(text)
        assert PW not in shown and PW2 not in shown, shown
        assert PW not in str(text) and PW2 not in str(text)


def plan_texts(plan: Plan) -> list[object]:
    return [plan.diff(), "\n".join(map(str, plan.summary())), [c.display() for c in plan.commands],
            [c.display() for c in plan.checks], repr(plan), str(plan)]


# -- a fake machine where saslpasswd2, install and mv really act on the sandbox -------------


def acting_runner(root: Path) -> RecordingRunner:
    runner = RecordingRunner()

    def saslpasswd2(argv: tuple[str, ...]) -> None:
        stdin = runner.calls[-1].stdin
        data = stdin.reveal() if isinstance(stdin, Secret) else (stdin or "")
        subprocess.run(argv, input=data, text=True, check=True, capture_output=True)

    def real(argv: tuple[str, ...]) -> None:
        subprocess.run(argv, check=True, capture_output=True)

    def gpasswd(argv: tuple[str, ...]) -> None:
        group = root / "etc" / "group"
        lines = [ln + ("postfix" if ln.startswith("sasl:") else "")
                 for ln in group.read_text().splitlines()]
        group.write_text("\n".join(lines) + "\n")

    runner.effects.update(saslpasswd2=saslpasswd2, install=real, mv=real, chown=real,
                          chmod=real, gpasswd=gpasswd, rm=real)
    runner.effects.update({"db5.3_dump": real, "db5.3_load": real})
    return runner


@pytest.fixture
def machine(sandbox: Path) -> System:
    """The sandbox with /etc/group (postfix not yet in sasl), a snakeoil pair configured."""
    (sandbox / "etc" / "group").write_text("root:x:0:\nsasl:x:45:\npostfix:x:105:\n")
    (sandbox / "etc" / "gshadow").write_text("root:*::\nsasl:!::\npostfix:!::\n")
    for name in ("ssl/certs/ssl-cert-snakeoil.pem", "ssl/private/ssl-cert-snakeoil.key"):
        path = sandbox / "etc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not really a certificate\n")
    main = sandbox / "etc/postfix/main.cf"
    text = re.sub(r"(?m)^mydestination = .*$",
                  "mydestination = $myhostname, example.com, localhost", main.read_text())
    main.write_text(text + (
        "smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
        "smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key\n"
        "smtpd_tls_security_level=may\n"))
    return sandbox_system(sandbox, acting_runner(sandbox))


def run_apply(system: System, plan: Plan) -> tuple[bool, list[str]]:
    shown: list[str] = []

    def emit(event: Event) -> None:
        shown.append(f"{event.kind}: {event.text}")

    result = apply(system, plan, emit)
    assert result.ok, (result.failed, result.reason)
    return result.ok, shown + result.log + [result.reason, result.failed]


def plan_for(system: System, text: str) -> tuple[Plan, list[Problem]]:
    return answers.plan_all(system, answers.load_text(text))


# -- answers -------------------------------------------------------------------------------


def test_inline_password_is_refused_without_echoing_it() -> None:
    text = f'[[sasl.users]]\nuser = "alice@example.com"\npassword = "{PW}"\n'
    with pytest.raises(AnswersError) as info:
        answers.load_text(text)
    fields = [p.field for p in info.value.problems]
    assert "sasl.users[0].password" in fields
    assert "password_env" in str(info.value)
    assert_no_secret(str(info.value), info.value.problems)


def test_cli_refuses_inline_password(sandbox: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "answers.toml"
    file.write_text(f'[[sasl.users]]\nuser = "alice@example.com"\npassword = "{PW}"\n')
    assert cli.main(["--root", str(sandbox), "apply", str(file)]) == cli.EXIT_INVALID
    out = capsys.readouterr()
    assert "sasl.users[0].password" in out.err
    assert_no_secret(out.out, out.err)


def test_missing_env_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    with pytest.raises(AnswersError) as info:
        answers.load_text(answers_text(("alice@example.com", ENV)))
    (problem,) = info.value.problems
    assert problem.field == "sasl.users[0].password_env"
    assert ENV in problem.message and "not set" in problem.message


def test_unreadable_file_names_the_field(tmp_path: Path) -> None:
    text = f'[[sasl.users]]\nuser = "a@example.com"\npassword_file = "{tmp_path}/nope"\n'
    with pytest.raises(AnswersError) as info:
        answers.load_text(text)
    (problem,) = info.value.problems
    assert problem.field == "sasl.users[0].password_file"
    assert "cannot read" in problem.message


def test_password_file_is_read_into_a_secret(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PW + "\n")
    a = sasl_answers(f'[[sasl.users]]\nuser = "a@example.com"\npassword_file = "{secret}"\n')
    (user,) = a.users
    assert isinstance(user.password, Secret) and user.password.reveal() == PW
    assert_no_secret(a, str(a))


def test_env_is_read_into_a_secret() -> None:
    a = sasl_answers(answers_text(("alice@example.com", ENV)))
    assert a.enabled is True and a.remove == ()
    assert a.users[0].password == Secret(PW) and a.users[0].password_env == ENV
    assert_no_secret(a)


@pytest.mark.parametrize("text, field", [
    ('[sasl]\ncolour = "red"\n', "sasl.colour"),
    ('[[sasl.users]]\nuser = "a@example.com"\nwho = 1\n', "sasl.users[0].who"),
    ('[[sasl.users]]\npassword_env = "X"\n', "sasl.users[0].user"),
    ('[sasl]\nenabled = "yes"\n', "sasl.enabled"),
    ('[sasl]\nremove = "bob@example.com"\n', "sasl.remove"),
    (f'[[sasl.users]]\nuser = "a@example.com"\npassword_env = "{ENV}"\n'
     'password_file = "/x"\n', "sasl.users[0]"),
])
def test_bad_answers_name_the_field(text: str, field: str) -> None:
    with pytest.raises(AnswersError) as info:
        answers.load_text(text)
    assert field in [p.field for p in info.value.problems]


def test_answers_dump_never_contains_the_password() -> None:
    chosen = answers.load_text(answers_text(("alice@example.com", ENV),
                                            extra='remove = ["bob@example.com"]'))
    text = answers.dump(chosen)
    assert_no_secret(text)
    assert f'password_env = "{ENV}"' in text
    again = answers.load_text(text)
    assert again[0].answers == chosen[0].answers


# -- validation ----------------------------------------------------------------------------


def test_weak_password_names_its_source_without_the_value(system: System,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "short1")
    a = sasl_answers(answers_text(("alice@example.com", ENV)))
    problems = errors(STEP.validate(a, system))
    assert [p.field for p in problems] == ["sasl.users[0].password_env"]
    assert "short1" not in str(problems)


def test_password_equal_to_login_is_refused(system: System,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "alice@example.com")
    a = sasl_answers(answers_text(("alice@example.com", ENV)))
    assert [p.field for p in errors(STEP.validate(a, system))] == ["sasl.users[0].password_env"]


def test_no_tls_gives_a_warning_about_auth(system: System) -> None:
    a = sasl_answers(answers_text(("alice@example.com", ENV)))
    problems = STEP.validate(a, system)
    assert not errors(problems)
    (warning,) = [p for p in problems if p.level == "warning"]
    assert warning.field == "sasl.enabled"
    assert "smtpd_tls_auth_only" in warning.message and "AUTH" in warning.message


def test_tls_configured_means_no_warning(machine: System) -> None:
    a = sasl_answers(answers_text(("alice@example.com", ENV)))
    assert STEP.validate(a, machine) == []


def test_bad_logins_and_duplicates(system: System) -> None:
    a = sasl_answers(answers_text(("alice", ENV), ("b@example.com", ENV2), ("B@example.com", ENV2),
                                  extra='remove = ["b@example.com", "nobody@example.com"]'))
    problems = STEP.validate(a, system)
    by_field = {p.field: p for p in problems}
    assert by_field["sasl.users[0].user"].level == "error"
    assert "already listed" in by_field["sasl.users[2].user"].message
    assert by_field["sasl.remove[0]"].level == "error"
    assert by_field["sasl.remove[1]"].level == "warning"


def test_existing_user_may_omit_the_password_but_a_new_one_may_not(system: System) -> None:
    a = sasl_answers('[[sasl.users]]\nuser = "new@example.com"\n')
    (problem,) = errors(STEP.validate(a, system))
    assert problem.field == "sasl.users[0]" and "password_env" in problem.message


# -- plans ---------------------------------------------------------------------------------


def test_plan_shape_on_a_fresh_machine(system: System, runner: RecordingRunner) -> None:
    plan, problems = plan_for(system, answers_text(("alice@example.com", ENV)))
    assert not errors(problems)
    conf = plan.file(SMTPD_CONF)
    assert conf is not None and conf.after is not None and conf.before is None
    assert b"pwcheck_method: auxprop\n" in conf.after
    assert b"auxprop_plugin: sasldb\n" in conf.after
    assert b"mech_list: PLAIN LOGIN\n" in conf.after
    assert (conf.mode, conf.owner, conf.group) == (0o644, "root", "root")
    main = plan.file(postfix.MAIN_CF)
    assert main is not None and main.after is not None
    text = main.after.decode()
    for line in ("smtpd_sasl_auth_enable = yes", "smtpd_tls_auth_only = yes",
                 "smtpd_sasl_local_domain = example.com"):
        assert line in text
    master = plan.file(postfix.MASTER_CF)
    assert master is not None and master.after is not None
    entry = re.split(r"\n(?=\S)", master.after.decode().split("\nsubmission inet", 1)[1])[0]
    for opt in ("syslog_name=postfix/submission", "smtpd_tls_security_level=encrypt",
                "smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes",
                "smtpd_client_restrictions=permit_sasl_authenticated,reject"):
        assert f"-o {opt}" in entry
    argvs = [c.argv for c in plan.commands]
    db = str(system.path(SASLDB))
    chroot = str(system.path(CHROOT_SASLDB))
    tmp = str(system.path(CHROOT_TMP))
    assert argvs == [
        ("gpasswd", "-a", "postfix", "sasl"),
        ("saslpasswd2", "-p", "-c", "-f", db, "-u", "example.com", "alice"),
        ("install", "-m", "640", "-o", "root", "-g", "sasl", db, tmp),
        ("mv", "-f", tmp, chroot),
    ]
    gpasswd, setpw, install, mv = plan.commands
    assert set(gpasswd.touches) == {GROUP, GSHADOW, "/etc/group-", "/etc/gshadow-"}
    assert setpw.stdin == Secret(PW) and isinstance(setpw.stdin, Secret)
    for cmd in (setpw, install, mv):
        assert {SASLDB, CHROOT_SASLDB} <= set(cmd.touches)
    assert [c.argv[0] for c in plan.checks] == ["sasldblistusers2", "cmp", "runuser"]
    assert plan.checks[0].argv == ("sasldblistusers2", "-f", chroot)
    assert plan.reload == frozenset({"postfix"})
    assert plan.steps == ("sasl",)
    assert_no_secret(*plan_texts(plan))
    assert all(PW not in " ".join(c.argv) for c in (*plan.commands, *plan.checks))


def test_relay_restrictions_gain_permit_sasl_authenticated() -> None:
    assert with_sasl_relay("permit_mynetworks reject_unauth_destination") == (
        "permit_mynetworks permit_sasl_authenticated reject_unauth_destination")
    same = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
    assert with_sasl_relay(same) == same


def test_chained_after_domains_uses_the_mail_domain(system: System) -> None:
    text = ('[domains]\nmydestination = ["example.org", "localhost"]\n'
            'mynetworks = ["127.0.0.0/8"]\n\n[sasl]\n')
    plan, problems = plan_for(system, text)
    assert not errors(problems)
    main = plan.file(postfix.MAIN_CF)
    assert main is not None and main.after is not None
    assert b"smtpd_sasl_local_domain = example.org" in main.after


def test_no_secret_anywhere_in_a_dry_run(system: System, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "answers.toml"
    file.write_text(answers_text(("alice@example.com", ENV)))
    assert cli.main(["--root", str(system.root), "apply", str(file), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "saslpasswd2 -p -c" in out.out and "••••••" in out.out
    assert_no_secret(out.out, out.err, file.read_text())


def test_apply_then_identical_apply_is_empty(machine: System) -> None:
    runner = machine.runner
    assert isinstance(runner, RecordingRunner)
    text = answers_text(("alice@example.com", ENV), ("bob@example.com", ENV2))
    plan, problems = plan_for(machine, text)
    assert problems == []
    _, log = run_apply(machine, plan)
    assert_no_secret(log, [c.argv for c in runner.calls])
    # The real saslpasswd2 wrote the real database; the in-memory reader agrees.
    assert list_users(machine) == ["alice@example.com", "bob@example.com"]
    stored = stored_passwords(machine)
    assert stored == {"alice@example.com": Secret(PW), "bob@example.com": Secret(PW2)}
    assert chroot_state(machine) == ""
    assert STEP.status(machine).summary == "2 users" and STEP.status(machine).state == "ok"
    again, problems = plan_for(machine, text)
    assert problems == [] and again.is_empty, again.summary()
    # current() reproduces the same state: planning it is empty too.
    assert STEP.plan(STEP.current(machine), machine).is_empty


def test_changed_password_and_removal_touch_only_sasldb(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV),
                                                      ("bob@example.com", ENV2)))[0])
    os.environ[ENV] = PW2 + "x"
    plan, problems = plan_for(machine, answers_text(
        ("alice@example.com", ENV), extra='remove = ["bob@example.com"]'))
    assert problems == []
    assert plan.changed_files() == ()
    db, tmp = str(machine.path(SASLDB)), str(machine.path(SASLDB_TMP))
    info = machine.info(SASLDB)
    assert info is not None
    # Built anew (Berkeley DB's in-place change would keep the old bytes), bob left out.
    assert [c.argv for c in plan.commands[:5]] == [
        ("install", "-m", "600", "/dev/null", tmp),
        ("saslpasswd2", "-p", "-c", "-f", tmp, "-u", "example.com", "alice"),
        ("chown", f"{info.owner}:{info.group}", tmp), ("chmod", f"{info.mode:o}", tmp),
        ("mv", "-f", tmp, db)]
    assert [c.argv[:3] for c in plan.commands[5:]] == [
        ("install", "-m", "640"), ("mv", "-f", str(machine.path(CHROOT_TMP)))]
    assert plan.commands[1].why == "set a new password for alice@example.com"
    assert plan.commands[4].why == "replace /etc/sasldb2 in one step; without bob@example.com"
    assert plan.commands[1].stdin == Secret(PW2 + "x")
    assert all(SASLDB_TMP in c.touches and c.secret_files for c in plan.commands[:5])
    assert plan.reload == frozenset()  # smtpd opens the chroot copy per session: no reload
    run_apply(machine, plan)
    assert stored_passwords(machine) == {"alice@example.com": Secret(PW2 + "x")}
    assert not list(machine.path(SASLDB_TMP).parent.glob(".sasldb2.*"))
    for path in (SASLDB, CHROOT_SASLDB):
        data = machine.path(path).read_bytes()
        # bob's password is gone; alice's new one (PW2 + "x") holds its text once.
        assert PW.encode()[:8] not in data and data.count(PW2.encode()) == 1, path


def test_a_change_copies_the_other_logins_into_the_new_database(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV),
                                                      ("bob@example.com", ENV2)))[0])
    machine.path(SASLDB).chmod(0o660)
    os.environ[ENV] = "Sh0rt-Kiwi-9z"
    plan, problems = plan_for(machine, answers_text(("alice@example.com", ENV)))
    assert problems == []
    copied = plan.commands[2]
    assert copied.argv[-1] == "bob" and copied.stdin == Secret(PW2)
    assert copied.why == "copy the login bob@example.com into the new database"
    assert_no_secret(*plan_texts(plan))
    run_apply(machine, plan)
    assert stored_passwords(machine) == {"alice@example.com": Secret("Sh0rt-Kiwi-9z"),
                                         "bob@example.com": Secret(PW2)}
    assert machine.path(SASLDB).stat().st_mode & 0o777 == 0o660
    assert PW.encode()[:8] not in machine.path(SASLDB).read_bytes()


def test_only_additions_stay_in_place(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    plan, _ = plan_for(machine, answers_text(("alice@example.com", ENV),
                                             ("bob@example.com", ENV2)))
    assert [c.argv[0] for c in plan.commands] == ["saslpasswd2", "install", "mv"]


def test_backups_of_the_first_apply_hold_no_password(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    backups = machine.path(BACKUP_ROOT)
    files = [p for p in backups.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert PW.encode() not in path.read_bytes(), path


def test_stale_chroot_copy_is_a_problem_and_gets_recopied(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    # Someone ran saslpasswd2 by hand and forgot the chroot copy.
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(machine.path(SASLDB)), "-u",
                    "example.com", "carol"], input=PW2, text=True, check=True)
    status = STEP.status(machine)
    assert (status.state, status.summary) == ("problem", "users but chroot copy stale")
    plan = STEP.plan(STEP.current(machine), machine)
    assert [c.argv[0] for c in plan.commands] == ["install", "mv"]
    assert fix_plan(STEP, machine) == plan  # the hub's f offers exactly this
    run_apply(machine, plan)
    assert STEP.status(machine).summary == "2 users"


def test_status_without_users_is_todo(system: System) -> None:
    status = STEP.status(system)
    assert (status.state, status.symbol, status.summary) == ("todo", "·", "no users")


def test_registered_in_the_hub() -> None:
    assert isinstance(by_name("sasl"), SaslStep)


def test_unknown_database_format_keeps_existing_users(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])

    real = berkeleydb.hash_items
    try:
        berkeleydb.hash_items = lambda data: None  # type: ignore[assignment]
        assert stored_passwords(machine) is None
        os.environ[ENV] = PW2
        a = sasl_answers(answers_text(("alice@example.com", ENV)))
        warnings = [p for p in STEP.validate(a, machine) if p.level == "warning"]
        assert [p.field for p in warnings] == ["sasl.users[0]"]
        assert STEP.plan(a, machine).is_empty
    finally:
        berkeleydb.hash_items = real


def test_reader_matches_db_dump(tmp_path: Path) -> None:
    db = tmp_path / "sasldb2"
    for i in range(120):
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(db), "-u", "example.com",
                        f"user{i}"], input=f"pw{i:04d}-{'x' * (i * 9)}", text=True, check=True)
    for i in range(0, 120, 7):
        subprocess.run(["saslpasswd2", "-d", "-f", str(db), "-u", "example.com", f"user{i}"],
                       check=True)
    dump = subprocess.run(["db_dump", str(db)], capture_output=True, text=True, check=True).stdout
    body = dump.split("HEADER=END\n")[1].split("DATA=END")[0].split()
    expected = {bytes.fromhex(k): bytes.fromhex(v) for k, v in zip(body[::2], body[1::2],
                                                                    strict=True)}
    assert berkeleydb.hash_items(db.read_bytes()) == expected
    assert max(len(v) for v in expected.values()) > 1000  # overflow pages were read too
    assert berkeleydb.hash_items(b"\0" * 8192) is None


# -- what the screen proposes: add, change, delete through the step's answers ------------


def test_two_password_entries_are_compared() -> None:
    problems = password_problems("alice@example.com", Secret(PW), Secret(PW2))
    assert [p.field for p in problems] == ["sasl.password_again"]
    assert_no_secret(*(str(p) for p in problems))
    assert password_problems("alice@example.com", Secret(PW), Secret(PW)) == []


def test_add_change_and_delete_a_login(machine: System) -> None:
    alice = SaslUser("alice@example.com", Secret(PW))
    add = replace(STEP.current(machine), enabled=True, users=(alice,))
    plan = STEP.plan(add, machine)
    assert plan.file(SMTPD_CONF) is not None
    assert any(c.argv[0] == "saslpasswd2" and c.stdin == Secret(PW) for c in plan.commands)
    assert_no_secret(*plan_texts(plan))
    run_apply(machine, plan)
    assert STEP.plan(add, machine).is_empty  # the same password: nothing to do
    unknown = replace(add, users=(SaslUser("nobody@example.com"),))
    assert [p.field for p in errors(STEP.validate(unknown, machine))] == ["sasl.users[0]"]
    change = replace(add, users=(SaslUser("alice@example.com", Secret(PW2)),))
    plan = STEP.plan(change, machine)
    assert [c.argv[0] for c in plan.commands] == [
        "install", "saslpasswd2", "chown", "chmod", "mv", "install", "mv"]
    assert_no_secret(*plan_texts(plan))
    run_apply(machine, plan)
    assert stored_passwords(machine) == {"alice@example.com": Secret(PW2)}
    assert PW.encode()[:8] not in machine.path(SASLDB).read_bytes()
    delete = replace(STEP.current(machine), users=(), remove=("alice@example.com",))
    plan = STEP.plan(delete, machine)
    # The last login: a new database with a placeholder, deleted again (nothing old in it).
    assert [c.argv[:2] for c in plan.commands[1:3]] == [("saslpasswd2", "-p"),
                                                        ("saslpasswd2", "-d")]
    assert plan.commands[5].why == "replace /etc/sasldb2 in one step; without alice@example.com"
    run_apply(machine, plan)
    assert list_users(machine) == []
    assert PW2.encode()[:8] not in machine.path(SASLDB).read_bytes()
    assert STEP.status(machine).summary == "no users"


def test_disabled_turns_auth_off(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    plan = STEP.plan(SaslAnswers(enabled=False), machine)
    main = plan.file(postfix.MAIN_CF)
    master = plan.file(postfix.MASTER_CF)
    assert main is not None and main.after is not None and master is not None
    assert b"smtpd_sasl_auth_enable = no" in main.after
    assert master.after is not None and b"-o smtpd_sasl_auth_enable=no" in master.after
    assert not plan.commands
    run_apply(machine, plan)
    assert STEP.status(machine).summary == "1 user, AUTH off"


def test_user_without_password_keeps_the_stored_one(machine: System) -> None:
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    a = SaslAnswers(users=(SaslUser("alice@example.com"),))
    assert STEP.validate(a, machine) == []
    assert STEP.plan(a, machine).is_empty


def test_tls_step_in_the_same_file_silences_the_warning(system: System) -> None:
    text = "[tls]\nsnakeoil = true\n\n" + answers_text(("alice@example.com", ENV))
    _, problems = plan_for(system, text)
    assert [p for p in problems if p.field == "sasl.enabled"] == []


def test_world_readable_chroot_copy_is_a_problem_and_gets_recopied(machine: System) -> None:
    """The chroot copy holds the passwords in clear: same bytes but 0644 is not fine."""
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    assert chroot_state(machine) == ""
    os.chmod(machine.path(CHROOT_SASLDB), 0o644)
    assert chroot_state(machine) == "root:sasl 0644, not root:sasl 0640"
    status = STEP.status(machine)
    assert (status.state, status.summary) == (
        "problem", "chroot copy is root:sasl 0644, not root:sasl 0640")
    plan = STEP.plan(STEP.current(machine), machine)
    assert [c.argv[0] for c in plan.commands] == ["install", "mv"]
    run_apply(machine, plan)
    assert chroot_state(machine) == "" and STEP.status(machine).summary == "1 user"
    assert os.stat(machine.path(CHROOT_SASLDB)).st_mode & 0o777 == 0o640


def test_relay_restrictions_left_at_postfix_default_become_the_plain_list(
        sandbox: Path, system: System) -> None:
    """Issue 11 item 12: no ${{$compatibility_level} ...} expression in main.cf."""
    main_cf = sandbox / "etc/postfix/main.cf"
    main_cf.write_text("".join(line for line in main_cf.read_text().splitlines(keepends=True)
                               if not line.startswith("smtpd_relay_restrictions")))
    plan, problems = plan_for(system, answers_text(("alice@example.com", ENV)))
    assert not errors(problems)
    main = plan.file(postfix.MAIN_CF)
    assert main is not None and main.after is not None
    relay = [line for line in main.after.decode().splitlines()
             if line.startswith("smtpd_relay_restrictions")]
    assert relay == ["smtpd_relay_restrictions = permit_mynetworks, "
                     "permit_sasl_authenticated, reject_unauth_destination"]


OLD_RELAY = ("${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
             "permit_sasl_authenticated, defer_unauth_destination}} permit_sasl_authenticated")
PLAIN = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"


def _with_relay(sandbox: Path, value: str) -> None:
    main_cf = sandbox / "etc/postfix/main.cf"
    kept = [line for line in main_cf.read_text().splitlines(keepends=True)
            if not line.startswith("smtpd_relay_restrictions")]
    main_cf.write_text("".join(kept) + f"smtpd_relay_restrictions = {value}\n")


@pytest.mark.parametrize("written", [OLD_RELAY, OLD_RELAY.removesuffix(
    " permit_sasl_authenticated")], ids=["older-mailwizard", "postfix-default-written-out"])
def test_an_old_compatibility_level_expression_becomes_the_plain_list(
        sandbox: Path, system: System, written: str) -> None:
    """What an older mailwizard wrote (or Postfix's default written into main.cf) is
    rewritten, in the plan's diff, into the list a person would write by hand."""
    _with_relay(sandbox, written)
    assert postfix.explicit(system)["smtpd_relay_restrictions"] == written
    plan, problems = plan_for(system, answers_text(("alice@example.com", ENV)))
    assert not errors(problems)
    diff = [line for line in plan.diff().splitlines() if "smtpd_relay_restrictions" in line]
    assert diff == [f"-smtpd_relay_restrictions = {written}",
                    f"+smtpd_relay_restrictions = {PLAIN}"]
    main = plan.file(postfix.MAIN_CF)
    assert main is not None and "plain list" in main.why
    assert all("plain list" not in f.why for f in plan.files if f is not main)
    view = system.with_files({f.path: f.after for f in plan.files})
    assert postfix.explicit(view)["smtpd_relay_restrictions"] == PLAIN
    again = STEP.plan(sasl_answers(answers_text(("alice@example.com", ENV))), view)
    assert "smtpd_relay_restrictions" not in again.diff()  # once plain, left alone


def test_an_admins_own_compatibility_level_expression_keeps_its_meaning(
        sandbox: Path, system: System) -> None:
    """An expression with restrictions of the admin's own becomes what it evaluates to at
    this compatibility level, with permit_sasl_authenticated (once) before the guard."""
    _with_relay(sandbox, "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, "
                         "check_client_access hash:/etc/postfix/relay_ok, "
                         "check_client_access hash:/etc/postfix/relay_too, "
                         "reject_unauth_destination}} permit_sasl_authenticated")
    plan, problems = plan_for(system, answers_text(("alice@example.com", ENV)))
    assert not errors(problems)
    view = system.with_files({f.path: f.after for f in plan.files})
    assert postfix.explicit(view)["smtpd_relay_restrictions"] == (
        "permit_mynetworks check_client_access hash:/etc/postfix/relay_ok "
        "check_client_access hash:/etc/postfix/relay_too permit_sasl_authenticated "
        "reject_unauth_destination")


def add_other_entry(system: System, login: str) -> None:
    """An entry besides userPassword (as the OTP plugin's saslpasswd2 writes): this version
    cannot copy such a database entry by entry, so it changes it in place."""
    local, _, realm = login.rpartition("@")
    subprocess.run(["db5.3_load", "-T", "-t", "hash", str(system.path(SASLDB))],
                   input=f"{local}\\00{realm}\\00cmusaslsecretOTP\nnot-a-secret\n",
                   text=True, check=True, capture_output=True)


@pytest.mark.parametrize("change", ["password", "removal"])
def test_a_database_changed_in_place_is_compacted(machine: System, change: str) -> None:
    """Issue 8 leftover: with an entry besides userPassword the database is changed in place,
    which keeps the old bytes; it is then dumped and loaded into a new file (only the live
    records), with the old owner and mode, and renamed over. No password in any argv."""
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV),
                                                      ("bob@example.com", ENV2)))[0])
    add_other_entry(machine, "bob@example.com")
    os.chmod(machine.path(SASLDB), 0o660)
    assert PW.encode() in machine.path(SASLDB).read_bytes()
    os.environ[ENV] = "Thr33-Newer-Lantern"
    extra = 'remove = ["alice@example.com"]' if change == "removal" else ""
    users = [("bob@example.com", ENV2)] if change == "removal" else [
        ("alice@example.com", ENV), ("bob@example.com", ENV2)]
    plan, problems = plan_for(machine, answers_text(*users, extra=extra))
    assert errors(problems) == []
    db, tmp, dump = (str(machine.path(p)) for p in (SASLDB, SASLDB_TMP, SASLDB_DUMP))
    argvs = [c.argv for c in plan.commands]
    assert argvs[0][:2] == (("saslpasswd2", "-p") if change == "password"
                            else ("saslpasswd2", "-d"))
    info = machine.info(SASLDB)
    assert info is not None
    assert argvs[1:9] == [
        ("install", "-m", "600", "/dev/null", dump), ("db5.3_dump", "-f", dump, db),
        ("install", "-m", "600", "/dev/null", tmp), ("db5.3_load", "-f", dump, tmp),
        ("rm", "-f", dump), ("chown", f"{info.owner}:{info.group}", tmp),
        ("chmod", "660", tmp), ("mv", "-f", tmp, db)]
    assert all(SASLDB_DUMP in c.touches and SASLDB_TMP in c.touches and c.secret_files
               for c in plan.commands[1:9])
    assert_no_secret(*plan_texts(plan))
    run_apply(machine, plan)
    data = machine.path(SASLDB).read_bytes()
    assert PW.encode()[:8] not in data  # alice's old password: in no free page either
    assert machine.path(SASLDB).stat().st_mode & 0o777 == 0o660
    assert not list(machine.path(SASLDB).parent.glob(".sasldb2.*"))
    expected = {"bob@example.com": Secret(PW2)}
    if change == "password":
        expected["alice@example.com"] = Secret("Thr33-Newer-Lantern")
    assert berkeleydb.hash_items(data) is not None
    assert stored_passwords(machine) == expected
    assert b"cmusaslsecretOTP" in data  # the other entry was copied too
    assert machine.path(CHROOT_SASLDB).read_bytes() == data


def test_only_additions_are_not_compacted(machine: System) -> None:
    """A new login leaves no old bytes: no dump, no load (the fresh apply stays as it was)."""
    run_apply(machine, plan_for(machine, answers_text(("alice@example.com", ENV)))[0])
    add_other_entry(machine, "alice@example.com")
    plan, _ = plan_for(machine, answers_text(("alice@example.com", ENV),
                                             ("bob@example.com", ENV2)))
    assert plan.commands and not any(c.argv[0].startswith("db5.3") for c in plan.commands)
