"""DKIM: opendkim.conf key by key, milters merged, the key made once, the record split, a
selector rotated in two phases."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailwizard import answers, dns, dnscheck, dnsrecords, opendkim, postfix, services
from mailwizard.apply import apply
from mailwizard.checks import CheckResult
from mailwizard.plan import PRIVATE_DIR, Install
from mailwizard.steps import by_name, dkim
from mailwizard.steps.base import errors
from mailwizard.steps.dkim import (
    ROTATION_FILE,
    DkimAnswers,
    DkimFacts,
    DkimStep,
    made_records,
    merge_milters,
    public_key,
    public_record,
    publish_text,
)
from mailwizard.system import System
from tests.support import RecordingRunner

STEP = DkimStep()
FIXTURE_CONF = Path(__file__).parents[1] / "fixtures/debian12/etc/opendkim.conf"
ANSWERS = DkimAnswers(domain="example.com", selector="mail", bits=2048)



def _fake_genkey(system: System, key_dir: Path) -> dict[str, object]:
    """Effects for the recording runner: genkey copies the real key in, chown/chmod act."""
    def genkey(argv: tuple[str, ...]) -> None:
        sel = argv[argv.index("-s") + 1]
        target = system.path(argv[argv.index("-D") + 1])
        for ext in ("private", "txt"):
            shutil.copy(key_dir / f"mail.{ext}", target / f"{sel}.{ext}")

    def chown(argv: tuple[str, ...]) -> None:
        user = pwd.getpwnam(argv[1].split(":")[0])
        for path in argv[2:]:
            os.chown(system.path(path), user.pw_uid, user.pw_gid)

    def chmod(argv: tuple[str, ...]) -> None:
        for path in argv[2:]:
            os.chmod(system.path(path), int(argv[1], 8))

    return {"opendkim-genkey": genkey, "chown": chown, "chmod": chmod}


def _started(system: System, daemons: list[subprocess.Popen[bytes]]) -> dict[str, object]:
    """An effect for ``opendkim -x CONF -P PIDFILE``: a stand-in process "is" opendkim (its
    pid in the pid file), so a later restart signals it and not this test."""
    def start(argv: tuple[str, ...]) -> None:
        if "-P" in argv:
            daemon = subprocess.Popen(["sleep", "300"])
            daemons.append(daemon)
            pid = system.path(argv[argv.index("-P") + 1])
            pid.parent.mkdir(parents=True, exist_ok=True)
            pid.write_text(f"{daemon.pid}\n")
    return {"opendkim": start}


@pytest.fixture
def keyed(system: System, runner: RecordingRunner, real_key: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    daemons: list[subprocess.Popen[bytes]] = []
    monkeypatch.setattr(services, "is_daemon", lambda pid, name: name == "opendkim" and any(
        d.pid == pid for d in daemons))
    runner.effects.update(_fake_genkey(system, real_key))  # type: ignore[arg-type]
    runner.effects.update(_started(system, daemons))  # type: ignore[arg-type]
    yield system
    for daemon in daemons:
        daemon.kill()
        daemon.wait()


# -- opendkim.conf ------------------------------------------------------------------------


def test_conf_edit_keeps_comments_and_other_lines() -> None:
    before = FIXTURE_CONF.read_text()
    after = opendkim.edit(before, {
        "Domain": "example.com", "Selector": "mail", "KeyFile": "/etc/dkimkeys/mail.private",
        "Socket": opendkim.SOCKET,
    })
    old_lines = before.splitlines()
    new_lines = after.splitlines()
    # Every old line survives except the one Socket value that changed.
    assert [ln for ln in old_lines if ln not in new_lines] == [
        "Socket\t\t\tlocal:/run/opendkim/opendkim.sock"]
    assert "Socket\t\t\tinet:8891@127.0.0.1" in new_lines
    # New keys land right after their commented example.
    at = new_lines.index("#Domain\t\t\texample.com")
    assert new_lines[at + 1] == "Domain\t\t\texample.com"
    assert new_lines[new_lines.index("#KeyFile\t\t/etc/dkimkeys/example.private") + 1] == (
        "KeyFile\t\t\t/etc/dkimkeys/mail.private")
    assert opendkim.get(after, "domain") == "example.com"
    assert opendkim.get(after, "Nameservers") is None  # only a comment
    assert opendkim.edit(after, {"Domain": "example.com"}) == after


def test_conf_edit_replaces_in_place_drops_duplicates_and_appends() -> None:
    text = "Domain a.example  # old\nfoo bar\ndomain b.example\n#tail"
    out = opendkim.edit(text, {"Domain": "example.com", "Selector": "mail", "Foo": None})
    assert out == "Domain example.com\n#tail\nSelector\t\tmail\n"


def test_internal_hosts_from_mynetworks() -> None:
    nets = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128", "192.168.1.0/24",
            "hash:/etc/postfix/network_table", "$mynetworks_extra"]
    assert opendkim.trusted_hosts(nets) == [
        "127.0.0.0/8", "::ffff:127.0.0.0/104", "::1/128", "192.168.1.0/24"]
    assert opendkim.trusted_hosts(["[::1]"]) == ["127.0.0.1", "::1"]


# -- Postfix milters -------------------------------------------------------------------------


def test_milter_merge_keeps_an_existing_milter() -> None:
    assert merge_milters("inet:127.0.0.1:11332") == ["inet:127.0.0.1:11332", opendkim.MILTER]
    assert merge_milters("inet:localhost:8891, unix:/run/x") == [opendkim.MILTER, "unix:/run/x"]
    assert merge_milters(f"{opendkim.MILTER} inet:127.0.0.1:11332") == [
        opendkim.MILTER, "inet:127.0.0.1:11332"]
    assert merge_milters("") == [opendkim.MILTER]


def test_plan_merges_milters_with_one_already_there(system: System) -> None:
    staged = postfix.stage(system, set_main={"smtpd_milters": "inet:127.0.0.1:11332"})
    view = system.with_files({c.path: c.after for c in staged.changes})
    plan = STEP.plan(ANSWERS, view)
    after = view.with_files({f.path: f.after for f in plan.files})
    assert postfix.get(after, "smtpd_milters") == f"inet:127.0.0.1:11332, {opendkim.MILTER}"
    assert postfix.get(after, "non_smtpd_milters") == opendkim.MILTER
    assert postfix.get(after, "milter_default_action") == "accept"


# -- the record -------------------------------------------------------------------------------


def test_record_split_into_strings_of_at_most_255_bytes(real_key: Path) -> None:
    txt = (real_key / "mail.txt").read_text()
    key = dnsrecords.dkim_p("".join(dnsrecords.unquote_strings(txt)))
    assert key
    flat = dnsrecords.dkim_flat(key)
    strings = dnsrecords.dkim_strings(flat)
    assert len(flat) > 255 and len(strings) >= 2
    assert all(len(s.encode()) <= 255 for s in strings)
    assert "".join(strings) == flat
    assert dnsrecords.unquote_strings(dnsrecords.quote_strings(strings)) == strings
    assert dnsrecords.rsa_bits(key) == 2048


@pytest.mark.parametrize("length", [0, 1, 254, 255, 256, 510, 511, 1000])
def test_split_strings_lengths(length: int) -> None:
    text = "x" * length
    parts = dnsrecords.split_strings(text)
    assert "".join(parts) == text and all(len(p) <= 255 for p in parts)
    assert len(parts) == max(1, -(-length // 255))


def test_public_record_reads_the_key_and_never_the_private_part(
    keyed: System, real_key: Path
) -> None:
    assert public_record(keyed, "example.com", "mail") is None
    shutil.copy(real_key / "mail.private", keyed.path("/etc/dkimkeys/mail.private"))
    found = public_record(keyed, "example.com", "mail")
    assert found is not None
    split, flat = found
    assert flat.startswith("v=DKIM1; h=sha256; k=rsa; p=MIIB")
    strings = dnsrecords.unquote_strings(split)
    assert all(len(s.encode()) <= 255 for s in strings) and "".join(strings) == flat
    genkey_txt = "".join(dnsrecords.unquote_strings((real_key / "mail.txt").read_text()))
    assert dnsrecords.dkim_p(flat) == dnsrecords.dkim_p(genkey_txt)
    assert "PRIVATE" not in split + flat
    # Without the private key, the .txt file still gives the record.
    keyed.path("/etc/dkimkeys/mail.private").unlink()
    shutil.copy(real_key / "mail.txt", keyed.path("/etc/dkimkeys/mail.txt"))
    assert public_record(keyed, "example.com", "mail") == found


# -- validation ---------------------------------------------------------------------------


def test_bits_below_2048_refused_naming_the_field(system: System) -> None:
    problems = STEP.validate(DkimAnswers("example.com", "mail", 1024), system)
    assert [p.field for p in errors(problems)] == ["dkim.bits"]
    assert "2048" in errors(problems)[0].message
    chosen = answers.load_text('[dkim]\ndomain = "example.com"\nbits = 1024\n')
    plan, found = answers.plan_all(system, chosen)
    assert plan.is_empty and [p.field for p in errors(found)] == ["dkim.bits"]


def test_bad_domain_and_selector_name_their_fields(system: System) -> None:
    problems = STEP.validate(DkimAnswers("exa mple", "bad.sel", 2048), system)
    assert sorted(p.field for p in errors(problems)) == ["dkim.domain", "dkim.selector"]


def test_key_table_config_is_refused(system: System) -> None:
    conf = system.path(opendkim.CONF)
    conf.write_text(conf.read_text() + "KeyTable\t/etc/opendkim/key.table\n")
    problems = STEP.validate(ANSWERS, system)
    assert any(p.field == "dkim.domain" and "KeyTable" in p.message for p in errors(problems))


# -- plans -------------------------------------------------------------------------------


def test_fresh_plan_makes_the_key_and_configures_everything(system: System) -> None:
    plan = STEP.plan(ANSWERS, system)
    argvs = [c.argv for c in plan.commands]
    assert argvs == [  # made where only root can look, then installed by descriptor
        ("opendkim-genkey", "-b", "2048", "-d", "example.com", "-s", "mail",
         "-D", PRIVATE_DIR),
    ]
    assert [(i.dest, i.mode, i.owner, i.group, i.source) for i in plan.commands[0].installs] == [
        ("/etc/dkimkeys/mail.private", 0o600, "opendkim", "opendkim", "mail.private"),
        ("/etc/dkimkeys/mail.txt", 0o600, "opendkim", "opendkim", "mail.txt"),
    ]
    assert all(c.touches == ("/etc/dkimkeys/mail.private", "/etc/dkimkeys/mail.txt")
               for c in plan.commands)
    assert [c.argv for c in plan.checks] == [("opendkim", "-n", "-x", "/etc/opendkim.conf")]
    assert plan.restart == {"opendkim"} and plan.reload == {"postfix"}
    conf = plan.file(opendkim.CONF)
    assert conf is not None and conf.after is not None
    text = conf.after.decode()
    for key, value in (("Domain", "example.com"), ("Selector", "mail"),
                       ("KeyFile", "/etc/dkimkeys/mail.private"),
                       ("Socket", "inet:8891@127.0.0.1"),
                       ("InternalHosts", opendkim.TRUSTED_HOSTS),
                       ("SubDomains", "yes")):  # root@mail.example.com, bounces: signed
        assert opendkim.get(text, key) == value
    hosts = plan.file(opendkim.TRUSTED_HOSTS)
    assert hosts is not None and hosts.after is not None
    assert "::1/128\n" in hosts.after.decode() and "[" not in hosts.after.decode()


def test_apply_twice_second_plan_is_empty(keyed: System, runner: RecordingRunner) -> None:
    result = apply(keyed, STEP.plan(ANSWERS, keyed))
    assert result.ok, result.reason
    ran = runner.argvs()
    assert ("opendkim", "-n", "-x", "/etc/opendkim.conf") in ran
    assert ("opendkim", "-x", "/etc/opendkim.conf", "-P", services.OPENDKIM_PIDFILE) in ran
    info = keyed.info("/etc/dkimkeys/mail.private")
    assert info is not None and (info.mode, info.owner) == (0o600, "opendkim")
    again = STEP.plan(ANSWERS, keyed)
    assert again.is_empty, again.summary()
    assert STEP.current(keyed) == ANSWERS


def test_existing_key_is_kept_and_only_its_mode_fixed(keyed: System) -> None:
    assert apply(keyed, STEP.plan(ANSWERS, keyed)).ok
    os.chmod(keyed.path("/etc/dkimkeys/mail.private"), 0o644)
    plan = STEP.plan(ANSWERS, keyed)
    assert [(c.argv, c.installs) for c in plan.commands] == [
        ((), (Install("/etc/dkimkeys/mail.private", 0o600, "opendkim", "opendkim"),))]
    assert apply(keyed, plan).ok
    info = keyed.info("/etc/dkimkeys/mail.private")
    assert info is not None and info.mode == 0o600


def test_rotation_is_explicit(keyed: System) -> None:
    assert apply(keyed, STEP.plan(ANSWERS, keyed)).ok
    rotate = DkimAnswers("example.com", "mail", 2048, rotate=True)
    assert any(p.field == "dkim.rotate" for p in STEP.validate(rotate, keyed))
    assert STEP.plan(rotate, keyed).commands[0].argv[0] == "opendkim-genkey"
    new_selector = STEP.plan(DkimAnswers("example.com", "s2026"), keyed)
    assert new_selector.commands[0].argv == (
        "opendkim-genkey", "-b", "2048", "-d", "example.com", "-s", "s2026",
        "-D", PRIVATE_DIR)
    assert apply(keyed, new_selector).ok
    assert STEP.plan(DkimAnswers("example.com", "s2026"), keyed).is_empty


def test_status_lines(keyed: System, monkeypatch: pytest.MonkeyPatch) -> None:
    # This process stands in for opendkim (a real check reads /proc/PID/exe).
    monkeypatch.setattr(services, "is_daemon", lambda pid, name: pid == os.getpid())
    assert (STEP.status(keyed).state, STEP.status(keyed).summary) == ("todo", "no key")
    assert apply(keyed, STEP.plan(ANSWERS, keyed)).ok
    keyed.path(services.OPENDKIM_PIDFILE).unlink()  # stopped
    status = STEP.status(keyed)
    assert (status.state, status.summary) == ("problem", "opendkim not running")
    pid = keyed.path(services.OPENDKIM_PIDFILE)
    pid.parent.mkdir(parents=True, exist_ok=True)
    pid.write_text(f"{os.getpid()}\n")
    status = STEP.status(keyed)
    assert (status.state, status.summary, status.symbol) == ("ok", "mail._domainkey", "✔")


def test_a_stopped_opendkim_is_started_by_the_plan_of_todays_answers(
        keyed: System, runner: RecordingRunner) -> None:
    assert apply(keyed, STEP.plan(ANSWERS, keyed)).ok
    assert STEP.status(keyed).state == "ok"
    assert STEP.plan(STEP.current(keyed), keyed).is_empty
    keyed.path(services.OPENDKIM_PIDFILE).unlink()  # opendkim stopped
    assert STEP.status(keyed).summary == "opendkim not running"
    fix = STEP.plan(STEP.current(keyed), keyed)
    assert [c.argv for c in fix.commands] == [
        ("install", "-d", "-o", "opendkim", "-g", "opendkim", "-m", "750", "/run/opendkim"),
        ("opendkim", "-x", "/etc/opendkim.conf", "-P", services.OPENDKIM_PIDFILE),
    ]
    assert not fix.changed_files() and not fix.restart
    assert apply(keyed, fix).ok
    assert STEP.status(keyed).state == "ok"
    assert STEP.plan(STEP.current(keyed), keyed).is_empty


def test_start_commands_follow_the_machine(system: System, sandbox: Path) -> None:
    assert services.start_commands(system, "opendkim")[-1] == (
        "opendkim", "-x", "/etc/opendkim.conf", "-P", services.OPENDKIM_PIDFILE)
    (sandbox / "run/systemd/system").mkdir(parents=True)
    assert services.start_commands(system, "opendkim") == [
        ("systemctl", "restart", "opendkim")]


def test_made_records_are_the_keys_the_plan_made(keyed: System) -> None:
    plan = STEP.plan(ANSWERS, keyed)
    assert apply(keyed, plan).ok
    records = made_records(plan, keyed)
    assert [r.name for r in records] == ["mail._domainkey.example.com"]
    found = public_record(keyed, "example.com", "mail")
    assert found is not None and (records[0].split, records[0].flat) == found
    text = publish_text(records[0])
    assert f"  flat (for DNS panels):  {found[1]}\n" in text and "│" not in text
    again = STEP.plan(ANSWERS, keyed)
    assert made_records(again, keyed) == []  # no key made: nothing new to publish


def test_dkim_is_in_the_registry_after_spf() -> None:
    from mailwizard.steps import SECTIONS, STEPS

    names = [s.name for s in STEPS]
    assert names.index("spf") < names.index("dkim") and "dmarc" not in names
    sections = [s.name for s in SECTIONS]
    assert sections.index("spf") < sections.index("dkim") < sections.index("dmarc")
    assert by_name("dkim").available and by_name("dkim").listed
    # The hub's DKIM entry is DKIM with DMARC on one screen; the answers file has both.
    assert [type(p) for p in by_name("dkim").parts()] == [DkimStep, type(by_name("dmarc"))]


# -- a selector rotation in two phases ------------------------------------------------------
# Phase 1, a new selector: the new key is made and its record shown, opendkim keeps signing
# with the old key, and the rotation waits in ROTATION_FILE. Phase 2, published = true:
# only when the DNS check sees the new record are Selector and KeyFile switched. The DNS
# check itself (dkim.published_check) is a recording stand-in here;
# tests/integration/test_dkim_rotation.py runs it against nsd.

OLD = DkimAnswers(domain="example.com", selector="mail")
NEW = DkimAnswers(domain="example.com", selector="s2026")
PUBLISHED = DkimAnswers(domain="example.com", selector="s2026", published=True)

Checked = list[tuple[str, str, str]]


def _dns(monkeypatch: pytest.MonkeyPatch, status: str, found: str = "") -> Checked:
    """Replace the DNS check; return the (domain, selector, key) it was asked about."""
    asked: Checked = []

    def check(domain: str, selector: str, key: str) -> CheckResult:
        asked.append((domain, selector, key))
        name = f"{selector}._domainkey.{domain}."
        detail = f"{name}: the key on this server (2048 bits)" if status == "pass" else \
            f"{name}: absent"
        return CheckResult("dns.dkim", status, detail, f"{name} TXT v=DKIM1; ...",  # type: ignore[arg-type]
                           found or "absent: no such name (NXDOMAIN)")

    monkeypatch.setattr(dkim, "published_check", check)
    return asked


def _conf(system: System) -> tuple[str | None, str | None]:
    text = system.read_text(opendkim.CONF) or ""
    return opendkim.get(text, "Selector"), opendkim.get(text, "KeyFile")


@pytest.fixture
def signing(keyed: System) -> System:
    """opendkim signs with selector mail (applied, running)."""
    assert apply(keyed, STEP.plan(OLD, keyed)).ok
    assert _conf(keyed) == ("mail", "/etc/dkimkeys/mail.private")
    return keyed


def _phase1(system: System) -> None:
    assert apply(system, STEP.plan(NEW, system)).ok


def test_a_new_selector_makes_the_key_and_keeps_signing_with_the_old(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(NEW, signing)
    assert found.plan is not None
    plan = found.plan
    assert [c.argv[0] for c in plan.commands] == ["opendkim-genkey"]
    assert plan.commands[0].argv[plan.commands[0].argv.index("-s") + 1] == "s2026"
    conf = plan.file(opendkim.CONF)
    assert conf is None or opendkim.get((conf.after or b"").decode(), "Selector") == "mail"
    rotation = plan.file(ROTATION_FILE)
    assert rotation is not None and rotation.after is not None
    assert 'selector = "s2026"' in rotation.after.decode()
    assert 'signing = "mail"' in rotation.after.decode()
    assert "opendkim" not in plan.restart  # it signs as before: nothing to restart
    # The admin is told what happens next, at the field that finishes it.
    assert any(p.field == "dkim.published" and p.level == "warning" and "mail" in p.message
               for p in found.problems)
    assert asked == []  # no key, nothing to look for yet

    assert apply(signing, plan).ok
    assert "still signed with selector mail" in dkim.rotation_news(plan, signing)
    assert "published = true" in dkim.rotation_news(plan, signing)
    assert _conf(signing) == ("mail", "/etc/dkimkeys/mail.private")  # still the old key
    assert signing.exists("/etc/dkimkeys/s2026.private")
    # The form opens on the rotation; its plan is empty (nothing more to do until published).
    assert STEP.current(signing) == NEW
    assert STEP.plan(STEP.current(signing), signing).is_empty
    facts = STEP.propose(NEW, signing).facts
    assert isinstance(facts, DkimFacts) and facts.record is not None
    assert facts.record.name == "s2026._domainkey.example.com"
    assert facts.signing == "mail"
    status = STEP.status(signing)
    assert (status.state, status.summary) == ("warn", "s2026 waits for DNS")
    assert any("signing with mail" in line for line in status.now)
    # What the DNS check and the live test judge is still the key that signs.
    assert dkim.signing_answers(signing).selector == "mail"


def test_the_switch_is_refused_until_the_dns_shows_the_new_record(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    asked = _dns(monkeypatch, "fail")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is None
    bad = errors(list(found.problems))
    assert [p.field for p in bad] == ["dkim.published"]
    assert bad[0].message == ("not seen in the DNS yet (absent: no such name (NXDOMAIN)); "
                              "selector mail still signs until it is")
    key = public_key(signing, "s2026")
    assert asked == [("example.com", "s2026", key)]
    assert _conf(signing) == ("mail", "/etc/dkimkeys/mail.private")


def test_the_switch_once_the_dns_shows_it(signing: System,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    before = signing.read_bytes(ROTATION_FILE)
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is not None and not errors(list(found.problems))
    plan = found.plan
    assert asked == [("example.com", "s2026", public_key(signing, "s2026"))]
    assert [c.argv for c in plan.commands] == []  # no new key: the published one
    conf = plan.file(opendkim.CONF)
    assert conf is not None and conf.after is not None
    text = conf.after.decode()
    assert (opendkim.get(text, "Selector"), opendkim.get(text, "KeyFile")) == (
        "s2026", "/etc/dkimkeys/s2026.private")
    rotation = plan.file(ROTATION_FILE)
    assert rotation is not None and (rotation.before, rotation.after) == (before, None)
    assert plan.restart == {"opendkim"}
    # The old record may go later, not now: mail signed with it is still on its way.
    assert any(p.field == "dkim.published" and p.level == "warning"
               and "mail._domainkey.example.com" in p.message for p in found.problems)

    assert apply(signing, plan).ok
    news = " ".join(dkim.rotation_news(plan, signing).split())
    assert "now signed with selector s2026" in news
    assert "Keep mail._domainkey.example.com published for a few days" in news
    assert "then remove that record" in news
    assert _conf(signing) == ("s2026", "/etc/dkimkeys/s2026.private")
    assert not signing.exists(ROTATION_FILE)
    assert signing.exists("/etc/dkimkeys/mail.private")  # the old key is kept
    assert STEP.current(signing) == NEW
    assert STEP.status(signing).summary == "s2026._domainkey"
    # The same answers file again: nothing to do, and no second DNS query.
    asked.clear()
    assert STEP.plan(PUBLISHED, signing).is_empty
    assert asked == []


def test_published_with_a_key_made_now_only_makes_it(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _dns(monkeypatch, "pass")
    found = STEP.propose(PUBLISHED, signing)
    assert found.plan is not None
    assert found.plan.commands[0].argv[0] == "opendkim-genkey"
    conf = found.plan.file(opendkim.CONF)
    assert conf is None or opendkim.get((conf.after or b"").decode(), "Selector") == "mail"
    assert any(p.field == "dkim.published" and p.level == "warning"
               and "only made now" in p.message for p in found.problems)
    assert asked == []


def test_back_to_the_signing_selector_cancels_the_rotation(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    _dns(monkeypatch, "pass")
    plan = STEP.plan(OLD, signing)
    assert [f.path for f in plan.changed_files()] == [ROTATION_FILE]
    assert plan.file(ROTATION_FILE).after is None  # type: ignore[union-attr]
    assert not plan.commands and not plan.restart
    assert apply(signing, plan).ok
    assert "Rotation cancelled" in dkim.rotation_news(plan, signing)
    assert STEP.current(signing) == OLD


def test_the_zone_checks_the_signing_key_during_a_rotation(
        signing: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _phase1(signing)
    main_cf = signing.path("/etc/postfix/main.cf")
    main_cf.write_text(main_cf.read_text().replace("myhostname = debian",
                                                   "myhostname = mail.example.com"))
    config = dns.read_config(signing, ipv4="192.0.2.10")
    assert (config.dkim_selector, config.dkim_key) == ("mail", public_key(signing, "mail"))
    # The zone has both: the old record stays, the new one is to be published.
    assert (config.dkim_next_selector, config.dkim_next_key) == (
        "s2026", public_key(signing, "s2026"))
    dkim_records = [r for r in dns.records(config) if r.purpose.startswith("dns.dkim")]
    assert [(r.name, r.purpose) for r in dkim_records] == [
        ("mail._domainkey.example.com.", "dns.dkim"),
        ("s2026._domainkey.example.com.", "dns.dkim.next")]
    zone = dns.zone_text(config)
    assert "s2026._domainkey.example.com. 3600 IN TXT " in zone
    assert "; DKIM, the new key of a rotation (mail signs until the switch)" in zone
    assert any("s2026" in note for note in config.notes)
    # After the switch: only the key that signs.
    _dns(monkeypatch, "pass")
    assert apply(signing, STEP.plan(PUBLISHED, signing)).ok
    after = dns.read_config(signing, ipv4="192.0.2.10")
    assert (after.dkim_selector, after.dkim_next_selector) == ("s2026", "")


def test_published_is_an_answers_file_key(system: System) -> None:
    parsed = STEP.parse({"domain": "example.com", "selector": "s2026", "published": True})
    assert parsed == PUBLISHED
    assert STEP.parse({"domain": "example.com"}).published is False


def test_the_help_tells_the_two_phases() -> None:
    help_text = " ".join(STEP.help.split())
    assert "the old record keeps working while the new one propagates" not in help_text
    for words in ("published = true", "keeps signing with the old key",
                  "remove the old record", "A selector used before still has its old key"):
        assert words in help_text, words


def test_published_check_asks_the_dns_check_for_the_new_record(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """published_check is dnscheck.check_dkim for the new selector and key."""
    seen: list[tuple[str, str, str | None]] = []

    async def check_dkim(cfg: dns.Config, look: object) -> CheckResult:
        seen.append((cfg.dkim_domain, cfg.dkim_selector, cfg.dkim_key))
        return CheckResult("dns.dkim", "pass", "found", "", "")

    monkeypatch.setattr(dnscheck, "check_dkim", check_dkim)
    result = dkim.published_check("example.com", "s2026", "MIIBIjAN")
    assert result.status == "pass"
    assert seen == [("example.com", "s2026", "MIIBIjAN")]
