"""Inputs that used to hang or crash are refused quickly, naming the field.

Devices, FIFOs and huge files where a password, answers file or certificate should be;
TOML nested 20,000 deep; a password that is not UTF-8; a host name the kernel refuses;
look-alike (homograph) names and broken A-labels (warnings showing the punycode).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailwizard import answers, cli
from mailwizard.steps.base import AnswersError, Problem
from mailwizard.steps.domains import DomainsAnswers, DomainsStep
from mailwizard.steps.hostname import HostnameAnswers, HostnameStep
from mailwizard.steps.sasl import read_password_env, read_password_file
from mailwizard.steps.tls import TlsAnswers, TlsStep
from mailwizard.validate import Invalid, fqdn
from tests.support import make_sandbox, sandbox_system

FAST = 3.0  # seconds: a refusal is immediate, never a timeout


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    return make_sandbox(tmp_path / "root")


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # let go of a reader blocked on it (before the fix)
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


@pytest.fixture(autouse=True)
def memory_cap() -> Iterator[None]:
    """At most 1 GiB more address space while a test runs: reading /dev/zero whole must
    end in MemoryError here, not in the machine's OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def fields(exc: pytest.ExceptionInfo[AnswersError]) -> list[str]:
    return [p.field for p in exc.value.problems]


def timed_load(path: Path | str) -> tuple[pytest.ExceptionInfo[AnswersError], float]:
    start = time.monotonic()
    with pytest.raises(AnswersError) as exc:
        answers.load(path)
    return exc, time.monotonic() - start


def no_hang(fn: object, *args: object) -> object:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it takes > FAST s."""
    out: list[object] = []

    def target() -> None:
        try:
            out.append(fn(*args))  # type: ignore[operator]
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(FAST)
    assert not thread.is_alive(), f"{fn} hung for more than {FAST} s"
    return out[0]


# -- the answers file ----------------------------------------------------------------------


def test_answers_file_that_is_dev_zero_is_refused() -> None:
    exc, took = timed_load("/dev/zero")
    assert took < FAST
    assert fields(exc) == ["/dev/zero"]
    assert "not a regular file" in str(exc.value)


def test_answers_file_that_is_a_fifo_is_refused(fifo: Path) -> None:
    result = no_hang(answers.load, fifo)
    assert isinstance(result, AnswersError)
    assert [p.field for p in result.problems] == [str(fifo)]
    assert "not a regular file" in str(result)


def test_answers_file_too_big_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (answers.MAX_BYTES + 10) + "\n")
    exc, _ = timed_load(big)
    assert fields(exc) == [str(big)] and "larger than" in str(exc.value)


@pytest.mark.parametrize("nested", [
    "x = " + "[" * 20_000 + "]" * 20_000,
    "x = " + "{a = " * 20_000 + "1" + "}" * 20_000,
], ids=["arrays", "inline-tables"])
def test_toml_nested_20000_deep_is_refused(nested: str) -> None:
    with pytest.raises(AnswersError) as exc:
        answers.load_text(nested)
    assert fields(exc) == ["answers file"]
    assert "nested" in str(exc.value)


def test_apply_on_dev_zero_exits_1(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--root", str(sandbox), "apply", "/dev/zero"]) == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert "/dev/zero: not a regular file" in err and "nothing was written" in err


# -- passwords -----------------------------------------------------------------------------


def test_password_file_dev_zero_is_refused_fast() -> None:
    start = time.monotonic()
    with pytest.raises(Invalid, match="not a regular file"):
        read_password_file("/dev/zero")
    assert time.monotonic() - start < FAST


def test_password_file_fifo_is_refused(fifo: Path) -> None:
    result = no_hang(read_password_file, str(fifo))
    assert isinstance(result, Invalid) and "not a regular file" in str(result)


def test_password_file_too_big_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "pw"
    big.write_bytes(b"a" * 100_000)
    with pytest.raises(Invalid, match="larger than"):
        read_password_file(str(big))


def test_password_file_errors_name_the_field(tmp_path: Path) -> None:
    text = '[[sasl.users]]\nuser = "a@example.com"\npassword_file = "/dev/zero"\n'
    with pytest.raises(AnswersError) as exc:
        answers.load_text(text)
    assert fields(exc) == ["sasl.users[0].password_file"]


def test_non_utf8_password_in_the_environment_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environb, b"MW_BAD_PW", b"caf\xe9-horse-battery-staple")
    with pytest.raises(Invalid, match="not UTF-8") as exc:
        read_password_env("MW_BAD_PW")
    assert "caf" not in str(exc.value)
    text = '[[sasl.users]]\nuser = "a@example.com"\npassword_env = "MW_BAD_PW"\n'
    with pytest.raises(AnswersError) as exc2:
        answers.load_text(text)
    assert [p.field for p in exc2.value.problems] == ["sasl.users[0].password_env"]


def test_runner_refuses_stdin_it_cannot_encode_instead_of_hanging() -> None:
    from mailwizard.secret import Secret
    from mailwizard.system import CommandError, ShRunner

    result = no_hang(lambda: ShRunner().run(["cat"], stdin=Secret("caf\udce9"), timeout=30))
    assert isinstance(result, CommandError), result
    assert "not UTF-8" in str(result) and "caf" not in str(result)


# -- certificates --------------------------------------------------------------------------


def test_cert_file_dev_zero_names_the_field_fast(sandbox: Path) -> None:
    (sandbox / "dev").mkdir(exist_ok=True)
    (sandbox / "dev" / "zero").symlink_to("/dev/zero")
    system = sandbox_system(sandbox)
    start = time.monotonic()
    found = TlsStep().propose(TlsAnswers("/dev/zero", "/dev/zero"), system)
    assert time.monotonic() - start < FAST
    named = {p.field: p.message for p in found.problems if p.level == "error"}
    assert "not a regular file" in named["tls.cert_file"]
    assert "not a regular file" in named["tls.key_file"]
    assert found.plan is None


def test_cert_file_fifo_is_refused(sandbox: Path) -> None:
    os.mkfifo(sandbox / "etc" / "cert.pem")
    system = sandbox_system(sandbox)
    found = no_hang(TlsStep().propose, TlsAnswers("/etc/cert.pem", "/etc/cert.pem"), system)
    assert not isinstance(found, BaseException), found
    assert any(p.field == "tls.cert_file" and "not a regular file" in p.message
               for p in found.problems)  # type: ignore[attr-defined]


# -- host names ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [65, 100, 253])
def test_host_name_longer_than_the_kernel_allows_is_refused(length: int) -> None:
    name = ("a" * 60 + ".") * 10
    name = (name[: length - len(".example.com")].strip(".") + ".example.com")
    name = name.replace("..", ".a.")
    assert 64 < len(name) <= 253
    with pytest.raises(Invalid, match="64 characters"):
        fqdn(name)


def test_kernel_length_limit_named_and_exit_1(sandbox: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    name = "a" * 60 + ".example.com"
    file = tmp_path / "a.toml"
    file.write_text(f'[hostname]\nfqdn = "{name}"\n')
    assert cli.main(["--root", str(sandbox), "apply", str(file)]) == cli.EXIT_INVALID
    assert "hostname.fqdn: " in capsys.readouterr().err


def test_64_characters_is_still_allowed() -> None:
    name = "a" * 52 + ".example.com"
    assert len(name) == 64 and fqdn(name) == name


# -- homographs and A-labels ---------------------------------------------------------------


def warnings_for(problems: tuple[Problem, ...]) -> dict[str, str]:
    return {p.field: p.message for p in problems if p.level == "warning"}


def test_homograph_host_name_warns_with_the_punycode(sandbox: Path) -> None:
    system = sandbox_system(sandbox)
    found = HostnameStep().propose(HostnameAnswers("m\u0430il.example.com"), system)
    warned = warnings_for(found.problems)
    assert "xn--mil-6cd.example.com" in warned["hostname.fqdn"]
    assert "Cyrillic" in warned["hostname.fqdn"] and "Latin" in warned["hostname.fqdn"]


def test_invalid_a_label_warns(sandbox: Path) -> None:
    system = sandbox_system(sandbox)
    found = DomainsStep().propose(
        DomainsAnswers(("xn--zz.example.com", "localhost"), ("127.0.0.0/8",)), system)
    warned = warnings_for(found.problems)
    assert "xn--zz" in warned["domains.mydestination[0]"]
    assert "not a valid A-label" in warned["domains.mydestination[0]"]


def test_a_label_of_a_homograph_warns_with_the_unicode(sandbox: Path) -> None:
    system = sandbox_system(sandbox)
    found = HostnameStep().propose(HostnameAnswers("xn--mil-6cd.example.com"), system)
    assert "Cyrillic" in warnings_for(found.problems)["hostname.fqdn"]


def test_plain_ascii_and_single_script_names_do_not_warn(sandbox: Path) -> None:
    system = sandbox_system(sandbox)
    for name in ("mail.example.com", "xn--strae-oqa.example.com"):
        found = HostnameStep().propose(HostnameAnswers(name), system)
        assert not any("punycode" in p.message or "A-label" in p.message
                       for p in found.problems), found.problems


def test_whole_script_look_alike_warns(sandbox: Path) -> None:
    system = sandbox_system(sandbox)
    found = HostnameStep().propose(HostnameAnswers("mail.\u0430\u0440\u0440\u04cf\u0435.com"),
                                   system)
    warned = warnings_for(found.problems)["hostname.fqdn"]
    assert "xn--" in warned and "apple" in warned


# -- children get a clean environment ------------------------------------------------


def test_children_never_inherit_the_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailwizard.system import ShRunner

    monkeypatch.setenv("MAILWIZARD_PASSWORD_POSTMASTER", "horse-battery-staple-42")
    monkeypatch.setenv("SOME_TOKEN", "s3cr3t-token-value")
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    out = ShRunner().run(["env"], env={"DEBIAN_FRONTEND": "noninteractive"}).stdout
    assert "horse-battery-staple-42" not in out and "MAILWIZARD_PASSWORD" not in out
    assert "SOME_TOKEN" not in out
    assert "DEBIAN_FRONTEND=noninteractive" in out and "LC_ALL=C" in out
    assert "http_proxy=http://proxy.example:3128" in out  # apt-get behind a proxy still works
    assert "PATH=" in out
