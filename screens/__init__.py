"""The Textual screens (installed as ``mailwizard.screens``; import each other relatively).

Only the hub is imported with the package: it is the first frame, and every other screen
module (and what it pulls in: Markdown, RichLog, the step screens' widgets) is imported
when that screen is first opened. ``SCREENS`` maps a step's name to ``module.Class`` of
its screen: adding a step's screen is a module (see ``step_base.StepScreen`` for the
contract) plus one line here; ``step_screen(name)`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import WizardScreen
from .hub import HubScreen

TOASTS_CSS = Path(__file__).with_name("toasts.tcss")  # app-wide: where toasts appear

if TYPE_CHECKING:
    from textual.screen import Screen

    from mailwizard.steps.base import Step

    from .apply import ApplyScreen
    from .help import HelpScreen
    from .preflight import PreflightScreen
    from .review import ReviewScreen
    from .step_base import Field, StepScreen
    from .test import LiveTestScreen

SCREENS: dict[str, str] = {
    "hostname": "hostname.HostnameScreen",
    "domains": "domains.DomainsScreen",
    "aliases": "aliases.AliasesScreen",
    "tls": "tls.TlsScreen",
    "spf": "spf.SpfScreen",
    "dkim": "dkim.DkimScreen",
    "sasl": "sasl.SaslScreen",
    "dns": "dns.DnsScreen",
    "test": "test.LiveTestScreen",  # not a StepScreen: it judges instead of asking
}

# The other screens, by the module that defines them: imported on first use (PEP 562).
_LAZY: dict[str, str] = {
    "ApplyScreen": "apply",
    "Field": "step_base",
    "HelpScreen": "help",
    "LiveTestScreen": "test",
    "PreflightScreen": "preflight",
    "ReviewScreen": "review",
    "StepScreen": "step_base",
}


def step_screen(name: str) -> Callable[[Step[Any]], Screen[Any]]:
    """What builds the screen of step ``name`` (a key of ``SCREENS``) from the step: its
    class, the module imported now."""
    module, _, cls = SCREENS[name].rpartition(".")
    screen: Callable[[Step[Any]], Screen[Any]] = getattr(
        import_module(f".{module}", __name__), cls)
    return screen


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "SCREENS",
    "TOASTS_CSS",
    "ApplyScreen",
    "Field",
    "HelpScreen",
    "HubScreen",
    "LiveTestScreen",
    "PreflightScreen",
    "ReviewScreen",
    "StepScreen",
    "WizardScreen",
    "step_screen",
]
