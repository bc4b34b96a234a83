"""The hub's first frame imports only what it shows (issue #9): no step screen, no Markdown
or RichLog, no dnspython, jinja2 or dkimpy; a step's screen module is imported when opened.

Each check runs in a fresh interpreter, since this test session has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Up to the hub on screen with its statuses read, then open the hostname step.
SCRIPT = textwrap.dedent("""
    import asyncio, json, sys, tempfile
    from pathlib import Path
    from tests.pilot.harness import hub_ready, make_app, step_ready
    from tests.support import RecordingRunner, make_sandbox

    async def main():
        sandbox = make_sandbox(Path(tempfile.mkdtemp()) / "root")
        app = make_app(sandbox, RecordingRunner())
        seen = {}
        async with app.run_test(size=(80, 24)) as pilot:
            await hub_ready(pilot)
            seen["hub"] = sorted(sys.modules)
            await pilot.press("enter")
            await step_ready(pilot)
            seen["step"] = sorted(sys.modules)
        print(json.dumps(seen))

    asyncio.run(main())
""")

NOT_FOR_THE_HUB = (
    "dns", "jinja2", "dkim", "markdown_it",
    "textual.widgets._markdown", "textual.widgets._rich_log",
    "mailwizard.screens.step_base", "mailwizard.screens.hostname",
    "mailwizard.screens.aliases", "mailwizard.screens.tls", "mailwizard.screens.sasl",
    "mailwizard.screens.spf", "mailwizard.screens.dkim", "mailwizard.screens.domains",
    "mailwizard.screens.apply", "mailwizard.screens.review", "mailwizard.screens.help",
    "mailwizard.screens.preflight",
)


def modules_seen() -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_hub_imports_no_step_screen_and_opening_a_step_imports_its_screen() -> None:
    seen = modules_seen()
    hub = set(seen["hub"])
    assert "mailwizard.screens.hub" in hub
    loaded = sorted(m for m in NOT_FOR_THE_HUB if m in hub)
    assert loaded == [], f"imported before/at the hub's first frame: {loaded}"
    step = set(seen["step"])
    assert {"mailwizard.screens.hostname", "mailwizard.screens.step_base"} <= step
    assert "mailwizard.screens.dkim" not in step  # only the screen that was opened
