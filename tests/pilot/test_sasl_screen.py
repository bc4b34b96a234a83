"""Pilot tests: the SASL screen lists logins, adds, changes and deletes them, never shows a
password, and shows the TLS warning; review and apply record the expected commands."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Static

from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.sasl import ConfirmDelete, LoginDialog, SaslScreen
from mailwizard.screens.streamlog import StreamLog
from mailwizard.secret import Secret
from tests.pilot.harness import (
    apply_from_review,
    make_app,
    screen_rows,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import OLD, PW, PW2, RecordingRunner, seed_logins


def screen_text(app: App[None]) -> str:
    """Everything the terminal shows now, as plain text (what a snapshot would hold)."""
    console = Console(width=200, record=True, file=io.StringIO())
    for screen in app.screen_stack:
        for widget in screen.query("*"):
            # No try/except: a widget that cannot render is a failure, not a widget to skip
            # (it could be the one that shows the password).
            console.print(widget.render())
    return console.export_text() + app.export_screenshot()


def assert_no_password(app: App[None], *extra: object) -> None:
    shown = screen_text(app) + "".join(str(x) for x in extra)
    shown += "".join(str(n.message) for n in app._notifications)
    for secret in (PW, PW2, OLD):
        assert secret not in shown


def static_plain(screen: object, selector: str) -> str:
    widget = screen.query_one(selector, Static)  # type: ignore[attr-defined]
    return str(widget.render())


def rows(screen: SaslScreen) -> list[str]:
    """The list as the admin reads it: "mark login  note"."""
    table = screen.query_one("#sasl-logins DataTable", DataTable)
    out = []
    for i in range(table.row_count):
        mark, login, note = (str(c) for c in table.get_row_at(i))
        out.append(f"{mark} {login}".strip() + (f"  {note}" if note else ""))
    return out


def new_passwords(screen: SaslScreen) -> dict[str, Secret]:
    """The pending new passwords (new logins and changed ones), by login."""
    return {e.key: e.value for e in screen.logins.entries if e.value is not None}


async def open_sasl(pilot: object) -> SaslScreen:
    await step_ready(pilot)  # type: ignore[arg-type]
    screen = pilot.app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, SaslScreen)
    return screen


async def add_login(pilot: object, login: str, pw: str, again: str | None = None) -> None:
    await pilot.press("ctrl+n")  # type: ignore[attr-defined]
    app = pilot.app  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, LoginDialog), what="dialog")  # type: ignore[arg-type]
    await type_into(pilot, "#field-sasl-user", login, keys=1)  # type: ignore[arg-type]
    await type_into(pilot, "#field-sasl-password", pw, keys=1)  # type: ignore[arg-type]
    await type_into(pilot, "#field-sasl-password_again", pw if again is None else again,
                    keys=1)  # type: ignore[arg-type]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


async def test_fresh_machine_lists_no_logins(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        assert rows(screen) == ["no logins yet: ctrl+n adds one"]
        assert screen.focused is screen.query_one("#sasl-logins DataTable", DataTable)
        assert "Nothing: the system already matches" in static_plain(screen, "#changes-text")
        assert not screen.query_one("#sasl-tls").display  # AUTH is off: no warning yet
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is screen
        await pilot.press("f1")
        assert app.screen.markdown.startswith("# SASL users")  # type: ignore[attr-defined]


async def test_the_brake_on_guessing_is_shown(sandbox: Path, runner: RecordingRunner) -> None:
    """Issue 8 item 5: the screen says that AUTH tries are limited, and how."""
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sasl(pilot)
        shown = screen_text(app)
        assert "against guessing: at most 10 AUTH tries a minute per client" in shown
        await pilot.press("f1")  # the help names the parameter
        assert "smtpd_client_auth_rate_limit = 10" in app.screen.markdown  # type: ignore[attr-defined]


async def test_existing_logins_and_tls_warning(sandbox: Path, runner: RecordingRunner) -> None:
    seed_logins(sandbox, "alice@example.com", "bob@example.com")
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        assert [r.strip() for r in rows(screen)] == ["alice@example.com", "bob@example.com"]
        assert screen.query_one("#sasl-enabled").value  # type: ignore[attr-defined]
        notice = screen.query_one("#sasl-tls", Static)
        assert notice.display
        assert notice.border_title == "! AUTH will never be offered without TLS"
        assert "Do the TLS step" in str(notice.render())
        # Placed in the banner, not repeated in the panel.
        assert "TLS" not in static_plain(screen, "#changes-text")


async def test_add_refuses_common_and_personal_passwords(
    sandbox: Path, runner: RecordingRunner
) -> None:
    """Issue 8 item 5 on the screen: the dialog stays open and says why (zxcvbn)."""
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_sasl(pilot)
        for pw, why in (("1234567890", "too common"), ("Password12", "too common"),
                        ("postmaster1", "built from the login")):
            if not isinstance(app.screen, LoginDialog):
                await add_login(pilot, "postmaster@example.com", pw)
            else:
                await type_into(pilot, "#field-sasl-password", pw, keys=1)
                await type_into(pilot, "#field-sasl-password_again", pw, keys=1)
                await pilot.press("enter")
                await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, LoginDialog), pw  # refused: still open
            message = static_plain(dialog.field("sasl.password"), ".field-message")
            assert message.startswith("✖ ") and why in message, message
            assert pw not in screen_text(app)
        await pilot.press("escape")
        assert new_passwords(screen) == {}


async def test_add_refuses_weak_and_mismatched_passwords(
    sandbox: Path, runner: RecordingRunner
) -> None:
    seed_logins(sandbox, "alice@example.com")
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await add_login(pilot, "bob@example.com", "short1")
        dialog = app.screen
        assert isinstance(dialog, LoginDialog)  # refused: still open
        message = static_plain(dialog.field("sasl.password"), ".field-message")
        assert message.startswith("✖ ") and "at least 10 characters" in message
        assert dialog.field("sasl.password").has_class("-error")
        assert_no_password(app, "short1")
        # Two different entries.
        await type_into(pilot, "#field-sasl-password", PW, keys=1)
        await type_into(pilot, "#field-sasl-password_again", PW2, keys=1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        again = static_plain(dialog.field("sasl.password_again"), ".field-message")
        assert "the two passwords differ" in again
        # The login exists already; a bare name is not a login.
        await type_into(pilot, "#field-sasl-user", "alice@example.com", keys=1)
        await pilot.pause()
        assert "exists already" in static_plain(dialog.field("sasl.user"), ".field-message")
        await type_into(pilot, "#field-sasl-user", "bob", keys=1)
        await pilot.pause()
        assert "full address" in static_plain(dialog.field("sasl.user"), ".field-message")
        assert_no_password(app)
        await pilot.press("escape")
        assert app.screen is screen
        assert [r.strip() for r in rows(screen)] == ["alice@example.com"]
        assert runner.calls == []


async def test_add_review_apply_never_shows_the_password(
    sandbox: Path, runner: RecordingRunner
) -> None:
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        assert not screen.query_one("#sasl-enabled").value  # type: ignore[attr-defined]
        await add_login(pilot, "Bob@Example.com", PW)
        assert app.screen is screen
        assert screen.query_one("#sasl-enabled").value  # type: ignore[attr-defined]
        await step_ready(pilot)
        assert rows(screen) == ["+ bob@example.com  new login"]
        assert new_passwords(screen) == {"bob@example.com": Secret(PW)}
        assert screen.query_one("#sasl-tls").display  # the fixture has no certificate
        changes = static_plain(screen, "#changes-text")
        assert "run: saslpasswd2 -p -c -f" in changes and "  < ••••••" in changes
        assert runner.calls == []
        assert "bob@example.com" in screen_text(app)  # the check below does see the screen
        assert_no_password(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        review = app.screen
        commands = static_plain(review, "#review-commands")
        assert re.search(r"saslpasswd2 -p -c -f \S+/etc/sasldb2 -u example\.com bob\s+< ••••••",
                         commands)
        assert "add the login bob@example.com" in commands
        assert "gpasswd -a postfix sasl" in commands
        diff = static_plain(review, "#review-diff")
        assert "+smtpd_sasl_auth_enable = yes" in diff
        assert "/etc/postfix/sasl/smtpd.conf" in diff
        assert_no_password(app, review.plan.diff())  # type: ignore[attr-defined]
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok, (
            apply_screen.result.failed, apply_screen.result.reason)
        log = "\n".join(apply_screen.query_one(StreamLog).lines)
        assert PW not in log
        assert_no_password(app, log)
        calls = [c for c in runner.calls if c.argv[0] == "saslpasswd2"]
        assert len(calls) == 1
        assert calls[0].argv[-3:] == ("-u", "example.com", "bob")
        assert calls[0].stdin == Secret(PW)  # on stdin only
        assert all(PW not in " ".join(c.argv) for c in runner.calls)
        argvs = [c.argv[0] for c in runner.calls]
        assert argvs.index("saslpasswd2") < argvs.index("install") < argvs.index("mv")
        assert "smtpd_sasl_auth_enable = yes" in (sandbox / "etc/postfix/main.cf").read_text()


async def test_apply_at_80x24_ends_on_the_result(sandbox: Path, runner: RecordingRunner) -> None:
    """#11 item 10: the log ends on its last line (not at ``▶ runuser…``) once the outcome
    box has taken its room, and the outcome box is whole."""
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_sasl(pilot)
        await add_login(pilot, "bob@example.com", PW)
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        await pilot.pause(0.3)
        shown = screen_rows(app)
        text = "\n".join(shown)
        top = next(i for i, row in enumerate(shown) if "╭" in row)  # the log's box
        bottom = next(i for i, row in enumerate(shown) if i > top and "╰" in row)
        assert "✔ applied" in shown[bottom - 1], text  # its last row: no blank, no scrollbar
        assert "✔ Applied." in text and "mailwizard rollback" in text, text


async def test_change_password_twice_masked(sandbox: Path, runner: RecordingRunner) -> None:
    seed_logins(sandbox, "alice@example.com", "bob@example.com")
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await pilot.press("enter")  # alice is highlighted
        await wait_for(pilot, lambda: isinstance(app.screen, LoginDialog), what="dialog")
        dialog = app.screen
        assert isinstance(dialog, LoginDialog)
        assert dialog.login == "alice@example.com"
        assert not dialog.query("#field-sasl-user")  # the login is fixed
        assert all(i.password for i in dialog.query("Input"))  # type: ignore[attr-defined]
        await type_into(pilot, "#field-sasl-password", PW, keys=2)
        await type_into(pilot, "#field-sasl-password_again", PW, keys=2)
        assert "•" * len(PW) in screen_text(app)  # masked, as typed
        assert_no_password(app)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        await step_ready(pilot)
        assert rows(screen)[0] == "~ alice@example.com  new password"
        changes = static_plain(screen, "#changes-text")
        # Built anew (no old password left in the file): alice's new one, bob copied over.
        assert "run: saslpasswd2 -p -c" in changes and "alice" in changes
        assert "run: install -m 600 /dev/null" in changes
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        commands = static_plain(app.screen, "#review-commands")
        assert "set a new password for alice@example.com" in commands
        assert "copy the login bob@example.com into the new database" in commands
        assert_no_password(app)
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        calls = [c for c in runner.calls if c.argv[0] == "saslpasswd2"]
        assert [(c.argv[-1], c.stdin) for c in calls] == [
            ("alice", Secret(PW)), ("bob", Secret(OLD))]
        assert_no_password(app)


async def test_delete_asks_first(sandbox: Path, runner: RecordingRunner) -> None:
    seed_logins(sandbox, "alice@example.com", "bob@example.com")
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await pilot.press("down", "ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete), what="confirm")
        assert "bob@example.com" in static_plain(app.screen, "#dialog-title")
        await pilot.press("enter")  # the focus is on Keep
        assert app.screen is screen
        assert rows(screen)[1].strip() == "bob@example.com"
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete), what="confirm")
        await pilot.click("#delete")
        await pilot.pause()
        assert app.screen is screen
        await step_ready(pilot)
        assert rows(screen)[1] == "− bob@example.com  will be deleted"
        changes = static_plain(screen, "#changes-text")
        assert "run: install -m 600 /dev/null" in changes and "bob" not in changes
        # ctrl+d again keeps it; and once more marks it.
        await pilot.press("ctrl+d")
        await step_ready(pilot)
        assert rows(screen)[1].strip() == "bob@example.com"
        assert "saslpasswd2" not in static_plain(screen, "#changes-text")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete), what="confirm")
        await pilot.click("#delete")
        await step_ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert "replace /etc/sasldb2 in one step; without bob@example.com" in static_plain(
            app.screen, "#review-commands")
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        # The new database holds alice only: bob is left out, not deleted in place.
        (call,) = [c for c in runner.calls if c.argv[0] == "saslpasswd2"]
        assert call.argv[:2] == ("saslpasswd2", "-p") and call.argv[-1] == "alice"
        assert call.stdin == Secret(OLD)


async def test_pending_add_can_be_dropped(sandbox: Path, runner: RecordingRunner) -> None:
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await add_login(pilot, "carol@example.com", PW2)
        await step_ready(pilot)
        assert rows(screen) == ["+ carol@example.com  new login"]
        await pilot.press("ctrl+d")  # a login not yet added: no question
        await step_ready(pilot)
        assert app.screen is screen
        assert rows(screen) == ["no logins yet: ctrl+n adds one"]
        assert new_passwords(screen) == {}
        assert_no_password(app)


async def test_dialog_keys_like_a_password_manager(sandbox: Path, runner: RecordingRunner) -> None:
    """login ⏎ password ⇥ password ⏎, all as keys: each lands in its own field."""
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, LoginDialog), what="dialog")
        await pilot.press(*"dan@example.com", "enter", *PW2, "tab", *PW2, "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert new_passwords(screen) == {"dan@example.com": Secret(PW2)}
        assert_no_password(app)



async def test_dialog_keys_in_one_burst(sandbox: Path, runner: RecordingRunner) -> None:
    """The same keys as one burst (a password manager's auto-type over SSH): enter and tab
    move on before the next key is read, backspace acts where it was typed (the dialog uses
    screens/keys.py's FOCUS_KEYS like every form)."""
    from mailwizard.screens.keys import FOCUS_KEYS
    from tests.pilot.harness import burst

    assert all(any(b is k for b in LoginDialog.BINDINGS) for k in FOCUS_KEYS)  # not a copy
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, LoginDialog), what="dialog")
        await burst(pilot, *"dan@example.comm", "backspace", "enter", *PW2, "tab", *PW2,
                    "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert new_passwords(screen) == {"dan@example.com": Secret(PW2)}
        assert_no_password(app)


async def test_a_field_told_its_problems_before_it_composes_shows_them_once_it_does() -> None:
    """A proposal can reach a field that is mounted but not composed yet (the login list's
    field, added while a worker's result arrives): it must not fail the worker with
    NoMatches, and the field shows the problem once it composes."""
    from mailwizard.screens.sasl import AuthField
    from mailwizard.screens.step_base import Field
    from mailwizard.steps.base import Problem

    app: App[None] = App()
    async with app.run_test() as pilot:
        logins = Field("Logins", "sasl.users", hint="who may send")
        auth = AuthField("AUTH", "sasl.auth", widget=Static("switch"))
        for field in (logins, auth):
            field.problems = [Problem(field.key, "two logins with one name"),
                              Problem(field.key, "TLS is not set up", level="warning")]
            field.show()  # before: NoMatches('.field-message')
        await app.screen.mount(logins, auth)
        await pilot.pause()
        for field in (logins, auth):
            assert "two logins with one name" in static_plain(field, ".field-message")
            assert field.has_class("-error")
        assert "TLS is not set up" in static_plain(auth, "#sasl-tls")


async def test_a_step_level_error_leaves_no_reading_line(
        sandbox: Path, runner: RecordingRunner) -> None:
    """Once the plan is worked out, an error the step itself raises (no SASL mechanisms on a
    root with a /usr/lib but no libsasl2-modules) is all the panel says: before, the
    "reading the current settings…" line stayed under it, as if something were still coming."""
    seed_logins(sandbox, "alice@example.com")  # AUTH on
    (sandbox / "usr/lib").mkdir(parents=True, exist_ok=True)  # no sasl2/libplain.so in it
    app = make_app(sandbox, runner, start_step="sasl")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sasl(pilot)
        assert screen.plan is None
        panel = static_plain(screen, "#changes-text")
        assert panel.startswith("✖ sasl: no SASL mechanisms are installed (libsasl2-modules)")
        assert "apt-get install libsasl2-modules" in panel  # what to do
        assert "reading" not in panel
        # Turned off and on again: the same, with nothing left over from the last result.
        await pilot.click("#sasl-enabled")
        await step_ready(pilot)
        assert "reading" not in static_plain(screen, "#changes-text")
        await pilot.click("#sasl-enabled")
        await step_ready(pilot)
        assert static_plain(screen, "#changes-text") == panel
