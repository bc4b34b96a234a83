"""Issue 8 item 5: weak passwords refused with a reason naming the field (answers file and the
screen's API alike), secret files that others can read or own warned about, and Postfix's brake
on guessing (smtpd_client_auth_rate_limit) in the SASL step."""

from __future__ import annotations

import os
import random
import re
import string
from pathlib import Path

import pytest

from mailwizard import answers, cli, postfix, validate
from mailwizard.secret import Secret
from mailwizard.steps.base import errors
from mailwizard.steps.sasl import AUTH_RATE_LIMIT, SaslStep, password_problems
from mailwizard.steps.tls import PairFacts, judge
from mailwizard.system import System
from mailwizard.x509 import X509Info

STEP = SaslStep()
ENV = "MAILWIZARD_PASSWORD_TEST_POLICY"
LOGIN = "postmaster@example.com"
STRONG = "Corr3ct-Horse-Battery"

# (password, login, what the reason must say)
WEAK = [
    ("1234567890", LOGIN, "too common"),
    ("Password12", LOGIN, "too common"),
    ("postmaster1", LOGIN, "built from the login"),
    ("qwertyuiop", LOGIN, "too common"),
    ("aaaaaaaaaaaa", LOGIN, "too common"),
    ("Example-Com-2026", "alice@example.com", "built from the login or its domain"),
    ("AliceAlice1!", "alice@example.com", "built from the login"),
    ("retsamtsop99", LOGIN, "built from the login"),  # reversed
    ("p0stm4st3r!!", LOGIN, "built from the login"),  # l33t
    ("short1", LOGIN, "at least 10 characters"),
]


def answers_with(password: str, tmp_path: Path, source: str = "env",
                 login: str = LOGIN) -> str:
    if source == "env":
        os.environ[ENV] = password
        where = f'password_env = "{ENV}"'
    else:
        file = tmp_path / "pw"
        file.write_text(password + "\n")
        file.chmod(0o600)
        where = f'password_file = "{file}"'
    return f'[sasl]\n[[sasl.users]]\nuser = "{login}"\n{where}\n'


@pytest.fixture(autouse=True)
def _clean_env() -> None:
    yield  # type: ignore[misc]
    os.environ.pop(ENV, None)


@pytest.mark.parametrize(("pw", "login", "reason"), WEAK)
def test_weak_password_refused_with_a_reason(pw: str, login: str, reason: str) -> None:
    with pytest.raises(validate.Invalid) as caught:
        validate.password(pw, user=login)
    message = str(caught.value)
    assert reason in message, message
    assert pw not in message and pw.lower() not in message.lower()


@pytest.mark.parametrize("pw", [STRONG, "Sec0nd-Staple-Quartz", "correct-horse-battery-staple",
                                "Int3gration-Alice-Pass", "vq7#Lm2!xT9@pR4z"])
def test_strong_passwords_pass(pw: str) -> None:
    assert validate.password(pw, user="alice@example.com") == pw


@pytest.mark.parametrize("pw", ["tab\there-Quartz-77", "esc\x1b[31m-Quartz-77",
                                "del\x7f-Staple-Quartz", "nbsp\u00a0-Staple-Quartz-77",
                                "caf\udce9-Staple-Quartz-77", "next\x85line-Quartz-77"])
def test_control_characters_refused(pw: str) -> None:
    with pytest.raises(validate.Invalid, match=r"printable|line break"):
        validate.password(pw, user=LOGIN)


def test_huge_password_refused_quickly() -> None:
    with pytest.raises(validate.Invalid, match="at most 256"):
        validate.password("Xy7!" * 1000, user=LOGIN)
    rng = random.Random(8)
    longest = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(256))
    assert validate.password(longest, user=LOGIN) == longest  # the longest allowed


@pytest.mark.parametrize(("pw", "login", "reason"), WEAK[:3])
@pytest.mark.parametrize("source", ["env", "file"])
def test_answers_file_refuses_weak_password_naming_the_field(
        system: System, tmp_path: Path, pw: str, login: str, reason: str, source: str) -> None:
    text = answers_with(pw, tmp_path, source, login)
    plan, problems = answers.plan_all(system, answers.load_text(text))
    field = "password_env" if source == "env" else "password_file"
    bad = errors(problems)
    assert [p.field for p in bad] == [f"sasl.users[0].{field}"], problems
    assert reason in bad[0].message
    assert plan.is_empty
    assert all(pw not in str(p) for p in problems)


def test_cli_apply_refuses_a_weak_password_and_writes_nothing(
        sandbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "answers.toml"
    file.write_text(answers_with("Password12", tmp_path))
    before = {p: p.read_bytes() for p in sandbox.rglob("*") if p.is_file()}
    code = cli.main(["--root", str(sandbox), "apply", str(file)])
    out = capsys.readouterr()
    assert code == 1
    assert "sasl.users[0].password_env" in out.out + out.err
    assert "Password12" not in out.out + out.err
    assert {p: p.read_bytes() for p in sandbox.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(("pw", "login", "reason"), WEAK)
def test_screen_api_refuses_weak_password_naming_the_field(pw: str, login: str,
                                                          reason: str) -> None:
    problems = password_problems(login, Secret(pw), Secret(pw))
    assert [(p.field, p.level) for p in problems] == [("sasl.password", "error")]
    assert reason in problems[0].message and pw not in problems[0].message


def test_screen_api_accepts_strong_password() -> None:
    assert password_problems(LOGIN, Secret(STRONG), Secret(STRONG)) == []


# -- secret files that others can read, change or own ------------------------------------------


@pytest.mark.parametrize(("mode", "said"), [
    (0o644, "readable by every user"), (0o640, "readable by group"),
    (0o620, "can be changed by other users"), (0o602, "can be changed by other users"),
])
def test_password_file_readable_or_writable_by_others_warns(
        system: System, tmp_path: Path, mode: int, said: str) -> None:
    text = answers_with(STRONG, tmp_path, "file")
    (tmp_path / "pw").chmod(mode)
    _, problems = answers.plan_all(system, answers.load_text(text))
    found = [p for p in problems if p.field == "sasl.users[0].password_file"]
    assert [(p.level) for p in found] == ["warning"], problems
    assert said in found[0].message and "chmod 600" in found[0].message
    assert str(tmp_path / "pw") in found[0].message


def test_password_file_owned_by_another_user_warns(system: System, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root to give the file to another user")
    text = answers_with(STRONG, tmp_path, "file")
    os.chown(tmp_path / "pw", 65534, 65534)
    _, problems = answers.plan_all(system, answers.load_text(text))
    found = [p for p in problems if p.field == "sasl.users[0].password_file"]
    assert [p.level for p in found] == ["warning"]
    assert "owned by nobody" in found[0].message


def test_password_file_600_root_draws_no_warning(system: System, tmp_path: Path) -> None:
    text = answers_with(STRONG, tmp_path, "file")
    _, problems = answers.plan_all(system, answers.load_text(text))
    assert not [p for p in problems if p.field.startswith("sasl.users")], problems


def _key_facts(mode: int, owner: str = "root", group: str = "root") -> PairFacts:
    from datetime import UTC, datetime
    info = X509Info(datetime(2030, 1, 1, tzinfo=UTC), "mail.example.com",
                    ("mail.example.com",), "PUB")
    return PairFacts(True, True, info, "PUB", mode, key_owner=owner, key_group=group)


@pytest.mark.parametrize(("mode", "owner", "said"), [
    (0o666, "root", "can be changed by other users"), (0o620, "root", "can be changed"),
    (0o600, "nobody", "owned by nobody"), (0o644, "root", "readable by every user"),
])
def test_key_file_exposed_warns(mode: int, owner: str, said: str) -> None:
    from datetime import UTC, datetime
    problems = judge(_key_facts(mode, owner), "mail.example.com", datetime(2026, 1, 1, tzinfo=UTC))
    assert [(p.field, p.level) for p in problems] == [("tls.key_file", "warning")]
    assert said in problems[0].message


def test_key_file_640_root_ssl_cert_is_fine() -> None:
    from datetime import UTC, datetime
    assert judge(_key_facts(0o640, "root", "ssl-cert"), "mail.example.com",
                 datetime(2026, 1, 1, tzinfo=UTC)) == []


# -- the brake on guessing -----------------------------------------------------------------


def _main_cf_after(system: System, text: str) -> str:
    plan, problems = answers.plan_all(system, answers.load_text(text))
    assert not errors(problems), problems
    change = next(f for f in plan.changed_files() if f.path == postfix.MAIN_CF)
    assert change.after is not None
    return change.after.decode()


def test_sasl_step_sets_the_auth_rate_limit(system: System, tmp_path: Path) -> None:
    after = _main_cf_after(system, answers_with(STRONG, tmp_path))
    assert re.search(rf"(?m)^smtpd_client_auth_rate_limit = {AUTH_RATE_LIMIT}$", after)
    assert AUTH_RATE_LIMIT == "10"


def test_an_admins_own_rate_limit_is_kept(system: System, tmp_path: Path) -> None:
    main = system.path(postfix.MAIN_CF)
    main.write_text(main.read_text() + "smtpd_client_auth_rate_limit = 5\n")
    after = _main_cf_after(system, answers_with(STRONG, tmp_path))
    assert re.findall(r"(?m)^smtpd_client_auth_rate_limit = .*$", after) == [
        "smtpd_client_auth_rate_limit = 5"]


def test_anvil_is_added_when_master_cf_lacks_it(system: System, tmp_path: Path) -> None:
    master = system.path(postfix.MASTER_CF)
    master.write_text("".join(line for line in master.read_text().splitlines(keepends=True)
                              if not line.startswith("anvil")))
    plan, problems = answers.plan_all(system, answers.load_text(answers_with(STRONG, tmp_path)))
    assert not errors(problems)
    change = next(f for f in plan.changed_files() if f.path == postfix.MASTER_CF)
    assert change.after is not None
    assert re.search(r"(?m)^anvil +unix +- +- +y +- +1 +anvil$", change.after.decode())


def test_auth_off_does_not_set_the_limit(system: System) -> None:
    plan, _ = answers.plan_all(system, answers.load_text("[sasl]\nenabled = false\n"))
    assert "smtpd_client_auth_rate_limit" not in plan.diff()


def test_help_says_so() -> None:
    assert "smtpd_client_auth_rate_limit" in STEP.help and "zxcvbn" in STEP.help
