"""The domains step's screen: mydestination and mynetworks as comma-separated lists."""

from __future__ import annotations

from textual.app import ComposeResult

from mailwizard import validate
from mailwizard.steps.domains import DomainsAnswers

from .step_base import Field, StepScreen

DESTINATIONS = "domains.mydestination"
NETWORKS = "domains.mynetworks"


class DomainsScreen(StepScreen[DomainsAnswers]):
    """Two list fields; every item is checked and a wrong one is named."""

    def compose_form(self) -> ComposeResult:
        yield Field("Domains", DESTINATIONS, check=validate.destination, each=True,
                    placeholder="example.com, $myhostname, localhost",
                    hint="domains delivered here, separated by commas")
        yield Field("Trusted nets", NETWORKS, check=validate.network, each=True,
                    placeholder="127.0.0.0/8, [::1]/128",
                    hint="networks that may send without a login; keep it to 127.0.0.0/8")

    def answers_from_form(self) -> DomainsAnswers:
        return DomainsAnswers(mydestination=self.items(DESTINATIONS),
                              mynetworks=self.items(NETWORKS))

    def fill_form(self, answers: DomainsAnswers) -> None:
        self.set_items(DESTINATIONS, answers.mydestination)
        self.set_items(NETWORKS, answers.mynetworks)
