"""Issue 8 item 5 on a real machine: kill -9 during a password change leaves the old password
in no backup on disk; the one copy a rollback needs is root-only on tmpfs (/run); `mailwizard
rollback --yes` puts the old password back live (AUTH 235 with it) and then that copy is gone.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import PROJECT, run_wizard, tls_namespace

pytestmark = pytest.mark.integration

OLD = "0ld-Integration-Passw0rd"
NEW = "N3w-Integration-Passw0rd"
ENV = "MAILWIZARD_PASSWORD_ALICE"
ANSWERS = f'[[sasl.users]]\nuser = "alice@example.com"\npassword_env = "{ENV}"\n'
SHIM = """#!/bin/sh
touch /run/mw-at-saslpasswd2
sleep 60
exec {real} "$@"
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with tls_namespace() as namespace:
        yield namespace


def auth(ns: Namespace, password: str) -> str:
    return ns.run(f"swaks --server 127.0.0.1 --tls --quit-after AUTH --auth PLAIN "
                  f"--auth-user alice@example.com --auth-password {shlex.quote(password)} "
                  "2>&1 || true").stdout


def holders(ns: Namespace, *trees: str) -> str:
    needles = " ".join(f"-e {shlex.quote(s)}" for s in (OLD, NEW))
    return ns.run(f"grep -rlaF {needles} {' '.join(trees)} 2>/dev/null || true").stdout.strip()


def test_kill_9_mid_change_then_rollback(ns: Namespace) -> None:
    answers = ns.tmp / "alice.toml"
    answers.write_text(ANSWERS)
    first = run_wizard(ns, "apply", str(answers), env=f"{ENV}={OLD}")
    assert first.returncode == 0, first.stdout
    assert "235 " in auth(ns, OLD)
    before = ns.run("sha256sum /etc/sasldb2 /var/spool/postfix/etc/sasldb2").stdout
    shim = ns.tmp / "shim"
    shim.mkdir()
    real = ns.run("command -v saslpasswd2").stdout.strip()
    (shim / "saslpasswd2").write_text(SHIM.format(real=real))
    (shim / "saslpasswd2").chmod(0o755)
    argv = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "mailwizard", "apply",
                                             str(answers)))
    killed = ns.run(f"""
        cd {shlex.quote(str(PROJECT))}
        {ENV}={NEW} PATH={shim}:$PATH {argv} > {ns.tmp}/out 2>&1 &
        pid=$!
        for i in $(seq 600); do [ -e /run/mw-at-saslpasswd2 ] && break; sleep 0.1; done
        [ -e /run/mw-at-saslpasswd2 ] || {{ echo never reached saslpasswd2; exit 1; }}
        kill -9 $pid; wait $pid || echo "exit $?"
        sleep 0.5; pkill -x sleep || true
    """, timeout=120).stdout
    assert "exit 137" in killed, killed
    # The database is as before (saslpasswd2 never ran), and no backup on disk holds it.
    assert ns.run("sha256sum /etc/sasldb2 /var/spool/postfix/etc/sasldb2").stdout == before
    assert holders(ns, "/var/backups", "/var/log", str(ns.tmp / "out")) == ""
    copies = ns.run("find /run/mailwizard/secrets -type f -printf '%m %u %p\\n'").stdout
    assert copies.count("600 root /run/mailwizard/secrets/") == 2, copies  # db + chroot copy
    dirs = ns.run("find /run/mailwizard -type d -printf '%m %u\\n' | sort -u").stdout.split("\n")
    assert [d for d in dirs if d] == ["700 root"], dirs
    # The next mailwizard says the apply was interrupted; rollback undoes exactly it.
    back = run_wizard(ns, "rollback", "--yes")
    assert back.returncode == 0, back.stdout
    assert "did not finish" in back.stdout, back.stdout
    assert ns.run("sha256sum /etc/sasldb2 /var/spool/postfix/etc/sasldb2").stdout == before
    assert "235 " in auth(ns, OLD)
    assert holders(ns, "/var/backups", "/run/mailwizard", "/var/log") == ""
    assert OLD not in back.stdout and NEW not in back.stdout
