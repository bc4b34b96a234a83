"""At 80×24 (issue 11 item 10): hub statuses are not cut, wrapped diff lines carry a
continuation mark, toasts do not cover "What will change" or the diff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from textual.widgets import Static
from textual.widgets._toast import Toast

from mailwizard.plan import FileChange, Plan
from mailwizard.screens.review import ReviewScreen
from tests.pilot.harness import SIZES, hub_ready, make_app, screen_rows, step_ready, wait_for
from tests.support import RecordingRunner

CONT = "↳"


def _steps_panel(rows: list[str]) -> list[str]:
    """The inside of the hub's Steps box, row by row."""
    inside = []
    for row in rows[2:]:
        if row.startswith("╰"):
            break
        inside.append(row[1:row.index("│", 1)])
    return inside


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_hub_statuses_are_not_cut(sandbox: Path, runner: RecordingRunner,
                                        size: tuple[int, int]) -> None:
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e", "myhostname=localhost",
                    "mynetworks=127.0.0.0/8 10.0.0.0/4"], check=True)
    last = sandbox / "etc/mailwizard/live-last.json"
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text(json.dumps({"checks": {
        f"live.{name}": {"status": status, "detail": ""}
        for name, status in (("receive", "pass"), ("send", "fail"), ("auth", "fail"),
                             ("relay", "pass"), ("dkim", "fail"), ("spf", "pass"))}}))
    app = make_app(sandbox, runner)
    async with app.run_test(size=size) as pilot:
        hub = await hub_ready(pilot)
        panel = _steps_panel(screen_rows(app))
        assert not any("…" in row for row in panel), "\n".join(panel)
        flowing = " ".join(" ".join(panel).split())
        for name, status in hub.statuses.items():
            assert f"{status.symbol} {hub.wizard.step(name).title}" in flowing
            assert status.summary in flowing, (status.summary, panel)
        assert "localhost: not a full name" in flowing
        assert "3/6 passed, send, auth, dkim failed" in flowing
        # A wrapped summary continues under itself, not under the symbols or titles.
        summary_column = panel[0].index("localhost")
        for row in panel:
            if row.strip() and row[0] == " ":
                assert row[:summary_column].strip() == "", row


LONG = ("smtpd_sender_login_maps = hash:/etc/postfix/sender_login_maps, "
        "ldap:/etc/postfix/ldap-senders.cf, pcre:/etc/postfix/senders.pcre")


async def test_wrapped_diff_lines_carry_a_continuation_mark(sandbox: Path,
                                                            runner: RecordingRunner) -> None:
    plan = Plan(files=(FileChange("/etc/postfix/main.cf", b"short = 1\n",
                                  f"short = 1\n{LONG}\n".encode()),))
    app = make_app(sandbox, runner)
    async with app.run_test(size=(80, 24)) as pilot:
        await hub_ready(pilot)
        app.open_review(plan, "Test")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        await pilot.pause()
        rows = [row.strip("│ ") for row in screen_rows(app)]
        first = next(i for i, row in enumerate(rows) if row.startswith("+smtpd_sender_login"))
        assert rows[first + 1].startswith(CONT), rows[first:first + 3]
        flowing = rows[first] + " " + " ".join(
            r.removeprefix(CONT).strip() for r in rows[first + 1:first + 3]
            if r.startswith(CONT))
        assert " ".join(flowing.split()) == "+" + LONG
        # The unwrapped text is what the diff holds (the mark is drawn, not in the text).
        diff = app.screen.query_one("#review-diff", Static)
        assert CONT not in str(getattr(diff.content, "plain", ""))
        assert "+" + LONG in str(getattr(diff.content, "plain", ""))
        # A line that fits gets no mark.
        short = next(i for i, row in enumerate(rows) if row.startswith("short = 1"))
        assert not rows[short + 1].startswith(CONT)


def _overlaps(a: object, b: object) -> bool:
    return bool(a.overlaps(b))  # type: ignore[attr-defined]


async def test_toasts_do_not_cover_what_will_change(sandbox: Path,
                                                    runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await step_ready(pilot)
        screen = app.screen
        app.notify("root removed: review to apply, and a second sentence that wraps a lot")
        await wait_for(pilot, lambda: bool(list(screen.query(Toast))), what="a toast")
        await pilot.pause()
        changes = screen.query_one("#step-changes").region
        for toast in screen.query(Toast):
            assert not _overlaps(toast.region, changes), (toast.region, changes)
            assert not _overlaps(toast.region, screen.query_one("#step-form").region)


async def test_toasts_do_not_cover_the_review_diff_nor_follow_to_it(
        sandbox: Path, runner: RecordingRunner) -> None:
    plan = Plan(files=(FileChange("/etc/postfix/main.cf", b"a = 1\n", b"a = 2\n"),))
    app = make_app(sandbox, runner, start_step="hostname")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await step_ready(pilot)
        app.notify("a toast raised on the form")
        await wait_for(pilot, lambda: bool(list(app.screen.query(Toast))), what="a toast")
        app.open_review(plan, "Hostname")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        await pilot.pause()
        assert not list(app.screen.query(Toast))  # it was about the form
        app.notify("raised on the review, long enough to need two rows at this width")
        await wait_for(pilot, lambda: bool(list(app.screen.query(Toast))), what="a toast")
        await pilot.pause()
        body = app.screen.query_one("#review-body").region
        for toast in app.screen.query(Toast):
            assert not _overlaps(toast.region, body), (toast.region, body)
