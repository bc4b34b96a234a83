"""On a real machine: one apply or rollback at a time.

Two runs started a fraction of a second apart once corrupted each other: one failed and
restored its backup over the other's finished work, which still printed "Applied" (SASL
off, no milter, no submission service). Now the second run is refused, naming the PID of
the first, and writes nothing; the first finishes; no temp file or lock is left behind.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import PROJECT, full_answers, prepared_namespace, run_wizard

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-Horse-Battery-9"
ENV = f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)}"
PAIRS_RUN: list[str] = []


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with prepared_namespace(answers=full_answers()) as namespace:
        # more.toml also changes main.cf: its rollback reloads Postfix (slowed in a test)
        more = full_answers('sales = ["mwadmin"]\n').replace(
            '"localhost.example.com", "localhost"]', '"localhost.example.com", "localhost", '
            '"example.net"]')
        assert "example.net" in more
        (namespace.tmp / "more.toml").write_text(more)
        yield namespace


def pair(ns: Namespace, first: str, second: str, gap: float,
         slow: bool = False) -> dict[str, tuple[int, int, str]]:
    """Start ``first`` and, ``gap`` s later, ``second`` (mailwizard arguments); each one's
    (exit code, PID, output). ``slow``: the first one's ``postfix reload`` takes 2 s more."""
    python = f"{shlex.quote(sys.executable)} -m mailwizard"
    out = ns.tmp
    path = f"PATH={out}/slow:$PATH" if slow else ""
    (out / "slow").mkdir(exist_ok=True)
    wrapper = out / "slow" / "postfix"
    wrapper.write_text('#!/bin/sh\n[ "$1" = reload ] && sleep 2\nexec /usr/sbin/postfix "$@"\n')
    wrapper.chmod(0o755)
    script = f"""
        cd {shlex.quote(str(PROJECT))}
        export {ENV} TMPDIR={out}/tmpdir
        {path} {python} {first} > {out}/first.out 2>&1 & a=$!
        sleep {gap}
        {python} {second} > {out}/second.out 2>&1 & b=$!
        wait $a && ra=0 || ra=$?
        wait $b && rb=0 || rb=$?
        echo "$ra $a $rb $b"
    """
    ra, a, rb, b = ns.run(script, timeout=300).stdout.split()
    PAIRS_RUN.append(f"{first} | {second} @ {gap}s")
    return {"first": (int(ra), int(a), (out / "first.out").read_text()),
            "second": (int(rb), int(b), (out / "second.out").read_text())}


def assert_full_setup(ns: Namespace) -> None:
    """What the full answers file makes, all of it (the state the old race lost)."""
    conf = ns.run("postconf -h smtpd_sasl_auth_enable smtpd_milters; "
                  "postconf -M submission/inet").stdout
    assert conf.startswith("yes\ninet:127.0.0.1:8891\n"), conf
    assert "submission" in conf, conf
    assert ns.run("postfix check 2>&1; postfix status 2>&1", check=False).returncode == 0
    assert ns.run("sasldblistusers2 -f /var/spool/postfix/etc/sasldb2").stdout.startswith(
        "postmaster@example.com")


def temp_dirs(ns: Namespace) -> set[str]:
    """The temp dirs of the runs (their TMPDIR: /tmp is the host's, shared with others)."""
    return set(ns.run(f"mkdir -p {ns.tmp}/tmpdir; ls -A {ns.tmp}/tmpdir").stdout.split())


def assert_no_leftovers(ns: Namespace, temp_before: set[str]) -> None:
    left = ns.run("ls -A /var/spool/postfix/etc/ /run").stdout
    assert ".sasldb2." not in left and "mailwizard.lock" not in left, left
    assert temp_dirs(ns) <= temp_before


def test_second_apply_half_a_second_later_is_refused_and_the_first_completes(
        ns: Namespace) -> None:
    temp = temp_dirs(ns)
    runs = pair(ns, f"apply {ns.tmp}/full.toml", f"apply {ns.tmp}/full.toml", 0.5)
    rc, _, out = runs["first"]
    assert rc == 0 and "Applied." in out, out
    rc, _, out = runs["second"]
    first_pid = runs["first"][1]
    assert rc == 2, out
    assert f"another mailwizard (PID {first_pid}, `" in out, out
    assert "is applying or rolling back right now" in out and "BUSY" in out, out
    assert "nothing was written" in out and "Applied" not in out, out
    assert_full_setup(ns)
    assert_no_leftovers(ns, temp)


def test_rollback_during_an_apply_is_refused(ns: Namespace) -> None:
    temp = temp_dirs(ns)
    runs = pair(ns, f"apply {ns.tmp}/more.toml", "rollback --yes", 0.5)
    assert runs["first"][0] == 0, runs["first"][2]
    rc, _, out = runs["second"]
    assert rc != 0 and f"PID {runs['first'][1]}" in out, out
    assert "sales:" in ns.run("cat /etc/aliases").stdout
    assert_full_setup(ns)
    assert_no_leftovers(ns, temp)


def test_apply_during_a_rollback_is_refused(ns: Namespace) -> None:
    temp = temp_dirs(ns)
    runs = pair(ns, "rollback --yes", f"apply {ns.tmp}/full.toml", 0.3, slow=True)
    assert runs["first"][0] == 0, runs["first"][2]
    rc, _, out = runs["second"]
    assert rc == 2 and f"PID {runs['first'][1]}" in out, out
    assert "sales:" not in ns.run("cat /etc/aliases").stdout  # the rollback undid more.toml
    assert_full_setup(ns)
    assert_no_leftovers(ns, temp)


def test_two_different_applies_at_once_leave_one_whole_result(ns: Namespace) -> None:
    temp = temp_dirs(ns)
    runs = pair(ns, f"apply {ns.tmp}/more.toml", f"apply {ns.tmp}/full.toml", 0.1)
    codes = sorted(r[0] for r in runs.values())
    assert codes == [0, 2], runs
    more_won = runs["first"][0] == 0  # the later one may start faster: either is fine
    assert ("sales:" in ns.run("cat /etc/aliases").stdout) == more_won
    assert_full_setup(ns)
    assert_no_leftovers(ns, temp)


def test_a_stale_lock_of_a_dead_process_does_not_block(ns: Namespace) -> None:
    dead = ns.run("sh -c 'echo $$' ").stdout.strip()  # a PID that has exited
    ns.run(f"echo {dead} > /run/mailwizard.lock")
    result = run_wizard(ns, "rollback", "--yes", env=ENV)
    assert result.returncode == 0, result.stdout
    assert "sales:" not in ns.run("cat /etc/aliases").stdout
    print(f"concurrent pairs run: {len(PAIRS_RUN)}: {PAIRS_RUN}")
