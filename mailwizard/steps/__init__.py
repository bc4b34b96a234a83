"""The ordered registry of steps: the hub, the CLI words, the answers file and apply read it.

``STEPS`` is what the hub lists, one entry per screen; ``SECTIONS`` the answers-file
sections in the same order (a composite step contributes each of its parts).
"""

from __future__ import annotations

from typing import Any

from mailwizard.steps.aliases import AliasesStep
from mailwizard.steps.base import Step
from mailwizard.steps.composite import Composite
from mailwizard.steps.dkim import DkimStep
from mailwizard.steps.dmarc import DmarcStep
from mailwizard.steps.dns import DnsStep
from mailwizard.steps.domains import DomainsStep
from mailwizard.steps.hostname import HostnameStep
from mailwizard.steps.sasl import SaslStep
from mailwizard.steps.spf import SpfStep
from mailwizard.steps.test import LiveTestRow
from mailwizard.steps.tls import TlsStep

STEPS: list[Step[Any]] = [
    HostnameStep(),
    DomainsStep(),
    AliasesStep(),
    TlsStep(),
    SaslStep(),
    SpfStep(),
    Composite(DkimStep(), DmarcStep()),
    DnsStep(),
    LiveTestRow(),
]

SECTIONS: list[Step[Any]] = [part for step in STEPS for part in step.parts()]


def by_name(name: str) -> Step[Any]:
    """The hub's step of that name, else the answers-file section (``dmarc``)."""
    for step in (*STEPS, *SECTIONS):
        if step.name == name:
            return step
    raise KeyError(name)
