"""The aliases(5) format: ``name: target, target``, continuation lines, comments.

Parsed into logical entries that remember their line span, so an edit rewrites only the
entries it names and every other line (comments, blank lines, continuation lines, entries
it does not understand) stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One logical entry: its name and lines ``start``..``end`` (exclusive) of the file."""

    name: str  # as written (case kept); compare with .key
    targets: tuple[str, ...]
    value: str  # the whole value, white space squeezed (what postalias stores)
    start: int
    end: int

    @property
    def key(self) -> str:
        return self.name.lower()


def _is_ignored(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _split_name(line: str) -> tuple[str, str] | None:
    """``name: value`` -> (name, value); a quoted name may contain ':'."""
    if line.startswith('"'):
        m = re.match(r'"((?:[^"\\]|\\.)*)"\s*:(.*)$', line, re.S)
        return (m.group(1), m.group(2)) if m else None
    name, sep, value = line.partition(":")
    if not sep or not name.strip():
        return None
    return name.strip(), value


def split_targets(value: str) -> tuple[str, ...]:
    """Split an alias value on commas outside double quotes."""
    out: list[str] = []
    buf = ""
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(buf)
            buf = ""
            continue
        buf += ch
    out.append(buf)
    return tuple(" ".join(t.split()) for t in out if t.strip())


def parse_file(text: str) -> list[Entry]:
    """Every logical entry in file order. A line starting with white space continues the
    entry above it; comment and blank lines inside an entry belong to it only when a
    continuation line follows them."""
    lines = text.splitlines(keepends=True)
    entries: list[Entry] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_ignored(line) or line[0] in " \t":
            i += 1
            continue
        parts = [line]
        end = i + 1
        j = i + 1
        while j < len(lines):
            nxt = lines[j]
            if _is_ignored(nxt):
                j += 1
                continue
            if nxt[0] in " \t":
                parts.append(nxt)
                end = j = j + 1
                continue
            break
        split = _split_name(" ".join(p.strip() for p in parts))
        if split is not None:
            name, value = split
            entries.append(Entry(name, split_targets(value), " ".join(value.split()), i, end))
        i = end
    return entries


def table(text: str) -> dict[str, tuple[str, ...]]:
    """name (lower case) -> targets; the first entry wins over later duplicates."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in parse_file(text):
        out.setdefault(entry.key, entry.targets)
    return out


def values(text: str) -> dict[str, str]:
    """name (lower case) -> the value as postalias stores it (first entry wins)."""
    out: dict[str, str] = {}
    for entry in parse_file(text):
        out.setdefault(entry.key, entry.value)
    return out


def format_entry(name: str, targets: tuple[str, ...]) -> str:
    return f"{name}: {', '.join(targets)}\n"


def edit_file(text: str, wanted: Mapping[str, tuple[str, ...]],
              normalise: Callable[[str], str] = lambda target: target) -> str:
    """Set each alias in ``wanted`` (lower-case names; empty targets: remove it).

    An entry is as wanted when its targets, each through ``normalise``, equal ``wanted``'s.

    Entries already as wanted keep their lines; a changed entry is rewritten where it was;
    later duplicates of an edited name are removed; new entries are appended.
    """
    lines = text.splitlines(keepends=True)
    replace: dict[int, tuple[int, str]] = {}  # start -> (end, new text)
    done: set[str] = set()
    for entry in parse_file(text):
        key = entry.key
        if key not in wanted:
            continue
        if key in done or not wanted[key]:
            replace[entry.start] = (entry.end, "")
        elif tuple(normalise(t) for t in entry.targets) != wanted[key]:
            replace[entry.start] = (entry.end, format_entry(key, wanted[key]))
        done.add(key)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in replace:
            end, new = replace[i]
            if new:
                out.append(new)
            i = end
            continue
        out.append(lines[i])
        i += 1
    added = [format_entry(k, v) for k, v in wanted.items() if v and k not in done]
    if added:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.extend(added)
    return "".join(out)
