"""The SASL step's screen: a list of logins with pending adds, new passwords and deletions.

The list is a :class:`ListEditor` of the pending edits; the admin edits it in small dialogs
(ctrl+n add, enter/ctrl+e new password, ctrl+d delete with a confirmation); nothing happens
until review and apply. ``answers_from_form`` turns the pending edits into one
:class:`SaslAnswers`, so "What will change", review, apply and help work as on every other
step. Passwords become :class:`Secret` the moment a dialog closes and are only ever shown as
``••••••`` (masked inputs; ``Command.display``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from mailwizard import validate
from mailwizard.pending import Entry, PendingEdits
from mailwizard.secret import Secret
from mailwizard.steps.base import Problem
from mailwizard.steps.sasl import (
    AUTH_RATE_LIMIT,
    SaslAnswers,
    logins_answers,
    password_problems,
    pending_logins,
)
from mailwizard.validate import Invalid

from .keys import FOCUS_KEYS
from .list_editor import ListEditor
from .step_base import Field, StepScreen
from .toggles import Tick

USERS = "sasl.users"
ENABLED = "sasl.enabled"
USER = "sasl.user"
PASSWORD = "sasl.password"
AGAIN = "sasl.password_again"
TLS_TITLE = "! AUTH will never be offered without TLS"
HERE = Path(__file__).parent
CSS: list[str | PurePath] = [HERE / "step_base.tcss", HERE / "sasl.tcss"]


class LoginsField(Field):
    """The list of logins; problems about ``sasl.users[i]`` and ``sasl.remove[i]`` land here."""

    def matches(self, problem: Problem) -> bool:
        f = problem.field
        return super().matches(problem) or f == "sasl.remove" or f.startswith("sasl.remove[")


class AuthField(Field):
    """The AUTH switch, the brake on guessing under it (or an error), and, when the step warns
    that TLS is missing, a framed explanation."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.label, classes="field-label")
            yield self.widget
        yield Static(self.message(), classes="field-message", markup=False)
        notice = Static(self._notice(), id="sasl-tls", markup=False)
        notice.border_title = TLS_TITLE
        notice.display = bool(self._notice())
        yield notice

    def message(self) -> Text:
        """Its error, else the hint: its warnings go in the framed notice."""
        errors = [p.message for p in self.problems if p.level == "error"]
        return Text("✖ " + errors[0], style="bold red") if errors else Text(self.hint,
                                                                           style="dim")

    def _notice(self) -> str:
        return "\n".join(p.message for p in self.problems if p.level == "warning")

    def show(self) -> None:
        super().show()
        for notice in self.query("#sasl-tls").results(Static):
            notice.display = bool(self._notice())
            notice.update(Text(self._notice()))


class ConfirmDelete(ModalScreen[bool]):
    """Delete a login? The safe answer (keep) has the focus."""

    CSS_PATH = CSS
    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "keep", "keep")]

    def __init__(self, login: str) -> None:
        super().__init__()
        self.login = login

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"Delete the login {self.login}?", style="bold"),
                         id="dialog-title")
            yield Static(Text("Mail programs that use it will be refused (535) once this is "
                              "applied. Nothing changes before review and apply."),
                         id="dialog-text")
            with Horizontal(id="dialog-buttons"):
                yield Button("Delete", variant="error", id="delete")
                yield Button("Keep", id="keep")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "delete")

    def action_keep(self) -> None:
        self.dismiss(False)


class LoginDialog(ModalScreen[tuple[str, Secret] | None]):
    """A new login (login, password, again) or a new password for ``login`` (twice).

    ``check(login)`` says why a login cannot be added (None: it can). The password leaves
    this dialog only as a :class:`Secret`; messages never contain it.
    """

    CSS_PATH = CSS
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "cancel"),
        *FOCUS_KEYS,  # keys in a burst: see screens/keys.py
        Binding("enter", "enter", "next", show=False, priority=True),
    ]

    def __init__(self, login: str | None = None,
                 check: Callable[[str], str | None] = lambda login: None) -> None:
        super().__init__()
        self.login = login
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            title = f"New password for {self.login}" if self.login else "Add a login"
            yield Static(Text(title, style="bold"), id="dialog-title")
            if self.login is None:
                yield Field("Login", USER, check=validate.sasl_user,
                            placeholder="alice@example.com",
                            hint="a full address; the part after @ is the realm")
            yield Field("Password", PASSWORD, password=True,
                        hint=f"at least {validate.MIN_PASSWORD} characters, not the login")
            yield Field("Again", AGAIN, password=True, hint="the same password once more")
            with Horizontal(id="dialog-buttons"):
                yield Button("Add" if self.login is None else "Set", variant="primary",
                             id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        for field_input in self.query(Input):
            field_input.cursor_blink = not self.app.is_headless
        self.query(Input).first().focus()

    def _input(self, key: str) -> Input:
        field_input = self.field(key).input
        assert field_input is not None
        return field_input

    def field(self, key: str) -> Field:
        for field in self.query(Field):
            if field.key == key:
                return field
        raise KeyError(key)

    def _typed_login(self) -> tuple[str, list[Problem]]:
        if self.login is not None:
            return self.login, []
        raw = self._input(USER).value
        try:
            login = validate.sasl_user(raw)
        except Invalid as exc:
            return raw.strip(), [Problem(USER, str(exc))]
        problem = self.check(login)
        return login, [Problem(USER, problem)] if problem else []

    def _check(self, final: bool) -> bool:
        """Mark the fields; ``final`` also checks empty fields and the second entry."""
        login, problems = self._typed_login()
        secret = Secret(self._input(PASSWORD).value)
        again = Secret(self._input(AGAIN).value)
        problems += password_problems(login, secret, again)
        typed = {USER: bool(self.login is None and self._input(USER).value),
                 PASSWORD: bool(secret), AGAIN: bool(again) and len(again) >= len(secret)}
        shown = [p for p in problems if final or typed.get(p.field, False)]
        for field in self.query(Field):
            field.local_error = ""
            field.problems = [p for p in shown if field.matches(p)]
            field.show()
        return not problems

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._check(final=False)

    def action_enter(self) -> None:
        """enter: the next field, or add/set from the last one (or press the focused button).

        A priority binding moves the focus before the next key is routed, so keys typed
        ahead (a password manager's auto-type) never land in the visible login field.
        """
        focused = self.focused
        inputs = list(self.query(Input))
        if isinstance(focused, Button):
            focused.press()
        elif inputs and focused is inputs[-1]:
            self._after_typing(inputs, self._done)
        else:
            self.focus_next()

    def _after_typing(self, inputs: list[Input], then: Callable[[], object]) -> None:
        """Run ``then`` once every Input has handled the keys already sent to it (a callback
        queued behind them on each Input in turn)."""
        if not inputs:
            then()
            return
        first, rest = inputs[0], inputs[1:]
        first.call_later(self._after_typing, rest, then)

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self._after_typing(list(self.query(Input)), self._done)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _done(self) -> None:
        if not self._check(final=True):
            bad = next(f for f in self.query(Field) if f.has_error)
            if bad.input is not None:
                bad.input.focus()
            self.notify(f"{bad.label}: fix the marked field first", severity="error")
            return
        login, _ = self._typed_login()
        self.dismiss((login, Secret(self._input(PASSWORD).value)))


def _note(entry: Entry[Secret | None]) -> str:
    if entry.deleted:
        return "will be deleted"
    if entry.is_new:
        return "new login"
    return "new password" if entry.value is not None else ""


class SaslScreen(StepScreen[SaslAnswers]):
    """The logins in /etc/sasldb2 with pending edits; AUTH on/off; the TLS warning."""

    CSS_PATH = CSS  # type: ignore[assignment]  # the base's CSS too: it may not be loaded yet
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+n", "add", "add", key_display="^n"),
        Binding("ctrl+e", "password", "new password", key_display="^e", show=False),
        Binding("ctrl+d", "delete", "delete", key_display="^d"),
    ]

    def __init__(self, step: Any) -> None:
        super().__init__(step)
        self.logins: PendingEdits[Secret | None] = pending_logins(SaslAnswers())

    # The form ---------------------------------------------------------------------------

    def compose_form(self) -> ComposeResult:
        yield LoginsField("Logins", USERS, widget=ListEditor(
            columns=("Login", ""), detail=_note, italic_detail=True, header=False,
            empty="no logins yet: ctrl+n adds one", id="sasl-logins"),
            hint="⏎ new password · ^n add · ^d delete · all after review")
        yield AuthField("AUTH", ENABLED, widget=Tick(
            "offer logins after STARTTLS (ports 25 and 587)", id="sasl-enabled"),
            hint=f"against guessing: at most {AUTH_RATE_LIMIT} AUTH tries a minute per client")

    @property
    def auth(self) -> Checkbox:
        return self.query_one("#sasl-enabled", Checkbox)

    @property
    def editor(self) -> ListEditor[Secret | None]:
        return self.query_one("#sasl-logins", ListEditor)

    def answers_from_form(self) -> SaslAnswers:
        return logins_answers(self.logins, enabled=self.auth.value)

    def fill_form(self, answers: SaslAnswers) -> None:
        self.logins = pending_logins(answers)
        with self.auth.prevent(Checkbox.Changed):
            self.auth.value = answers.enabled
        self.editor.show(self.logins)
        self.editor.focus()

    def _edited(self, select: Entry[Secret | None] | None = None) -> None:
        self.editor.show(self.logins, select)
        self.changed()

    def on_resize(self) -> None:
        self.set_class(self.size.height >= 34, "-tall")  # room for a longer list

    @on(Checkbox.Changed, "#sasl-enabled")
    def _auth_changed(self) -> None:
        if self.loaded:
            self.changed()

    @on(ListEditor.Chosen, "#sasl-logins")
    def _row_chosen(self) -> None:
        self.action_password()

    # Actions ----------------------------------------------------------------------------

    def action_add(self) -> None:
        if not self.loaded:
            return

        def added(result: tuple[str, Secret] | None) -> None:
            if result is None:
                return
            login, secret = result
            entry = self.logins.add(login, secret)
            if not self.auth.value:
                self.auth.value = True  # a login is useless without AUTH
                self.notify("AUTH turned on: logins need it.")
            self._edited(entry)

        self.app.push_screen(LoginDialog(check=self.logins.key_problem), added)

    def action_password(self) -> None:
        entry = self.editor.selected
        if entry is None:
            self.notify("No login selected: ctrl+n adds one.")
            return
        if entry.deleted:
            self.notify(f"{entry.key} is marked for deletion: ctrl+d keeps it.")
            return

        def changed(result: tuple[str, Secret] | None) -> None:
            if result is not None:
                self.logins.edit(entry, value=result[1])
                self._edited(entry)

        self.app.push_screen(LoginDialog(entry.key), changed)

    def action_delete(self) -> None:
        entry = self.editor.selected
        if entry is None:
            self.notify("No login selected.")
            return
        if entry.deleted:
            self.logins.keep(entry)
            self.notify(f"{entry.key} is kept.")
            self._edited(entry)
            return
        if entry.is_new:
            self.logins.delete(entry)
            self.notify(f"{entry.key} will not be added.")
            self._edited()
            return

        def confirmed(delete: bool | None) -> None:
            if delete:
                entry.value = None  # no new password for a login that goes
                self.logins.delete(entry)
                self._edited(entry)

        self.app.push_screen(ConfirmDelete(entry.key), confirmed)
