"""A list read from the system with pending edits: additions, changes and deletions.

Aliases (name → targets) and SASL logins (login → new password) are both edited this way:
the admin marks entries on a copy of today's list, and nothing happens before review and
apply. :class:`PendingEdits` holds that copy, says how each entry is marked (``+`` new,
``~`` changed, ``−`` to be deleted) and holds the checks every such list needs: a key that
is not valid, a key already in the list, an entry with no value. What an entry's value is
(targets, a password) is the step's business; the words of the messages are too
(:class:`Words`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from mailwizard.validate import Invalid

V = TypeVar("V")
Mark = Literal["+", "~", "−", ""]

_ids = itertools.count()


@dataclass(frozen=True)
class Words:
    """How a step words the list's problems; ``{key}`` is the entry's key."""

    exists: str  # the key is already an entry: "{key} exists already: change its password"
    deleted: str  # the key is an entry marked for deletion
    empty: str  # the entry has no value: "give one or more addresses"
    no_key: str = "row {row} has no name"
    twice: str = "{key} is in the list twice"


@dataclass(eq=False)
class Entry(Generic[V]):
    """One entry as edited; ``original_key``/``original`` are today's (None: a new entry)."""

    key: str
    value: V
    original_key: str | None = None
    original: V | None = None
    deleted: bool = False
    id: str = field(default_factory=lambda: f"entry{next(_ids)}")

    @property
    def is_new(self) -> bool:
        return self.original_key is None


class PendingEdits(Generic[V]):
    """Today's list plus the admin's pending edits, in the order shown.

    ``check_key`` is the key's validator (returns the normal form, raises ``Invalid``);
    ``is_empty`` says an entry has no value; ``same`` compares today's value with the edited
    one (default ``==``). With ``ordered``, entries stay sorted by key (logins).
    """

    def __init__(
        self,
        items: Iterable[tuple[str, V]],
        words: Words,
        *,
        check_key: Callable[[str], str],
        is_empty: Callable[[V], bool],
        same: Callable[[V | None, V], bool] = lambda a, b: a == b,
        ordered: bool = False,
    ) -> None:
        self.words = words
        self.check_key = check_key
        self.is_empty = is_empty
        self.same = same
        self.ordered = ordered
        self.entries: list[Entry[V]] = [Entry(k, v, k, v) for k, v in items]
        self._sort()

    # Reading ------------------------------------------------------------------------------

    def normal(self, key: str) -> str:
        """The key as compared: the validator's form, or stripped and lower-cased."""
        try:
            return self.check_key(key)
        except Invalid:
            return key.strip().lower()

    def blank(self, entry: Entry[V]) -> bool:
        """A new entry with neither key nor value: ignored (a row just added)."""
        return entry.is_new and not entry.key.strip() and self.is_empty(entry.value)

    def untouched(self, entry: Entry[V]) -> bool:
        return not entry.is_new and not entry.deleted and entry.key == entry.original_key \
            and self.same(entry.original, entry.value)

    def mark(self, entry: Entry[V]) -> Mark:
        if entry.deleted:
            return "−"
        if self.blank(entry):
            return ""
        if entry.is_new:
            return "+"
        return "" if self.untouched(entry) else "~"

    def find(self, key: str) -> Entry[V] | None:
        """The entry (deleted or not) whose key is ``key``."""
        wanted = self.normal(key)
        return next((e for e in self.entries if self.normal(e.key) == wanted), None)

    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    # Checks -------------------------------------------------------------------------------

    def key_problem(self, key: str, entry: Entry[V] | None = None) -> str | None:
        """What is wrong with ``key`` for ``entry`` (None: a new entry), or None.

        A blank new entry is fine, and so is an entry's own key as the file has it (forms
        the wizard would not write itself are left alone)."""
        if entry is not None and not entry.is_new and key == entry.original_key:
            return None
        if entry is not None and entry.is_new and not key.strip() \
                and self.is_empty(entry.value):
            return None
        try:
            normal = self.check_key(key)
        except Invalid as exc:
            return str(exc)
        other = next((e for e in self.entries
                      if e is not entry and self.normal(e.key) == normal), None)
        if other is None:
            return None
        template = self.words.deleted if other.deleted else self.words.exists
        return template.format(key=normal)

    def value_problem(self, entry: Entry[V], value: V | None = None) -> str | None:
        """What is wrong with ``value`` (default: the entry's) as the entry's value, or None.
        Only an entry that is kept and not blank needs one; today's value is left alone."""
        value = entry.value if value is None else value
        if entry.deleted or not self.is_empty(value):
            return None
        if entry.is_new and not entry.key.strip():
            return None  # blank: ignored
        if not entry.is_new and self.same(entry.original, value):
            return None
        return self.words.empty

    # Editing ------------------------------------------------------------------------------

    def add(self, key: str, value: V) -> Entry[V]:
        """A new entry (a blank one for a row the admin fills in); the caller checks first."""
        entry: Entry[V] = Entry(key, value)
        self.entries.append(entry)
        self._sort()
        return entry

    def edit(self, entry: Entry[V], *, key: str | None = None, value: V | None = None) -> None:
        if key is not None:
            entry.key = key
        if value is not None:
            entry.value = value

    def delete(self, entry: Entry[V]) -> bool:
        """Mark today's entry for deletion (True), or forget a new one (False)."""
        if entry.is_new:
            self.entries.remove(entry)
            return False
        entry.deleted = True
        return True

    def keep(self, entry: Entry[V]) -> None:
        """Undo a deletion."""
        entry.deleted = False

    def _sort(self) -> None:
        if self.ordered:
            self.entries.sort(key=lambda e: self.normal(e.key))

    # The result ---------------------------------------------------------------------------

    def result(self) -> list[tuple[str, Entry[V]]]:
        """The kept entries with their normal keys, blank ones left out; ``Invalid`` names the
        first entry without a key, a key twice or an entry without a value."""
        seen: set[str] = set()
        out: list[tuple[str, Entry[V]]] = []
        for number, entry in enumerate(self.entries, 1):
            if entry.deleted or self.blank(entry):
                continue
            if not entry.key.strip():
                raise Invalid(self.words.no_key.format(row=number))
            key = entry.key if entry.key == entry.original_key else self.normal(entry.key)
            if key in seen:
                raise Invalid(self.words.twice.format(key=key))
            problem = self.value_problem(entry)
            if problem:
                raise Invalid(f"{key}: {problem}")
            seen.add(key)
            out.append((key, entry))
        return out

    def removed(self) -> list[str]:
        """Today's keys that will be gone: deleted entries."""
        return sorted(e.original_key for e in self.entries
                      if e.deleted and e.original_key is not None)
