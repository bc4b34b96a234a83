"""The TOML answers file <-> each step's Answers, and one Plan for all of them.

Every section is optional; a missing section leaves that step alone. Unknown sections and
unknown keys are errors that name them. Passwords never live in this file (see sasl).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailwizard import boundedread
from mailwizard.plan import Plan
from mailwizard.steps import SECTIONS
from mailwizard.steps.base import AnswersError, Problem, Step, errors
from mailwizard.system import System


@dataclass(frozen=True)
class Chosen:
    """One step with the answers given for it."""

    step: Step[Any]
    answers: Any


# An answers file is a few hundred bytes; a megabyte is a mistake (or /dev/zero).
MAX_BYTES = 1024 * 1024


def load_text(text: str, *, where: str = "answers file") -> list[Chosen]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError([Problem(where, f"not valid TOML: {exc}")]) from exc
    except RecursionError:  # tomllib recurses once per level of [ or {
        raise AnswersError([Problem(where, "not valid TOML: arrays or tables nested too "
                                           "deeply (an answers file needs two levels)")]) from None
    return parse(data)


def load(path: str | Path) -> list[Chosen]:
    """Read and parse the answers file at ``path``: a regular file of at most MAX_BYTES."""
    try:
        raw = boundedread.read_regular(path, MAX_BYTES)
    except boundedread.Refused as exc:
        raise AnswersError([Problem(str(path), exc.reason)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersError([Problem(str(path), "not UTF-8 text")]) from exc
    return load_text(text, where=str(path))


def parse(data: Mapping[str, Any]) -> list[Chosen]:
    by_name = {step.name: step for step in SECTIONS if step.parseable}
    problems = [
        Problem(name, f"unknown section (allowed: {', '.join(by_name)})")
        for name in data if name not in by_name
    ]
    chosen: list[Chosen] = []
    for step in SECTIONS:
        if step.name not in data or step.name not in by_name:
            continue
        section = data[step.name]
        if not isinstance(section, Mapping):
            problems.append(Problem(step.name, "must be a table ([section])"))
            continue
        try:
            chosen.append(Chosen(step, step.parse(section)))
        except AnswersError as exc:
            problems.extend(exc.problems)
    if problems:
        raise AnswersError(problems)
    return chosen


def plan_all(system: System, chosen: list[Chosen]) -> tuple[Plan, list[Problem]]:
    """Propose every chosen step, each on top of the ones before it.

    Returns the combined plan and every problem (warnings included); when any problem is an
    error the plan is empty, so nothing can be written by mistake.
    """
    view = system
    total = Plan()
    problems: list[Problem] = []
    for item in chosen:
        found = item.step.propose(item.answers, view)
        problems.extend(found.problems)
        if found.plan is None:
            continue
        plan = found.plan
        view = view.with_files({f.path: f.after for f in plan.changed_files()})
        total = total.then(plan)
    if errors(problems):
        return Plan(), problems
    return total, problems


def dump(chosen: list[Chosen]) -> str:
    """Answers as TOML text (what a screen's "save answers" writes)."""
    out: list[str] = []
    for item in chosen:
        section = item.step.to_section(item.answers)
        out.append(f"[{item.step.name}]")
        out.extend(f"{_toml_key(key)} = {_toml_value(value)}" for key, value in section.items())
        out.append("")
    return "\n".join(out)


def _toml_key(key: str) -> str:
    """A bare key when TOML allows one (alias names may hold dots: quote those)."""
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) \
        else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_toml_char(ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table, e.g. users = [{ user = "a@b.c" }]
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _toml_char(ch: str) -> str:
    """One character of a TOML basic string: quotes, backslashes and controls escaped."""
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\u{ord(ch):04X}"
    return ch
