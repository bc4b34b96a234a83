"""The hostname step's screen (``mailwizard/steps/hostname.py`` decides and plans)."""

from __future__ import annotations

from textual.app import ComposeResult

from mailwizard import validate
from mailwizard.steps.hostname import HostnameAnswers

from .step_base import Field, StepScreen

FQDN = "hostname.fqdn"


class HostnameScreen(StepScreen[HostnameAnswers]):
    """One field: the server's full name."""

    def compose_form(self) -> ComposeResult:
        yield Field("Full name", FQDN, check=validate.fqdn, placeholder="mail.example.com",
                    hint="a full name under your domain, like mail.example.com")

    def answers_from_form(self) -> HostnameAnswers:
        return HostnameAnswers(fqdn=self.value(FQDN).strip())

    def fill_form(self, answers: HostnameAnswers) -> None:
        self.set_value(FQDN, answers.fqdn)
