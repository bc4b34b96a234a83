"""Pilot tests: the hub, the hostname and domains screens, review, apply, failure."""

from __future__ import annotations

import hashlib
from pathlib import Path

from textual.widgets import Input, OptionList

from mailwizard.screens.domains import DomainsScreen
from mailwizard.screens.help import HelpScreen
from mailwizard.screens.hostname import HostnameScreen
from mailwizard.screens.hub import HubScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.step_base import Field
from mailwizard.screens.streamlog import StreamLog
from mailwizard.steps import STEPS
from tests.pilot.harness import (
    apply_from_review,
    field_message,
    hub_ready,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import FIXTURE, SANDBOX_POSTFIX_VERSION, RecordingRunner

FQDN_INPUT = "#field-hostname-fqdn"
NETS_INPUT = "#field-domains-mynetworks"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root (but the backups) with its content's hash."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("var/backups"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


async def test_hub_lists_every_step_with_status(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        hub = await hub_ready(pilot)
        listed = [s for s in STEPS if s.listed]
        assert len(listed) >= 9
        options = hub.query_one("#steps", OptionList)
        assert options.option_count == len(listed)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(len(listed))]
        for step, prompt in zip(listed, prompts, strict=True):
            status = hub.statuses[step.name]
            assert prompt.startswith(status.symbol + " " + step.title)
            assert status.summary in prompt
        assert prompts[0].startswith("✖ Hostname")  # "debian" is not a full name
        assert "debian: not a full name" in prompts[0]
        header = static_text(hub, "#hub-header")
        assert header == f" mailwizard · debian · Postfix {SANDBOX_POSTFIX_VERSION} · Debian 12"
        # The right panel follows the selection: blurb, Now:, Open.
        assert "Now: myhostname = debian" in static_text(hub, "#now")
        await pilot.press("down")
        assert "mynetworks = 127.0.0.0/8" in static_text(hub, "#now")
        # Every listed step has a screen now (Unavailable is for a row not built yet).
        assert all(app.can_open(s.name) for s in listed)
        # No command ran just by looking.
        assert runner.calls == []


async def test_hub_opens_hostname_and_esc_returns(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        await pilot.press("enter")
        await step_ready(pilot)
        assert isinstance(app.screen, HostnameScreen)
        assert app.screen.focused is app.screen.query_one(FQDN_INPUT, Input)
        await pilot.press("escape")
        assert isinstance(app.screen, HubScreen)


async def test_direct_step_esc_goes_to_hub(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="domains")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DomainsScreen)
        assert "$myhostname" in screen.value("domains.mydestination")  # today's settings
        await pilot.press("escape")
        assert isinstance(app.screen, HubScreen)


async def test_hostname_refuses_bad_host(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, HostnameScreen)
        # The current name is shown and already marked: "debian" has no dot.
        assert screen.value("hostname.fqdn") == "debian"
        assert "needs a dot" in field_message(screen, "hostname.fqdn")
        await type_into(pilot, FQDN_INPUT, "bad host")
        await step_ready(pilot)
        message = field_message(screen, "hostname.fqdn")
        assert message.startswith("✖ ")
        assert "cannot contain a space" in message
        assert screen.field("hostname.fqdn").has_class("-error")
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen  # no review
        assert not any(isinstance(s, ReviewScreen) for s in app.screen_stack)
        assert "Fix the fields" in static_text(screen, "#changes-text")


async def test_hostname_review_apply(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, HostnameScreen)
        await type_into(pilot, FQDN_INPUT, "mail.example.com")
        await step_ready(pilot)
        assert field_message(screen, "hostname.fqdn").startswith("a full name")
        changes = static_text(screen, "#changes-text")
        assert "/etc/hostname         +1 −1" in changes
        assert "run: hostname mail.example.com" in changes
        assert runner.calls == []  # previews never run apply-time commands
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        review = app.screen
        diff = static_text(review, "#review-diff")
        assert "-debian\n+mail.example.com" in diff
        assert "+myhostname = mail.example.com" in diff
        assert "+127.0.1.1\tmail.example.com mail" in diff
        commands = static_text(review, "#review-commands")
        assert "hostname mail.example.com" in commands
        assert "rename the running system" in commands
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        outcome = static_text(apply_screen, "#apply-outcome")
        assert "✔ Applied" in outcome and "What next" in outcome
        log = "\n".join(apply_screen.query_one(StreamLog).lines)
        assert "✔ wrote /etc/hostname" in log
        argvs = runner.argvs()
        assert ("hostname", "mail.example.com") in argvs
        assert any(a[0] == "postfix" and a[1] in ("reload", "start") for a in argvs)
        assert (sandbox / "etc/hostname").read_text() == "mail.example.com\n"
        assert (sandbox / "etc/mailname").read_text() == "mail.example.com\n"
        assert "myhostname = mail.example.com" in (sandbox / "etc/postfix/main.cf").read_text()
        # Back to the hub; its statuses are read again.
        await pilot.press("escape")
        assert isinstance(app.screen, HubScreen)
        hub = await hub_ready(pilot)
        assert hub.statuses["hostname"].state == "ok"
        assert hub.statuses["hostname"].summary == "mail.example.com"


async def test_domains_refuses_open_relay_naming_the_item(
    sandbox: Path, runner: RecordingRunner
) -> None:
    app = make_app(sandbox, runner, start_step="domains")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DomainsScreen)
        await type_into(pilot, NETS_INPUT, "127.0.0.0/8, 0.0.0.0/0", keys=3)
        await step_ready(pilot)
        message = field_message(screen, "domains.mynetworks")
        assert message.startswith("✖ 0.0.0.0/0")
        assert "open relay" in message
        await pilot.press("ctrl+s")
        await pilot.pause(0.5)
        assert app.screen is screen
        # A bad destination is named too.
        await type_into(pilot, NETS_INPUT, "127.0.0.0/8", keys=1)
        await type_into(pilot, "#field-domains-mydestination", "example.com, bad_name, localhost",
                        keys=3)
        await step_ready(pilot)
        message = field_message(screen, "domains.mydestination")
        assert message.startswith("✖ bad_name: ")
        assert field_message(screen, "domains.mynetworks").startswith("networks that may")


async def test_domains_warning_shown_and_review_allowed(
    sandbox: Path, runner: RecordingRunner
) -> None:
    app = make_app(sandbox, runner, start_step="domains")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DomainsScreen)
        await type_into(pilot, NETS_INPUT, "127.0.0.0/8, [::1]/128, 8.8.8.0/24",
                        keys=3)
        await type_into(pilot, "#field-domains-mydestination",
                        "example.com, debian, localhost", keys=3)
        await step_ready(pilot)
        assert field_message(screen, "domains.mynetworks").startswith("! 8.8.8.0/24")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        # File content is shown as written, never as markup: the brackets survive.
        assert "+mynetworks = 127.0.0.0/8 [::1]/128 8.8.8.0/24" in diff
        await pilot.press("escape")
        assert app.screen is screen


async def test_failing_command_restores_every_file(sandbox: Path, runner: RecordingRunner) -> None:
    before = tree_digest(sandbox)
    assert before == {k: v for k, v in tree_digest(FIXTURE).items() if k != "README.md"}
    runner.fail_on = lambda argv: argv == ("hostname", "mail.example.com")
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, FQDN_INPUT, "mail.example.com")
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and not apply_screen.result.ok
        outcome = static_text(apply_screen, "#apply-outcome")
        assert "✖ Failed: hostname mail.example.com" in outcome
        assert "fake failure: hostname mail.example.com" in outcome  # its last lines
        assert "All files restored" in outcome
        assert "What to try" in outcome
        assert tree_digest(sandbox) == before
        await pilot.press("escape")
        assert isinstance(app.screen, HubScreen)


async def test_f1_help_and_command_palette(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.markdown.startswith("# Hostname")
        await pilot.press("escape")
        assert isinstance(app.screen, HostnameScreen)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"domains")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await step_ready(pilot)
        assert isinstance(app.screen, DomainsScreen)
        # The palette jumped from a step: the stack is hub → domains.
        await pilot.press("escape")
        assert isinstance(app.screen, HubScreen)


async def test_field_contract(sandbox: Path, runner: RecordingRunner) -> None:
    """Problems from step.validate() find their Field by answers-file name."""
    from mailwizard.steps.base import Problem

    field = Field("Networks", "domains.mynetworks")
    assert field.matches(Problem("domains.mynetworks", "x"))
    assert field.matches(Problem("domains.mynetworks[2]", "x"))
    assert not field.matches(Problem("domains.mydestination", "x"))


async def test_preflight_installs_postfix(sandbox: Path) -> None:
    from textual.widgets import Button, Log

    from mailwizard.screens.preflight import PreflightScreen

    (sandbox / "etc/postfix/main.cf").unlink()
    runner = RecordingRunner(output="pmstatus:postfix:50:Installing postfix\nSetting up x\n")
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PreflightScreen), what="preflight")
        screen = app.screen
        assert isinstance(screen, PreflightScreen)
        assert screen.query_one("#pre-panel").border_title == "Postfix is not installed"
        # "debian" (from /etc/mailname) is not a full name: the install waits for one.
        await pilot.click("#pre-action")
        await pilot.pause()
        assert runner.calls == []
        await type_into(pilot, "#pre-mailname", "mail.example.com", keys=2)
        await pilot.click("#pre-action")
        await wait_for(pilot, lambda: screen.result is not None, what="install")
        assert screen.result is not None and screen.result.ok
        assert [c.argv[0] for c in runner.calls] == ["debconf-set-selections", "apt-get",
                                                     "apt-get"]
        assert "postfix/mailname string mail.example.com" in str(runner.calls[0].stdin)
        assert runner.calls[2].env == {"DEBIAN_FRONTEND": "noninteractive"}
        assert "swaks" in runner.calls[2].argv
        assert "Setting up x" in "\n".join(screen.query_one(Log).lines)
        assert str(screen.query_one("#pre-action", Button).label) == "Continue"


async def test_preflight_mail_name_takes_a_burst(sandbox: Path, runner: RecordingRunner) -> None:
    """A pasted mail name lands in the field: shift+tab from the focused button moves to it
    before the next key is read, and backspace acts where it was typed."""
    from mailwizard.screens.preflight import PreflightScreen
    from tests.pilot.harness import burst

    (sandbox / "etc/postfix/main.cf").unlink()
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PreflightScreen), what="preflight")
        screen = app.screen
        name = screen.query_one("#pre-mailname", Input)
        assert screen.focused is screen.query_one("#pre-action")
        await burst(pilot, "shift+tab", "end", "ctrl+u", *"mail.example.orgg", "backspace",
                    "tab")
        await pilot.pause()
        assert name.value == "mail.example.org"
        assert screen.focused is screen.query_one("#pre-action")


async def test_preflight_not_root(sandbox: Path, runner: RecordingRunner) -> None:
    from mailwizard.screens.preflight import PreflightScreen

    app = make_app(sandbox, runner, euid=1000)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PreflightScreen), what="preflight")
        assert "sudo mailwizard" in static_text(app.screen, "#pre-message")
        await pilot.click("#pre-action")
        await pilot.pause()
    assert app.return_code == 0
