"""smtpd_relay_restrictions: what stops strangers relaying, read and written as plain lists.

Shared by the domains step (which makes sure the list ends relaying with a guard) and the
SASL step (which puts ``permit_sasl_authenticated`` before that guard). An expression on
``$compatibility_level`` in main.cf (Postfix's default written out, or what an older
mailwizard wrote) becomes the plain list it means here, so both steps write the same value
and each leaves the other's alone.
"""

from __future__ import annotations

from mailwizard import postfix
from mailwizard.system import System

RELAY_GUARDS = ("reject_unauth_destination", "defer_unauth_destination")
# Written where main.cf leaves smtpd_relay_restrictions at Postfix's default (an expression on
# $compatibility_level): what the default means, as a person would write it by hand.
PLAIN_RELAY = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
_DEFAULT_ITEMS = frozenset({"permit_mynetworks", "permit_sasl_authenticated", *RELAY_GUARDS})


def with_sasl_relay(current: str) -> str:
    """Put ``permit_sasl_authenticated`` before the relay guard when it is missing."""
    items = postfix.split_list(current)
    if "permit_sasl_authenticated" in items:
        return current
    at = next((i for i, item in enumerate(items) if item in RELAY_GUARDS), len(items))
    items.insert(at, "permit_sasl_authenticated")
    return " ".join(items)


def on_compatibility_level(value: str) -> bool:
    """A value holding an expression on ``$compatibility_level``: Postfix's default written
    out, or what an older mailwizard wrote (that default, then permit_sasl_authenticated)."""
    return "$compatibility_level" in value or "${compatibility_level}" in value


def plain_relay(system: System, *, sasl: bool = True) -> str:
    """The plain list an expression on ``$compatibility_level`` in smtpd_relay_restrictions
    means here: what Postfix evaluates it to, the default's own restrictions once each (a
    repeated one never decides anything; the older mailwizard's value repeats
    permit_sasl_authenticated), ending relaying with a guard (``reject_unauth_destination``
    added when it evaluates to none, e.g. to nothing at compatibility level 0). When it holds
    nothing but those, the list written for the default (PLAIN_RELAY). With ``sasl``,
    permit_sasl_authenticated stands before the guard (the SASL step's need)."""
    items: list[str] = []
    for item in postfix.split_list(postfix.expanded(system, "smtpd_relay_restrictions")):
        if item not in _DEFAULT_ITEMS or item not in items:  # arguments (tables) may repeat
            items.append(item)
    if set(items) <= _DEFAULT_ITEMS:
        return PLAIN_RELAY
    guard = next((i for i, item in enumerate(items) if item in RELAY_GUARDS), None)
    if guard is None:
        items.append("reject_unauth_destination")
        guard = len(items) - 1
    if "permit_sasl_authenticated" in items[guard:]:  # after the guard it never permits
        items.remove("permit_sasl_authenticated")
    plain = " ".join(items)
    return with_sasl_relay(plain) if sasl else plain
