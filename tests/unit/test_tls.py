"""The TLS step: certificate checks with real openssl on throwaway files, plans, status."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailwizard import answers, postfix
from mailwizard.facts import tls_configured
from mailwizard.plan import Plan
from mailwizard.steps import by_name
from mailwizard.steps.base import AnswersError, Problem, errors
from mailwizard.steps.tls import (
    SNAKEOIL_CERT,
    SNAKEOIL_KEY,
    PairFacts,
    TlsAnswers,
    TlsStep,
    check_pair,
    judge,
)
from mailwizard.system import Reader, Result, System
from mailwizard.x509 import X509Info, name_matches, parse_x509
from tests.support import RecordingRunner, sandbox_system

STEP = TlsStep()
HOST = "mail.example.com"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


# -- throwaway certificates (OpenSSL 3.0: no -not_after, and -days must be positive) -------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _self_signed(d: Path, name: str, subj: str, san: str | None, days: int = 365) -> None:
    ext = ["-addext", f"subjectAltName={san}"] if san else []
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.pem", "-subj", subj, "-days", str(days), *ext, cwd=d)


def _expired(d: Path, name: str) -> None:
    """A certificate valid in 2020 only: ``openssl ca`` takes explicit start and end dates."""
    ca = d / "ca"
    ca.mkdir()
    (ca / "index.txt").write_text("")
    (ca / "serial").write_text("01\n")
    (ca / "ca.cnf").write_text(
        "[ca]\ndefault_ca = mw\n[mw]\ndatabase = index.txt\nnew_certs_dir = .\n"
        "serial = serial\ndefault_md = sha256\npolicy = anything\nunique_subject = no\n"
        "copy_extensions = copy\n[anything]\ncommonName = supplied\n"
    )
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"../{name}.key",
             "-out", "req.csr", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
             cwd=ca)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", f"../{name}.key",
             "-in", "req.csr", "-out", f"../{name}.pem", "-notext",
             "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", cwd=ca)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    _self_signed(d, "good", f"/CN={HOST}", f"DNS:{HOST},DNS:example.com")
    _self_signed(d, "other", "/O=Acme, Inc./CN=other.example.org", None)
    _self_signed(d, "wild", "/CN=example.com", "DNS:*.example.com", days=3)
    _expired(d, "expired")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-aes256", "-pass", "pass:secret", "-out", "encrypted.key", cwd=d)
    for key in d.glob("*.key"):
        key.chmod(0o600)
    return d


@pytest.fixture
def host_system(system: System, sandbox: Path) -> System:
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e", f"myhostname={HOST}"],
                   check=True)
    return system


def install(sandbox: Path, certs: Path, cert: str, key: str,
            to: tuple[str, str] = ("/etc/ssl/mail/cert.pem", "/etc/ssl/mail/key.pem")) -> None:
    for src, dst in ((cert, to[0]), (key, to[1])):
        target = sandbox / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(certs / src, target)


CERT, KEY = "/etc/ssl/mail/cert.pem", "/etc/ssl/mail/key.pem"


def by_field(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.field, p.level) for p in problems]


def plan_for(system: System, toml: str) -> tuple[Plan, list[Problem]]:
    return answers.plan_all(system, answers.load_text(toml))


# -- pure parts ------------------------------------------------------------------------------


X509_TEXT = """\
notAfter=Jan  1 00:00:00 2030 GMT
subject=
    O=Acme, Inc.
    CN=mail.example.com
X509v3 Subject Alternative Name: \n    DNS:*.example.com, IP Address:127.0.0.1, DNS:Example.com
-----BEGIN PUBLIC KEY-----
MFkw
-----END PUBLIC KEY-----
"""


def test_parse_x509() -> None:
    info = parse_x509(X509_TEXT)
    assert info.not_after == datetime(2030, 1, 1, tzinfo=UTC)
    assert info.common_name == HOST
    assert info.dns_names == ("*.example.com", "example.com")
    assert info.names == ("*.example.com", "example.com")
    assert info.public_key == "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"


def test_parse_x509_without_san_uses_the_cn() -> None:
    info = parse_x509("notAfter=Feb 29 12:00:00 2028 GMT\nsubject=\n    CN=mx.example.org\n")
    assert info.names == ("mx.example.org",) and info.public_key == ""


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [(HOST, HOST, True), ("MAIL.example.com.", HOST, True), ("*.example.com", HOST, True),
     ("*.example.com", "example.com", False), ("*.example.com", "a.mail.example.com", False),
     ("example.com", HOST, False)],
)
def test_name_matches(pattern: str, host: str, ok: bool) -> None:
    assert name_matches(pattern, host) is ok


def _facts(**changes: object) -> PairFacts:
    info = X509Info(datetime(2030, 1, 1, tzinfo=UTC), HOST, (HOST,), "PUB")
    base: dict[str, object] = dict(cert_exists=True, key_exists=True, cert=info,
                                   key_public="PUB", key_mode=0o600)
    base.update(changes)
    return PairFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (_facts(), []),
        (_facts(cert_exists=False, cert=None), [("tls.cert_file", "error")]),
        (_facts(cert=None), [("tls.cert_file", "error")]),
        (_facts(key_exists=False, key_public=None), [("tls.key_file", "error")]),
        (_facts(key_public=None), [("tls.key_file", "error")]),
        (_facts(key_public="OTHER"), [("tls.key_file", "error")]),
        (_facts(key_mode=0o644), [("tls.key_file", "warning")]),
        (_facts(cert=X509Info(NOW - timedelta(days=1), HOST, (), "PUB")),
         [("tls.cert_file", "error")]),
        (_facts(cert=X509Info(NOW + timedelta(days=3), HOST, (), "PUB")),
         [("tls.cert_file", "warning")]),
        (_facts(cert=X509Info(NOW + timedelta(days=300), "x", ("other.example.org",), "PUB")),
         [("tls.cert_file", "warning")]),
    ],
)
def test_judge(facts: PairFacts, expected: list[tuple[str, str]]) -> None:
    assert by_field(judge(facts, HOST, NOW)) == expected


# -- real checks on real files -------------------------------------------------------------------


def test_good_pair_has_no_problems(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "good.pem", "good.key")
    assert check_pair(host_system, CERT, KEY) == []


def test_mismatched_key(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "good.pem", "other.key")
    (problem,) = check_pair(host_system, CERT, KEY)
    assert (problem.field, problem.level) == ("tls.key_file", "error")
    assert problem.message == f"{KEY} does not belong to {CERT}"


def test_expired(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "expired.pem", "expired.key")
    (problem,) = check_pair(host_system, CERT, KEY)
    assert (problem.field, problem.level) == ("tls.cert_file", "error")
    assert "expired on 2021-01-01" in problem.message


def test_expires_soon_and_wildcard_names_the_host(host_system: System, sandbox: Path,
                                                  certs: Path) -> None:
    install(sandbox, certs, "wild.pem", "wild.key")
    (problem,) = check_pair(host_system, CERT, KEY)
    assert (problem.field, problem.level) == ("tls.cert_file", "warning")
    assert "renew it soon" in problem.message


def test_other_host_is_a_warning(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "other.pem", "other.key")
    (problem,) = check_pair(host_system, CERT, KEY)
    assert (problem.field, problem.level) == ("tls.cert_file", "warning")
    assert f"is for other.example.org, not for {HOST}" in problem.message


def test_swapped_files_and_encrypted_key(host_system: System, sandbox: Path,
                                         certs: Path) -> None:
    install(sandbox, certs, "good.key", "good.pem")
    assert by_field(check_pair(host_system, CERT, KEY)) == [("tls.cert_file", "error"),
                                                            ("tls.key_file", "error")]
    install(sandbox, certs, "good.pem", "encrypted.key")
    (problem,) = check_pair(host_system, CERT, KEY)
    assert "passphrase" in problem.message


def test_missing_files(host_system: System) -> None:
    assert by_field(check_pair(host_system, CERT, KEY)) == [("tls.cert_file", "error"),
                                                            ("tls.key_file", "error")]


def test_world_readable_key_warns(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "good.pem", "good.key")
    (sandbox / KEY.lstrip("/")).chmod(0o644)
    assert by_field(check_pair(host_system, CERT, KEY)) == [("tls.key_file", "warning")]


@dataclass
class SpyReader:
    """The real read-only runner, keeping every output to check no key text leaks."""

    seen: list[str]

    def run(self, argv: Sequence[str], **kwargs: object) -> Result:
        result = Reader().run(argv, **kwargs)  # type: ignore[arg-type]
        self.seen.extend([" ".join(argv), result.stdout, result.stderr])
        return result


def test_the_private_key_is_never_read_or_shown(sandbox: Path, certs: Path) -> None:
    spy = SpyReader([])
    runner = RecordingRunner(reader=spy)  # type: ignore[arg-type]
    system = sandbox_system(sandbox, runner)
    for key in ("good.key", "other.key"):
        install(sandbox, certs, "good.pem", key)
        found = STEP.validate(TlsAnswers(cert_file=CERT, key_file=KEY), system)
        found += STEP.validate(TlsAnswers(cert_file=KEY, key_file=KEY), system)
        shown = "\n".join([*spy.seen, *(str(p) for p in found), str(STEP.status(system))])
        assert "PRIVATE KEY" not in shown
        body = (certs / key).read_text().splitlines()[1]
        assert body not in shown


# -- answers and validation ------------------------------------------------------------------------


def test_answers_file_forms() -> None:
    (chosen,) = answers.load_text("[tls]\nsnakeoil = true\n")
    assert chosen.step is by_name("tls") and chosen.answers == TlsAnswers(snakeoil=True)
    (chosen,) = answers.load_text(f'[tls]\ncert_file = "{CERT}"\nkey_file = "{KEY}"\n')
    assert chosen.answers == TlsAnswers(CERT, KEY)
    with pytest.raises(AnswersError) as info:
        answers.load_text('[tls]\nsnakeoil = "yes"\ncert = "/x"\n')
    assert sorted(p.field for p in info.value.problems) == ["tls.cert", "tls.snakeoil"]
    assert STEP.to_section(TlsAnswers(snakeoil=True)) == {"snakeoil": True}


@pytest.mark.parametrize(
    ("a", "where"),
    [
        (TlsAnswers(CERT, KEY, snakeoil=True), "tls.snakeoil"),
        (TlsAnswers(), "tls.cert_file"),
        (TlsAnswers(cert_file=CERT), "tls.key_file"),
        (TlsAnswers(key_file=KEY), "tls.cert_file"),
        (TlsAnswers("etc/cert.pem", KEY), "tls.cert_file"),
        (TlsAnswers(CERT, "/etc/key.pem\nsmtpd_tls_auth_only = no"), "tls.key_file"),
        (TlsAnswers(CERT, "/etc/key.pem, /etc/other.pem"), "tls.key_file"),
        (TlsAnswers("/etc/$mail_name.pem", KEY), "tls.cert_file"),
    ],
)
def test_invalid_answers_name_the_field(host_system: System, a: TlsAnswers, where: str) -> None:
    assert [p.field for p in errors(STEP.validate(a, host_system))] == [where]


# -- plans --------------------------------------------------------------------------------


def write_plan(system: System, plan: Plan) -> None:
    """Write a plan's files (the commands' effects come from the runner's effects)."""
    for change in plan.changed_files():
        assert change.after is not None
        system.write_atomic(change.path, change.after)
    for cmd in plan.commands:
        system.run(cmd.argv)
    system.cache.clear()


def test_snakeoil_missing_is_generated_and_configured(sandbox: Path, certs: Path) -> None:
    def make_ssl_cert(argv: tuple[str, ...]) -> None:
        install(sandbox, certs, "good.pem", "good.key", to=(SNAKEOIL_CERT, SNAKEOIL_KEY))

    runner = RecordingRunner(effects={"make-ssl-cert": make_ssl_cert})
    system = sandbox_system(sandbox, runner)
    toml = "[tls]\nsnakeoil = true\n"
    plan, problems = plan_for(system, toml)
    assert problems == []
    (cmd,) = plan.commands
    assert cmd.argv == ("make-ssl-cert", "generate-default-snakeoil")
    assert cmd.touches == (SNAKEOIL_CERT, SNAKEOIL_KEY)
    assert cmd.links_in == ("/etc/ssl/certs",)  # its <hash>.0 link: removed by a restore
    added = [ln[1:] for ln in plan.diff().splitlines()
             if ln.startswith("+") and not ln.startswith("+++")]
    assert sorted(added) == sorted([
        f"smtpd_tls_cert_file = {SNAKEOIL_CERT}", f"smtpd_tls_key_file = {SNAKEOIL_KEY}",
        "smtpd_tls_security_level = may", "smtp_tls_security_level = may"])
    assert plan.reload == frozenset({"postfix"})
    assert not tls_configured(system)
    write_plan(system, plan)
    assert tls_configured(system)
    again, problems = plan_for(system, toml)
    assert again.is_empty
    assert [p.level for p in problems] == ["warning"]  # the test pair names mail.example.com
    assert STEP.current(system) == TlsAnswers(snakeoil=True)


def test_own_pair_plan_then_empty(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "good.pem", "good.key")
    toml = f'[tls]\ncert_file = "{CERT}"\nkey_file = "{KEY}"\n'
    plan, problems = plan_for(host_system, toml)
    assert problems == [] and plan.commands == ()
    write_plan(host_system, plan)
    again, _ = plan_for(host_system, toml)
    assert again.is_empty
    status = STEP.status(host_system)
    assert status.state == "ok" and status.summary.startswith(f"{HOST} until ")


def test_a_broken_pair_plans_nothing(host_system: System, sandbox: Path, certs: Path) -> None:
    install(sandbox, certs, "good.pem", "other.key")
    plan, problems = plan_for(host_system,
                              f'[tls]\ncert_file = "{CERT}"\nkey_file = "{KEY}"\n')
    assert plan.is_empty and [p.field for p in errors(problems)] == ["tls.key_file"]


def test_stricter_levels_are_kept_and_chain_files_removed(host_system: System, sandbox: Path,
                                                          certs: Path) -> None:
    install(sandbox, certs, "good.pem", "good.key")
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e",
                    "smtp_tls_security_level=encrypt", "smtpd_tls_chain_files=/etc/x.pem"],
                   check=True)
    host_system.cache.clear()
    plan, problems = plan_for(host_system, f'[tls]\ncert_file = "{CERT}"\nkey_file = "{KEY}"\n')
    assert by_field(problems) == [("tls", "warning")]
    change = plan.file(postfix.MAIN_CF)
    assert change is not None and change.after is not None
    main = change.after.decode()
    assert "smtp_tls_security_level = encrypt" in main
    assert "smtpd_tls_chain_files" not in main
    assert "smtpd_tls_security_level = may" in main


# -- current and status -------------------------------------------------------------------


def test_current_suggests_lets_encrypt_when_present(host_system: System, sandbox: Path,
                                                   certs: Path) -> None:
    live = f"/etc/letsencrypt/live/{HOST}"
    install(sandbox, certs, "good.pem", "good.key",
            to=(f"{live}/fullchain.pem", f"{live}/privkey.pem"))
    assert STEP.current(host_system) == TlsAnswers(f"{live}/fullchain.pem",
                                                   f"{live}/privkey.pem")


def test_current_on_a_fresh_machine_suggests_snakeoil(system: System) -> None:
    assert STEP.current(system) == TlsAnswers(snakeoil=True)


def _configure(sandbox: Path, cert: str = CERT, key: str = KEY) -> None:
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e",
                    f"smtpd_tls_cert_file={cert}", f"smtpd_tls_key_file={key}",
                    "smtpd_tls_security_level=may"], check=True)


def test_status_no_certificate(system: System) -> None:
    status = STEP.status(system)
    assert (status.symbol, status.summary) == ("✖", "no certificate")
    assert not tls_configured(system)


@pytest.mark.parametrize(
    ("cert", "key", "state", "summary"),
    [
        ("good.pem", "other.key", "problem", "key does not match"),
        ("expired.pem", "expired.key", "problem", "certificate expired"),
        ("other.pem", "other.key", "warn", "certificate names another host"),
        ("wild.pem", "wild.key", "warn", "certificate expires soon"),
    ],
)
def test_status_reports_the_check(host_system: System, sandbox: Path, certs: Path, cert: str,
                                  key: str, state: str, summary: str) -> None:
    install(sandbox, certs, cert, key)
    _configure(sandbox)
    status = STEP.status(host_system)
    assert (status.state, status.summary) == (state, summary)


def test_status_missing_file(host_system: System, sandbox: Path) -> None:
    _configure(sandbox)
    assert STEP.status(host_system).summary == "certificate file missing"


# -- why Let's Encrypt is not offered (issue 11 item 8) -------------------------------------


def _certbot(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    real = System.which
    monkeypatch.setattr(System, "which", lambda self, name: (
        ("/usr/bin/certbot" if installed else None) if name == "certbot" else real(self, name)))


def test_no_certbot_and_no_certificate_says_both_and_what_to_do(
        host_system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _certbot(monkeypatch, installed=False)
    found = STEP.context(host_system)
    assert found.letsencrypt is None
    why = found.letsencrypt_why
    assert "certbot is not installed" in why
    assert f"no certificate in /etc/letsencrypt/live/{HOST}/" in why
    assert "apt-get install certbot" in why
    assert f"certbot certonly --standalone -d {HOST}" in why


def test_certbot_installed_but_no_certificate_for_this_host(
        host_system: System, sandbox: Path, certs: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _certbot(monkeypatch, installed=True)
    install(sandbox, certs, "good.pem", "good.key",
            to=("/etc/letsencrypt/live/old.example.com/fullchain.pem",
                "/etc/letsencrypt/live/old.example.com/privkey.pem"))
    why = STEP.context(host_system).letsencrypt_why
    assert "not installed" not in why
    assert f"no certificate in /etc/letsencrypt/live/{HOST}/" in why
    assert "old.example.com" in why  # what certbot has instead
    assert f"certbot certonly --standalone -d {HOST}" in why


def test_a_host_name_that_is_not_a_full_name_is_the_reason(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _certbot(monkeypatch, installed=True)
    why = STEP.context(system).letsencrypt_why  # the fixture's myhostname is "debian"
    assert "debian is not a full host name" in why
    assert "Hostname" in why


def test_a_present_pair_needs_no_reason(host_system: System, sandbox: Path,
                                        certs: Path) -> None:
    live = f"/etc/letsencrypt/live/{HOST}"
    install(sandbox, certs, "good.pem", "good.key",
            to=(f"{live}/fullchain.pem", f"{live}/privkey.pem"))
    found = STEP.context(host_system)
    assert found.letsencrypt == (f"{live}/fullchain.pem", f"{live}/privkey.pem")
    assert found.letsencrypt_why == ""
