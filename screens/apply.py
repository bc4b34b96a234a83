"""Apply: run ``mailwizard.apply.apply`` in a thread worker and stream what it does.

Events come from the worker thread through a queue drained on the event loop, a chunk at a
time; the log is a ``StreamLog`` (styled plain lines, only the visible rows drawn), so
10,000 lines of apt output neither slow a key press down nor fill the heap that the
garbage collector walks. Command output is never parsed as markup.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, ProgressBar, Static

from mailwizard.apply import INTERRUPTED, ApplyResult, Event, apply
from mailwizard.interrupt import Cancel
from mailwizard.plan import Plan
from mailwizard.steps.dkim import DkimRecord, made_records, rotation_news

from .common import WizardScreen
from .streamlog import LogLine, StreamLog

NEXT: dict[str, str] = {
    "hostname": "Ask your provider to set the reverse DNS (PTR) of this server's address "
                "to the new name.",
    "domains": "Publish an MX record for each mail domain pointing at this server.",
}
DRAIN_CHUNK = 500  # events taken at a time while output pours in, ...
DRAIN_BUDGET = 0.015  # ... for at most this long per turn of the event loop
GENERIC_NEXT = ("Go on with the next step in the hub; when all are done, publish the DNS "
                "records and run the test.")

STYLES: dict[str, tuple[str, str]] = {
    "phase": ("──", "bold"),
    "run": ("▶", "bold"),
    "line": ("  ", "dim"),
    "ok": ("✔", "green"),
    "fail": ("✖", "bold red"),
    "skip": ("·", "yellow"),
    "restored": ("↺", "yellow"),
    "done": ("✔", "bold green"),
}


def event_text(event: Event) -> Text:
    mark, style = STYLES.get(event.kind, ("", ""))
    text = Text(f"{mark} ", style=style)
    text.append(event.text, style=style if event.kind != "run" else "")
    return text


def event_lines(event: Event) -> list[LogLine]:
    """The log's lines for ``event``, styled as ``event_text`` styles it (the whole line in
    the kind's style); lines after the first aligned with the text, in the same style."""
    mark, style = STYLES.get(event.kind, ("", ""))
    first, *rest = event.text.splitlines() or [""]
    indent = " " * (len(mark) + 1)
    return [LogLine(first, style, mark, style), *(LogLine(indent + line, style) for line in rest)]


class ApplyScreen(WizardScreen):
    """Progress, the command being run, the streamed log, then the outcome."""

    CSS_PATH = Path(__file__).with_name("apply.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "done", "back to the hub"),
        Binding("t", "test", "run the tests"),
        Binding("c", "copy", "copy DKIM record"),
        Binding("enter", "done", "hub", show=False),
    ]

    def __init__(self, plan: Plan, title: str) -> None:
        super().__init__()
        self.plan = plan
        self.step_title = title
        self.result: ApplyResult | None = None
        self.last_lines: list[str] = []
        self._lock = threading.Lock()
        self._pending: list[Event] = []  # from the apply thread, not shown yet
        self._drain_posted = False
        self.records: list[DkimRecord] = []  # keys this apply made: their records to publish
        self.cancel = Cancel()  # ctrl+q's "stop and restore", a signal: stop at a safe point

    def compose(self) -> ComposeResult:
        head = Text(" mailwizard", style="bold")
        head.append(f" › {self.step_title} › apply")
        yield Static(head, id="apply-title")
        yield ProgressBar(total=None, show_eta=False, id="apply-progress")
        yield Static(Text("starting…", style="dim"), id="apply-current")
        yield StreamLog(id="apply-log")
        yield Static(id="apply-outcome")
        yield Static(id="apply-record", markup=False)  # no border: a mouse copy gets the text
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#apply-outcome", Static).display = False
        self.query_one("#apply-record", Static).display = False
        self.wizard.applying = self
        self._run()

    class Drain(Message):
        """Events are waiting in ``_pending``."""

    @work(thread=True, exclusive=True, group="apply")
    def _run(self) -> None:
        def emit(event: Event) -> None:
            # Queue and go on: a command's output is not held up by the screen, and the
            # screen shows what arrived in chunks (``_drain``) rather than a line per call.
            with self._lock:
                self._pending.append(event)
                if self._drain_posted:
                    return
                self._drain_posted = True
            self.post_message(self.Drain())

        try:
            result = apply(self.system, self.plan, emit, self.cancel)
        except Exception as exc:  # apply() reports plan failures; this is a bug or OS error
            result = ApplyResult(False, failed="apply", reason=f"{type(exc).__name__}: {exc}")
        records: list[DkimRecord] = []
        news = ""
        if result.ok:
            try:
                records = made_records(self.plan, self.system)
                news = rotation_news(self.plan, self.system)
            except Exception:  # the key is there; the DKIM screen and `zone` show it too
                records = []
        self.app.call_from_thread(self._finished, result, records, news)

    def on_apply_screen_drain(self) -> None:
        self._drain(DRAIN_BUDGET)

    def _drain(self, budget: float | None = None) -> None:
        """Show the waiting events for up to ``budget`` seconds (all: None); more waiting:
        come back after the next frame, so that key presses are handled in between."""
        deadline = None if budget is None else time.perf_counter() + budget
        while True:
            with self._lock:
                events = self._pending[:DRAIN_CHUNK]
                del self._pending[:DRAIN_CHUNK]
                more = bool(self._pending)
                self._drain_posted = more
            self._show(events)
            if not more:
                return
            if deadline is not None and time.perf_counter() > deadline:
                break
        self.call_after_refresh(self.post_message, self.Drain())

    @property
    def finished(self) -> bool:
        return self.result is not None

    def _show(self, events: list[Event]) -> None:
        """One chunk of events: the log written once, the bar and the current line set to
        the last that changed them."""
        if not events:
            return
        lines: list[LogLine] = []
        for event in events:
            if event.kind == "line":
                self.last_lines = [*self.last_lines[-7:], event.text]
            elif event.kind == "run":
                self.last_lines = []
            lines.extend(event_lines(event))
        progress = [e for e in events if e.total]
        if progress:
            self.query_one("#apply-progress", ProgressBar).update(
                total=progress[-1].total, progress=progress[-1].done)
        current = [e for e in events if e.kind in ("run", "phase")]
        if current:
            self.query_one("#apply-current", Static).update(event_text(current[-1]))
        self.query_one("#apply-log", StreamLog).write_lines(lines)

    def _finished(self, result: ApplyResult, records: list[DkimRecord] | None = None,
                  news: str = "") -> None:
        self._drain()
        self.result = result
        self.records = list(records or [])
        bar = self.query_one("#apply-progress", ProgressBar)
        outcome = Text()
        if result.ok:
            bar.update(total=bar.total or 1, progress=bar.total or 1)
            self.query_one("#apply-current", Static).update(Text("✔ applied", style="bold green"))
            outcome.append("✔ Applied. ", style="bold green")
            outcome.append("What next: ", style="bold")
            hints = [NEXT[s] for s in self.plan.steps if s in NEXT]
            if news:  # a DKIM rotation: which key signs now, and what comes next
                hints.insert(0, news.strip())
            if self.records:
                hints.insert(0, "Publish the DKIM record below at your DNS provider "
                                "(c copies it).")
            outcome.append(" ".join([*hints, GENERIC_NEXT]))
            outcome.append("\nLast step: ", style="bold")
            outcome.append("press ")
            outcome.append("t", style="bold")
            outcome.append(" to prove it works with live SMTP sessions (the Test screen).")
            if result.backup:
                outcome.append("\nUndo with ", style="dim")
                outcome.append("mailwizard rollback", style="bold")
                outcome.append(".", style="dim")
        elif result.failed == INTERRUPTED:
            self.query_one("#apply-current", Static).update(
                Text(f"✖ {result.reason}", style="bold yellow"))
            outcome.append("✖ Stopped: ", style="bold yellow")
            outcome.append(result.reason, style="bold")
            if result.restored:
                outcome.append("\n✔ All files restored", style="bold green")
                outcome.append(": nothing of this apply remains.", style="")
            elif result.backup is None:
                outcome.append("\nNothing was written.", style="")
            else:
                _not_all_restored(outcome, result.backup)
        else:
            self.query_one("#apply-current", Static).update(
                Text(f"✖ failed: {result.failed}", style="bold red"))
            outcome.append("✖ Failed: ", style="bold red")
            outcome.append(result.failed, style="bold")
            reason = result.reason.strip().splitlines()
            for line in reason[-6:]:
                outcome.append(f"\n  {line}", style="")
            if result.restored:
                outcome.append("\n✔ All files restored", style="bold green")
                outcome.append(": nothing was changed.", style="")
            elif result.backup:
                _not_all_restored(outcome, result.backup)
            outcome.append("\nWhat to try: ", style="bold")
            outcome.append("read the output above, fix the cause (or the answers) and "
                           "run the step again.")
        self.refresh_bindings()
        box = self.query_one("#apply-outcome", Static)
        box.update(outcome)
        box.display = True
        box.set_class(result.ok, "-ok")
        box.set_class(not result.ok, "-failed")
        self._show_records()
        # The outcome box took room from the log: keep the log's last lines in view.
        log = self.query_one("#apply-log", StreamLog)
        self.call_after_refresh(log.scroll_end, animate=False, immediate=True)
        self.wizard.apply_finished(self, outcome_line(result))

    def _show_records(self) -> None:
        widget = self.query_one("#apply-record", Static)
        widget.display = bool(self.records)
        text = Text()
        for i, record in enumerate(self.records):
            text.append("\n" if i else "")
            text.append(f"TXT record at {record.name}", style="bold")
            text.append("  c copies the value below\n", style="dim")
            text.append(record.flat)
        widget.update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The tests are offered (and shown in the footer) only after a successful apply;
        the copy only when the apply made a DKIM key."""
        if action == "test":
            return self.result is not None and self.result.ok
        if action == "copy":
            return bool(self.records)
        return True

    def action_copy(self) -> None:
        """The flat record (OSC 52: works over SSH), one line, nothing of the screen's."""
        if self.records:
            self.app.copy_to_clipboard(self.records[0].flat)
            self.notify(f"Copied the record for {self.records[0].name}.")

    def action_test(self) -> None:
        self.wizard.open_step("test", from_hub=True)

    def action_done(self) -> None:
        if self.result is None:
            self.notify("Still applying: wait for it to finish (ctrl+q offers to stop it "
                        "and restore every file).", severity="warning")
            return
        self.wizard.back_to_hub()


def _not_all_restored(outcome: Text, backup: str) -> None:
    """The failed restore in the same words as the CLI's, so the admin knows files differ."""
    outcome.append("\n✖ NOT every file could be restored", style="bold red")
    outcome.append(f": the log above names them; the old files are in {backup}.", style="")


def outcome_line(result: ApplyResult) -> str:
    """The outcome in one line, for the terminal after mailwizard has quit."""
    if result.ok:
        late = f" ({result.reason})" if result.reason else ""
        return f"mailwizard: applied{late}. Backup of the old files: {result.backup}"
    what = (f"apply {result.reason}" if result.failed == INTERRUPTED
            else f"apply failed at {result.failed}: {result.reason.splitlines()[0]}"
            if result.reason else f"apply failed at {result.failed}")
    if result.backup is None:
        return f"mailwizard: {what}; nothing was written."
    if result.restored:
        return f"mailwizard: {what}; every file was restored from {result.backup}."
    return (f"mailwizard: {what}; NOT every file could be restored: the old files are in "
            f"{result.backup}.")
