"""Pilot tests for what a first-time admin tripped over: breadcrumbs, counts,
unsaved edits, focus, bursts of keys, 80×24 layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from mailwizard.screens.help import HelpScreen
from mailwizard.screens.hub import HubScreen
from tests.pilot.harness import hub_ready, make_app
from tests.support import RecordingRunner


def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if hasattr(content, "plain") else str(content)


async def test_hub_help_breadcrumb_names_mailwizard_once(sandbox: Path,
                                                         runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        assert isinstance(app.screen, HubScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        title = plain(app.screen.query_one("#help-title", Static))
        assert title.strip() == "mailwizard › help"


# The review's header counts what its list shows, from the plan's data -----------

def review_count(review: object) -> int:
    import re

    summary = plain(review.query_one("#review-summary", Static))  # type: ignore[attr-defined]
    found = re.search(r"(\d+) commands? will run", summary)
    assert found, summary
    return int(found.group(1))


def listed_actions(review: object) -> list[str]:
    """The numbered entries of the review's command list."""
    import re

    text = plain(review.query_one("#review-commands", Static))  # type: ignore[attr-defined]
    return [m.group(1) for m in re.finditer(r"^\s*\d+\.\s+(.+)$", text, re.MULTILINE)]


async def test_review_counts_every_command_it_lists(sandbox: Path,
                                                    runner: RecordingRunner) -> None:
    from mailwizard.plan import Command, FileChange, Plan
    from mailwizard.screens.review import ReviewScreen

    plan = Plan(
        files=(FileChange("/etc/postfix/main.cf", b"a = 1\n", b"a = 2\n"),),
        commands=(Command(("newaliases",), "rebuild aliases.db"),
                  Command(("saslpasswd2", "-c", "alice"), "add alice")),
        checks=(Command(("opendkim", "-n"), "check opendkim's configuration"),),
        restart=frozenset({"opendkim"}),
        reload=frozenset({"postfix"}),
    )
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        app.open_review(plan, "Test")
        await pilot.pause()
        review = app.screen
        assert isinstance(review, ReviewScreen)
        listed = listed_actions(review)
        assert listed == ["newaliases", "saslpasswd2 -c alice", "postfix check",
                          "opendkim -n", "restart opendkim",
                          "reload postfix"]
        assert review_count(review) == len(listed) == 6


async def test_domains_review_counts_the_reload(sandbox: Path,
                                                runner: RecordingRunner) -> None:
    from mailwizard.screens.review import ReviewScreen
    from tests.pilot.harness import step_ready, type_into, wait_for

    app = make_app(sandbox, runner, start_step="domains")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        await type_into(pilot, "#field-domains-mynetworks", "127.0.0.0/8, 10.1.2.0/24",
                        keys=1)
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        review = app.screen
        listed = listed_actions(review)
        assert "reload postfix" in listed
        assert review_count(review) == len(listed) > 0


# Keys in a burst on a plain form: each lands in the field it was typed for ------------------

async def test_a_burst_on_a_form_keeps_each_key_in_its_field(
    sandbox: Path, runner: RecordingRunner
) -> None:
    """Over SSH a paste is one burst: tab and enter move the focus before the next key is
    read, and backspace acts where it was typed (before: the keys after tab landed in the
    field left behind, and backspace ran after the keys behind it)."""
    from textual.widgets import Input

    from mailwizard.screens.domains import DomainsScreen
    from tests.pilot.harness import burst, step_ready

    app = make_app(sandbox, runner, start_step="domains")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DomainsScreen)
        first = screen.query_one("#field-domains-mydestination", Input)
        nets = screen.query_one("#field-domains-mynetworks", Input)
        first.focus()
        await pilot.pause()
        await burst(pilot, *"example.com, localhostt", "backspace", "tab",
                    *"127.0.0.0/8", "shift+tab", "end", *", debian")
        await step_ready(pilot)
        assert first.value == "example.com, localhost, debian"
        assert nets.value == "127.0.0.0/8"
        await burst(pilot, "enter", *"10.0.0.0/8")
        await step_ready(pilot)
        assert nets.value == "10.0.0.0/8" and first.value == "example.com, localhost, debian"


@pytest.mark.parametrize("step", ["hostname", "domains", "aliases", "tls", "spf", "dkim",
                                  "sasl", "test"])
async def test_every_text_field_takes_a_burst(sandbox: Path, runner: RecordingRunner,
                                              monkeypatch: pytest.MonkeyPatch,
                                              step: str) -> None:
    """Every Input on every screen is burst-safe and the screen moves the focus on tab as the
    key is read (screens/keys.py): not only the Fields the base class builds."""
    from textual.widgets import Input

    from mailwizard.screens.keys import FOCUS_KEYS, BurstSafeInput
    from tests.pilot import live_replay
    from tests.pilot.harness import wait_for

    live_replay.install(monkeypatch, "all-pass")
    app = make_app(sandbox, runner, start_step=step)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: type(app.screen).__name__ != "HubScreen",
                       what=f"the {step} screen")
        await pilot.pause()
        inputs = list(app.screen.query(Input))
        assert inputs or step == "sasl"  # SASL's fields are in its dialog (tested there)
        plain = [i.id for i in inputs if not isinstance(i, BurstSafeInput)]
        assert plain == [], plain
        bound = [b for bs in app.screen._bindings.key_to_bindings.values() for b in bs]
        for key in FOCUS_KEYS:
            assert any((b.key, b.action, b.priority) == (key.key, key.action, True)
                       for b in bound), key


async def test_a_burst_on_the_dkim_form(sandbox: Path, runner: RecordingRunner) -> None:
    """The DKIM form builds its own Inputs: a burst's backspace acts where it was typed
    (before: after the keys behind it, in the field tab had left)."""
    from textual.widgets import Input

    from tests.pilot.harness import burst, step_ready

    app = make_app(sandbox, runner, start_step="dkim")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        domain = app.screen.query_one("#field-dkim-domain", Input)
        selector = app.screen.query_one("#field-dkim-selector", Input)
        domain.value = ""
        domain.focus()
        await pilot.pause()
        await burst(pilot, *"example.orgg", "backspace", "tab", "end", *"2026x", "backspace")
        await step_ready(pilot)
        assert domain.value == "example.org"
        assert selector.value.endswith("2026") and "x" not in selector.value


async def test_hub_help_tells_what_rollback_does(sandbox: Path, runner: RecordingRunner) -> None:
    """The hub's help says what `mailwizard rollback` does now: --list, a chosen backup ID,
    the preview and the question, --yes (before: "restores the files of the last apply")."""
    from textual.widgets import Markdown

    from mailwizard.cli import _rollback_parser

    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(app.screen.query_one(Markdown).source.split())
    options = {o for a in _rollback_parser()._actions for o in a.option_strings} - {"-h",
                                                                                   "--help"}
    assert options == {"--list", "--yes"}
    for said in ("`mailwizard rollback --list`", "`mailwizard rollback ID`", "`--yes`",
                 "shows what it would change", "then asks", "cannot put back"):
        assert said in shown, said
