"""Issue 8 item 4 on a real machine: applies interrupted at several moments by each signal.

A full apply (every step, real Postfix, opendkim, Cyrus SASL) is held at a chosen moment by
a PATH shim (postalias, opendkim-genkey as in the issue's DKIM case, `postfix check`, and
`postfix reload`, the last step), then signalled. SIGHUP, SIGTERM and SIGINT must restore
every file byte for byte (or, in the last step, let it finish) and say which; kill -9 must
leave a journal so that the next run says so and `rollback` undoes exactly that apply.
After each case Postfix runs, `postfix check` passes and opendkim is as it was.
"""

from __future__ import annotations

import json
import shlex
import signal
import sys
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import PROJECT, full_answers, prepared_namespace, run_wizard

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-Horse-Battery-9"
ENV = f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)}"
# What the apply writes or touches, hashed with mode and owner.
WATCHED = ("/etc/postfix /etc/opendkim.conf /etc/dkimkeys /etc/aliases /etc/aliases.db "
           "/etc/hostname /etc/hosts /etc/mailname /etc/sasldb2 /etc/group /etc/gshadow "
           "/var/spool/postfix/etc /etc/default")
# moment: (program the shim holds, its first argument or "" for any)
MOMENTS = {
    "postalias": ("postalias", ""),
    "dkim-genkey": ("opendkim-genkey", ""),
    "postfix-check": ("postfix", "check"),
    "reload": ("postfix", "reload"),
}
SIGNALS = {"HUP": signal.SIGHUP, "TERM": signal.SIGTERM, "INT": signal.SIGINT}
RECOVERED: list[str] = []


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with prepared_namespace(answers=full_answers()) as namespace:
        yield namespace


def state(ns: Namespace) -> str:
    """Every watched file: its bytes' sha256, mode, owner and group."""
    return ns.run(
        f"find {WATCHED} -xdev \\( -type f -o -type l \\) 2>/dev/null | sort | "
        "while read -r f; do printf '%s %s ' \"$(stat -c '%a %U %G' \"$f\")\" "
        "\"$(sha256sum < \"$f\" | cut -c1-16)\"; echo \"$f\"; done; true", timeout=60,
        check=False).stdout


def services(ns: Namespace) -> str:
    return ns.run("postfix status >/dev/null 2>&1 && echo postfix=up || echo postfix=down; "
                  "pgrep -x opendkim >/dev/null && echo opendkim=up || echo opendkim=down; "
                  "postfix check >/dev/null 2>&1 && echo check=ok || echo check=bad",
                  check=False).stdout


def interrupted_apply(ns: Namespace, moment: str, signum: int) -> tuple[int, str]:
    """Run the full apply with a shim holding ``moment`` for 3 s; send ``signum`` there."""
    program, first = MOMENTS[moment]
    out = ns.tmp
    shim = out / "shim"
    shim.mkdir(exist_ok=True)
    for old in shim.iterdir():
        old.unlink()
    real = ns.run(f"command -v {program}").stdout.strip()
    condition = f'[ "$1" = {first} ]' if first else "true"
    (shim / program).write_text(
        f"#!/bin/sh\nif {condition}; then touch {out}/reached; sleep 3; fi\n"
        f'exec {real} "$@"\n')
    (shim / program).chmod(0o755)
    python = f"{shlex.quote(sys.executable)} -m mailwizard"
    script = f"""
        cd {shlex.quote(str(PROJECT))}
        rm -f {out}/reached
        export {ENV} TMPDIR={out}/tmpdir
        mkdir -p {out}/tmpdir
        PATH={shim}:$PATH {python} apply {out}/full.toml > {out}/apply.out 2>&1 & pid=$!
        for i in $(seq 600); do [ -e {out}/reached ] && break; sleep 0.05; done
        [ -e {out}/reached ] || {{
            echo "never reached {moment}"; cat {out}/apply.out; kill -9 $pid; exit 1; }}
        sleep 0.3
        kill -{signum} $pid
        wait $pid && rc=0 || rc=$?
        echo "$rc"
    """
    rc = int(ns.run(script, timeout=300).stdout.split()[-1])
    return rc, (out / "apply.out").read_text()


def no_temp_left(ns: Namespace) -> None:
    assert ns.run(f"ls -A {ns.tmp}/tmpdir").stdout.strip() == ""


@pytest.mark.parametrize("sig", list(SIGNALS))
@pytest.mark.parametrize("moment", ["postalias", "dkim-genkey", "postfix-check"])
def test_a_signal_mid_apply_restores_every_file_and_says_so(
        ns: Namespace, moment: str, sig: str) -> None:
    before, running = state(ns), services(ns)
    rc, out = interrupted_apply(ns, moment, SIGNALS[sig])
    assert rc == 2, out
    assert f"SIG{sig}" in out and "stopping at the next safe point" in out, out
    assert f"mailwizard: apply stopped by SIG{sig}" in out, out
    assert "every file was restored from /var/backups/mailwizard/" in out, out
    assert state(ns) == before
    assert services(ns) == running
    no_temp_left(ns)
    RECOVERED.append(f"{moment}×SIG{sig}: restored")


@pytest.mark.parametrize("sig", list(SIGNALS))
def test_a_signal_in_the_last_step_lets_it_finish_and_rollback_undoes_it(
        ns: Namespace, sig: str) -> None:
    before, running = state(ns), services(ns)
    rc, out = interrupted_apply(ns, "reload", SIGNALS[sig])
    assert rc == 0, out
    assert "Applied." in out and f"SIG{sig}" in out and "so it finished" in out, out
    milter = ns.run("postconf -h smtpd_milters smtpd_sasl_auth_enable").stdout
    assert milter == "inet:127.0.0.1:8891\nyes\n", milter
    assert "postfix=up" in services(ns) and "check=ok" in services(ns)
    result = run_wizard(ns, "rollback", "--yes", env=ENV)
    assert result.returncode == 0, result.stdout
    assert state(ns) == before
    assert services(ns) == running
    RECOVERED.append(f"reload×SIG{sig}: finished, then rolled back")


@pytest.mark.parametrize("moment", ["postalias", "dkim-genkey", "postfix-check"])
def test_after_kill_9_the_next_run_says_so_and_rollback_undoes_exactly_it(
        ns: Namespace, moment: str) -> None:
    # a good apply first (host name and domains only): what a wrong rollback would undo
    (ns.tmp / "small.toml").write_text(full_answers().split("[aliases]")[0])
    good = run_wizard(ns, "apply", f"{ns.tmp}/small.toml", env=ENV)
    assert good.returncode == 0 and "Applied." in good.stdout, good.stdout
    before, running = state(ns), services(ns)
    rc, out = interrupted_apply(ns, moment, signal.SIGKILL)  # the full apply, killed
    assert rc == 128 + signal.SIGKILL, out
    said = run_wizard(ns, "zone", env=ENV).stdout
    assert "did not finish" in said and "mailwizard rollback" in said, said
    result = run_wizard(ns, "rollback", "--yes", env=ENV)
    assert result.returncode == 0, result.stdout
    assert state(ns) == before  # exactly the killed apply undone; the good one kept
    assert "mwadmin" not in ns.run("cat /etc/aliases").stdout
    assert services(ns) == running
    assert "did not finish" not in run_wizard(ns, "zone", env=ENV).stdout
    undo = run_wizard(ns, "rollback", "--yes", env=ENV)  # back to the start for the others
    assert undo.returncode == 0, undo.stdout
    RECOVERED.append(f"{moment}×SIGKILL: journal, rolled back")


@pytest.mark.parametrize("mode", ["ctrl+q stop", "HUP", "TERM", "INT", "ctrl+q finish"])
def test_the_tui_cut_short_during_the_dkim_key_restores_or_finishes_and_says_so(
        ns: Namespace, mode: str) -> None:
    """The issue's case: ctrl+q or SIGHUP while the DKIM key is made (real app, real
    runner, real daemons)."""
    before, running = state(ns), services(ns)
    out = ns.tmp
    shim = out / "shim"
    shim.mkdir(exist_ok=True)
    for old in shim.iterdir():
        old.unlink()
    real = ns.run("command -v opendkim-genkey").stdout.strip()
    (shim / "opendkim-genkey").write_text(
        f"#!/bin/sh\ntouch {out}/reached\nsleep 2\nexec {real} \"$@\"\n")
    (shim / "opendkim-genkey").chmod(0o755)
    result = ns.run(
        f"cd {shlex.quote(str(PROJECT))}\nrm -f {out}/reached; mkdir -p {out}/tmpdir\n"
        f"export {ENV} TMPDIR={out}/tmpdir PATH={shim}:$PATH\n"
        f"{shlex.quote(sys.executable)} -m tests.integration.tui_interrupt_driver "
        f"{out}/full.toml {out}/reached {shlex.quote(mode)}", timeout=300)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    if mode.startswith("ctrl+q"):
        assert seen["asked"] and seen["running_when_asked"], seen
    if mode == "ctrl+q finish":
        assert seen["ok"] and "mailwizard: applied" in seen["said"], seen
        assert ns.run("postconf -h smtpd_milters").stdout == "inet:127.0.0.1:8891\n"
        assert "opendkim=up" in services(ns) and "check=ok" in services(ns)
        undo = run_wizard(ns, "rollback", "--yes", env=ENV)
        assert undo.returncode == 0, undo.stdout
    else:
        why = "ctrl+q" if mode.startswith("ctrl+q") else f"SIG{mode}"
        assert not seen["ok"] and seen["restored"] and seen["failed"] == "interrupted", seen
        assert f"apply stopped by {why}" in seen["said"], seen
        assert "every file was restored" in seen["said"], seen
    assert state(ns) == before
    assert services(ns) == running
    no_temp_left(ns)
    RECOVERED.append(f"TUI dkim-genkey×{mode}: "
                     + ("finished, then rolled back" if "finish" in mode else "restored"))


def test_closing_count() -> None:
    print(f"moments × signals interrupted and recovered: {len(RECOVERED)}: {RECOVERED}")
