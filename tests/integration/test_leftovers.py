"""Issue 8 item 7 on real daemons: a failed apply leaves the machine as it found it.

A full apply (every section: gpasswd, saslpasswd2, make-ssl-cert, opendkim-genkey, the
records file in a new /etc/mailwizard) fails at its end; afterwards every path under /etc and
the chroot's /etc is as before (content, mode, owner, and no new directory: gpasswd's
/etc/group- and /etc/gshadow- included), and each daemon is as it was: opendkim stopped stays
stopped, running stays running; a Postfix that runs is never reported as gone.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import full_answers, run_wizard

pytestmark = pytest.mark.integration

PASSWORD = "Corr3ct-Horse-Battery-9"
TREES = "/etc /var/spool/postfix/etc"
START_OPENDKIM = ("install -d -o opendkim -g opendkim -m 750 /run/opendkim; "
                  "opendkim -x /etc/opendkim.conf -P /run/opendkim/opendkim.pid")


def state(ns: Namespace) -> str:
    """Every path under TREES with its type, mode and owner, and every file's sha256."""
    return ns.run(f"find {TREES} -xdev -printf '%y %m %u:%g %p\\n' | sort; "
                  f"find {TREES} -xdev -type f -print0 | sort -z | xargs -0 sha256sum").stdout


def same(before: str, after: str) -> str:
    """What differs between two ``state`` listings ("" when nothing), for the assertion."""
    old, new = set(before.splitlines()), set(after.splitlines())
    return "\n".join([f"- {line}" for line in sorted(old - new)]
                     + [f"+ {line}" for line in sorted(new - old)])


def opendkim_running(ns: Namespace) -> bool:
    return ns.run("pgrep -x opendkim", check=False).returncode == 0


def postfix_running(ns: Namespace) -> bool:
    return ns.run("postfix status", check=False).returncode == 0


def shim(ns: Namespace, fail: str) -> str:
    """A directory whose `postfix` fails the subcommand ``fail`` and runs the real one else."""
    where = f"{ns.tmp}/shim-{fail}"
    ns.run(f"mkdir -p {where}; printf '%s\\n' '#!/bin/sh' "
           f"'[ \"$1\" = {fail} ] && {{ echo \"postfix: fatal: injected fault\" >&2; exit 1; }}' "
           f"'exec /usr/sbin/postfix \"$@\"' > {where}/postfix; chmod +x {where}/postfix")
    return where


def failed_apply(ns: Namespace, fail: str) -> str:
    answers = ns.tmp / "all.toml"
    answers.write_text(full_answers())
    result = run_wizard(ns, "apply", str(answers),
                        env=f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)} "
                            f"PATH={shim(ns, fail)}:$PATH")
    assert result.returncode == 2, result.stdout
    assert "every file was restored" in result.stdout, result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    """A fresh Debian set-up: no SASL users, no DKIM key, no /etc/mailwizard; opendkim stopped."""
    with Namespace(hostname="mail.example.com") as namespace:
        namespace.run("""
            echo mail.example.com > /etc/hostname
            rm -f /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/*.private
            rm -rf /etc/mailwizard
            ! pgrep -x opendkim
            ! grep -q '^sasl:.*postfix' /etc/group
            """)
        namespace.boot()
        yield namespace


def test_a_failed_apply_leaves_no_file_directory_or_daemon_behind(ns: Namespace) -> None:
    before = state(ns)
    assert not opendkim_running(ns) and postfix_running(ns)
    out = failed_apply(ns, "check")
    assert "Adding user postfix to group sasl" in out  # gpasswd ran (and wrote group-)
    assert same(before, state(ns)) == "", out
    assert ns.run("test ! -e /etc/mailwizard", check=False).returncode == 0, out
    assert not opendkim_running(ns), out  # stopped before: not started by the restore
    assert "opendkim left stopped, as it was before the apply" in out, out
    assert postfix_running(ns)
    assert "did not come back" not in out, out


def test_a_daemon_the_apply_started_is_stopped_again(ns: Namespace) -> None:
    """The reload fails after opendkim was restarted (services go in name order): opendkim,
    stopped before, is stopped again; postfix's reload fails in the restore too, yet it runs,
    and the report says so instead of "did not come back"."""
    before = state(ns)
    assert not opendkim_running(ns)
    out = failed_apply(ns, "reload")
    assert same(before, state(ns)) == "", out
    assert not opendkim_running(ns), out
    # the restore found it running (the apply had started it) and stopped it
    assert "opendkim stopped again: it was not running before the apply" in out, out
    assert postfix_running(ns)
    assert "did not come back" not in out, out
    assert "postfix is running, but its reload failed" in out, out


def test_a_daemon_that_ran_before_runs_after_on_the_old_configuration(ns: Namespace) -> None:
    ns.run(START_OPENDKIM)
    assert opendkim_running(ns)
    before = state(ns)
    out = failed_apply(ns, "check")
    assert same(before, state(ns)) == "", out
    assert opendkim_running(ns), out
    assert "opendkim back on the old configuration" in out, out
    assert "postfix back on the old configuration" in out, out
    # the old configuration: Debian's socket, not the apply's inet:8891
    assert ns.run("test -S /run/opendkim/opendkim.sock", check=False).returncode == 0
    assert ns.run("ss -Hltn 'sport = :8891'").stdout.strip() == ""


# The same on a booted systemd (what real servers run): the services are units there, and a
# restore starts or stops them through systemctl.

def systemctl_shim(ns: Namespace) -> str:
    """A directory whose `systemctl reload-or-restart postfix` fails; all else is real."""
    where = f"{ns.tmp}/shim-systemctl"
    ns.run(f"mkdir -p {where}; printf '%s\\n' '#!/bin/sh' "
           "'[ \"$1\" = reload-or-restart ] && [ \"$2\" = postfix ] && "
           "{ echo \"injected fault\" >&2; exit 1; }' "
           f"'exec /usr/bin/systemctl \"$@\"' > {where}/systemctl; chmod +x {where}/systemctl")
    return where


def active(ns: Namespace, unit: str) -> str:
    return ns.run(f"systemctl is-active {unit}", check=False).stdout.strip()


@pytest.fixture(scope="module")
def booted() -> Iterator[Namespace]:
    with Namespace(hostname="mail.example.com", systemd=True) as namespace:
        namespace.run("""
            echo mail.example.com > /etc/hostname
            rm -f /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/*.private
            rm -rf /etc/mailwizard
            systemctl stop opendkim
            """)
        namespace.boot()
        yield namespace


def test_on_systemd_a_stopped_unit_stays_stopped(booted: Namespace) -> None:
    ns = booted
    assert active(ns, "opendkim") == "inactive" and active(ns, "postfix@-") == "active"
    before = state(ns)
    out = failed_apply(ns, "check")
    assert same(before, state(ns)) == "", out
    assert active(ns, "opendkim") == "inactive", out
    assert "opendkim left stopped, as it was before the apply" in out, out
    assert active(ns, "postfix@-") == "active"
    assert "did not come back" not in out, out


def test_on_systemd_a_unit_the_apply_started_is_stopped_again(booted: Namespace) -> None:
    ns = booted
    before = state(ns)
    answers = ns.tmp / "all.toml"
    answers.write_text(full_answers())
    result = run_wizard(ns, "apply", str(answers),
                        env=f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)} "
                            f"PATH={systemctl_shim(ns)}:$PATH")
    out = result.stdout
    assert result.returncode == 2 and "every file was restored" in out, out
    assert same(before, state(ns)) == "", out
    assert "opendkim stopped again: it was not running before the apply" in out, out
    assert active(ns, "opendkim") == "inactive", out
    assert active(ns, "postfix@-") == "active"
    assert "did not come back" not in out, out
    assert "postfix is running, but its reload failed" in out, out
