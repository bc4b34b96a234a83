"""/etc/aliases as a table: add, change or remove an alias, key by key, then rebuild the map.

Only the entries the answers name are touched: every other line (comments, blank lines,
continuation lines, entries the wizard does not understand) stays byte for byte. An answer
with an empty list removes that alias. The map is rebuilt with ``postalias`` on each
``alias_database`` map of /etc/aliases (what ``newaliases`` does, but with the path mapped
under the system's root), and also when the map is older than the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailwizard import aliasesfile, postfix
from mailwizard.aliasesfile import parse_file as parse_file  # re-exported
from mailwizard.aliasesfile import table, values
from mailwizard.pending import PendingEdits, Words
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.steps.base import (
    AnswersError,
    Problem,
    Proposal,
    Status,
    Step,
    look_alike_check,
    proposal,
)
from mailwizard.system import System
from mailwizard.validate import Invalid, address, local_name

ALIASES = "/etc/aliases"
# Alias names every mail system must accept (RFC 5321 section 4.5.1).
REQUIRED = ("postmaster",)
# postalias map types and the files they write next to the source.
DB_SUFFIXES: dict[str, tuple[str, ...]] = {
    "hash": (".db",), "btree": (".db",), "lmdb": (".lmdb",), "cdb": (".cdb",),
    "dbm": (".dir", ".pag"), "sdbm": (".dir", ".pag"),
}

Entries = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class AliasesAnswers:
    """``entries``: (name, targets) pairs; empty targets remove the alias."""

    entries: Entries = ()

    def as_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.entries)


# -- the file format (aliases(5)) ---------------------------------------------------------


def edit_file(text: str, wanted: Mapping[str, tuple[str, ...]]) -> str:
    """``aliasesfile.edit_file``, comparing targets as addresses (``Root`` = ``root``)."""
    return aliasesfile.edit_file(text, wanted, _norm_target)


# -- the map next to the file -------------------------------------------------------------


def alias_maps(system: System) -> list[tuple[str, str]]:
    """(type, path) of each ``alias_database`` map built from /etc/aliases."""
    maps = []
    for item in postfix.split_list(postfix.get(system, "alias_database")):
        kind, sep, path = item.partition(":")
        if sep and path == ALIASES and kind in DB_SUFFIXES:
            maps.append((kind, path))
    return maps or [("hash", ALIASES)]


def db_files(system: System) -> list[str]:
    return [path + suffix for kind, path in alias_maps(system) for suffix in DB_SUFFIXES[kind]]


def db_entries(system: System, kind: str, path: str) -> dict[str, str] | None:
    """What the built map holds (``postalias -s``), None when it cannot be read."""
    result = system.query(["postalias", "-s", f"{kind}:{system.path(path)}"])
    if not result.ok:
        return None
    out: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(":\t")
        if sep and key != "@" and not key.startswith("YP_"):
            out[key] = " ".join(value.split())
    return out


def db_stale(system: System) -> bool:
    """True when a map is missing or says something else than /etc/aliases (Postfix
    keeps using the old map and logs "database ... is older than source file"). Compares
    contents, not times, so a copied tree or a touched file is not "stale"."""
    text = system.read_text(ALIASES)
    if text is None:
        return False
    wanted = values(text)
    return any(db_entries(system, kind, path) != wanted for kind, path in alias_maps(system))


def rebuild_command(system: System, why: str) -> Command:
    """``postalias type:/etc/aliases`` for each map, with the path mapped under the root."""
    maps = [f"{kind}:{system.path(path)}" for kind, path in alias_maps(system)]
    return Command(("postalias", *maps), why, touches=tuple(db_files(system)))


# -- names in messages --------------------------------------------------------------------


def toml_key(name: str) -> str:
    """The name as a TOML key: bare when it can be, quoted otherwise."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _where(name: str, index: int | None = None) -> str:
    return f"aliases.{toml_key(name)}" + ("" if index is None else f"[{index}]")


def _norm_target(target: str) -> str:
    try:
        return address(target)
    except Invalid:
        return target


def edits(before: AliasesAnswers, after: AliasesAnswers) -> AliasesAnswers:
    """The answers that turn table ``before`` into ``after`` (the screen's minimal edit):
    changed and new entries, and an empty list for each removed name."""
    old, new = before.as_dict(), after.as_dict()
    out = [(k, v) for k, v in new.items() if old.get(k) != v]
    out += [(k, ()) for k in old if k not in new]
    return AliasesAnswers(tuple(out))


# -- the table as the screen edits it ------------------------------------------------------

WORDS = Words(
    exists="{key} is already in the table: edit that row",
    deleted="{key} is marked for deletion: ctrl+d on it keeps it",
    empty="give one or more addresses (ctrl+d removes the alias)",
    no_key="row {row} has no alias name",
    twice="{key} is in the table twice",
)


def _same_targets(before: str | None, after: str) -> bool:
    return before is not None and postfix.split_list(before) == postfix.split_list(after)


def pending_table(answers: AliasesAnswers) -> PendingEdits[str]:
    """Today's table as pending edits; an entry's value is its targets as typed."""
    return PendingEdits(((name, ", ".join(targets)) for name, targets in answers.entries),
                        WORDS, check_key=local_name,
                        is_empty=lambda text: not postfix.split_list(text),
                        same=_same_targets)


def table_answers(before: AliasesAnswers, pending: PendingEdits[str]) -> AliasesAnswers:
    """The minimal answers for the edited table (``Invalid`` for a row that cannot be one).
    An untouched row keeps the file's targets, even forms the wizard would not write."""
    old = before.as_dict()
    entries = []
    for key, entry in pending.result():
        if entry.original_key in old and entry.value == entry.original:
            targets = old[entry.original_key]
        else:
            targets = tuple(postfix.split_list(entry.value))
        entries.append((key, targets))
    return edits(before, AliasesAnswers(tuple(entries)))


PASSWD = "/etc/passwd"


def local_users(system: System) -> set[str] | None:
    """The user names in /etc/passwd (None when there is none to read: no guess)."""
    text = system.read_text(PASSWD)
    if text is None:
        return None
    return {line.split(":", 1)[0].lower() for line in text.splitlines() if ":" in line}


def _unknown_local_targets(
    system: System, wanted: Mapping[str, tuple[str, ...]], after: Mapping[str, tuple[str, ...]]
) -> list[Problem]:
    """Warnings for targets delivered here (a bare name, or a name at a domain in
    mydestination) that are neither a user in /etc/passwd nor an alias: such mail bounces
    with "unknown user"."""
    users = local_users(system)
    if users is None or not wanted:
        return []
    local_domains = {d.lower() for d in
                     postfix.split_list(postfix.expanded(system, "mydestination"))}
    known = users | {name.lower() for name in after}
    out: list[Problem] = []
    for name, targets in wanted.items():
        for i, target in enumerate(targets):
            local, at, dom = target.rpartition("@") if "@" in target else (target, "", "")
            if at and dom.lower() not in local_domains:
                continue
            if local.lower() not in known:
                out.append(Problem(_where(name, i), (
                    f"{target}: no user or alias of that name on this server ({PASSWD}, "
                    f"{ALIASES}): mail to it bounces"), "warning"))
    return out


class AliasesStep(Step[AliasesAnswers]):
    name = "aliases"
    title = "Aliases"
    answers = AliasesAnswers
    blurb = (
        "Forward mail for local names (root, postmaster, support) to the addresses "
        "that are really read. One alias with several addresses is a simple mailing list."
    )
    help = """\
# Aliases

**What it does.** Edits `/etc/aliases` one entry at a time (your comments and other
entries stay as they are), then rebuilds `/etc/aliases.db` with `postalias`, which is
what `newaliases` does.

**Why it matters.** Mail to `root@` and `postmaster@` (cron reports, bounces, abuse
reports) otherwise ends in `/var/mail/root`, which nobody reads. `postmaster` must always
exist: other servers write to it when something is wrong.

**What the guide says.** Forward root to your own address (`root: you@example.net`);
several addresses make a simple list (`support: you@example.net, other@example.net`);
run `newaliases` after every edit.

**Common mistakes.**
- Editing the file and forgetting `newaliases`: Postfix keeps using the old
  `aliases.db` and logs `database /etc/aliases.db is older than source file`.
- Removing `postmaster`.
- Forwarding to a local name that is neither a user nor an alias (`root: admn`): mail to it
  bounces as "unknown user"; the wizard warns.
- Commands (`|/path`) and files (`/path`) as targets: the wizard only writes mail
  addresses and local user names.

**In an answers file** `[aliases]` is a table `name = ["address", ...]`; an empty list
(`name = []`) removes that alias; names not listed are left alone.
"""

    def current(self, system: System) -> AliasesAnswers:
        text = system.read_text(ALIASES) or ""
        return AliasesAnswers(tuple(table(text).items()))

    # The answers file ------------------------------------------------------------------

    def parse(self, section: Mapping[str, Any]) -> AliasesAnswers:
        problems: list[Problem] = []
        entries: list[tuple[str, tuple[str, ...]]] = []
        for name, value in section.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(Problem(
                    _where(name),
                    'must be a list of addresses, like ["admin@example.net"] ([] removes it)',
                ))
                continue
            entries.append((name, tuple(value)))
        if problems:
            raise AnswersError(problems)
        return AliasesAnswers(tuple(entries))

    def to_section(self, a: AliasesAnswers) -> dict[str, Any]:
        return {name: list(targets) for name, targets in a.entries}

    # Validation and plan -----------------------------------------------------------------

    def _wanted(
        self, a: AliasesAnswers, system: System
    ) -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
        """Normalised name -> targets for the entries that change anything, and problems."""
        problems: list[Problem] = []
        now = table(system.read_text(ALIASES) or "")
        wanted: dict[str, tuple[str, ...]] = {}
        seen: dict[str, str] = {}
        for raw, targets in a.entries:
            try:
                key = local_name(raw)
            except Invalid as exc:
                problems.append(Problem(_where(raw), f"{raw!r}: {exc}"))
                continue
            if key in seen:
                problems.append(Problem(_where(raw), f"given twice (also as {seen[key]!r})"))
                continue
            seen[key] = raw
            if not targets:
                if key in now:
                    wanted[key] = ()
                continue
            if now.get(key) == targets:
                continue  # exactly as in the file, even a form the wizard would not write
            normal: list[str] = []
            for i, target in enumerate(targets):
                try:
                    value = address(target)
                except Invalid as exc:
                    problems.append(Problem(_where(raw, i), f"{target!r}: {exc}"))
                    continue
                look_alike_check(problems, _where(raw, i), target)
                if value == key:
                    problems.append(Problem(_where(raw, i), "an alias cannot point to itself"))
                    continue
                if value not in normal:
                    normal.append(value)
            if tuple(normal) != tuple(_norm_target(t) for t in now.get(key, ())):
                wanted[key] = tuple(normal)
        return wanted, problems

    def propose(self, a: AliasesAnswers, system: System) -> Proposal:
        return proposal(self._problems(a, system), lambda: self._build(a, system))

    def _problems(self, a: AliasesAnswers, system: System) -> list[Problem]:
        wanted, problems = self._wanted(a, system)
        if problems:
            return problems
        after = table(edit_file(system.read_text(ALIASES) or "", wanted))
        for name in REQUIRED:
            if name not in after:
                where = _where(name) if name in wanted else "aliases"
                problems.append(Problem(
                    where,
                    f"{name} has no alias: mail to {name}@ must always reach someone "
                    f'(keep {name} = ["root"])',
                    "warning",
                ))
        problems.extend(_unknown_local_targets(system, wanted, after))
        maps = postfix.split_list(postfix.get(system, "alias_maps"))
        if not any(m.partition(":")[2] == ALIASES for m in maps):
            problems.append(Problem(
                "aliases", f"alias_maps does not use {ALIASES}: these aliases have no effect",
                "warning"))
        return problems

    def _build(self, a: AliasesAnswers, system: System) -> Plan:
        wanted, _ = self._wanted(a, system)
        before = system.read_text(ALIASES)
        after = edit_file(before or "", wanted)
        files: list[FileChange] = []
        commands: list[Command] = []
        if after != (before or ""):
            files.append(FileChange(
                ALIASES, None if before is None else before.encode(), after.encode(),
                why="local names forwarded to real mailboxes"))
            commands.append(rebuild_command(system, f"rebuild the alias map from {ALIASES}"))
        elif db_stale(system):
            commands.append(rebuild_command(
                system, f"the alias map is out of date: it does not match {ALIASES}"))
        return Plan(files=tuple(files), commands=tuple(commands), steps=(self.name,))

    def status(self, system: System) -> Status:
        text = system.read_text(ALIASES)
        if text is None:
            return Status("problem", f"{ALIASES} missing", ("mail to postmaster@ bounces",))
        now = table(text)
        shown = tuple(f"{k}: {', '.join(v)}" for k, v in list(now.items())[:6])
        if len(now) > 6:
            shown += (f"… {len(now) - 6} more",)
        if db_stale(system):
            return Status("problem", "aliases.db out of date", (*shown, "run: newaliases"))
        if "postmaster" not in now:
            return Status("problem", "no postmaster alias", shown)
        if "root" not in now:
            return Status("warn", "root unforwarded", shown)
        return Status("ok", f"{len(now)} alias{'es' if len(now) != 1 else ''}", shown)
