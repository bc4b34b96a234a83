"""A failure caused outside the wizard says what to do (the apply's side: test_apply)."""

from __future__ import annotations

import pytest

from mailwizard.failadvice import advice
from mailwizard.preflight import InstallCommand, InstallPlan, run_install
from mailwizard.system import System
from tests.support import RecordingRunner

DEBCONF = ('debconf: DbDriver "config": /var/cache/debconf/config.dat is locked by another '
           "process: Resource temporarily unavailable")
DPKG = ("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 "
        "(unattended-upgr)\nE: Unable to acquire the dpkg frontend lock "
        "(/var/lib/dpkg/lock-frontend), is another process using it?")


@pytest.mark.parametrize(("output", "words"), [
    (DEBCONF, "unattended-upgrades"),
    (DPKG, "Wait until it has finished"),
    ("E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the "
     "problem.", "dpkg --configure -a"),
    ("Err:1 http://deb.debian.org/debian bookworm InRelease\n  Temporary failure resolving "
     "'deb.debian.org'", "cannot reach its package mirrors"),
])
def test_known_outside_causes_get_one_thing_to_do(output: str, words: str) -> None:
    assert words in advice(output)


def test_other_failures_get_no_advice() -> None:
    assert advice("postfix/postconf: fatal: bad parameter value: smtpd_tls_cert_file") == ""
    assert advice("") == ""


def test_install_failure_reason_carries_the_advice(system: System,
                                                   runner: RecordingRunner) -> None:
    runner.fail_on = lambda argv: argv[0] == "apt-get"
    runner.fail_output = DPKG
    command = InstallCommand(("apt-get", "install", "-y", "postfix"), "install")
    plan = InstallPlan(("postfix",), "mail.example.com", (command,))
    result = run_install(system, plan, lambda line: None, lambda progress: None)
    assert not result.ok
    assert "Wait until it has finished" in result.reason
