"""A Plan is data: the files to write, the commands to run, the services to reload.

Nothing here touches the machine; ``mailwizard.apply`` carries a Plan out.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from mailwizard.secret import Secret


@dataclass(frozen=True)
class FileChange:
    """A whole-file change; ``after=None`` deletes the file."""

    path: str
    before: bytes | None
    after: bytes | None
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    why: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def _lines(self) -> list[str]:
        old = (self.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = (self.after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        label_a = self.path if self.before is not None else "/dev/null"
        label_b = self.path if self.after is not None else "/dev/null"
        return list(difflib.unified_diff(old, new, label_a, label_b, n=2))

    def diff(self) -> str:
        """A unified diff of the text, labelled with the logical path."""
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in self._lines())

    def counts(self) -> tuple[int, int]:
        """(added, removed) lines, for the one-line summaries."""
        added = removed = 0
        # Skip the two header lines only: a content line may itself start with "++"/"--".
        for line in self._lines()[2:]:
            if line.startswith("+"):
                added += 1
            elif line.startswith("-"):
                removed += 1
        return added, removed


# In a Command's argv: a fresh root-only directory apply() makes for it (and removes).
PRIVATE_DIR = "<private temp dir>"
# In a Command's argv or touches: replaced by an id unique to the apply (``Plan.for_run``), so
# that two runs never share a temp name (``.sasldb2.<run>.tmp``).
RUN_TOKEN = "<run>"

# A plan that changes one of these has Postfix's configuration checked by apply()
# (new postconf -n warnings, then ``postfix check``) before anything reloads.
POSTFIX_CONFIG = frozenset({"/etc/postfix/main.cf", "/etc/postfix/master.cf"})


@dataclass(frozen=True)
class Install:
    """Put a file in place after its command ran, without following links.

    ``source`` names a file the command made in its PRIVATE_DIR; it is copied to ``dest``
    by an atomic, descriptor-based write. With ``source=None`` the existing ``dest`` only
    gets ``mode`` and owner (through its fd; a link there is refused).
    """

    dest: str
    mode: int
    owner: str
    group: str
    source: str | None = None

    def display(self) -> str:
        verb = f"install {self.source} as" if self.source else "set"
        return (f"{verb} {self.dest} ({self.mode:04o} {self.owner}:{self.group}, "
                "never through a link)")


@dataclass(frozen=True)
class Command:
    """One argv to run at apply time.

    ``touches`` names every file the command may change: apply() backs them up first and
    restores them on failure. ``undo`` runs after a restore (e.g. ``hostname -F``).
    """

    argv: tuple[str, ...]
    why: str
    stdin: Secret | str | None = None
    touches: tuple[str, ...] = ()
    undo: tuple[str, ...] | None = None
    timeout: float = 120.0
    # The touched files hold secrets (sasldb2 stores passwords in clear): their backup copies
    # serve a failed apply's restore and are deleted once the apply is over.
    secret_files: bool = False
    # Files the command made in its PRIVATE_DIR (or existing files to fix), put in place after.
    installs: tuple[Install, ...] = ()
    # Directories where the command adds symbolic links with names not known in advance
    # (make-ssl-cert's hash link in /etc/ssl/certs): a restore removes the new ones left
    # dangling.
    links_in: tuple[str, ...] = ()

    def display(self) -> str:
        shown = " ".join(self.argv) if self.argv else "; ".join(
            i.display() for i in self.installs)
        if isinstance(self.stdin, Secret):
            shown += f"  < {self.stdin}"
        return shown


POSTFIX_CHECK = Command(("postfix", "check"),
                        "check Postfix's settings (no new postconf -n warnings), files and "
                        "permissions")


@dataclass(frozen=True)
class Action:
    """One thing apply() runs, as the review lists it."""

    text: str
    why: str = ""


@dataclass(frozen=True)
class SummaryRow:
    """One line of a plan's summary: a file with its counts, or an action."""

    kind: Literal["file", "run", "restart", "reload"]
    text: str  # the file's path, the command line, or the services
    detail: str = ""  # files only: "new, 3 lines", "deleted", "+2 −1"

    def __str__(self) -> str:
        if self.kind == "file":
            return f"{self.text}   {self.detail}"
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class Plan:
    files: tuple[FileChange, ...] = ()
    commands: tuple[Command, ...] = ()
    reload: frozenset[str] = frozenset()
    restart: frozenset[str] = frozenset()
    # Validators run after the commands, before services reload (opendkim -n -x ...).
    checks: tuple[Command, ...] = ()
    # Steps whose answers produced this plan, for the review and the apply log.
    steps: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not any(f.changed for f in self.files) and not self.commands

    def changed_files(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.changed)

    @property
    def checks_postfix(self) -> bool:
        """apply() checks Postfix's configuration (it changes main.cf or master.cf)."""
        return any(f.path in POSTFIX_CONFIG for f in self.changed_files())

    def actions(self) -> tuple[Action, ...]:
        """Everything apply() runs, in its order: the commands, the checks, the restarts,
        the reloads. The review lists and counts these (secrets show as ••••••)."""
        out = [Action(c.display(), c.why) for c in self.commands]
        if self.checks_postfix:
            out.append(Action(POSTFIX_CHECK.display(), POSTFIX_CHECK.why))
        out.extend(Action(c.display(), c.why) for c in self.checks)
        out.extend(Action(f"restart {name}") for name in sorted(self.restart))
        out.extend(Action(f"reload {name}",
                          "after Postfix's own checks pass" if name == "postfix" else "")
                   for name in sorted(self.reload - self.restart))
        return tuple(out)

    def file(self, path: str) -> FileChange | None:
        for change in self.files:
            if change.path == path:
                return change
        return None

    def diff(self) -> str:
        return "".join(f.diff() for f in self.changed_files())

    def summary(self) -> list[SummaryRow]:
        """One row per file and command: what the step screens show under "What will change"."""
        out = []
        for change in self.changed_files():
            added, removed = change.counts()
            if change.before is None:
                out.append(SummaryRow("file", change.path, f"new, {added} lines"))
            elif change.after is None:
                out.append(SummaryRow("file", change.path, "deleted"))
            else:
                out.append(SummaryRow("file", change.path, f"+{added} −{removed}"))
        out.extend(SummaryRow("run", c.display()) for c in self.commands)
        if self.restart:
            out.append(SummaryRow("restart", ", ".join(sorted(self.restart))))
        if self.reload - self.restart:
            out.append(SummaryRow("reload", ", ".join(sorted(self.reload - self.restart))))
        return out

    def for_run(self, run_id: str) -> Plan:
        """This plan with every RUN_TOKEN in the commands' argv and touches set to ``run_id``."""
        def concrete(cmd: Command) -> Command:
            return replace(cmd, argv=tuple(a.replace(RUN_TOKEN, run_id) for a in cmd.argv),
                           touches=tuple(t.replace(RUN_TOKEN, run_id) for t in cmd.touches))
        return replace(self, commands=tuple(concrete(c) for c in self.commands),
                       checks=tuple(concrete(c) for c in self.checks))

    def then(self, other: Plan) -> Plan:
        """This plan followed by ``other`` (whose ``before`` was read from this plan's after)."""
        files = list(self.files)
        for change in other.files:
            for i, mine in enumerate(files):
                if mine.path == change.path:
                    files[i] = replace(
                        change,
                        before=mine.before,
                        mode=change.mode if change.mode is not None else mine.mode,
                        owner=change.owner or mine.owner,
                        group=change.group or mine.group,
                        why="; ".join(w for w in (mine.why, change.why) if w),
                    )
                    break
            else:
                files.append(change)
        return Plan(
            files=tuple(files),
            commands=self.commands + other.commands,
            reload=self.reload | other.reload,
            restart=self.restart | other.restart,
            checks=self.checks + tuple(c for c in other.checks if c not in self.checks),
            steps=self.steps + tuple(s for s in other.steps if s not in self.steps),
        )


def combine(plans: Iterable[Plan]) -> Plan:
    total = Plan()
    for plan in plans:
        total = total.then(plan)
    return total
