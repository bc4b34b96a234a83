"""MailWizardApp: holds the System, the step order (``mailwizard.steps.STEPS``), navigation.

The screen stack is always rooted at the hub: ``mailwizard hostname`` pushes the hub and
then the hostname screen on top, so esc from a directly opened step lands in the hub.
Flow: hub → step screen → review → apply → back to the hub (statuses refresh).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

# The screens are installed as mailwizard.screens from the top-level screens/ directory (a
# setuptools package-dir map), which mypy cannot follow: it checks them as "screens".
import mailwizard.screens as ui  # type: ignore[import-not-found,unused-ignore]
from mailwizard import preflight
from mailwizard.plan import Plan
from mailwizard.steps import STEPS
from mailwizard.steps.base import Step
from mailwizard.system import System

THEME = "textual-dark"


class StepCommands(Provider):
    """Command palette entries: "Open <step>" for every step in the hub."""

    def _entries(self) -> Iterator[tuple[str, Step[Any]]]:
        for step in STEPS:
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
    CSS_PATH = ui.HubScreen.CSS_PATH
    COMMANDS: ClassVar[Any] = App.COMMANDS | {StepCommands}
    COMMAND_PALETTE_DISPLAY = "^p"
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+q", "quit", "quit", key_display="^q", priority=True),
    ]

    def __init__(self, system: System, start_step: str | None = None,
                 *, euid: int | None = None) -> None:
        super().__init__()
        self.system = system
        self.start_step = start_step
        self.euid = euid  # tests: pretend to be another user (None: the real one)
        self.steps: list[Step[Any]] = list(STEPS)
        self.theme = THEME

    def step(self, name: str) -> Step[Any]:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def can_open(self, name: str) -> bool:
        """The step is available and has a screen."""
        return self.step(name).available and name in ui.SCREENS

    def on_mount(self) -> None:
        self.push_screen(ui.HubScreen())
        blockers = preflight.check(self.system, self.euid)
        if blockers:
            self.push_screen(ui.PreflightScreen(blockers[0]))
        elif self.start_step:
            self.open_step(self.start_step)

    # Navigation -------------------------------------------------------------------------

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

    async def action_quit(self) -> None:
        """ctrl+q: the screen may ask first (a step screen with unsaved edits does)."""
        screen = self.screen
        if isinstance(screen, ui.WizardScreen):
            screen.confirm_leave(self.exit, quitting=True)
        else:
            self.exit()  # e.g. on the discard question itself: the admin insists

    def back_to_hub(self) -> None:
        """Pop every screen above the hub; the hub refreshes its statuses when resumed."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ui.HubScreen):
            self.pop_screen()
