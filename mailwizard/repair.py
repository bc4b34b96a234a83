"""The fix for a hub ✖ that the step's own configuration already describes.

A step's ``current()`` reads what is configured; proposing those very answers again gives
the plan that brings the machine back in line with it: a stopped opendkim started, a stale
aliases.db rebuilt, the chroot copy of sasldb2 refreshed. A ✖ that comes from the settings
themselves (a hostname that is not a full name, an open relay) has no such plan: its step's
form is the fix.
"""

from __future__ import annotations

from typing import Any

from mailwizard.plan import Plan
from mailwizard.steps.base import Step
from mailwizard.system import System


def fix_plan(step: Step[Any], system: System) -> Plan | None:
    """The non-empty plan of today's answers, or None (nothing to fix this way)."""
    if not step.available:
        return None
    try:
        found = step.propose(step.current(system), system)
    except Exception:  # a step that cannot read today's state has no fix to offer
        return None
    if found.plan is None or found.plan.is_empty:
        return None
    return found.plan
