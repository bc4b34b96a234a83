"""The ordered registry of steps: the hub, the CLI words, the answers file and apply read it."""

from __future__ import annotations

from typing import Any

from mailwizard.steps.aliases import AliasesStep
from mailwizard.steps.base import Step, Unavailable
from mailwizard.steps.dkim import DkimStep
from mailwizard.steps.dmarc import DmarcStep
from mailwizard.steps.domains import DomainsStep
from mailwizard.steps.hostname import HostnameStep
from mailwizard.steps.sasl import SaslStep
from mailwizard.steps.spf import SpfStep
from mailwizard.steps.tls import TlsStep

STEPS: list[Step[Any]] = [
    HostnameStep(),
    DomainsStep(),
    AliasesStep(),
    TlsStep(),
    SaslStep(),
    SpfStep(),
    DkimStep(),
    DmarcStep(),
    Unavailable("dns", "DNS records"),
    Unavailable("test", "Test"),
]

def by_name(name: str) -> Step[Any]:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(name)
