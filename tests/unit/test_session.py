"""The TUI's outcome line (mailwizard.session): what one run of the wizard changed."""

from __future__ import annotations

from mailwizard.apply import INTERRUPTED, ApplyResult
from mailwizard.session import Session

B1, B2 = "/var/backups/mailwizard/20261204T030000000001Z", "/var/backups/mailwizard/B2"


def test_nothing() -> None:
    assert Session().line() == "mailwizard: outcome: nothing was changed in this session"


def test_an_empty_plan_changed_nothing() -> None:
    session = Session()
    session.record_apply(("hostname",), ApplyResult(ok=True))
    assert session.line() == "mailwizard: outcome: nothing was changed in this session"


def test_applies_name_their_steps_once_and_the_last_backup() -> None:
    session = Session()
    session.record_apply(("hostname",), ApplyResult(True, B1))
    session.record_apply(("dkim", "hostname"), ApplyResult(True, B2))
    assert session.line() == (
        "mailwizard: outcome: applied hostname, dkim in this session (2 applies; the last "
        f"one's old files are in {B2}: `mailwizard rollback` undoes it)")


def test_failures_follow_what_was_applied() -> None:
    session = Session()
    session.record_apply(("hostname",), ApplyResult(True, B1))
    session.record_apply(("sasl",), ApplyResult(False, B2, "postfix check", "bad\nmore", True))
    session.record_apply(("dkim",), ApplyResult(False, B2, INTERRUPTED,
                                                "stopped by ctrl+q (stop and restore)", True))
    assert session.line() == (
        "mailwizard: outcome: applied hostname in this session (the old files are in "
        f"{B1}: `mailwizard rollback` undoes it); sasl not applied (failed at postfix check; "
        "every file restored); dkim not applied (stopped by ctrl+q (stop and restore); every "
        "file restored)")


def test_an_apply_that_could_not_restore_is_not_nothing() -> None:
    session = Session()
    session.record_apply(("tls",), ApplyResult(False, B1, "reload", "x", restored=False))
    assert session.changed
    assert session.line() == (
        "mailwizard: outcome: the machine may have changed in this session; tls failed at "
        f"reload and NOT every file was restored: the old files are in {B1}")


def test_install_and_undo() -> None:
    session = Session()
    session.record_install(("postfix", "opendkim"))
    session.record_undo()
    assert session.line() == ("mailwizard: outcome: installed postfix, opendkim; undid the "
                              "apply that had not finished in this session")
