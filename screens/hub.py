"""The hub: every step with its live status, the selected step's details, open it.

Statuses are read from the live system in a thread worker (postconf runs are slow), so
the hub is also a health view; they refresh every time the hub comes back to the top.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from mailwizard import postfix, preflight
from mailwizard.plan import Plan
from mailwizard.steps import catalog
from mailwizard.steps.status import Status

from .common import WizardScreen

HUB_HELP = """\
# mailwizard

mailwizard sets up Postfix on this server one step at a time. Each step reads what is
configured **now**, lets you change it, shows the exact diff of every file and every
command, and only then applies it, with a backup of every file. If anything fails,
every file is put back byte for byte.

**The steps, in order.** Hostname → Domains → Aliases → TLS → SASL users → SPF →
DKIM signing → DNS records → Test. Each can be re-run alone, e.g. `mailwizard dkim`.

**The symbols.** `✔` done and healthy · `!` works but needs a look · `✖` a problem to
fix · `·` not done yet.

**Fixing a ✖.** When the step's own settings say how things should be (opendkim
stopped, aliases.db out of date, the chroot copy of the SASL users stale), `f` shows the
plan that puts it right, to review and apply like any change. When the fix is outside
mailwizard (a package to install), the Fix: line says what to run. Otherwise open the step
and change what its line names.

**Keys.** ↑↓ choose a step · ⏎ open it · f fix the ✖ · t the live tests · ctrl+p jump to
any step · q quit.
On a step: ctrl+s review & apply · esc back · f1 help for that step.

**Undo.** Every apply keeps a backup of the files it changes. `mailwizard rollback --list`
lists them, newest first (ID, date, steps, result, files). `mailwizard rollback` (the last
apply) or `mailwizard rollback ID` (that backup) first shows what it would change: the diff
back to the files as they were before that apply, the commands it runs, what happens to each
service, and what it cannot put back (the SASL password database is never kept in a
backup); then asks. `--yes` answers for scripts. It needs root. An apply that never
finished (a kill, a power loss) is offered for undo when the hub opens.
"""

CHECKING = Status("todo", "checking…")


class StepList(OptionList):
    """The step list; its keys show in the footer (↑↓ step, ⏎ open)."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("up", "cursor_up", "step", key_display="↑",
                group=Binding.Group("step", compact=True)),
        Binding("down", "cursor_down", "step", key_display="↓",
                group=Binding.Group("step", compact=True)),
        Binding("enter", "select", "open", key_display="⏎"),
    ]


class StatusRow(Table):
    """A step's row in the list: symbol, title, summary (wrapping under itself).
    ``str()`` is the row as one line of plain text."""

    def __init__(self, symbol: Text, title: Text, summary: Text, title_width: int) -> None:
        super().__init__(box=None, padding=(0, 1), show_header=False, show_edge=False,
                         expand=True, collapse_padding=True, pad_edge=False)
        self.add_column(no_wrap=True, width=1)
        self.add_column(no_wrap=True, width=title_width + 1)
        self.add_column(ratio=1, overflow="fold")
        self.add_row(symbol, title, summary)
        self.line = f"{symbol.plain} {title.plain:<{title_width}}  {summary.plain}"

    def __str__(self) -> str:
        return self.line


class HubScreen(WizardScreen):
    """Header, the step list (left), the selected step's details (right)."""

    CSS_PATH = Path(__file__).with_name("hub.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("f", "fix", "fix"),
        Binding("t", "open_test", "test"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "app.quit", "quit", show=False),
        Binding("r", "refresh", "refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, Status] = {}
        self.fixes: dict[str, Plan] = {}  # a ✖'s fix: the plan of the step's own answers
        self.header_info: tuple[str, str] | None = None  # (myhostname, postfix version)
        self.checking = False

    @property
    def listed(self) -> list[catalog.Entry]:
        """What the hub lists; the steps themselves are loaded by the status worker."""
        return [e for e in catalog.ENTRIES if e.listed]

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), id="hub-header", markup=False)
        with Horizontal(id="hub-body"):
            steps = StepList(*[Option(self._prompt(s), id=s.name) for s in self.listed],
                               id="steps")
            steps.border_title = "Steps"
            yield steps
            with VerticalScroll(id="detail") as detail:
                detail.can_focus = False
                yield Static(id="blurb", markup=False)
                yield Static(id="now", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        steps = self.query_one("#steps", OptionList)
        steps.highlighted = 0
        steps.focus()
        self._show_detail()
        # Button's stylesheet is the largest of any widget here (7 kB, parsed on first
        # mount): the button comes one frame after the first.
        self.call_after_refresh(self._add_open_button)

    def _add_open_button(self) -> None:
        self.query_one("#detail").mount(Button("Open", id="open", variant="primary"))
        self._show_detail()

    def on_screen_resume(self) -> None:
        """Read the statuses whenever the hub is shown (again): something may have changed.

        The reads start once this frame is on screen: their thread would otherwise hold
        the interpreter (importing ``sh``, parsing postconf) while the first frame is drawn.
        """
        if self.app.screen is self:
            self.checking = True
            self.call_after_refresh(self.refresh_statuses)

    # Statuses ---------------------------------------------------------------------------

    def refresh_statuses(self) -> None:
        self.checking = True
        self._read_statuses()

    @work(thread=True, exclusive=True, group="hub-status")
    def _read_statuses(self) -> None:
        worker = get_current_worker()
        system = self.system
        try:
            info = (postfix.get(system, "myhostname") or "?", postfix.version(system) or "?")
        except Exception:  # Postfix missing or unreadable: the preflight says why
            info = ("?", "not installed")
        if not worker.is_cancelled:
            self.app.call_from_thread(self._set_header, info)

        from mailwizard.repair import fix_plan

        steps = {step.name: step for step in self.wizard.steps}  # imports them, in here

        def read(entry: catalog.Entry) -> tuple[Status, Plan | None]:
            step = steps[entry.name]
            try:
                status = step.status(system)
            except Exception as exc:
                return Status("problem", "cannot read", (f"{type(exc).__name__}: {exc}",)), None
            return status, fix_plan(step, system) if status.state == "problem" else None

        # The steps read different files and commands: ask them side by side.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-status") as pool:
            futures = {pool.submit(read, step): step for step in self.listed}
            for future in as_completed(futures):
                if worker.is_cancelled:
                    return
                self.app.call_from_thread(self._set_status, futures[future].name,
                                          *future.result())
        self.app.call_from_thread(self._done_checking)

    def _done_checking(self) -> None:
        self.checking = False

    def _set_header(self, info: tuple[str, str]) -> None:
        self.header_info = info
        self.query_one("#hub-header", Static).update(self._header_text())

    def _set_status(self, name: str, status: Status, fix: Plan | None = None) -> None:
        self.statuses[name] = status
        if fix is None:
            self.fixes.pop(name, None)
        else:
            self.fixes[name] = fix
        self.refresh_bindings()
        self.query_one("#steps", OptionList).replace_option_prompt(
            name, self._prompt(catalog.entry(name)))
        selected = self._selected()
        if selected is not None and selected.name == name:
            self._show_detail()

    # Rendering --------------------------------------------------------------------------

    def _header_text(self) -> Text:
        host, version = self.header_info or ("…", "…")
        os_name = preflight.distro(self.system)
        text = Text(" mailwizard", style="bold")
        text.append(f" · {host} · Postfix {version} · {os_name}")
        return text

    def _prompt(self, step: catalog.Entry) -> StatusRow:
        """Symbol, title, summary; a summary too long for the list wraps under itself
        (at 80×24 "localhost: not a full name" would otherwise lose its meaning to "…")."""
        status = self.statuses.get(step.name, CHECKING)
        width = max(len(s.title) for s in self.listed)
        style = {"ok": "green", "warn": "yellow", "problem": "red"}.get(status.state, "")
        return StatusRow(Text(status.symbol, style=f"bold {style}".strip()),
                         Text(step.title, style="" if step.available else "dim"),
                         Text(status.summary, style="dim"), width)

    def _selected(self) -> catalog.Entry | None:
        index = self.query_one("#steps", OptionList).highlighted
        steps = self.listed
        return steps[index] if index is not None and 0 <= index < len(steps) else None

    def _show_detail(self) -> None:
        step = self._selected()
        if step is None:
            return
        detail = self.query_one("#detail", VerticalScroll)
        detail.border_title = step.title
        self._show_button(step)
        if not step.available:
            self.query_one("#blurb", Static).update(
                Text(f"{step.title} is not available yet in this version of mailwizard.")
            )
            self.query_one("#now", Static).update("")
            return
        self.query_one("#blurb", Static).update(Text(step.blurb))
        status = self.statuses.get(step.name)
        now = Table.grid(padding=(0, 1))
        now.add_column(no_wrap=True, style="bold")
        now.add_column(ratio=1)
        if status is None:
            now.add_row("Now:", Text("checking…", style="dim"))
        else:
            now.add_row(status.symbol, Text(status.summary))
            for i, line in enumerate(status.now):
                now.add_row("Now:" if i == 0 else "", Text(line))
            fix = self.fixes.get(step.name)
            if fix is not None:
                rows = "; ".join(str(row) for row in fix.summary()[:3])
                now.add_row("Fix:", Text(f"press f to review: {rows}"))
            elif status.state == "problem" and status.action:
                now.add_row("Fix:", Text(status.action))
        self.query_one("#now", Static).update(now)

    def _show_button(self, step: catalog.Entry) -> None:
        button = next(iter(self.query("#open").results(Button)), None)
        if button is None:  # the first frame: not mounted yet
            return
        if not step.available:
            button.label, button.disabled = "not available yet", True
        elif self.wizard.can_open(step.name):
            button.label, button.disabled = "Open", False
        else:
            button.label, button.disabled = "screen not available yet", True

    # Actions ----------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#steps")
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#steps")
    def _selected_option(self) -> None:
        self.action_open()

    @on(Button.Pressed, "#open")
    def _open_pressed(self) -> None:
        self.action_open()

    def action_move(self, delta: int) -> None:
        steps = self.query_one("#steps", OptionList)
        steps.focus()
        if delta < 0:
            steps.action_cursor_up()
        else:
            steps.action_cursor_down()

    def action_open(self) -> None:
        step = self._selected()
        if step is not None:
            self.wizard.open_step(step.name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``f`` is offered (and shown in the footer) only for a ✖ that has a fix."""
        if action == "fix":
            step = self._selected() if self.is_mounted else None
            return step is not None and step.name in self.fixes
        return True

    def action_fix(self) -> None:
        step = self._selected()
        if step is not None and step.name in self.fixes:
            self.wizard.open_review(self.fixes[step.name], step.title)

    def action_open_test(self) -> None:
        self.wizard.open_step("test")

    def action_help(self) -> None:
        self.wizard.open_help(HUB_HELP, "mailwizard")

    def action_refresh(self) -> None:
        self.refresh_statuses()
