"""What every mailwizard screen shares: typed access to the app and its System."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.screen import Screen

from mailwizard.system import System

if TYPE_CHECKING:
    from mailwizard.app import MailWizardApp


class WizardScreen(Screen[None]):
    """A Screen of MailWizardApp (``self.wizard``, ``self.system``)."""

    @property
    def wizard(self) -> MailWizardApp:
        from mailwizard.app import MailWizardApp

        app = self.app
        assert isinstance(app, MailWizardApp)
        return app

    @property
    def system(self) -> System:
        return self.wizard.system

    @property
    def blink(self) -> bool:
        """Blinking cursors for people, none for tests and snapshots (headless)."""
        return not self.app.is_headless

    def on_screen_resume(self) -> None:
        """A toast is about the screen it was raised on: it does not follow to the next
        (a form's toast would sit over the review's diff)."""
        self.app.clear_notifications()

    def confirm_leave(self, then: Callable[[], object], *, quitting: bool = False) -> None:
        """Call ``then`` (which throws this screen away: back, or quit) once nothing would
        be lost. Here: at once; a step screen with unsaved edits asks first."""
        then()
