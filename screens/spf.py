"""The SPF step's screen: the record built from boxes and a list, and incoming checks.

``mailwizard/steps/spf.py`` validates and plans; ``mailwizard/dnsrecords.py`` builds
(``build_spf``), reads (``spf_parts``) and checks (``check_spf``) the record. A record the
form cannot show (written by hand, e.g. with ``exists:`` or ``redirect=``) is kept as it is
until the admin changes the form.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, RadioButton, RadioSet, Static

from mailwizard import dnsrecords
from mailwizard.dnsrecords import SpfParts
from mailwizard.steps.base import Step
from mailwizard.steps.spf import SpfAnswers
from mailwizard.validate import Invalid

from .keys import BurstSafeInput
from .step_base import Check, Field, StepScreen
from .toggles import Choice, Tick

ALLOW = "spf.allow"  # the mx and a boxes (part of spf.record)
EXTRA = "spf.extra"  # ip4:/ip6:/include: terms (part of spf.record)
ALL = "spf.all"  # ~all or -all (part of spf.record)
RECORD = "spf.record"  # the resulting record; check_spf's warnings show here
INCOMING = "spf.check_incoming"
EXTRA_PREFIXES = ("ip4:", "ip6:", "include:")


def spf_term(term: str) -> str:
    """One extra term as the form takes it: ip4:, ip6: or include:, checked by check_spf."""
    if not term.lower().startswith(EXTRA_PREFIXES):
        raise Invalid(f"{term!r}: write ip4:192.0.2.1, ip6:2001:db8::1 or "
                      "include:_spf.example.net")
    dnsrecords.check_spf(f"v=spf1 {term} ~all")
    return term


def extra_terms(parts: SpfParts) -> list[str]:
    return ([f"ip4:{x}" for x in parts.ip4] + [f"ip6:{x}" for x in parts.ip6]
            + [f"include:{x}" for x in parts.include])


def loose_parts(record: str) -> SpfParts:
    """The form's best view of a record ``spf_parts`` refuses (terms it cannot show dropped)."""
    terms = record.split()[1:]
    low = [t.lower() for t in terms]
    return SpfParts(
        mx="mx" in low,
        a="a" in low,
        ip4=tuple(t[4:] for t in terms if t.lower().startswith("ip4:")),
        ip6=tuple(t[4:] for t in terms if t.lower().startswith("ip6:")),
        include=tuple(t[8:] for t in terms if t.lower().startswith("include:")),
        all=terms[-1] if terms and terms[-1] in dnsrecords.SPF_ALL else "~all",
    )


class SpfScreen(StepScreen[SpfAnswers]):
    """Boxes for mx and a, a list of extra senders, ~all/-all, the live record, incoming."""

    # Both: a subclass's CSS_PATH replaces the base's.
    CSS_PATH = [  # type: ignore[assignment]  # noqa: RUF012  (StepScreen: one Path)
        Path(__file__).with_name("step_base.tcss"), Path(__file__).with_name("spf.tcss")]

    def __init__(self, step: Step[SpfAnswers]) -> None:
        super().__init__(step)
        self.kept: str | None = None  # a hand-written record, kept while the form is unchanged
        self.filled: SpfParts | None = None  # what fill_form showed
        self.fail_open = True  # answers-file only: carried over from current()

    def compose_form(self) -> ComposeResult:
        allow = Field("Allowed", ALLOW,
                      hint="mx: your MX servers · a: the address your domain points to",
                      widget=Horizontal(
                          Tick("mx", True, id="spf-mx", compact=True),
                          Tick("a", False, id="spf-a", compact=True),
                          id="spf-allow"))
        extra = Field("Also allowed", EXTRA, widget=BurstSafeInput(
            placeholder="ip4:192.0.2.1, include:_spf.example.net",
            validators=[Check(spf_term, each=True)], id="field-spf-extra", compact=True),
            hint="other senders: ip4:ADDRESS, ip6:ADDRESS, include:DOMAIN")
        others = Field("Others", ALL, hint="~all: soft fail (start here) · -all: refuse",
                       widget=RadioSet(Choice("~all", True, id="spf-softfail"),
                                       Choice("-all", id="spf-fail"),
                                       id="spf-all", compact=True))
        record = Field("Record", RECORD, widget=Static(id="spf-record", markup=False),
                       hint="")
        incoming = Field("Incoming", INCOMING, widget=Tick(
            "check the SPF of mail this server receives", True, id="spf-incoming",
            compact=True), hint="refuses mail that fails its sender's SPF record")
        for field in (allow, extra, others, record, incoming):
            field.add_class("-compact")
        yield from (allow, extra, others, record, incoming)

    def on_mount(self) -> None:
        # Textual also runs StepScreen.on_mount (after this one), which focuses the first
        # Input: the boxes come first here, so focus them once that is done.
        self.call_after_refresh(self.query_one("#spf-mx", Checkbox).focus)
        self.show_record()

    # The form -------------------------------------------------------------------------------

    def parts(self) -> SpfParts:
        """The form's record, in parts (the extra terms that are wrong are left out)."""
        items = self.items(EXTRA)
        ok = []
        for item in items:
            try:
                ok.append(spf_term(item))
            except Invalid:
                continue

        def of(prefix: str) -> tuple[str, ...]:
            return tuple(t[len(prefix):] for t in ok if t.lower().startswith(prefix))

        button = self.query_one("#spf-all", RadioSet).pressed_button
        return SpfParts(
            mx=self.query_one("#spf-mx", Checkbox).value,
            a=self.query_one("#spf-a", Checkbox).value,
            ip4=of("ip4:"), ip6=of("ip6:"), include=of("include:"),
            all="-all" if button is not None and button.id == "spf-fail" else "~all",
        )

    def record(self) -> str:
        parts = self.parts()
        if self.kept is not None and parts == self.filled:
            return self.kept
        return dnsrecords.build_spf(parts)

    def show_record(self) -> None:
        """The record as it would be published, with its DNS lookup count (live)."""
        record = self.record()
        text = Text(record, style="bold")
        if record == self.kept:
            text.append("  (written by hand: kept until you change the form)", style="dim")
        self.query_one("#spf-record", Static).update(text)
        try:
            lookups = dnsrecords.check_spf(record).lookups
        except Invalid:
            hint = ""
        else:
            hint = (f"{lookups} of {dnsrecords.MAX_LOOKUPS} DNS lookups "
                    "(each include adds its own)")
        field = self.field(RECORD)
        field.hint = hint
        field.show()

    @on(Checkbox.Changed)
    @on(RadioSet.Changed)
    def _toggled(self) -> None:
        self.show_record()
        if self.loaded:
            self.changed()

    @on(Input.Changed)
    def _typed(self) -> None:
        self.show_record()  # the base recomputes the plan

    # The contract ---------------------------------------------------------------------------

    def answers_from_form(self) -> SpfAnswers:
        return SpfAnswers(record=self.record(),
                          check_incoming=self.query_one("#spf-incoming", Checkbox).value,
                          fail_open=self.fail_open)

    def fill_form(self, answers: SpfAnswers) -> None:
        parts = dnsrecords.spf_parts(answers.record)
        if parts is None:
            self.kept = answers.record
            parts = loose_parts(answers.record)
        self.filled = parts
        self.fail_open = answers.fail_open
        self.query_one("#spf-mx", Checkbox).value = parts.mx
        self.query_one("#spf-a", Checkbox).value = parts.a
        self.set_items(EXTRA, extra_terms(parts))
        button = "#spf-fail" if parts.all == "-all" else "#spf-softfail"
        self.query_one(button, RadioButton).value = True
        self.query_one("#spf-incoming", Checkbox).value = answers.check_incoming
        self.show_record()
