"""opendkim.conf's Domain is a dataset: a list (``example.com,example.org``, or with spaces),
or a file / regex file / database opendkim reads. A hand-edited list is read as a list by
`mailwizard zone`, `mailwizard check` and the DKIM step; a file they cannot read is said so,
instead of failing on 'example.com,example.org' as one name."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from mailwizard import cli, dns, dnscheck, opendkim
from mailwizard.checks import CheckResult
from mailwizard.dnscheck import Answer
from mailwizard.plan import Command, Plan
from mailwizard.steps import dkim
from mailwizard.steps.base import errors
from mailwizard.steps.dkim import DkimAnswers, DkimStep
from mailwizard.system import System
from tests.support import sandbox_system

STEP = DkimStep()
BOTH = "example.com,example.org"


@pytest.mark.parametrize("value, names, source", [
    ("example.com", ("example.com",), ""),
    (BOTH, ("example.com", "example.org"), ""),
    ("example.com, example.org", ("example.com", "example.org"), ""),
    ("example.com example.org,,Example.COM.", ("example.com", "example.org"), ""),
    ("csl:example.com,example.org", ("example.com", "example.org"), ""),
    ("refile:/etc/opendkim/domains", (), "refile:/etc/opendkim/domains"),
    ("file:/etc/opendkim/domains", (), "file:/etc/opendkim/domains"),
    ("/etc/opendkim/domains", (), "/etc/opendkim/domains"),
    ("db:/etc/opendkim/domains.db", (), "db:/etc/opendkim/domains.db"),
    ("", (), ""),
    (None, (), ""),
])
def test_domain_is_read_as_a_dataset(value: str | None, names: tuple[str, ...],
                                     source: str) -> None:
    found = opendkim.domains(value)
    assert (found.names, found.source) == (names, source)



def signing(sandbox: Path, real_key: Path, domain: str) -> System:
    """A configured server (a full host name, example.com and example.org received here)
    whose opendkim.conf signs ``domain`` (as written by hand) with selector mail."""
    main = sandbox / "etc/postfix/main.cf"
    text = main.read_text().replace("myhostname = debian", "myhostname = mail.example.com")
    text = text.replace("mydestination = $myhostname, debian, localhost.localdomain, localhost",
                        "mydestination = $myhostname, example.com, example.org, localhost")
    main.write_text(text.replace("inet_protocols = all", "inet_protocols = ipv4"))
    keys = sandbox / "etc/dkimkeys"
    keys.mkdir(parents=True, exist_ok=True)
    shutil.copy(real_key / "mail.private", keys / "mail.private")
    (keys / "mail.private").chmod(0o600)
    conf = sandbox / opendkim.CONF.lstrip("/")
    conf.write_text(opendkim.edit(conf.read_text(), {
        "Domain": domain, "Selector": "mail", "KeyFile": "/etc/dkimkeys/mail.private"}))
    return sandbox_system(sandbox)


def zone(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = cli.main(["--root", str(sandbox), "zone", "--ipv4", "192.0.2.10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def dkim_lines(zone_text: str) -> list[str]:
    return [line.split(" ", 1)[0] for line in zone_text.splitlines()
            if "._domainkey." in line and not line.startswith(";")]


# -- mailwizard zone --------------------------------------------------------------------------

@pytest.mark.parametrize("written", [BOTH, "example.com, example.org", "example.com example.org"])
def test_zone_publishes_the_key_for_every_listed_domain(
        sandbox: Path, real_key: Path, capsys: pytest.CaptureFixture[str], written: str) -> None:
    signing(sandbox, real_key, written)
    out = zone(sandbox, capsys)
    assert dkim_lines(out) == ["mail._domainkey.example.com.", "mail._domainkey.example.org."]
    values = {line.split(" IN TXT ", 1)[1] for line in out.splitlines()
              if "._domainkey." in line and not line.startswith(";")}
    assert len(values) == 1  # one key signs both


@pytest.mark.parametrize("written", ["refile:/etc/opendkim/domains", "/etc/opendkim/domains"])
def test_zone_says_when_it_cannot_tell_which_domains_are_signed(
        sandbox: Path, real_key: Path, capsys: pytest.CaptureFixture[str], written: str) -> None:
    signing(sandbox, real_key, written)
    out = zone(sandbox, capsys)
    note = next(line for line in out.splitlines() if "cannot tell" in line)
    assert note.startswith(f"; NOTE: opendkim.conf's Domain is {written}: mailwizard cannot "
                           "tell which domains opendkim signs"), note
    assert "mail._domainkey.DOMAIN for each domain it lists" in note
    assert dkim_lines(out) == ["mail._domainkey.example.com."]  # the first mail domain's


def test_zone_leaves_out_a_listed_name_that_is_no_domain(
        sandbox: Path, real_key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signing(sandbox, real_key, "example.com,not_a@domain")
    out = zone(sandbox, capsys)
    assert dkim_lines(out) == ["mail._domainkey.example.com."]
    assert any("not_a@domain" in line and line.startswith("; NOTE:")
               for line in out.splitlines()), out


# -- mailwizard check (dns.dkim) -------------------------------------------------------------

class Published:
    """A Lookup stand-in: TXT answers by name (absent otherwise)."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.asked: list[str] = []

    async def ask(self, name: str, rdtype: str) -> Answer:
        self.asked.append(name)
        if name in self.records:
            return Answer("answer", (self.records[name],))
        return Answer("absent", why="no such name (NXDOMAIN)")


def dkim_check(config: dns.Config, look: Published) -> CheckResult:
    return asyncio.run(dnscheck.check_dkim(config, look))  # type: ignore[arg-type]


def test_check_asks_for_every_listed_domain(sandbox: Path, real_key: Path) -> None:
    config = dns.read_config(signing(sandbox, real_key, BOTH), ipv4="192.0.2.10")
    assert (config.dkim_domain, config.dkim_more) == ("example.com", ("example.org",))
    record = next(r for r in dns.records(config) if r.purpose == "dns.dkim")
    both = Published({"mail._domainkey.example.com.": record.value,
                      "mail._domainkey.example.org.": record.value})
    result = dkim_check(config, both)
    assert result.status == "pass", result
    assert both.asked == ["mail._domainkey.example.com.", "mail._domainkey.example.org."]
    one = Published({"mail._domainkey.example.com.": record.value})
    result = dkim_check(config, one)
    assert result.status == "fail" and "mail._domainkey.example.org." in result.detail, result
    assert "check itself failed" not in result.detail


def test_check_warns_when_it_cannot_tell_which_domains_are_signed(
        sandbox: Path, real_key: Path) -> None:
    config = dns.read_config(signing(sandbox, real_key, "refile:/etc/opendkim/domains"),
                             ipv4="192.0.2.10")
    assert config.dkim_unknown == "refile:/etc/opendkim/domains"
    record = next(r for r in dns.records(config) if r.purpose == "dns.dkim")
    result = dkim_check(config, Published({"mail._domainkey.example.com.": record.value}))
    assert result.status == "warn", result
    assert result.detail.startswith("mail._domainkey.example.com.: the key on this server")
    assert ("opendkim.conf's Domain is refile:/etc/opendkim/domains: mailwizard cannot tell "
            "which other domains it signs") in result.detail


def test_check_command_no_longer_fails_on_the_list(
        sandbox: Path, real_key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real CLI, its DNS unreachable (port 9): dns.dkim is a timeout for each record,
    not 'the check itself failed: Invalid: com,example is not a domain name'."""
    signing(sandbox, real_key, BOTH)
    cli.main(["--root", str(sandbox), "check", "--json", "--nameserver", "127.0.0.1:9",
              "--ipv4", "192.0.2.10"])
    out, _ = capsys.readouterr()
    result = next(c for c in json.loads(out)["checks"] if c["id"] == "dns.dkim")
    assert "check itself failed" not in result["detail"], result
    assert "mail._domainkey.example.com." in result["expected"]
    assert "mail._domainkey.example.org." in result["expected"]


# -- the DKIM step --------------------------------------------------------------------------

def test_step_opens_on_the_first_listed_domain_and_keeps_the_list(
        sandbox: Path, real_key: Path) -> None:
    system = signing(sandbox, real_key, BOTH)
    current = STEP.current(system)
    assert (current.domain, current.selector) == ("example.com", "mail")
    proposal = STEP.propose(current, system)
    assert not errors(proposal.problems), proposal.problems
    warning = next(p for p in proposal.problems if p.field == "dkim.domain")
    assert warning.level == "warning"
    assert "also signs example.org with this key" in warning.message
    assert "mail._domainkey.example.org" in warning.message
    plan = proposal.plan
    assert plan is not None
    conf = plan.file(opendkim.CONF)
    after = conf.after.decode() if conf is not None and conf.after else \
        (sandbox / opendkim.CONF.lstrip("/")).read_text()
    assert opendkim.get(after, "Domain") == BOTH  # the list stays as written
    assert STEP.status(system).state != "problem"


def test_step_says_what_a_new_domain_replaces(sandbox: Path, real_key: Path) -> None:
    system = signing(sandbox, real_key, BOTH)
    proposal = STEP.propose(DkimAnswers(domain="example.net"), system)
    assert not errors(proposal.problems), proposal.problems
    assert any(p.field == "dkim.domain" and p.level == "warning" and
               "replaces Domain example.com,example.org" in p.message and
               "example.org is no longer signed" in p.message for p in proposal.problems)
    assert proposal.plan is not None
    conf = proposal.plan.file(opendkim.CONF)
    assert conf is not None and conf.after is not None
    assert opendkim.get(conf.after.decode(), "Domain") == "example.net"


def test_step_leaves_a_domain_file_alone_and_says_so(sandbox: Path, real_key: Path) -> None:
    system = signing(sandbox, real_key, "refile:/etc/opendkim/domains")
    current = STEP.current(system)
    assert current.domain == "example.com"  # the first mail domain: a guess, said below
    proposal = STEP.propose(current, system)
    assert not errors(proposal.problems), proposal.problems
    warning = next(p for p in proposal.problems if p.field == "dkim.domain")
    assert warning.level == "warning"
    assert warning.message.startswith(
        "opendkim.conf's Domain is refile:/etc/opendkim/domains, which mailwizard cannot "
        "read: it is left as it is"), warning.message
    assert proposal.plan is not None
    conf = proposal.plan.file(opendkim.CONF)
    if conf is not None and conf.after is not None:
        assert opendkim.get(conf.after.decode(), "Domain") == "refile:/etc/opendkim/domains"


def test_signing_identity_is_the_first_listed_domain(sandbox: Path, real_key: Path) -> None:
    system = signing(sandbox, real_key, "Example.ORG, example.com")
    assert dkim.signing_identity(system) == ("example.org", "mail")
    assert dkim.signing_domains(system) == (("example.org", "example.com"), "")


def test_a_rotation_switches_only_once_every_listed_domain_shows_the_record(
        sandbox: Path, real_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = signing(sandbox, real_key, BOTH)
    shutil.copy(real_key / "mail.private", sandbox / "etc/dkimkeys/s2026.private")
    (sandbox / "etc/dkimkeys/s2026.private").chmod(0o600)
    rotation = sandbox / dkim.ROTATION_FILE.lstrip("/")
    rotation.parent.mkdir(parents=True, exist_ok=True)
    rotation.write_text(dkim.rotation_text(dkim.Rotation("example.com", "s2026", "mail")))
    seen: set[str] = {"example.com"}
    asked: list[str] = []

    def check(domain: str, selector: str, key: str) -> CheckResult:
        asked.append(f"{selector}._domainkey.{domain}")
        return CheckResult("dns.dkim", "pass" if domain in seen else "fail", "", "",
                           "absent: no such name (NXDOMAIN)")

    monkeypatch.setattr(dkim, "published_check", check)
    answers = DkimAnswers(domain="example.com", selector="s2026", published=True)
    problems = STEP.propose(answers, system).problems
    assert asked == ["s2026._domainkey.example.com", "s2026._domainkey.example.org"]
    assert [p.message for p in errors(problems)] == [
        "not seen in the DNS yet at s2026._domainkey.example.org (absent: no such name "
        "(NXDOMAIN)); selector mail still signs until it is"]
    seen.add("example.org")
    proposal = STEP.propose(answers, system)
    assert not errors(proposal.problems), proposal.problems
    assert proposal.plan is not None
    conf = proposal.plan.file(opendkim.CONF)
    assert conf is not None and conf.after is not None
    after = conf.after.decode()
    assert opendkim.get(after, "Selector") == "s2026" and opendkim.get(after, "Domain") == BOTH


def test_the_record_printed_after_an_apply_names_every_listed_domain(
        sandbox: Path, real_key: Path) -> None:
    system = signing(sandbox, real_key, BOTH)
    made = Plan(commands=(Command(("opendkim-genkey", "-b", "2048", "-d", "example.com",
                                   "-s", "mail", "-D", "/x"), "a key"),))
    records = dkim.made_records(made, system)
    assert [r.name for r in records] == ["mail._domainkey.example.com",
                                         "mail._domainkey.example.org"]
    assert records[0].flat == records[1].flat
