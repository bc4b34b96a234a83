"""The ordered registry of steps: the hub, the CLI words, the answers file and apply read it."""

from __future__ import annotations

from typing import Any

from mailwizard.steps.base import Step, Unavailable
from mailwizard.steps.domains import DomainsStep
from mailwizard.steps.hostname import HostnameStep

STEPS: list[Step[Any]] = [
    HostnameStep(),
    DomainsStep(),
    Unavailable("aliases", "Aliases"),
    Unavailable("tls", "TLS"),
    Unavailable("sasl", "SASL users"),
    Unavailable("spf", "SPF"),
    Unavailable("dkim", "DKIM signing"),
    Unavailable("dns", "DNS records"),
    Unavailable("test", "Test"),
]

# Answers-file sections that belong to a step but are not a step of their own.
EXTRA_SECTIONS: dict[str, str] = {}


def by_name(name: str) -> Step[Any]:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(name)


def names() -> list[str]:
    return [step.name for step in STEPS]
