"""Issue 8 (leftovers): a ``.sasldb2.<run>.tmp`` left by a kill -9 (it holds every password)
is removed by the next apply and by a rollback, not only by the rollback of that apply."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from mailwizard import runtemps
from mailwizard.apply import apply, rollback
from mailwizard.plan import RUN_TOKEN, FileChange, Plan
from mailwizard.steps.sasl import CHROOT_TMP, SASLDB_TMP
from mailwizard.system import System

STALE = ("etc/.sasldb2.4242-deadbeef.tmp", "var/spool/postfix/etc/.sasldb2.4242-deadbeef.tmp")


def plant(root: Path) -> Path:
    """The two stale temps, a link with such a name to a file elsewhere, and a neighbour."""
    for rel in STALE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"...Corr3ct-Horse-Battery...")
    outside = root / "precious"
    outside.write_text("keep me")
    (root / "etc/.sasldb2.1-link.tmp").symlink_to(outside)
    (root / "etc/.sasldb2.keep").write_text("not ours")
    return outside


def left(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for d in ("etc", "var/spool/postfix/etc")
                  for p in (root / d).glob(".sasldb2.*"))


def motd_plan(system: System) -> Plan:
    before = system.read_bytes("/etc/motd")
    return Plan(files=(FileChange("/etc/motd", before, b"hello\n"),), steps=("test",))


def test_the_sasl_temp_names_are_the_swept_ones() -> None:
    for name in (SASLDB_TMP, CHROOT_TMP):
        concrete = name.replace(RUN_TOKEN, "123-abcd")
        assert any(fnmatch.fnmatchcase(concrete, p) for p in runtemps.PATTERNS), name


def test_the_next_apply_removes_a_killed_applys_temps(system: System) -> None:
    outside = plant(system.root)
    events: list[str] = []
    result = apply(system, motd_plan(system), lambda e: events.append(f"{e.kind}: {e.text}"))
    assert result.ok, result
    assert left(system.root) == ["etc/.sasldb2.keep"]
    assert outside.read_text() == "keep me"  # the link went, never what it points at
    removed = [e for e in events if e.startswith("phase: removed")]
    assert len(removed) == 3 and any("/etc/.sasldb2.4242-deadbeef.tmp:" in e for e in removed)
    # They are not in the backup: a rollback of this apply does not bring them back.
    assert rollback(system).ok
    assert left(system.root) == ["etc/.sasldb2.keep"]


def test_a_rollback_removes_them_too(system: System) -> None:
    assert apply(system, motd_plan(system)).ok
    plant(system.root)
    result = rollback(system)
    assert result.ok, result
    assert left(system.root) == ["etc/.sasldb2.keep"]
    assert any("removed /var/spool/postfix/etc/.sasldb2.4242-deadbeef.tmp" in line
               for line in result.log)


def test_an_apply_keeps_its_own_temp_names(system: System) -> None:
    """Swept before the backup, and never a name the apply itself plans to use."""
    own = system.root / "etc/.sasldb2.mine.tmp"
    own.write_text("x")
    assert runtemps.sweep(system, frozenset({"/etc/.sasldb2.mine.tmp"})) == []
    assert own.exists()
    assert runtemps.sweep(system) == ["/etc/.sasldb2.mine.tmp"]
