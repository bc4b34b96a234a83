"""Test: the live SMTP sessions, one tab each, streamed line by line as telnet would show them.

The sessions run in an async worker (``mailwizard.livetest.run_session``); each line comes
back as a message. Server text is written as Rich ``Text`` (never parsed as markup).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Input, Label, RichLog, Static, TabbedContent, TabPane

from mailwizard import livecontext, livetest
from mailwizard.checks import MARKS, CheckResult, TranscriptLine
from mailwizard.secret import Secret
from mailwizard.steps import test as saved
from mailwizard.steps.base import Step

from .common import WizardScreen
from .keys import FOCUS_KEYS, BurstSafeInput

HELP = """\
# Test

Each tab is one live SMTP session against this server, shown the way the guide shows a
telnet session: **your side in bold**, the server's replies plain, the seconds since the
start dimmed. Under it: the verdict and what to do, and the `swaks` command that repeats
the session by hand.

- **Receive**: the public address, port 25, mail to postmaster, found in the mailbox.
- **Send**: a message to your outside address, followed in the mail log to its end.
- **Auth**: no AUTH before STARTTLS; after it, your user logs in (needs its password).
- **Relay**: a stranger may not send through this server to another domain.
- **DKIM**: a message through the server carries a signature that verifies.
- **SPF**: a sender that passes is marked `Received-SPF: pass`.

**Keys.** f5 run all (or ⏎ in a field) · f6 re-run this tab · f7 copy this transcript
(OSC 52, works over SSH) · ctrl+pgup/pgdn or click: tabs · esc back · f1 help.

The password is never shown, saved or logged: the transcript shows `••••••`.
"""

STYLES = {"client": "bold", "server": "", "tls": "italic", "note": "dim italic"}
ARROWS = {"client": "C:", "server": "S:", "tls": "**", "note": "--"}


def line_text(line: TranscriptLine) -> Text:
    """``  0.012  S: 250 ok`` with the time dim and the client's lines bold."""
    text = Text(f"{line.elapsed:7.3f} ", style="dim")
    text.append(f"{ARROWS[line.kind]} ", style="dim")
    text.append(line.text, style=STYLES[line.kind])
    return text


def verdict_text(result: CheckResult | None) -> Text:
    if result is None:
        return Text("running…", style="dim")
    style = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}.get(
        result.status, "bold")
    text = Text(f"{result.mark} {result.status}  ", style=style)
    text.append(result.detail)
    if result.command:
        text.append("\nrepeat by hand: ", style="dim")
        text.append(result.command)
    return text


def tab_label(title: str, result: CheckResult | None, running: bool) -> str:
    mark = "…" if running else (MARKS[result.status] if result else "·")
    return f"{mark} {title}"


class LiveTestScreen(WizardScreen):
    """Fields for the outside address and the user, then a tab per session."""

    CSS_PATH = Path(__file__).with_name("test.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "back"),
        Binding("f5", "run_all", "run all"),
        Binding("f6", "run_this", "re-run this"),
        Binding("f7", "copy", "copy transcript"),
        Binding("f1", "help", "help"),
        *FOCUS_KEYS,  # keys in a burst: see screens/keys.py
    ]

    class Line(Message):
        def __init__(self, test_id: str, line: TranscriptLine) -> None:
            super().__init__()
            self.test_id, self.line = test_id, line

    class Done(Message):
        def __init__(self, result: CheckResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, step: Step[Any] | None = None, *, autorun: bool = True) -> None:
        super().__init__()
        self.autorun = autorun
        self.results: dict[str, CheckResult] = {}
        self.running: set[str] = set()
        self.lines: dict[str, list[TranscriptLine]] = {t.id: [] for t in livetest.TESTS}

    @staticmethod
    def pane_id(test_id: str) -> str:
        return test_id.replace(".", "-")

    def compose(self) -> ComposeResult:
        head = Text(" mailwizard", style="bold")
        head.append(" › Test")
        yield Static(head, id="test-title")
        with Horizontal(id="test-inputs"):
            yield Label("To")
            yield BurstSafeInput(placeholder="you@outside.example", id="to", compact=True)
            yield Label("User")
            yield BurstSafeInput(placeholder="user@example.com", id="user", compact=True)
            yield Label("Password")
            yield BurstSafeInput(password=True, id="password", compact=True)
        with TabbedContent(id="tests"):
            for t in livetest.TESTS:
                with TabPane(tab_label(t.title, None, False), id=self.pane_id(t.id)):
                    yield RichLog(id=f"log-{self.pane_id(t.id)}", markup=False,
                                  highlight=False, wrap=True)
                    yield Static(Text("not run yet", style="dim"),
                                 id=f"verdict-{self.pane_id(t.id)}", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        last = saved.last_inputs(self.system)
        self.query_one("#to", Input).value = last.get("to", "")
        self.query_one("#user", Input).value = last.get("user", "")
        if self.autorun:
            self.action_run_all()

    # Running ----------------------------------------------------------------------------

    def _inputs(self) -> tuple[str | None, str | None, Secret | None]:
        to = self.query_one("#to", Input).value.strip() or None
        user = self.query_one("#user", Input).value.strip() or None
        password = self.query_one("#password", Input).value
        return to, user, Secret(password) if password else None

    def _start(self, ids: list[str]) -> None:
        ids = [i for i in ids if i not in self.running]
        if not ids:
            return
        for test_id in ids:
            self.running.add(test_id)
            self.results.pop(test_id, None)
            self.lines[test_id] = []
            pane = self.pane_id(test_id)
            self.query_one(f"#log-{pane}", RichLog).clear()
            self.query_one(f"#verdict-{pane}", Static).update(verdict_text(None))
            self._relabel(test_id)
        self._run(ids, *self._inputs())

    @work(exclusive=False, group="live")
    async def _run(self, ids: list[str], to: str | None, user: str | None,
                   password: Secret | None) -> None:
        try:
            ctx = await asyncio.to_thread(livecontext.build, self.system, to=to, user=user,
                                          password=password)
        except livecontext.LiveError as exc:
            for test_id in ids:
                self.post_message(self.Done(CheckResult(test_id, "fail", str(exc))))
            return

        async def one(test_id: str) -> CheckResult:
            def sink(line: TranscriptLine) -> None:
                self.post_message(self.Line(test_id, line))

            result = await livetest.run_session(test_id, ctx, sink)
            self.post_message(self.Done(result))
            return result

        results = await asyncio.gather(*(one(i) for i in ids))
        await asyncio.to_thread(saved.save, self.system, results, to=to, user=user)

    @on(Line)
    def _line(self, message: LiveTestScreen.Line) -> None:
        self.lines[message.test_id].append(message.line)
        pane = self.pane_id(message.test_id)
        self.query_one(f"#log-{pane}", RichLog).write(line_text(message.line))

    @on(Done)
    def _done(self, message: LiveTestScreen.Done) -> None:
        result = message.result
        self.results[result.id] = result
        self.running.discard(result.id)
        pane = self.pane_id(result.id)
        if not self.lines[result.id]:  # the transcript came only with the result
            for line in result.transcript:
                self.lines[result.id].append(line)
                self.query_one(f"#log-{pane}", RichLog).write(line_text(line))
        self.query_one(f"#verdict-{pane}", Static).update(verdict_text(result))
        self._relabel(result.id)

    def _relabel(self, test_id: str) -> None:
        title = livetest.by_id(test_id).title
        tab = self.query_one(TabbedContent).get_tab(self.pane_id(test_id))
        tab.label = tab_label(title, self.results.get(test_id), test_id in self.running)

    # Actions ----------------------------------------------------------------------------

    def _active_test(self) -> str:
        active = self.query_one(TabbedContent).active or self.pane_id(livetest.IDS[0])
        return active.replace("-", ".", 1)

    def action_run_all(self) -> None:
        self._start(list(livetest.IDS))

    def action_run_this(self) -> None:
        self._start([self._active_test()])

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_run_all()

    def transcript_text(self, test_id: str) -> str:
        lines = [line.render() for line in self.lines[test_id]]
        result = self.results.get(test_id)
        if result is not None:
            lines.append(f"{result.mark} {result.status}: {result.detail}")
            if result.command:
                lines.append(f"repeat by hand: {result.command}")
        return "\n".join(lines) + "\n"

    def action_copy(self) -> None:
        test_id = self._active_test()
        self.app.copy_to_clipboard(self.transcript_text(test_id))
        self.notify(f"{livetest.by_id(test_id).title}: transcript copied")

    def action_help(self) -> None:
        self.wizard.open_help(HELP, "Test")

    def action_back(self) -> None:
        self.wizard.back_to_hub()
