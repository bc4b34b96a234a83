"""The Textual screens (installed as ``mailwizard.screens``; import each other relatively).

``SCREENS`` maps a step's name to its screen class: adding a step's screen is a module
(see ``step_base.StepScreen`` for the contract) plus one line here.
"""

from __future__ import annotations

from typing import Any

from .aliases import AliasesScreen
from .apply import ApplyScreen
from .dkim import DkimScreen
from .domains import DomainsScreen
from .help import HelpScreen
from .hostname import HostnameScreen
from .hub import HubScreen
from .preflight import PreflightScreen
from .review import ReviewScreen
from .sasl import SaslScreen
from .spf import SpfScreen
from .step_base import Field, StepScreen
from .tls import TlsScreen

SCREENS: dict[str, type[StepScreen[Any]]] = {
    "hostname": HostnameScreen,
    "domains": DomainsScreen,
    "aliases": AliasesScreen,
    "tls": TlsScreen,
    "spf": SpfScreen,
    "dkim": DkimScreen,
    "sasl": SaslScreen,
}

__all__ = [
    "SCREENS",
    "ApplyScreen",
    "Field",
    "HelpScreen",
    "HubScreen",
    "PreflightScreen",
    "ReviewScreen",
    "StepScreen",
]
