"""The ordered registry of steps: the hub, the CLI words, the answers file and apply read it.

``STEPS`` is what the hub lists, one entry per screen; ``SECTIONS`` the answers-file
sections in the same order (a composite step contributes each of its parts). Both are
built when first asked for (PEP 562): importing this package imports no step module, so
the hub's first frame needs only ``catalog`` (names, titles, blurbs).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailwizard.steps.base import Step

    STEPS: list[Step[Any]]
    SECTIONS: list[Step[Any]]

_loaded: dict[str, list[Any]] = {}
_lock = threading.RLock()  # the hub's status threads may ask at once: one set of steps


def _load() -> dict[str, list[Any]]:
    with _lock:
        if not _loaded:
            _build()
    return _loaded


def _build() -> None:
    from mailwizard.steps.aliases import AliasesStep
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

    steps: list[Any] = [
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
    _loaded["SECTIONS"] = [part for step in steps for part in step.parts()]
    _loaded["STEPS"] = steps


def __getattr__(name: str) -> Any:
    if name in ("STEPS", "SECTIONS"):
        return _load()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def by_name(name: str) -> Step[Any]:
    """The hub's step of that name, else the answers-file section (``dmarc``)."""
    loaded = _load()
    for step in (*loaded["STEPS"], *loaded["SECTIONS"]):
        if step.name == name:
            return step  # type: ignore[no-any-return]
    raise KeyError(name)
