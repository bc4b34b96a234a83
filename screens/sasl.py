"""The SASL step's screen: a list of logins with pending adds, new passwords and deletions.

The admin edits the list in small dialogs (ctrl+n add, enter/ctrl+e new password, ctrl+d
delete with a confirmation); nothing happens until review and apply. ``answers_from_form``
turns the pending edits into one :class:`SaslAnswers`, so "What will change", review, apply
and help work as on every other step. Passwords become :class:`Secret` the moment a dialog
closes and are only ever shown as ``••••••`` (masked inputs; ``Command.display``).
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
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mailwizard import validate
from mailwizard.secret import Secret
from mailwizard.steps.base import Problem
from mailwizard.steps.sasl import AUTH_RATE_LIMIT, SaslAnswers, SaslUser, password_problems
from mailwizard.validate import Invalid

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
        yield Static(Text(self.hint, style="dim"), classes="field-message", markup=False)
        notice = Static("", id="sasl-tls", markup=False)
        notice.border_title = TLS_TITLE
        notice.display = False
        yield notice

    def show(self) -> None:
        errors = [p.message for p in self.problems if p.level == "error"]
        warnings = [p.message for p in self.problems if p.level == "warning"]
        message = self.query_one(".field-message", Static)
        message.update(Text("✖ " + errors[0], style="bold red") if errors
                       else Text(self.hint, style="dim"))
        self.set_class(bool(errors), "-error")
        notice = self.query_one("#sasl-tls", Static)
        notice.display = bool(warnings)
        notice.update(Text("\n".join(warnings)))


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

    ``taken`` maps logins that cannot be added to the reason. The password leaves this
    dialog only as a :class:`Secret`; messages never contain it.
    """

    CSS_PATH = CSS
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("enter", "enter", "next", show=False, priority=True),
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(self, login: str | None = None, taken: dict[str, str] | None = None) -> None:
        super().__init__()
        self.login = login
        self.taken = taken or {}

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
        if login in self.taken:
            return login, [Problem(USER, self.taken[login])]
        return login, []

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
        self.existing: tuple[str, ...] = ()  # logins in sasldb2 (from current())
        self.new_passwords: dict[str, Secret] = {}  # new logins and changed passwords
        self.removed: set[str] = set()

    # The form ---------------------------------------------------------------------------

    def compose_form(self) -> ComposeResult:
        yield LoginsField("Logins", USERS, widget=OptionList(id="sasl-logins"),
                          hint="⏎ new password · ^n add · ^d delete · all after review")
        yield AuthField("AUTH", ENABLED, widget=Tick(
            "offer logins after STARTTLS (ports 25 and 587)", id="sasl-enabled"),
            hint=f"against guessing: at most {AUTH_RATE_LIMIT} AUTH tries a minute per client")

    @property
    def logins(self) -> list[str]:
        return sorted({*self.existing, *self.new_passwords})

    @property
    def auth(self) -> Checkbox:
        return self.query_one("#sasl-enabled", Checkbox)

    @property
    def listing(self) -> OptionList:
        return self.query_one("#sasl-logins", OptionList)

    def answers_from_form(self) -> SaslAnswers:
        users = tuple(SaslUser(login, self.new_passwords.get(login))
                      for login in self.logins if login not in self.removed)
        return SaslAnswers(enabled=self.auth.value, users=users,
                           remove=tuple(sorted(self.removed)))

    def fill_form(self, answers: SaslAnswers) -> None:
        self.existing = tuple(u.user for u in answers.users)
        self.new_passwords = {}
        self.removed = set()
        with self.auth.prevent(Checkbox.Changed):
            self.auth.value = answers.enabled
        self._refresh_list()
        self.listing.focus()

    def _row(self, login: str, width: int) -> Text:
        if login in self.removed:
            mark, note, style = "−", "will be deleted", "red"
        elif login not in self.existing:
            mark, note, style = "+", "new login", "green"
        elif login in self.new_passwords:
            mark, note, style = "~", "new password", "yellow"
        else:
            mark, note, style = " ", "", ""
        text = Text(f"{mark} ", style=f"bold {style}".strip())
        text.append(login, style="strike" if login in self.removed else "")
        if note:
            text.append(" " * (width - len(login) + 2))
            text.append(note, style=f"italic {style}")
        return text

    def _refresh_list(self, select: str | None = None) -> None:
        listing = self.listing
        current = select or self._selected()
        listing.clear_options()
        logins = self.logins
        if not logins:
            listing.add_option(Option(Text("no logins yet: ctrl+n adds one", style="dim"),
                                      disabled=True))
            return
        width = max(len(login) for login in logins)
        listing.add_options([Option(self._row(login, width), id=login) for login in logins])
        listing.highlighted = logins.index(current) if current in logins else 0

    def _selected(self) -> str | None:
        option = self.listing.highlighted_option
        return option.id if option is not None and not option.disabled else None

    def _edited(self, select: str | None = None) -> None:
        self._refresh_list(select)
        self.changed()

    def on_resize(self) -> None:
        self.set_class(self.size.height >= 34, "-tall")  # room for a longer list

    @on(Checkbox.Changed, "#sasl-enabled")
    def _auth_changed(self) -> None:
        if self.loaded:
            self.changed()

    @on(OptionList.OptionSelected, "#sasl-logins")
    def _row_selected(self) -> None:
        self.action_password()

    # Actions ----------------------------------------------------------------------------

    def _taken(self) -> dict[str, str]:
        taken = {login: f"{login} exists already: change its password instead"
                 for login in self.logins}
        taken.update({login: f"{login} is marked for deletion: ctrl+d on it keeps it"
                      for login in self.removed})
        return taken

    def action_add(self) -> None:
        if not self.loaded:
            return

        def added(result: tuple[str, Secret] | None) -> None:
            if result is None:
                return
            login, secret = result
            self.new_passwords[login] = secret
            if not self.auth.value:
                self.auth.value = True  # as add_user(): a login is useless without AUTH
                self.notify("AUTH turned on: logins need it.")
            self._edited(login)

        self.app.push_screen(LoginDialog(taken=self._taken()), added)

    def action_password(self) -> None:
        login = self._selected()
        if login is None:
            self.notify("No login selected: ctrl+n adds one.")
            return
        if login in self.removed:
            self.notify(f"{login} is marked for deletion: ctrl+d keeps it.")
            return

        def changed(result: tuple[str, Secret] | None) -> None:
            if result is not None:
                self.new_passwords[login] = result[1]
                self._edited(login)

        self.app.push_screen(LoginDialog(login), changed)

    def action_delete(self) -> None:
        login = self._selected()
        if login is None:
            self.notify("No login selected.")
            return
        if login in self.removed:
            self.removed.discard(login)
            self.notify(f"{login} is kept.")
            self._edited(login)
            return
        if login not in self.existing:
            self.new_passwords.pop(login, None)
            self.notify(f"{login} will not be added.")
            self._edited()
            return

        def confirmed(delete: bool | None) -> None:
            if delete:
                self.new_passwords.pop(login, None)
                self.removed.add(login)
                self._edited(login)

        self.app.push_screen(ConfirmDelete(login), confirmed)
