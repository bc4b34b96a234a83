"""Pilot tests: the SPF screen (record from boxes and a list, incoming checks, apply)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, RadioSet

from mailwizard.dnsrecords import read_records
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.spf import SpfScreen
from tests.pilot.harness import (
    apply_from_review,
    field_message,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import RecordingRunner

EXTRA = "#field-spf-extra"


async def press_on(pilot: object, selector: str, key: str = "space") -> None:
    app = pilot.app  # type: ignore[attr-defined]
    app.screen.query_one(selector).focus()
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.press(key)  # type: ignore[attr-defined]


async def test_spf_opens_with_todays_record(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        assert screen.focused is screen.query_one("#spf-mx", Checkbox)
        assert screen.query_one("#spf-mx", Checkbox).value
        assert not screen.query_one("#spf-a", Checkbox).value
        assert not screen.query_one("#spf-incoming", Checkbox).value  # fresh Debian
        assert static_text(screen, "#spf-record") == "v=spf1 mx ~all"
        assert "1 of 10 DNS lookups" in field_message(screen, "spf.record")
        assert "/etc/mailwizard/dns.toml" in static_text(screen, "#changes-text")
        assert runner.calls == []


async def test_spf_refuses_bad_term_naming_it(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        await type_into(pilot, EXTRA, "ip4:192.0.2.1, ip4:300.1.2.3", keys=2)
        await step_ready(pilot)
        message = field_message(screen, "spf.extra")
        assert message.startswith("✖ ")
        assert "300.1.2.3" in message and "not an ip4 address" in message
        # The live record leaves the wrong term out.
        assert static_text(screen, "#spf-record") == "v=spf1 mx ip4:192.0.2.1 ~all"
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen
        assert "Fix the fields" in static_text(screen, "#changes-text")
        # Something that is not ip4/ip6/include says what is allowed.
        await type_into(pilot, EXTRA, "mx:other.example", keys=2)
        await step_ready(pilot)
        assert "write ip4:192.0.2.1, ip6:2001:db8::1 or include:" in field_message(
            screen, "spf.extra")


async def test_spf_lookup_warning_shown_live(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        includes = ", ".join(f"include:s{i}.example.net" for i in range(10))
        await type_into(pilot, EXTRA, includes, keys=2)
        await step_ready(pilot)
        assert static_text(screen, "#spf-record").endswith("include:s9.example.net ~all")
        message = field_message(screen, "spf.record")
        assert message.startswith("! 11 DNS lookups")
        assert "permerror" in message
        # A warning does not block the review.
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")


async def test_spf_review_apply(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        await press_on(pilot, "#spf-a")
        await type_into(pilot, EXTRA, "ip4:192.0.2.10, ip6:2001:db8::10, include:_spf.example.net",
                        keys=2)
        screen.query_one("#spf-all", RadioSet).focus()
        await pilot.pause()
        await pilot.press("right", "enter")
        await press_on(pilot, "#spf-incoming")
        await step_ready(pilot)
        record = "v=spf1 mx a ip4:192.0.2.10 ip6:2001:db8::10 include:_spf.example.net -all"
        assert static_text(screen, "#spf-record") == record
        # The policy program is missing in the sandbox: a warning at the box, not a block.
        assert "postfix-policyd-spf-perl" in field_message(screen, "spf.check_incoming")
        changes = static_text(screen, "#changes-text")
        assert "/etc/postfix/main.cf" in changes and "/etc/postfix/master.cf" in changes
        assert "reload: postfix" in changes
        assert runner.calls == []
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        assert f'+record = "{record}"' in diff
        assert "check_policy_service { unix:private/spfcheck, default_action=DUNNO }" in diff
        assert "+spfcheck_time_limit = 3600" in diff
        assert "+spfcheck   unix  -       n       n       -       0       spawn" in diff
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        argvs = runner.argvs()
        assert any(a[0] == "postfix" and a[1] in ("reload", "start") for a in argvs)
        stored = read_records((sandbox / "etc/mailwizard/dns.toml").read_text())
        assert stored["spf"] == {"record": record}
        main_cf = (sandbox / "etc/postfix/main.cf").read_text()
        assert "reject_unauth_destination" in main_cf and "private/spfcheck" in main_cf
    # Opened again, the screen shows what was applied and there is nothing to change.
    app = make_app(sandbox, RecordingRunner(), start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        assert static_text(screen, "#spf-record") == record
        assert screen.query_one("#spf-incoming", Checkbox).value
        assert static_text(screen, "#changes-text").startswith("Nothing")


async def test_spf_keeps_hand_written_record(sandbox: Path, runner: RecordingRunner) -> None:
    hand = "v=spf1 mx exists:%{i}._spf.example.com ~all"
    records = sandbox / "etc/mailwizard/dns.toml"
    records.parent.mkdir(parents=True)
    records.write_text(f'[spf]\nrecord = "{hand}"\n')
    app = make_app(sandbox, runner, start_step="spf")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, SpfScreen)
        assert static_text(screen, "#spf-record").startswith(hand + "  (written by hand")
        assert screen.answers_from_form().record == hand
        # Only the header comment changes: the record itself is kept.
        assert "dns.toml" in static_text(screen, "#changes-text")
        await press_on(pilot, "#spf-a")
        await step_ready(pilot)
        assert static_text(screen, "#spf-record") == "v=spf1 mx a ~all"
        await press_on(pilot, "#spf-a")  # back as it was: the hand-written record again
        await step_ready(pilot)
        assert screen.answers_from_form().record == hand
