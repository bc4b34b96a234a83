"""Issue 8: the bad-input campaign. Hypothesis feeds hostile values into every field of every
step, through the answers file (``mailwizard --root SANDBOX apply FILE``, the headless path)
and through the step API the screens use (``Step.propose``, the SASL dialog's
``password_problems``, the screens' field validators).

Hostile: control characters, NUL, huge values, bytes that are not UTF-8 (lone surrogates, as
os.environ holds them), look-alike letters, shell metacharacters, Postfix syntax, line breaks
that would start a second Postfix parameter or alias line, /dev/zero, a FIFO, a link to
/etc/shadow, a directory, wrong TOML types. Each must be refused with an error naming the field
(and nothing written), or accepted and written safely (no injected line, no control character,
no command run); never a traceback, never a hang (an alarm bounds each example).

Deterministic for CI: ``derandomize=True`` and no example database. The counts are printed at
the end of the module (``pytest -s``) for the closing note.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailwizard import answers, cli, validate
from mailwizard.secret import Secret
from mailwizard.steps import SECTIONS
from mailwizard.steps.aliases import AliasesAnswers
from mailwizard.steps.base import Problem, Step, errors
from mailwizard.steps.dkim import DkimAnswers
from mailwizard.steps.dmarc import DmarcAnswers
from mailwizard.steps.domains import DomainsAnswers
from mailwizard.steps.hostname import HostnameAnswers
from mailwizard.steps.sasl import SaslAnswers, SaslUser, password_problems
from mailwizard.steps.spf import SpfAnswers
from mailwizard.steps.tls import TlsAnswers
from mailwizard.system import System
from tests.support import make_certs, make_sandbox

ENV = "MAILWIZARD_PASSWORD_CAMPAIGN"
GOOD_PW = "Corr3ct-Horse-Battery"
MARKERS = ("mw_injected", "mwinjected")  # what a smuggled second line would start with
PWNED = Path("/tmp/mw-campaign-pwned")  # a shell metacharacter that ran would create it
COUNTS: Counter[str] = Counter()
SLOWEST: list[float] = [0.0]
LIMIT = 15  # seconds for one example: more is a hang

# -- hostile values ------------------------------------------------------------------------

LINE_BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"]
INJECTIONS = ["\nmw_injected = yes", "\r\nmw_injected=yes", "\nmwinjected: root",
              "\n mw_injected", "\x00\nmw_injected = yes", ", mw_injected = yes",
              "\\nmw_injected = yes"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\t", "\x1b[31m", "\x1b]52;c;aGk=\x07", "\x7f",
            "\x9b", "\u202e", "\u200b", "\ufeff", "\u00a0"]
SHELL = [f"$(touch {PWNED})", f"`touch {PWNED}`", f"; touch {PWNED}", f"| touch {PWNED}",
         f"&& touch {PWNED}", f"> {PWNED}", "*", "~root", "-rf", "--help"]
POSTFIX_SYNTAX = ["$myhostname", "${mydomain}", "{a}", ",", "=", "#", '"', "'", "\\", ";",
                  ":", "@", "[::1]", "hash:/etc/shadow", "regexp:/x/"]
NOT_UTF8 = ["\udcff", "\udce9t\udce9", "\ud800", "caf\udce9"]
LOOK_ALIKE = ["mаil.example.com", "аррӏе.com", "xn--zz.example.com", "ｍａｉｌ.example.com",
              "xn--80ak6aa92e.com"]
HUGE = ["a" * 300, "a" * 70_000, "x." * 200, "é" * 5000, "a" * 64, "1" * 20]
PATHS = ["/dev/zero", "/dev/null", "/dev/stdin", "/proc/self/mem", "/etc", "/nonexistent/x",
         "relative/path", "../../../../etc/shadow", "/etc/../etc/shadow", "/tmp/x y",
         "{fifo}", "{link}", "{dangling}", ""]
ALL = (LINE_BREAKS + INJECTIONS + CONTROLS + SHELL + POSTFIX_SYNTAX + NOT_UTF8 + LOOK_ALIKE
       + HUGE + PATHS)


def hostile(valid: str) -> st.SearchStrategy[str]:
    """A hostile value alone, spliced into a valid one, or random text with controls."""
    pick = st.sampled_from(ALL)
    spliced = st.builds(lambda p, at: valid[:at] + p + valid[at:], pick,
                        st.integers(0, len(valid)))
    noise = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x2FFF,
                                  exclude_categories=()), min_size=0, max_size=40)
    return st.one_of(pick, spliced, st.builds(lambda v, p: v + p, st.just(valid), pick), noise)


WRONG_TYPES: list[Any] = [1, -1, 2**63, 1.5, True, [], ["x", 1], {}, {"a": "b"}, "yes", ""]

# -- the fields: (section, key, a valid value) ---------------------------------------------

FIELDS: list[tuple[str, str, Any]] = [
    ("hostname", "fqdn", "mail.example.com"),
    ("domains", "mydestination", ["example.com", "mail.example.com", "localhost"]),
    ("domains", "mynetworks", ["127.0.0.0/8", "[::1]/128"]),
    ("aliases", "<name>", "support"),
    ("aliases", "<target>", "admin@example.net"),
    ("tls", "cert_file", "/etc/ssl/mail/cert.pem"),
    ("tls", "key_file", "/etc/ssl/mail/key.pem"),
    ("tls", "snakeoil", False),
    ("sasl", "users[0].user", "alice@example.com"),
    ("sasl", "users[0].password_env", ENV),
    ("sasl", "<password>", GOOD_PW),
    ("sasl", "users[0].password_file", "/root/pw"),
    ("sasl", "<password in file>", GOOD_PW),
    ("sasl", "remove", ["bob@example.com"]),
    ("sasl", "local_domain", "example.com"),
    ("sasl", "enabled", True),
    ("spf", "record", "v=spf1 mx ~all"),
    ("spf", "check_incoming", True),
    ("spf", "fail_open", False),
    ("dkim", "domain", "example.com"),
    ("dkim", "selector", "mail"),
    ("dkim", "bits", 2048),
    ("dkim", "rotate", False),
    ("dkim", "published", False),
    ("dmarc", "policy", "none"),
    ("dmarc", "rua", "postmaster@example.com"),
]


def test_every_field_of_every_step_is_attacked() -> None:
    """A new field in any step's Answers must join the campaign."""
    attacked = {(s, k.split("[")[0].split(".")[0]) for s, k, _ in FIELDS}
    for step in SECTIONS:
        if not step.parseable:
            continue
        for f in dataclasses.fields(step.answers):
            name = {"entries": "<name>", "users": "users"}.get(f.name, f.name)
            assert (step.name, name) in attacked, f"{step.name}.{f.name} is not attacked"


# -- the sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Debian root with a certificate pair, a password file, a FIFO and hostile links."""
    top = tmp_path_factory.mktemp("campaign")
    root = make_sandbox(top / "root")
    (top / "certs").mkdir()
    certs = make_certs(top / "certs")
    (root / "etc/ssl/mail").mkdir(parents=True)
    shutil.copy(certs / "good.pem", root / "etc/ssl/mail/cert.pem")
    shutil.copy(certs / "good.key", root / "etc/ssl/mail/key.pem")
    (root / "etc/ssl/mail/key.pem").chmod(0o600)
    extra = top / "host"
    extra.mkdir()
    os.mkfifo(extra / "fifo")
    (extra / "link").symlink_to("/etc/shadow")
    (extra / "dangling").symlink_to(extra / "nowhere")
    for name in ("fifo", "link", "dangling"):  # the same traps inside the sandbox root
        target = root / "etc/ssl/mail" / name
        if name == "fifo":
            os.mkfifo(target)
        else:
            target.symlink_to("/etc/shadow" if name == "link" else "/nowhere")
    (extra / "pw").write_text(GOOD_PW + "\n")
    (extra / "pw").chmod(0o600)
    yield top
    PWNED.unlink(missing_ok=True)


def _path_value(value: str, top: Path, *, inside: bool) -> str:
    """``{fifo}``, ``{link}``, ``{dangling}`` name the traps (in the sandbox for TLS files,
    which are logical paths; on the host for a password file)."""
    base = "/etc/ssl/mail" if inside else str(top / "host")
    return re.sub(r"\{(fifo|link|dangling)\}", lambda m: f"{base}/{m.group(1)}", value)


def fresh_root(top: Path) -> Path:
    work = top / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(top / "root", work, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n == "fifo"])
    os.mkfifo(work / "etc/ssl/mail/fifo")
    return work


def tree(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in root.rglob("*"):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file() and not path.is_fifo():
            out[rel] = path.read_bytes()
    out.pop("run/mailwizard.lock", None)
    return out


@contextlib.contextmanager
def bounded(seconds: int = LIMIT) -> Iterator[None]:
    """Fail (instead of hanging the suite) when one example takes longer than ``seconds``."""
    def hang(signum: int, frame: object) -> None:
        raise TimeoutError(f"hung for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        SLOWEST[0] = max(SLOWEST[0], time.monotonic() - start)


# -- what "written safely" means -----------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")


def assert_written_safely(changed: dict[str, bytes | None]) -> None:
    """No file gained an injected line, a control character or bytes that are not UTF-8;
    no shell ran a metacharacter."""
    assert not PWNED.exists(), "a shell ran an answer"
    for path, data in changed.items():
        if data is None or path.endswith((".db", "sasldb2")) or "/backups/" in path:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError(f"{path}: written bytes are not UTF-8") from None
        assert not _CONTROL.search(text), f"{path}: a control character was written"
        for line in text.splitlines():
            assert not line.lstrip().startswith(MARKERS), f"{path}: injected line {line!r}"


def names_field(problems: list[Problem] | list[str], section: str, key: str) -> bool:
    wanted = section if key.startswith("<") else f"{section}.{key.split('[')[0]}"
    texts = [p.field if isinstance(p, Problem) else p for p in problems]
    return any(t == wanted or t.startswith((wanted + ".", wanted + "[", wanted + ":")) or
               (section == "sasl" and t.startswith("sasl")) for t in texts)


# -- channel 1: the answers file through `mailwizard apply` ---------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return answers._toml_value(value)


def answers_text(section: str, key: str, value: Any, top: Path) -> tuple[str, dict[str, str]]:
    """One section with ``key`` replaced by ``value``; the environment it needs."""
    env = {ENV: GOOD_PW}
    if section == "aliases":
        name, target = ("support", value) if key == "<target>" else (value, "admin@example.net")
        return f"[aliases]\n{_toml(name)} = [{_toml(target)}]\n", env
    if section == "sasl":
        user: dict[str, Any] = {"user": "alice@example.com", "password_env": ENV}
        body: dict[str, Any] = {"enabled": True}
        if key == "<password>":
            env[ENV] = value
        elif key == "<password in file>":
            pw = top / "host" / "pw-hostile"
            pw.write_bytes(str(value).encode("utf-8", "surrogateescape")
                           if isinstance(value, str) else b"")
            pw.chmod(0o600)
            user = {"user": "alice@example.com", "password_file": str(pw)}
        elif key.startswith("users[0]."):
            field = key.split(".", 1)[1]
            if field == "password_file":
                user = {"user": "alice@example.com",
                        "password_file": _path_value(value, top, inside=False)
                        if isinstance(value, str) else value}
            else:
                user[field] = value
        else:
            body[key] = value
        lines = ["[sasl]", *(f"{k} = {_toml(v)}" for k, v in body.items()), "[[sasl.users]]",
                 *(f"{k} = {_toml(v)}" for k, v in user.items())]
        return "\n".join(lines) + "\n", env
    base = {k: v for s, k, v in FIELDS if s == section and not k.startswith("<")}
    if section == "tls":
        base = {"cert_file": base["cert_file"], "key_file": base["key_file"]}
        if key == "snakeoil":
            base = {}
    if isinstance(value, str) and section == "tls" and key in ("cert_file", "key_file"):
        value = _path_value(value, top, inside=True)
    base[key] = value
    return f"[{section}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in base.items()), env


def run_cli(top: Path, section: str, key: str, value: Any) -> None:
    root = fresh_root(top)
    text, env = answers_text(section, key, value, top)
    file = top / "answers.toml"
    file.write_bytes(text.encode("utf-8", "surrogateescape"))
    saved = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            os.environ[k] = v
    except ValueError:  # NUL: no environment can carry it
        COUNTS["cli: not representable"] += 1
        return
    before = tree(root)
    out = io.StringIO()
    try:
        with bounded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.main(["--root", str(root), "apply", str(file)])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    shown = out.getvalue()
    COUNTS["cli: tried"] += 1
    assert "Traceback" not in shown, shown
    assert GOOD_PW not in shown and (not isinstance(value, str) or len(value) < 8
                                     or key not in ("<password>", "<password in file>")
                                     or value not in shown), "a password was echoed"
    after = tree(root)
    if code == 1:
        COUNTS["cli: refused"] += 1
        assert after == before, "a refused answers file wrote something"
        assert "nothing was written" in shown, shown
        said = [line.removeprefix("mailwizard: ") for line in shown.splitlines()
                if line.startswith("mailwizard: ") and " warning: " not in line[:24]]
        assert names_field(said, section, key) or any(
            line.startswith(f"{file}:") for line in said), shown
        return
    assert code == 0, (code, shown)
    COUNTS["cli: accepted"] += 1
    changed = {k: v for k, v in after.items() if before.get(k) != v and isinstance(v, bytes)}
    assert_written_safely(changed)  # type: ignore[arg-type]


CLI_CASES = st.sampled_from(FIELDS).flatmap(
    lambda f: st.tuples(st.just(f[0]), st.just(f[1]),
                        hostile(f[2]) if isinstance(f[2], str)
                        else st.one_of(st.lists(hostile(f[2][0]), min_size=1, max_size=3),
                                       st.sampled_from(WRONG_TYPES))
                        if isinstance(f[2], list) else st.sampled_from(WRONG_TYPES + ALL[:20])))

CAMPAIGN = settings(derandomize=True, database=None, deadline=None, max_examples=120,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@CAMPAIGN
@given(case=CLI_CASES)
def test_answers_file_hostile_values(template: Path, case: tuple[str, str, Any]) -> None:
    run_cli(template, *case)


@pytest.mark.parametrize("section,key,valid", [f for f in FIELDS if isinstance(f[2], str)
                                               and not f[1].startswith("<password")])
def test_answers_file_that_is_not_utf8_names_the_file(template: Path, section: str, key: str,
                                                      valid: str) -> None:
    root = fresh_root(template)
    text, _ = answers_text(section, key, valid, template)
    file = template / "answers.toml"
    file.write_bytes(text.encode().replace(valid.encode(), valid.encode()[:2] + b"\xff\xfe", 1))
    before = tree(root)
    out = io.StringIO()
    with bounded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(["--root", str(root), "apply", str(file)])
    COUNTS["cli: tried"] += 1
    assert code == 1 and f"{file}: not UTF-8 text" in out.getvalue(), out.getvalue()
    assert tree(root) == before
    COUNTS["cli: refused"] += 1


ODD_BUT_FINE = [
    ("hostname", "fqdn", "MAIL.Example.COM.", "mail.example.com"),
    ("domains", "mydestination", ["straße.de", "localhost"], "xn--strae-oqa.de"),
    ("aliases", "<target>", "admin+tag@example.net", "admin+tag@example.net"),
    ("aliases", "<name>", "post.master", "post.master"),
    ("sasl", "<password>", "pässwörd mit Leerzeichen 42!", None),
    ("sasl", "<password>", "密码很长而且很难猜测的句子", None),
    ("spf", "record", "v=spf1 mx a:relay.example.net -all", "a:relay.example.net"),
    ("dmarc", "rua", "dmarc-reports+x@example.com", "dmarc-reports+x@example.com"),
]


@pytest.mark.parametrize("section,key,value,written", ODD_BUT_FINE)
def test_odd_but_valid_values_are_written_safely(template: Path, section: str, key: str,
                                                 value: Any, written: str | None) -> None:
    root = fresh_root(template)
    text, env = answers_text(section, key, value, template)
    file = template / "answers.toml"
    file.write_text(text)
    before = tree(root)
    out = io.StringIO()
    os.environ.update(env)
    try:
        with bounded(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.main(["--root", str(root), "apply", str(file)])
    finally:
        os.environ.pop(ENV, None)
    COUNTS["cli: tried"] += 1
    assert code == 0, out.getvalue()
    COUNTS["cli: accepted"] += 1
    after = tree(root)
    changed = {k: v for k, v in after.items() if before.get(k) != v and isinstance(v, bytes)}
    assert_written_safely(changed)  # type: ignore[arg-type]
    if written is not None:
        assert any(written.encode() in v for v in changed.values()), sorted(changed)
    if section == "sasl":
        assert str(value) not in out.getvalue()


# -- channel 2: the step API the screens use -----------------------------------------------


def _answers_for(section: str, key: str, value: Any) -> Any:
    """The Answers a screen would hand to propose(), with one hostile value."""
    if section == "hostname":
        return HostnameAnswers(value)
    if section == "domains":
        good = DomainsAnswers(("example.com", "localhost"), ("127.0.0.0/8",))
        return dataclasses.replace(good, **{key: tuple(value)})
    if section == "aliases":
        entry = ("support", (value,)) if key == "<target>" else (value, ("admin@example.net",))
        return AliasesAnswers((entry,))
    if section == "tls":
        good = TlsAnswers("/etc/ssl/mail/cert.pem", "/etc/ssl/mail/key.pem", False)
        return dataclasses.replace(good, **{key: value})
    if section == "sasl":
        user, pw = "alice@example.com", GOOD_PW
        remove: tuple[str, ...] = ()
        local = ""
        if key == "users[0].user":
            user = value
        elif key == "<password>":
            pw = value
        elif key == "remove":
            remove = tuple(value)
        elif key == "local_domain":
            local = value
        return SaslAnswers(True, (SaslUser(user, Secret(pw), ENV),), remove, local)
    if section == "spf":
        return SpfAnswers(value, True, False)
    if section == "dkim":
        good = DkimAnswers("example.com", "mail", 2048)
        return dataclasses.replace(good, **{key: value})
    if section == "dmarc":
        good = DmarcAnswers("none", "postmaster@example.com")
        return dataclasses.replace(good, **{key: value})
    raise AssertionError(section)


API_FIELDS = [f for f in FIELDS if isinstance(f[2], (str, list)) and f[1] not in (
    "users[0].password_env", "users[0].password_file", "<password in file>")]
STEP = {s.name: s for s in SECTIONS}


def run_api(system: System, top: Path, section: str, key: str, value: Any) -> None:
    if section == "tls" and isinstance(value, str):
        value = _path_value(value, top, inside=True)
    a = _answers_for(section, key, value)
    step: Step[Any] = STEP[section]
    with bounded():
        found = step.propose(a, system)
    COUNTS["api: tried"] += 1
    problems = list(found.problems)
    if errors(problems):
        COUNTS["api: refused"] += 1
        assert found.plan is None
        assert names_field(errors(problems), section, key), problems
        assert all(GOOD_PW not in str(p) for p in problems)
        return
    COUNTS["api: accepted"] += 1
    assert found.plan is not None
    assert_written_safely({f.path: f.after for f in found.plan.changed_files()})
    for cmd in found.plan.commands:  # argv lists only, never a shell string
        assert cmd.argv == () or cmd.argv[0] not in ("sh", "bash", "/bin/sh"), cmd.argv
        assert all("\n" not in arg and "\0" not in arg for arg in cmd.argv), cmd.argv


API_CASES = st.sampled_from(API_FIELDS).flatmap(
    lambda f: st.tuples(st.just(f[0]), st.just(f[1]),
                        hostile(f[2]) if isinstance(f[2], str)
                        else st.lists(hostile(f[2][0]), min_size=1, max_size=3)))


@pytest.fixture(scope="module")
def api_system(template: Path) -> System:
    """One sandbox for every API example (propose never writes; postconf answers are cached)."""
    return System(root=fresh_root(template))


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=API_CASES)
def test_step_api_hostile_values(api_system: System, template: Path,
                                 case: tuple[str, str, Any]) -> None:
    before = tree(api_system.root)
    run_api(api_system, template, *case)
    assert tree(api_system.root) == before, "propose() wrote something"


@settings(derandomize=True, database=None, deadline=None, max_examples=150)
@given(pw=hostile(GOOD_PW), login=hostile("alice@example.com"))
def test_sasl_dialog_hostile_passwords_and_logins(pw: str, login: str) -> None:
    with bounded():
        problems = password_problems(login, Secret(pw), Secret(pw))
        try:
            validate.sasl_user(login)
            login_ok = True
        except validate.Invalid as exc:
            login_ok = False
            assert login not in str(exc) or len(login) < 3
    COUNTS["dialog: tried"] += 1
    assert all(p.field == "sasl.password" for p in problems)
    assert all(pw not in p.message for p in problems if len(pw) >= 4)
    if any(ch in pw for ch in "\n\r\0\x85\u2028\u2029") or len(pw) > 256 or len(pw) < 10 or \
            any(not ch.isprintable() and ch != " " for ch in pw):
        assert problems, f"{pw!r} passed the dialog"
    COUNTS["dialog: refused"] += bool(problems) or not login_ok


VALIDATORS: list[tuple[str, Callable[[str], object]]] = [
    ("hostname.fqdn", validate.fqdn), ("domains.mydestination", validate.destination),
    ("domains.mynetworks", validate.network), ("aliases target", validate.address),
    ("dkim.selector", validate.selector), ("sasl.user", validate.sasl_user),
    ("tls.cert_file", validate.file_path), ("dkim.domain", validate.domain),
]


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(case=st.sampled_from(VALIDATORS).flatmap(
    lambda v: st.tuples(st.just(v), hostile("mail.example.com"))))
def test_screen_field_validators_refuse_or_normalise_safely(
        case: tuple[tuple[str, Callable[[str], object]], str]) -> None:
    (_, check), value = case
    with bounded():
        try:
            result = check(value)
        except validate.Invalid as exc:
            COUNTS["validators: refused"] += 1
            assert "Traceback" not in str(exc)
            result = None
    COUNTS["validators: tried"] += 1
    shown = result[0] if isinstance(result, tuple) else result
    if isinstance(shown, str):
        assert not _CONTROL.search(shown), (value, shown)
        assert "\n" not in shown and "\r" not in shown


def test_zz_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """The campaign's numbers (run the whole module; printed with -s for the closing note)."""
    with capsys.disabled():
        print("\ncampaign:", dict(sorted(COUNTS.items())), f"slowest {SLOWEST[0]:.2f} s")
    assert COUNTS["cli: tried"] >= 100 and COUNTS["api: tried"] >= 100
    assert PWNED.exists() is False
