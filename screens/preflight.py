"""Preflight: not root, not Debian/Ubuntu, or Postfix missing, with the one fixing action.

The checks and the install plan live in ``mailwizard.preflight``; this screen shows them and
runs the install in a thread worker, streaming apt's output into a Log with a ProgressBar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, Log, ProgressBar, Static

from mailwizard import preflight, validate
from mailwizard.preflight import Blocker, InstallResult, Progress

from .common import WizardScreen
from .keys import FOCUS_KEYS, BurstSafeInput
from .step_base import Check


class PreflightScreen(WizardScreen):
    """One blocker: what is wrong, and a button for the action that fixes it."""

    CSS_PATH = Path(__file__).with_name("preflight.tcss")
    BINDINGS: ClassVar[list[Any]] = [*FOCUS_KEYS]  # keys in a burst: see screens/keys.py

    def __init__(self, blocker: Blocker) -> None:
        super().__init__()
        self.blocker = blocker
        self.running = False
        self.result: InstallResult | None = None

    def compose(self) -> ComposeResult:
        head = Text(" mailwizard", style="bold")
        head.append(" › before we start")
        yield Static(head, id="pre-title")
        with Vertical(id="pre-panel") as panel:
            panel.border_title = self.blocker.title
            yield Static(Text(self.blocker.message), id="pre-message")
            if self.blocker.action == "install":
                packages = " ".join(preflight.PACKAGES)
                yield Static(Text(f"Packages: {packages}", style="dim"), id="pre-packages")
                with Horizontal(id="pre-mailname-row"):
                    yield Label("Mail name", id="pre-mailname-label")
                    yield BurstSafeInput(preflight.mailname_guess(self.system), id="pre-mailname",
                                validators=[Check(validate.fqdn)],
                                placeholder="mail.example.com")
                yield Static(self._hint(), id="pre-mailname-message", markup=False)
            yield Button(self.blocker.action_label, id="pre-action", variant="primary")
        if self.blocker.action == "install":
            yield ProgressBar(total=100, show_eta=False, id="pre-progress")
            yield Static(id="pre-current")
            yield Log(id="pre-log", highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        for field_input in self.query(Input):
            field_input.cursor_blink = self.blink
        if self.blocker.action == "install":
            self.query_one("#pre-progress").display = False
            self.query_one("#pre-log").display = False
            self._check_name()
        self.query_one("#pre-action", Button).focus()

    def _hint(self, error: str = "") -> Text:
        if error:
            return Text("✖ " + error, style="bold red")
        return Text("this server's full name, like mail.example.com (the mailwizard "
                    "hostname step can change it later)", style="dim")

    def _check_name(self) -> str | None:
        field_input = self.query_one("#pre-mailname", Input)
        try:
            name = validate.fqdn(field_input.value)
        except validate.Invalid as exc:
            self.query_one("#pre-mailname-message", Static).update(self._hint(str(exc)))
            return None
        self.query_one("#pre-mailname-message", Static).update(self._hint())
        return name

    @on(Input.Changed, "#pre-mailname")
    def _name_changed(self) -> None:
        self._check_name()

    @on(Input.Submitted, "#pre-mailname")
    def _name_submitted(self) -> None:
        self.query_one("#pre-action", Button).press()

    @on(Button.Pressed, "#pre-action")
    def _action(self) -> None:
        if self.blocker.action == "quit":
            self.app.exit()
            return
        if self.result is not None and self.result.ok:
            self._continue()
            return
        if self.running:
            return
        name = self._check_name()
        if name is None:
            self.query_one("#pre-mailname", Input).focus()
            self.notify("Give the mail name first", severity="error")
            return
        if not self.system.run_commands:
            self.notify("Sandbox root (--root): apt-get is not run here.", severity="warning")
            return
        self.running = True
        self.query_one("#pre-action", Button).disabled = True
        self.query_one("#pre-mailname", Input).disabled = True
        self.query_one("#pre-progress").display = True
        self.query_one("#pre-log").display = True
        self._install(preflight.install_plan(name))

    @work(thread=True, exclusive=True, group="install")
    def _install(self, plan: preflight.InstallPlan) -> None:
        log = self.query_one("#pre-log", Log)

        def line(text: str) -> None:
            self.app.call_from_thread(log.write_line, text)

        def progress(p: Progress) -> None:
            self.app.call_from_thread(self._progress, p)

        try:
            result = preflight.run_install(self.system, plan, line, progress)
        except Exception as exc:
            result = InstallResult(False, "install", f"{type(exc).__name__}: {exc}")
        self.app.call_from_thread(self._installed, result)

    def _progress(self, p: Progress) -> None:
        self.query_one("#pre-progress", ProgressBar).update(progress=p.percent)
        self.query_one("#pre-current", Static).update(Text(p.text, style="dim"))

    def _installed(self, result: InstallResult) -> None:
        self.running = False
        self.result = result
        button = self.query_one("#pre-action", Button)
        button.disabled = False
        message = self.query_one("#pre-message", Static)
        if result.ok:
            self.wizard.session.record_install(preflight.PACKAGES)  # the terminal's last line
            message.update(Text("✔ Postfix and the tools are installed.", style="bold green"))
            button.label = "Continue"
            button.focus()
            return
        self.query_one("#pre-mailname", Input).disabled = False
        text = Text("✖ The install failed at: ", style="bold red")
        text.append(result.failed, style="bold")
        text.append(f"\n{result.reason}\n")
        text.append("What to try: ", style="bold")
        text.append("read the output below; check the network and /etc/apt/sources.list, "
                    "then press the button again.")
        message.update(text)
        button.label = "Try again"

    def _continue(self) -> None:
        self.system.cache.clear()
        blockers = preflight.check(self.system, self.wizard.euid)
        self.app.pop_screen()
        if blockers:
            self.app.push_screen(PreflightScreen(blockers[0]))
        elif self.wizard.start_step:
            self.wizard.open_step(self.wizard.start_step)
