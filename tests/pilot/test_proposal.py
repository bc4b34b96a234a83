"""One proposal per pause in typing: a Postfix edit is staged once, not once to validate and
again to plan (each staging runs postconf on a copy of main.cf/master.cf), and an edit
staged before (a keystroke typed back) is not staged again."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.pilot.harness import make_app, step_ready, type_into
from tests.support import RecordingRunner, SandboxReader


class CountingReader(SandboxReader):
    """The sandbox's real reader, counting stagings: ``postconf -c <stage dir>``, the
    check of every staged edit."""

    def __init__(self) -> None:
        super().__init__()
        self.stagings = 0

    def run(self, argv: Sequence[str], **kwargs: Any) -> Any:
        argv = tuple(argv)
        if argv[:2] == ("postconf", "-c") and "mailwizard-stage-" in argv[2] and \
                argv[3:] == ():
            self.stagings += 1
        return super().run(argv, **kwargs)


# (step, fields typed (or, for None, toggled) first, the Input typed into last: each case
# leaves a Postfix edit to stage)
CASES = [
    ("dkim", [("#field-dmarc-rua", "postmaster@example.org")],
     ("#field-dkim-domain", "example.org")),
    ("spf", [("#spf-incoming", None)], ("#field-spf-extra", "ip4:192.0.2.1")),
    ("hostname", [], ("#field-hostname-fqdn", "mx.example.org")),
]


@pytest.mark.parametrize(("step", "first", "last"), CASES)
async def test_one_staging_per_keystroke(sandbox: Path, step: str,
                                         first: list[tuple[str, str | None]],
                                         last: tuple[str, str]) -> None:
    selector, text = last
    reader = CountingReader()
    app = make_app(sandbox, RecordingRunner(reader=reader), start_step=step)
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        for where, value in first:
            if value is None:
                app.screen.query_one(where).focus()
                await pilot.press("space")
            else:
                await type_into(pilot, where, value, keys=1)
        await type_into(pilot, selector, text[:-1], keys=1)
        await step_ready(pilot)
        screen: Any = app.screen
        assert screen.plan is not None and not screen.plan.is_empty, screen.problems
        reader.stagings = 0
        app.system.cache.clear()  # a new edit for the staging cache (each is staged once)
        await pilot.press(text[-1])
        await step_ready(pilot)
        assert screen.plan is not None, screen.problems
        assert reader.stagings == 1
        diff = screen.plan.diff()
        # Typed away and back: the edit staged a moment ago is not staged again.
        await pilot.press("backspace")
        await step_ready(pilot)
        stagings = reader.stagings
        await pilot.press(text[-1])
        await step_ready(pilot)
        assert reader.stagings == stagings
        assert screen.plan is not None and screen.plan.diff() == diff
