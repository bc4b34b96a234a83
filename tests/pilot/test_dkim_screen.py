"""Pilot tests: the DKIM screen (with DMARC), its live record name, review, apply, the record."""

from __future__ import annotations

import pwd
from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import RadioSet

from mailwizard.dnsrecords import MAX_STRING, read_records, unquote_strings
from mailwizard.screens.dkim import DkimScreen
from mailwizard.screens.review import ReviewScreen
from tests.pilot.harness import (
    DKIM_DOMAIN as DOMAIN,
)
from tests.pilot.harness import (
    DKIM_SELECTOR as SELECTOR,
)
from tests.pilot.harness import (
    DMARC_RUA as RUA,
)
from tests.pilot.harness import (
    apply_from_review,
    field_message,
    fill_dkim,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import RecordingRunner, fake_genkey, make_key


async def test_dkim_opens_marks_and_names_the_record(sandbox: Path,
                                                    runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        assert screen.focused is screen.query_one(DOMAIN)
        # Today's settings: the fixture's hostname "debian" is not a mail domain.
        assert screen.value("dkim.domain") == "debian"
        assert screen.value("dkim.selector") == "mail"
        assert screen.value("dmarc.rua") == "postmaster@debian"
        assert field_message(screen, "dkim.domain").startswith("✖ ")
        assert static_text(screen, "#dkim-name") == "→ mail._domainkey.debian"
        assert not screen.query_one("#dkim-record", VerticalScroll).display  # no key yet
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen
        await fill_dkim(pilot)
        await type_into(pilot, SELECTOR, "2026", keys=4)
        assert static_text(screen, "#dkim-name") == "→ 2026._domainkey.example.com"
        await step_ready(pilot)
        changes = static_text(screen, "#changes-text")
        assert "/etc/opendkim.conf" in changes and "/etc/postfix/main.cf" in changes
        assert "/etc/mailwizard/dns.toml" in changes  # DMARC, planned with DKIM
        assert ("run: opendkim-genkey -b 2048 -d example.com -s 2026 -D <private temp dir>"
                in changes)
        assert runner.calls == []


async def test_dkim_refuses_bad_selector_and_rua(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        await fill_dkim(pilot)
        await type_into(pilot, SELECTOR, "../x", keys=2)
        await step_ready(pilot)
        assert field_message(screen, "dkim.selector").startswith("✖ ")
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen
        await type_into(pilot, SELECTOR, "mail", keys=2)
        await type_into(pilot, RUA, "postmaster", keys=2)  # no domain: the DMARC step says
        await step_ready(pilot)
        assert field_message(screen, "dmarc.rua") == "✖ give a full address, like " \
                                                     "postmaster@example.com"
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen
        # Empty reports are allowed; a stricter policy is a warning at its field.
        await type_into(pilot, RUA, "")
        screen.query_one("#dmarc-policy", RadioSet).focus()
        await pilot.pause()
        await pilot.press("right", "right", "enter")
        await step_ready(pilot)
        assert field_message(screen, "dmarc.policy").startswith("! p=reject acts on every")
        assert field_message(screen, "dmarc.rua").startswith("DMARC: where")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert '+record = "v=DMARC1; p=reject"' in static_text(app.screen, "#review-diff")


async def test_dkim_review_apply_then_record(sandbox: Path, runner: RecordingRunner) -> None:
    runner.effects = {"opendkim-genkey": fake_genkey(sandbox)}
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await fill_dkim(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        assert any(line.startswith("+Domain") and line.endswith("example.com")
                   for line in diff.splitlines())
        assert "inet:127.0.0.1:8891" in diff
        assert '+record = "v=DMARC1; p=none; rua=mailto:postmaster@example.com"' in diff
        commands = static_text(app.screen, "#review-commands")
        assert ("opendkim-genkey -b 2048 -d example.com -s mail -D <private temp dir>"
                in commands)
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        argvs = runner.argvs()
        genkey_argv = next(a for a in argvs if a[0] == "opendkim-genkey")
        assert genkey_argv[:-1] == ("opendkim-genkey", "-b", "2048", "-d", "example.com",
                                    "-s", "mail", "-D")
        assert genkey_argv[-1].startswith("/tmp/mailwizard-")
        key = (sandbox / "etc/dkimkeys/mail.private").stat()
        assert (key.st_mode & 0o777, key.st_uid) == (0o600, pwd.getpwnam("opendkim").pw_uid)
        assert ("opendkim", "-n", "-x", "/etc/opendkim.conf") in argvs
        stored = read_records((sandbox / "etc/mailwizard/dns.toml").read_text())
        assert stored["dmarc"]["policy"] == "none"
    # Opened again: nothing to change, and the key's record is shown to publish.
    app = make_app(sandbox, RecordingRunner(), start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        assert screen.value("dkim.domain") == "example.com"
        assert screen.value("dmarc.rua") == "postmaster@example.com"
        assert screen.query_one("#dkim-record", VerticalScroll).display
        assert "TXT record at mail._domainkey.example.com" in static_text(
            screen, "#dkim-record-text")


async def test_dkim_shows_existing_key_split_and_flat(sandbox: Path,
                                                     runner: RecordingRunner) -> None:
    make_key(sandbox)
    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DkimScreen)
        await fill_dkim(pilot)
        panel = screen.query_one("#dkim-record", VerticalScroll)
        assert panel.display
        assert panel.region.bottom <= 23  # above the footer at 80×24
        text = static_text(screen, "#dkim-record-text")
        lines = text.splitlines()
        split = lines[lines.index(next(x for x in lines if x.startswith("Split"))) + 1]
        flat = lines[-1]
        assert flat.startswith("v=DKIM1; h=sha256; k=rsa; p=MII")
        strings = unquote_strings(split)
        assert len(strings) >= 3  # the tags, then p= in pieces
        assert all(len(s.encode()) <= MAX_STRING for s in strings)
        assert "".join(strings) == flat
        # The key exists: no new key is made; only its owner is fixed.
        changes = static_text(screen, "#changes-text")
        assert "opendkim-genkey" not in changes
        assert "set /etc/dkimkeys/mail.private (0600 opendkim:opendkim" in changes
        # The name follows the selector; another selector has no key (panel hidden).
        await type_into(pilot, SELECTOR, "other", keys=2)
        await step_ready(pilot)
        assert not panel.display
