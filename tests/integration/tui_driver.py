"""Drive the real app (pilot) on this machine: hub → Hostname → review → apply → hub.

Run inside a test namespace as root (``python -m tests.integration.tui_driver FQDN``) against
the real Postfix, with the real runner. Prints one JSON object: what the screens showed.
"""

from __future__ import annotations

import asyncio
import json
import sys

from textual.widgets import OptionList, Static

from mailwizard.app import MailWizardApp
from mailwizard.screens.apply import ApplyScreen
from mailwizard.screens.hub import HubScreen
from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.streamlog import StreamLog
from mailwizard.system import System
from tests.pilot.harness import hub_ready, step_ready, type_into, wait_for


def text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def drive(fqdn: str) -> dict[str, object]:
    app = MailWizardApp(System())
    out: dict[str, object] = {}
    async with app.run_test(size=(100, 32)) as pilot:
        await hub_ready(pilot)
        hub = app.screen
        assert isinstance(hub, HubScreen)
        out["hub_before"] = hub.statuses["hostname"].summary
        steps = hub.query_one("#steps", OptionList)
        steps.highlighted = [s.name for s in hub.listed].index("hostname")
        await pilot.press("enter")
        await step_ready(pilot)
        out["step"] = type(app.screen).__name__
        await type_into(pilot, "#field-hostname-fqdn", fqdn)
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        out["review_diff"] = text(app.screen, "#review-diff")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen), what="apply")
        applying = app.screen
        assert isinstance(applying, ApplyScreen)
        await wait_for(pilot, lambda: applying.finished, timeout=120, what="apply to finish")
        assert applying.result is not None
        out["ok"] = applying.result.ok
        out["outcome"] = text(applying, "#apply-outcome")
        out["log"] = list(applying.query_one(StreamLog).lines)
        await pilot.press("escape")
        await hub_ready(pilot)
        hub = app.screen
        assert isinstance(hub, HubScreen)
        status = hub.statuses["hostname"]
        out["hub_after"] = [status.state, status.summary]
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(drive(sys.argv[1]))))
