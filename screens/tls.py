"""The TLS step's screen: where the certificate comes from, and its two files.

Three choices: the Let's Encrypt pair for this host (offered when certbot made one), the
admin's own files (the only choice where the paths are typed), or Debian's snakeoil pair
(generated when missing). The certificate checks (expiry, names, key match) come from
``steps.tls`` as the step's problems and show at the fields they name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, RadioButton, RadioSet

from mailwizard import validate
from mailwizard.steps.tls import SNAKEOIL_CERT, SNAKEOIL_KEY, TlsAnswers, TlsContext

from .keys import BurstSafeInput
from .step_base import Check, Field, StepScreen
from .toggles import Choice

SOURCE = "tls.snakeoil"  # snakeoil problems are the source's problems
CERT = "tls.cert_file"
KEY = "tls.key_file"
CERT_INPUT = "#field-tls-cert_file"
KEY_INPUT = "#field-tls-key_file"
HINTS = {
    "tls-le": "certbot's pair for this host name: mail clients trust it",
    "tls-own": "a certificate and key you already have (PEM files)",
    "tls-snakeoil": "Debian's self-signed pair: servers accept it, mail clients warn",
}


class TlsScreen(StepScreen[TlsAnswers]):
    """A choice of source, then the certificate and key files (typed for "your own")."""

    CSS_PATH: ClassVar[Any] = [
        Path(__file__).with_name("step_base.tcss"),
        Path(__file__).with_name("tls.tcss"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.found: TlsContext | None = None  # the step's context: read when it opens
        self.own = ("", "")  # what the admin typed for "your own files"

    def compose_form(self) -> ComposeResult:
        source = RadioSet(
            Choice("Let's Encrypt", id="tls-le", disabled=True),
            Choice("Your own files", id="tls-own"),
            Choice("Snakeoil", id="tls-snakeoil"),
            id="tls-source", compact=True)
        fields = [
            Field("Certificate", SOURCE, widget=source, hint=""),
            Field("Cert file", CERT, hint="the certificate, with its chain (fullchain.pem)",
                  widget=BurstSafeInput(placeholder="/etc/ssl/certs/mail.pem", compact=True,
                               validators=[Check(validate.file_path)],
                               id=CERT_INPUT[1:])),
            Field("Key file", KEY, hint="its private key (never shown or copied)",
                  widget=BurstSafeInput(placeholder="/etc/ssl/private/mail.key", compact=True,
                               validators=[Check(validate.file_path)], id=KEY_INPUT[1:])),
        ]
        for field in fields:
            field.add_class("-compact")
        yield from fields

    def first_focus(self) -> Widget | None:
        """The choice of source: arrows and Enter work at once (the paths may be disabled)."""
        return self.query_one("#tls-source", RadioSet)

    def use_context(self, context: object) -> None:
        if isinstance(context, TlsContext):
            self.found = context
            self.query_one("#tls-le", RadioButton).disabled = context.letsencrypt is None

    # The choice ---------------------------------------------------------------------------

    @property
    def choice(self) -> str:
        button = self.query_one("#tls-source", RadioSet).pressed_button
        return button.id if button is not None and button.id else "tls-own"

    def _choose_for(self, answers: TlsAnswers) -> None:
        le = self.found.letsencrypt if self.found else None
        if answers.snakeoil:
            choice = "tls-snakeoil"
        elif le is not None and (answers.cert_file, answers.key_file) == le:
            choice = "tls-le"
        else:
            choice = "tls-own"
            self.own = (answers.cert_file, answers.key_file)
        self.query_one("#" + choice, RadioButton).value = True
        self._show_choice()

    def _show_choice(self) -> None:
        """The paths of the chosen pair; they are typed only for "your own files"."""
        choice = self.choice
        cert_input = self.query_one(CERT_INPUT, Input)
        key_input = self.query_one(KEY_INPUT, Input)
        if choice == "tls-snakeoil":
            paths = (SNAKEOIL_CERT, SNAKEOIL_KEY)
        elif choice == "tls-le" and self.found and self.found.letsencrypt:
            paths = self.found.letsencrypt
        else:
            paths = self.own
        cert_input.disabled = key_input.disabled = choice != "tls-own"
        cert_input.value, key_input.value = paths
        hint = HINTS[choice]
        if choice == "tls-snakeoil" and self.found is not None and not self.found.snakeoil:
            hint = "not there yet: make-ssl-cert generates it (self-signed)"
        le_why = self.found.letsencrypt_why if self.found is not None else ""
        if le_why and self.query_one("#tls-le", RadioButton).disabled:
            hint += f"\nLet's Encrypt: {le_why}"
        source = self.field(SOURCE)
        source.hint = hint
        source.show()

    @on(RadioSet.Changed, "#tls-source")
    def _chosen(self) -> None:
        self._show_choice()
        if self.loaded:
            self.changed()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if self.choice == "tls-own":
            self.own = (self.query_one(CERT_INPUT, Input).value,
                        self.query_one(KEY_INPUT, Input).value)

    # The contract -------------------------------------------------------------------------

    def answers_from_form(self) -> TlsAnswers:
        if self.choice == "tls-snakeoil":
            return TlsAnswers(snakeoil=True)
        return TlsAnswers(cert_file=self.value(CERT).strip(), key_file=self.value(KEY).strip())

    def fill_form(self, answers: TlsAnswers) -> None:
        self._choose_for(answers)
