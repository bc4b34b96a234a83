"""Pilot tests: a ✖ on the hub leads to the plan that fixes it, reviewed and applied as any
change."""

from __future__ import annotations

from pathlib import Path

from mailwizard.apply import apply
from mailwizard.screens.hub import HubScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.steps import by_name
from mailwizard.steps.composite import Joint
from mailwizard.steps.dkim import DkimAnswers
from mailwizard.steps.dmarc import DmarcAnswers
from tests.pilot.harness import apply_from_review, hub_ready, make_app, static_text, wait_for
from tests.support import RecordingRunner, fake_genkey, sandbox_system


async def _fix(pilot: object, app: object, step: str) -> ReviewScreen:
    """Highlight ``step`` on the hub, press f, return the review screen."""
    hub = app.screen  # type: ignore[attr-defined]
    assert isinstance(hub, HubScreen)
    index = [s.name for s in hub.listed].index(step)
    for _ in range(index):
        await pilot.press("down")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: step in hub.fixes, what=f"a fix for {step}")  # type: ignore[arg-type]
    await pilot.press("f")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen),  # type: ignore[arg-type,attr-defined]
                   what="the review")
    review = app.screen  # type: ignore[attr-defined]
    assert isinstance(review, ReviewScreen)
    return review


async def test_stale_aliases_db_is_rebuilt_from_the_hub(sandbox: Path,
                                                        runner: RecordingRunner) -> None:
    aliases = sandbox / "etc/aliases"
    aliases.write_text(aliases.read_text() + "root: admin@example.net\n")  # map not rebuilt
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["aliases"].summary == "aliases.db out of date"
        review = await _fix(pilot, app, "aliases")
        assert "postalias hash:" in static_text(review, "#review-commands")
        screen = await apply_from_review(pilot)
        assert screen.result is not None and screen.result.ok
    assert any(argv[0] == "postalias" for argv in runner.argvs())


async def test_stopped_opendkim_is_started_from_the_hub(sandbox: Path,
                                                        runner: RecordingRunner) -> None:
    # DKIM configured as an apply leaves it, then opendkim stopped (no pid file).
    setup = RecordingRunner(effects={"opendkim-genkey": fake_genkey(sandbox)})
    system = sandbox_system(sandbox, setup)
    step = by_name("dkim")
    plan = step.plan(Joint(DkimAnswers("example.com"), DmarcAnswers("none", "")), system)

    assert apply(system, plan).ok
    (sandbox / "run/opendkim/opendkim.pid").unlink(missing_ok=True)
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["dkim"].summary == "opendkim not running"
        review = await _fix(pilot, app, "dkim")
        commands = static_text(review, "#review-commands")
        assert "opendkim -x /etc/opendkim.conf -P /run/opendkim/opendkim.pid" in commands
        assert "commands will run" in static_text(review, "#review-summary")
        screen = await apply_from_review(pilot)
        assert screen.result is not None and screen.result.ok
    assert ("opendkim", "-x", "/etc/opendkim.conf", "-P", "/run/opendkim/opendkim.pid") in (
        runner.argvs())


async def test_a_problem_with_no_fix_of_its_own_offers_none(sandbox: Path,
                                                            runner: RecordingRunner) -> None:
    """The fresh fixture's hostname (``debian``) is a ✖ that only the form can fix."""
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["hostname"].state == "problem"
        assert "hostname" not in hub.fixes
        await pilot.press("f")
        assert app.screen is hub


async def test_a_missing_spf_checker_says_what_to_install(sandbox: Path,
                                                         runner: RecordingRunner) -> None:
    """Incoming mail checked by postfix-policyd-spf-perl, and the package gone: no plan fixes
    that, so the hub's Fix: line says in words what to run (f offers nothing)."""
    from mailwizard.steps.spf import SpfAnswers

    system = sandbox_system(sandbox, RecordingRunner())
    assert apply(system, by_name("spf").plan(SpfAnswers(), system)).ok
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        hub = await hub_ready(pilot)
        assert hub.statuses["spf"].summary == "policyd-spf not installed"
        assert "spf" not in hub.fixes
        index = [s.name for s in hub.listed].index("spf")
        for _ in range(index):
            await pilot.press("down")
        await pilot.pause()
        now = " ".join(static_text(hub, "#now").split())
        assert "Fix: run: apt-get install postfix-policyd-spf-perl" in now, now
