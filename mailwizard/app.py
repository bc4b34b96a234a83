"""MailWizardApp: holds the System, the step order (``mailwizard.steps.STEPS``), navigation.

The screen stack is always rooted at the hub: ``mailwizard hostname`` pushes the hub and
then the hostname screen on top, so esc from a directly opened step lands in the hub.
Flow: hub → step screen → review → apply → back to the hub (statuses refresh).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.notifications import SeverityLevel
from textual.screen import Screen

# The screens are installed as mailwizard.screens from the top-level screens/ directory (a
# setuptools package-dir map), which mypy cannot follow: it checks them as "screens".
import mailwizard.screens as ui  # type: ignore[import-not-found,unused-ignore]
from mailwizard import interrupt, journal, preflight
from mailwizard.session import Session
from mailwizard.steps import catalog
from mailwizard.system import System

if TYPE_CHECKING:
    from mailwizard.plan import Plan
    from mailwizard.screens.apply import ApplyScreen  # type: ignore[import-not-found,unused-ignore]
    from mailwizard.steps.base import Step

THEME = "textual-dark"
# A toast's severity as a mark (as on the hub and at the fields), not only its bar's colour.
SEVERITY_MARKS: dict[str, str] = {"error": "✖ ", "warning": "! "}


class StepCommands(Provider):
    """Command palette entries: "Open <step>" for every step in the hub."""

    def _entries(self) -> Iterator[tuple[str, catalog.Entry]]:
        for step in catalog.ENTRIES:
            if step.listed:
                label = f"Open {step.title}"
                app = self.app
                if isinstance(app, MailWizardApp) and not app.can_open(step.name):
                    label += " (not available yet)"
                yield label, step

    def _open(self, name: str) -> None:
        app = self.app
        assert isinstance(app, MailWizardApp)
        app.open_step(name, from_hub=True)

    async def discover(self) -> Hits:
        for label, step in self._entries():
            yield DiscoveryHit(label, partial(self._open, step.name), help=step.blurb or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, step in self._entries():
            score = max(matcher.match(label), matcher.match(step.name))
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._open, step.name),
                          text=label, help=step.blurb or None)


class MailWizardApp(App[None]):
    """The wizard. ``start_step`` opens that step's screen over the hub."""

    TITLE = "mailwizard"
    # The hub's CSS is parsed with the app's own: pushing the first screen then adds no
    # stylesheet, which would mean parsing every rule again before the first frame.
    CSS_PATH: ClassVar[Any] = [ui.HubScreen.CSS_PATH, ui.TOASTS_CSS]
    NOTIFICATION_TIMEOUT: ClassVar[float] = 4
    COMMANDS: ClassVar[Any] = App.COMMANDS | {StepCommands}
    COMMAND_PALETTE_DISPLAY = "^p"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+q", "quit", "quit", key_display="^q", priority=True),
    ]

    def __init__(self, system: System, start_step: str | None = None,
                 *, euid: int | None = None, handle_signals: bool = False) -> None:
        super().__init__()
        self.system = system
        self.start_step = start_step
        self.euid = euid  # tests: pretend to be another user (None: the real one)
        self._steps: list[Step[Any]] | None = None
        self.theme = THEME
        # SIGHUP/SIGTERM/SIGINT stop an apply at a safe point, then quit (the CLI's run)
        self.handle_signals = handle_signals
        self.applying: ApplyScreen | None = None  # the apply that runs now, if any
        self.quit_after_apply = False
        self.session = Session()  # what this run changed: the CLI's last line after it quits

    @property
    def steps(self) -> list[Step[Any]]:
        """The registry's steps, imported on first use (not before the hub's first frame:
        the hub shows ``catalog`` until its status worker has them)."""
        if self._steps is None:
            from mailwizard.steps import STEPS

            self._steps = list(STEPS)
        return self._steps

    def step(self, name: str) -> Step[Any]:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def can_open(self, name: str) -> bool:
        """The step is available and has a screen."""
        return catalog.entry(name).available and name in ui.SCREENS

    def get_default_screen(self) -> Screen[Any]:
        """The hub is the first screen itself (a pushed one would cost the first frame a
        blank default screen's compose and paint before it)."""
        hub: Screen[Any] = ui.HubScreen()
        return hub

    def on_mount(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in interrupt.SIGNALS:
                loop.add_signal_handler(signum, self.on_signal, signum)
        blockers = preflight.check(self.system, self.euid)
        if blockers:
            self.push_screen(ui.PreflightScreen(blockers[0]))
            return
        said = journal.unseen(self.system)  # a signal ended the last apply: say how, once
        if said is not None:  # after the hub is shown: its first resume clears toasts
            self.call_after_refresh(self.notify, said[0].upper() + said[1:],
                                    title="While you were away", severity="warning",
                                    timeout=60)
        found = journal.find(self.system)
        if found is not None:  # an earlier apply never finished: say so first
            from mailwizard.screens.interrupted import (  # type: ignore[import-not-found,unused-ignore]
                InterruptedDialog,
            )

            self.push_screen(InterruptedDialog(found, self.system), self._after_undo)
        elif self.start_step:
            self.open_step(self.start_step)

    def _after_undo(self, undone: bool | None) -> None:
        if undone:
            self.session.record_undo()
            self.back_to_hub()
            hub = self.screen
            if isinstance(hub, ui.HubScreen):
                hub.refresh_statuses()
        if self.start_step:
            self.open_step(self.start_step)

    # Quitting while an apply runs ----------------------------------------------------------

    async def action_quit(self) -> None:
        """ctrl+q: while an apply runs, ask (finish first, or stop and restore) instead;
        otherwise the screen may ask first (a step screen with unsaved edits does)."""
        applying = self.applying
        if applying is None:
            screen = self.screen
            if isinstance(screen, ui.WizardScreen):
                screen.confirm_leave(self.exit, quitting=True)
            else:
                self.exit()  # e.g. on the discard question itself: the admin insists
            return
        if self.quit_after_apply:
            self.notify("mailwizard quits once the apply has finished or been restored.")
            return
        from mailwizard.screens.interrupted import (  # type: ignore[import-not-found,unused-ignore]
            StopApplyDialog,
        )

        def chosen(choice: str | None) -> None:
            if self.applying is None:  # it finished while the dialog was open
                if choice in ("finish", "stop"):
                    self.quit_saying(self.apply_outcome)
                return
            if choice == "finish":
                self.quit_after_apply = True
                self.notify("The apply goes on; mailwizard quits when it has finished.")
            elif choice == "stop":
                self.quit_after_apply = True
                self.applying.cancel.request("ctrl+q (stop and restore)")
                self.notify("Stopping at the next safe point, then restoring every file.")

        self.push_screen(StopApplyDialog(), chosen)

    def on_signal(self, signum: int) -> None:
        """SIGHUP (the SSH connection dropped), SIGTERM, SIGINT: an apply stops at its next
        safe point and restores every file, then the app quits; otherwise it quits now."""
        why = interrupt.describe(signum)
        if self.applying is None:
            self.quit_saying(f"mailwizard: {why}: quit (no apply was running)", 128 + signum)
            return
        self.quit_after_apply = True
        self.applying.cancel.request(why, signum)

    apply_outcome = ""  # what the last apply did, in a line: said after quitting

    def apply_finished(self, screen: ApplyScreen, outcome: str) -> None:
        """The apply screen's report: it ended (``outcome`` says how); quit if asked to."""
        if self.applying is screen:
            self.applying = None
        self.apply_outcome = outcome
        if screen.result is not None:
            self.session.record_apply(screen.plan.steps, screen.result)
        if self.quit_after_apply:
            self.quit_saying(outcome)

    said_on_exit = ""

    def quit_saying(self, message: str, return_code: int = 0) -> None:
        """Quit; the CLI prints ``message`` on the terminal once the screen is gone, as
        written (Textual's exit message would read it as markup and wrap it), then the
        session's outcome line."""
        self.said_on_exit = message
        self.exit(return_code=return_code)

    # Navigation -------------------------------------------------------------------------

    def notify(self, message: str, *, title: str = "",
               severity: SeverityLevel = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every toast (``Widget.notify`` comes here too) is plain text: many hold what the
        admin typed (an alias, a login, a path) or what a server or the OS said, where a
        ``[`` would restyle the toast or break it. An error or a warning starts with its
        mark (on the title when there is one)."""
        mark = SEVERITY_MARKS.get(severity, "")
        if title:
            title = mark + title
        else:
            message = mark + message
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=False)

    def open_step(self, name: str, *, from_hub: bool = False) -> None:
        """Open a step's screen on top of the hub."""
        step = self.step(name)
        if not self.can_open(name):
            self.notify(f"{step.title}: not available yet", severity="warning")
            return
        screen_cls = ui.step_screen(name)
        if not from_hub:
            self.push_screen(screen_cls(step))
            return

        def go() -> None:
            self.back_to_hub()
            self.push_screen(screen_cls(step))

        here = self.screen  # the palette's jump leaves it: it may have unsaved edits
        if isinstance(here, ui.WizardScreen):
            here.confirm_leave(go)
        else:
            go()

    def open_review(self, plan: Plan, title: str) -> None:
        self.push_screen(ui.ReviewScreen(plan, title))

    def start_apply(self, plan: Plan, title: str) -> None:
        self.push_screen(ui.ApplyScreen(plan, title))

    def open_help(self, markdown: str, title: str) -> None:
        self.push_screen(ui.HelpScreen(markdown, title))

    def back_to_hub(self) -> None:
        """Pop every screen above the hub; the hub refreshes its statuses when resumed."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ui.HubScreen):
            self.pop_screen()
