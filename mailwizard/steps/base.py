"""What every step is: read the live system, propose a change for answers, report a status.

A step never writes. Its screen (``screens/<name>.py``) shows its fields; its answers-file
section has the same keys as its ``Answers`` dataclass.

The protocol a step implements (and all a screen, the CLI or ``answers.plan_all`` call):

* ``current(system)``: the answers that describe what is configured now.
* ``propose(answers, system)``: one ``Proposal`` = the problems (each naming its field), the
  plan (None when a problem is an error) and ``facts``, anything else the screen shows for
  these answers (the DKIM record to publish). It reads, never writes, and stages a Postfix
  edit at most once: a screen calls it once per pause in typing.
* ``context(system)``: what the machine offers the form whatever the answers (the Let's
  Encrypt pair for TLS); read once, in a worker, when the screen opens. Default: None.
* ``status(system)``: the hub's line.

``validate()`` and ``plan()`` are shorthands over ``propose()`` for tests and scripts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from mailwizard.plan import Plan
from mailwizard.steps.status import State as State  # re-exported: steps import it from here
from mailwizard.steps.status import Status as Status
from mailwizard.system import System
from mailwizard.validate import Invalid, look_alike

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """A message about one field, named as in the answers file (``hostname.fqdn``)."""

    field: str
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        prefix = "" if self.level == "error" else "warning: "
        return f"{prefix}{self.field}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.level == "error"]


@dataclass(frozen=True)
class Proposal:
    """What ``propose()`` found: problems, the plan (None when any is an error), facts."""

    problems: tuple[Problem, ...] = ()
    plan: Plan | None = None
    facts: object = None  # step-specific (a frozen dataclass); screens check its type

    @property
    def ok(self) -> bool:
        return self.plan is not None and not errors(list(self.problems))


def proposal(problems: list[Problem], build: Callable[[], Plan], facts: object = None
             ) -> Proposal:
    """A Proposal with ``build()``'s plan, built only when no problem is an error."""
    if errors(problems):
        return Proposal(tuple(problems), None, facts)
    return Proposal(tuple(problems), build(), facts)


class AnswersError(Exception):
    """An answers-file section that cannot be read; ``problems`` name each field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Rejected(AnswersError, Invalid):
    """``Step.plan()`` on answers with errors; ``problems`` name each field."""


A = TypeVar("A")


class Step(Generic[A]):
    """One step of the wizard. Subclasses set the class attributes, ``current``,
    ``propose`` and ``status`` (and ``context`` when the form needs what the machine offers).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    blurb: ClassVar[str] = ""  # one or two sentences under the title
    help: ClassVar[str] = ""  # the f1 help: what, why, what the guide says, common mistakes
    answers: type[A]
    available: ClassVar[bool] = True  # False: listed in the hub as "not available yet"
    parseable: ClassVar[bool] = True  # has a section in the answers file
    listed: ClassVar[bool] = True  # shown in the hub (False for answers-only sections)

    def current(self, system: System) -> A:
        raise NotImplementedError

    def propose(self, a: A, system: System) -> Proposal:
        raise NotImplementedError

    def context(self, system: System) -> object:
        """What the machine offers this step's form, whatever the answers (None: nothing)."""
        return None

    def status(self, system: System) -> Status:
        raise NotImplementedError

    def parts(self) -> tuple[Step[Any], ...]:
        """The steps with a section in the answers file that this one edits (itself)."""
        return (self,)

    # Shorthands over propose() -----------------------------------------------------------

    def validate(self, a: A, system: System) -> list[Problem]:
        return list(self.propose(a, system).problems)

    def plan(self, a: A, system: System) -> Plan:
        """The plan for ``a``; raises ``Rejected`` when a problem is an error."""
        found = self.propose(a, system)
        if found.plan is None:
            raise Rejected(list(found.problems))
        return found.plan

    # The answers file ------------------------------------------------------------------

    def parse(self, section: Mapping[str, Any]) -> A:
        """Build Answers from a TOML table; unknown keys and wrong types are errors."""
        return parse_dataclass(self.name, self.answers, section, self.current_defaults())

    def current_defaults(self) -> A | None:
        """Defaults for keys an answers file leaves out (None: every key is required)."""
        return None

    def to_section(self, a: A) -> dict[str, Any]:
        assert dataclasses.is_dataclass(a) and not isinstance(a, type)
        out: dict[str, Any] = {}
        for f in dataclasses.fields(a):
            value = getattr(a, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


class Unavailable(Step[None]):
    """A step listed in the hub whose screen is not built yet."""

    available = False
    parseable = False
    answers = type(None)

    def __init__(self, name: str, title: str) -> None:
        self.name = name  # type: ignore[misc]
        self.title = title  # type: ignore[misc]

    def status(self, system: System) -> Status:
        return Status("unavailable", "not available yet")


def parse_dataclass(
    section_name: str, cls: type[A], section: Mapping[str, Any], defaults: A | None
) -> A:
    """Generic answers parsing for flat dataclasses of str, bool, int and tuple[str, ...]."""
    assert dataclasses.is_dataclass(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    problems: list[Problem] = []
    for key in section:
        if key not in fields:
            allowed = ", ".join(fields)
            problems.append(Problem(f"{section_name}.{key}", f"unknown key (allowed: {allowed})"))
    values: dict[str, Any] = {}
    for name in fields:
        where = f"{section_name}.{name}"
        if name not in section:
            if defaults is not None:
                values[name] = getattr(defaults, name)
            elif fields[name].default is not dataclasses.MISSING:
                values[name] = fields[name].default
            else:
                problems.append(Problem(where, "is required"))
            continue
        try:
            values[name] = _coerce(section[name], hints[name])
        except Invalid as exc:
            problems.append(Problem(where, str(exc)))
    if problems:
        raise AnswersError(problems)
    return cls(**values)


def _coerce(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise Invalid("must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("must be a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise Invalid("must be a string in quotes")
        return value
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid('must be a list of strings, like ["a", "b"]')
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0])
    raise Invalid(f"unsupported type {hint!r}")


def field_check(
    problems: list[Problem], where: str, fn: Callable[[str], str], value: str
) -> str | None:
    """Run a validator; record its message against ``where``; return the normalised value."""
    try:
        return fn(value)
    except Invalid as exc:
        problems.append(Problem(where, str(exc)))
        return None


def look_alike_check(problems: list[Problem], where: str, value: str) -> None:
    """A warning against ``where`` when the name in ``value`` is a look-alike (homograph) or
    has a broken A-label; the message shows the punycode."""
    why = look_alike(value)
    if why:
        problems.append(Problem(where, why, "warning"))
