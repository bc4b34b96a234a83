"""Two steps edited on one screen (DKIM with the DMARC policy): one step to the hub.

The answers file keeps each part's own section (``Step.parts``); the hub and the CLI word
use the first part's name, title and status. The second part is planned on top of the
first, as ``answers.plan_all`` would plan their two sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mailwizard.steps.base import Proposal, Status, Step
from mailwizard.system import System

A = TypeVar("A")
B = TypeVar("B")


@dataclass(frozen=True)
class Joint(Generic[A, B]):
    """The answers of both parts."""

    first: A
    second: B


class Composite(Step[Joint[A, B]]):
    """``first`` and ``second`` as one step; ``propose()``'s facts are the first part's."""

    parseable = False  # the parts are parsed, each from its own section

    def __init__(self, first: Step[A], second: Step[B]) -> None:
        self.first = first
        self.second = second
        self.name = first.name  # type: ignore[misc]
        self.title = first.title  # type: ignore[misc]
        self.blurb = first.blurb  # type: ignore[misc]
        self.help = first.help  # type: ignore[misc]
        self.answers = Joint

    def parts(self) -> tuple[Step[Any], ...]:
        return (self.first, self.second)

    def current(self, system: System) -> Joint[A, B]:
        return Joint(self.first.current(system), self.second.current(system))

    def context(self, system: System) -> object:
        return self.first.context(system)

    def propose(self, a: Joint[A, B], system: System) -> Proposal:
        one = self.first.propose(a.first, system)
        view = system
        if one.plan is not None:
            view = system.with_files({f.path: f.after for f in one.plan.changed_files()})
        two = self.second.propose(a.second, view)
        problems = one.problems + two.problems
        plan = None
        if one.plan is not None and two.plan is not None:
            plan = one.plan.then(two.plan)
        return Proposal(problems, plan, one.facts)

    def status(self, system: System) -> Status:
        return self.first.status(system)
