"""DNS records: what to publish, and whether the world sees it (results as they arrive).

The records and the checks come from the core (``mailwizard.dns``, ``mailwizard.report``);
this screen only shows them. The checks run in an async worker: DNS waits without
blocking the screen, the blocking reads (postconf, openssl) run in threads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static

from mailwizard import configcheck, dns, dnscheck, lastreport, report
from mailwizard.checks import CheckResult
from mailwizard.steps.base import Step

from .common import WizardScreen

ZONE_FILE = "/etc/mailwizard/zone.txt"
PENDING = "…"
NEXT_DKIM = "dns.dkim.next"  # a rotation's new record: no check of its own (the DKIM step's)
STYLES = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


def _short(text: str, width: int = 32) -> str:
    """A table cell: the selected row's panel shows the whole text."""
    return text if len(text) <= width else text[:width - 1] + "…"


class DnsScreen(WizardScreen):
    """A row per record (and per check without a record); the selected row's details."""

    CSS_PATH = Path(__file__).with_name("dns.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "back"),
        Binding("c", "copy", "copy value"),
        Binding("s", "save", "save zone"),
        Binding("r", "recheck", "re-check"),
        Binding("f1", "help", "help"),
    ]

    def __init__(self, step: Step[Any], request: report.Request | None = None) -> None:
        super().__init__()
        self.step = step
        self.request = request or report.Request()
        self.config: dns.Config | None = None
        self.records: list[dns.Record] = []
        self.results: dict[str, CheckResult] = {}
        self.rows: list[tuple[dns.Record | None, str]] = []  # (record, check id)
        self.error = ""
        self.running = False

    def compose(self) -> ComposeResult:
        head = Text(" mailwizard", style="bold")
        head.append(f" › {self.step.title}")
        yield Static(head, id="dns-title", markup=False)
        table: DataTable[Text] = DataTable(id="records", cursor_type="row", zebra_stripes=False)
        table.border_title = "Records"
        yield table
        with VerticalScroll(id="dns-detail") as detail:
            detail.can_focus = False
            yield Static(id="dns-selected", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#records", DataTable)
        table.add_columns(" ", "type", "name", "value")
        table.focus()
        self.action_recheck()

    # Checking ---------------------------------------------------------------------------

    def action_recheck(self) -> None:
        self.results = {}
        self.running = True
        self._check()

    @work(exclusive=True, group="dns-check")
    async def _check(self) -> None:
        try:
            config = await asyncio.to_thread(report.prepare, self.system, self.request)
        except report.ReportError as exc:
            self.error = str(exc)
            self.running = False
            self._fill()
            return
        self.config, self.error = config, ""
        self.records = dns.records(config)
        self._fill()
        got: list[CheckResult] = []
        async for result in report.stream(self.system, config, self.request):
            got.append(result)
            self.results[result.id] = result
            self._fill()
        await asyncio.to_thread(lastreport.save, self.system, got)  # the hub's DNS row
        self.running = False
        self._fill()

    # Showing ----------------------------------------------------------------------------

    def _mark(self, check_id: str) -> Text:
        if check_id == NEXT_DKIM:
            return Text("·", style="dim")
        result = self.results.get(check_id)
        if result is None:
            return Text(PENDING if self.running else " ", style="dim")
        return Text(result.mark, style=f"bold {STYLES[result.status]}")

    def _fill(self) -> None:
        table = self.query_one("#records", DataTable)
        row = table.cursor_row
        table.clear()
        self.rows = [(r, r.purpose) for r in self.records]
        shown = {r.purpose for r in self.records}
        extra = [i for i in (*dnscheck.IDS, *configcheck.IDS) if i not in shown]
        self.rows += [(None, i) for i in extra]
        for record, check_id in self.rows:
            if record is not None:
                table.add_row(self._mark(check_id), Text(record.type), Text(record.name),
                              Text(_short(record.value)))
            else:
                result = self.results.get(check_id)
                table.add_row(self._mark(check_id), Text("check", style="dim"), Text(check_id),
                              Text(_short(result.detail) if result else ""))
        if self.rows:
            table.move_cursor(row=min(max(row, 0), len(self.rows) - 1))
        self._show_selected()

    def _selected(self) -> tuple[dns.Record | None, str] | None:
        row = self.query_one("#records", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def _show_selected(self) -> None:
        panel = self.query_one("#dns-detail", VerticalScroll)
        out = self.query_one("#dns-selected", Static)
        if self.error:
            panel.border_title = "Cannot check"
            out.update(Text(self.error))
            return
        chosen = self._selected()
        if chosen is None:
            panel.border_title = "Details"
            out.update(Text("reading the configuration…", style="dim"))
            return
        record, check_id = chosen
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(ratio=1, overflow="fold")
        panel.border_title = Text(f"{record.type} {record.name}" if record else check_id)
        result = self.results.get(check_id)
        if check_id == NEXT_DKIM:
            grid.add_row(" ", Text("the new key of a DKIM rotation: publish it next to the "
                                   "key that signs; the DKIM screen checks it and switches "
                                   "(Published, f8)"))
        elif result is None:
            grid.add_row(PENDING if self.running else " ",
                         Text(f"{check_id}: checking…" if self.running else check_id,
                              style="dim"))
        else:
            grid.add_row(Text(result.mark, style=f"bold {STYLES[result.status]}"),
                         Text(f"{result.status} {check_id}: {result.detail}"))
            if result.expected:
                grid.add_row("expected", Text(result.expected))
            if result.found:
                grid.add_row("found", Text(result.found))
        if record is not None:
            # The record as a registrar's form wants it (c copies the value).
            grid.add_row("name", Text(record.name))
            grid.add_row("type", Text(record.type))
            grid.add_row("value", Text(record.value))
            if record.type == "TXT" and len(record.strings) > 1:
                grid.add_row("zone", Text(record.rdata))
            if record.advice:
                grid.add_row("", Text("set by your hosting provider (reverse DNS), not at the "
                                      "registrar", style="italic"))
        out.update(grid)

    @on(DataTable.RowHighlighted, "#records")
    def _highlighted(self) -> None:
        self._show_selected()

    # Actions ----------------------------------------------------------------------------

    def action_copy(self) -> None:
        chosen = self._selected()
        if chosen is None or chosen[0] is None:
            self.notify("select a record to copy its value", severity="warning")
            return
        record = chosen[0]
        self.app.copy_to_clipboard(record.value)
        self.notify(f"copied the {record.type} value of {record.name}")

    def action_save(self) -> None:
        if self.config is None:
            self.notify("no records yet", severity="warning")
            return
        try:
            self.system.write_atomic(ZONE_FILE, dns.zone_text(self.config).encode(), mode=0o644)
        except OSError as exc:
            self.notify(f"could not save {ZONE_FILE}: {exc}", severity="error")
            return
        self.notify(f"saved the zone text to {ZONE_FILE}")

    def action_help(self) -> None:
        self.wizard.open_help(self.step.help, self.step.title)

    def action_back(self) -> None:
        self.app.pop_screen()
