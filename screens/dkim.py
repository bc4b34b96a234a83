"""The DKIM step's screen, with the DMARC policy (an answers-only step) on the same form.

Its step is the registry's composite of ``mailwizard/steps/dkim.py`` (the key, opendkim.conf,
the milters) and ``mailwizard/steps/dmarc.py`` (the DMARC record), planned DKIM first. When a
key exists, the proposal's facts carry the public record, shown split into strings of at
most 255 bytes and flat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Label, RadioButton, RadioSet, Static

from mailwizard import dnsrecords, validate
from mailwizard.steps.composite import Joint
from mailwizard.steps.dkim import DEFAULT_SELECTOR, DkimAnswers, DkimFacts, DkimRecord
from mailwizard.steps.dmarc import DmarcAnswers

from .keys import BurstSafeInput
from .step_base import Check, Field, StepScreen
from .toggles import Choice, Tick

DOMAIN = "dkim.domain"
SELECTOR = "dkim.selector"
BITS = "dkim.bits"
PUBLISHED = "dkim.published"
POLICY = "dmarc.policy"
RUA = "dmarc.rua"
SIZES = (2048, 4096)


DkimDmarcAnswers = Joint[DkimAnswers, DmarcAnswers]


def optional_address(value: str) -> str:
    """An address, or nothing (no reports)."""
    return validate.address(value) if value else value


def record_text(name: str, split: str, flat: str) -> Text:
    """The public record, both forms, as plain Text (never markup)."""
    text = Text()
    text.append(f"TXT record at {name}\n", style="bold")
    text.append("Split into strings of at most 255 bytes (zone files, most DNS panels):\n",
                style="dim")
    text.append(split + "\n\n")
    text.append("Flat (for DNS panels that split long values themselves):\n", style="dim")
    text.append(flat)
    return text


class SelectorField(Field):
    """The selector Input with the record's full name live beside it."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.label, classes="field-label")
            yield self.widget
            yield Static("", id="dkim-name", markup=False)
        yield Static(self.message(), classes="field-message", markup=False)


class DkimScreen(StepScreen[DkimDmarcAnswers]):
    """Domain, selector, key size; DMARC policy and reports; the public record."""

    CSS_PATH = [  # type: ignore[assignment]  # noqa: RUF012  (StepScreen: one Path)
        Path(__file__).with_name("step_base.tcss"), Path(__file__).with_name("dkim.tcss")]
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f7", "copy_record", "copy record"),  # from any field: no Tab to the panel
        Binding("f8", "check_dns", "check DNS"),  # a rotation: is the new record seen yet?
    ]
    record: DkimRecord | None = None
    signing: str | None = None  # a rotation: the selector that signs until the switch

    def compose_form(self) -> ComposeResult:
        fields = [
            Field("Domain", DOMAIN, widget=BurstSafeInput(
                placeholder="example.com", validators=[Check(validate.domain)],
                id="field-dkim-domain", compact=True),
                hint="the domain in your From: addresses, like example.com"),
            SelectorField("Selector", SELECTOR, widget=BurstSafeInput(
                placeholder=DEFAULT_SELECTOR, validators=[Check(validate.selector)],
                id="field-dkim-selector", compact=True),
                hint="one word, like mail; a new one gives a new key"),
            Field("Published", PUBLISHED, widget=Tick(
                "the new record is in DNS: switch to it", id="dkim-published", compact=True),
                hint="checks the DNS first (f8 checks again); until then the old key signs"),
            Field("Key size", BITS, widget=RadioSet(
                *(Choice(f"{bits} bits", bits == SIZES[0], id=f"dkim-bits-{bits}")
                  for bits in SIZES), id="dkim-bits", compact=True),
                hint="2048: what receivers expect · 4096: may not fit a DNS panel"),
            Field("DMARC", POLICY, widget=RadioSet(
                *(Choice(policy, policy == "none", id=f"dmarc-{policy}")
                  for policy in dnsrecords.DMARC_POLICIES), id="dmarc-policy", compact=True),
                hint="DMARC: what receivers do with mail failing both; start: none"),
            Field("Reports to", RUA, widget=BurstSafeInput(
                placeholder="postmaster@example.com", validators=[Check(optional_address)],
                id="field-dmarc-rua", compact=True),
                hint="DMARC: where receivers send daily reports (empty: none)"),
        ]
        for item in fields:
            item.add_class("-compact")
        yield from fields

    def compose(self) -> ComposeResult:
        # The base layout, with the public record's panel after "What will change".
        for widget in super().compose():
            if isinstance(widget, Footer):
                with VerticalScroll(id="dkim-record") as panel:
                    panel.border_title = "DNS record to publish"
                    panel.can_focus = True  # tab to it, then arrows/pgdn scroll the key
                    yield Static("", id="dkim-record-text", markup=False)
            yield widget

    def on_mount(self) -> None:
        self.query_one("#dkim-record").display = False
        self.field(PUBLISHED).display = False  # only during a rotation
        self.show_name()

    # The form -------------------------------------------------------------------------------

    def show_name(self) -> None:
        dom = self.value(DOMAIN).strip() or "…"
        sel = self.value(SELECTOR).strip() or "…"
        self.query_one("#dkim-name", Static).update(
            Text("→ " + dnsrecords.dkim_name(dom, sel), style="dim"))

    @on(Input.Changed)
    def _typed(self) -> None:
        self.show_name()  # the base recomputes the plan

    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    def _picked(self) -> None:
        if self.loaded:
            self.changed()

    def pressed(self, set_id: str) -> str:
        button = self.query_one(f"#{set_id}", RadioSet).pressed_button
        return "" if button is None or button.id is None else button.id.rpartition("-")[2]

    # The contract ---------------------------------------------------------------------------

    def answers_from_form(self) -> DkimDmarcAnswers:
        return Joint(
            DkimAnswers(domain=self.value(DOMAIN).strip(),
                        selector=self.value(SELECTOR).strip(),
                        bits=int(self.pressed("dkim-bits") or SIZES[0]),
                        published=self.published.value),
            DmarcAnswers(policy=self.pressed("dmarc-policy") or "none",
                         rua=self.value(RUA).strip()),
        )

    def fill_form(self, answers: DkimDmarcAnswers) -> None:
        dkim, dmarc = answers.first, answers.second
        self.set_value(DOMAIN, dkim.domain)
        self.set_value(SELECTOR, dkim.selector)
        with self.published.prevent(Checkbox.Changed):
            self.published.value = dkim.published
        if dkim.bits in SIZES:
            self.query_one(f"#dkim-bits-{dkim.bits}", RadioButton).value = True
        if dmarc.policy in dnsrecords.DMARC_POLICIES:
            self.query_one(f"#dmarc-{dmarc.policy}", RadioButton).value = True
        self.set_value(RUA, dmarc.rua)
        self.show_name()

    # The record to publish: the proposal's facts --------------------------------------------

    @property
    def published(self) -> Tick:
        return self.query_one("#dkim-published", Tick)

    def show_facts(self, facts: object) -> None:
        record = facts.record if isinstance(facts, DkimFacts) else None
        self.record = record
        self.signing = facts.signing if isinstance(facts, DkimFacts) else None
        self.field(PUBLISHED).display = self.signing is not None
        self.refresh_bindings()
        panel = self.query_one("#dkim-record", VerticalScroll)
        panel.display = record is not None
        # Text: the selector comes from opendkim.conf, maybe hand-written (never markup).
        panel.border_title = Text("DNS record to publish" if self.signing is None else
                                  f"New record to publish · selector {self.signing} "
                                  "signs until the switch")
        if record is not None:
            self.query_one("#dkim-record-text", Static).update(
                record_text(record.name, record.split, record.flat))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_record":
            return self.record is not None
        if action == "check_dns":
            return self.signing is not None and self.record is not None
        return super().check_action(action, parameters)

    def action_check_dns(self) -> None:
        """Ask the DNS for the new record again (proposing with Published ticked does)."""
        if self.record is None:
            return
        if not self.published.value:
            self.published.value = True  # Checkbox.Changed recomputes
        else:
            self.changed()
        self.notify(f"Checking the DNS for {self.record.name}…")

    def action_copy_record(self) -> None:
        """The flat record (OSC 52: works over SSH): one line, no border, no breaks."""
        if self.record is not None:
            self.app.copy_to_clipboard(self.record.flat)
            self.notify(f"Copied the record for {self.record.name}.")
