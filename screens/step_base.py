"""The base of every step screen: title, blurb, form, "What will change", review.

How to add a step screen (``screens/<name>.py`` mirrors ``mailwizard/steps/<name>.py``)
--------------------------------------------------------------------------------------
1. Subclass ``StepScreen[YourAnswers]`` and implement exactly three methods::

       class HostnameScreen(StepScreen[HostnameAnswers]):
           def compose_form(self) -> ComposeResult:
               yield Field("Host name", "hostname.fqdn", check=validate.fqdn,
                           hint="the full name, like mail.example.com")
               # any widget: Field("Key size", "dkim.bits", widget=RadioSet(...))

           def answers_from_form(self) -> HostnameAnswers:  # widgets -> Answers (main thread)
               return HostnameAnswers(fqdn=self.value("hostname.fqdn").strip())

           def fill_form(self, a: HostnameAnswers) -> None:  # Answers -> widgets
               self.set_value("hostname.fqdn", a.fqdn)

2. One line in ``SCREENS`` in ``screens/__init__.py``: ``"hostname": "hostname.HostnameScreen"``.
   (Every file a new step needs, core and tests included: ``docs/new-step.md``.)

That is all. The base does the rest:

* On open: the first field has focus (or the widget ``first_focus()`` names);
  ``step.context(system)`` and ``step.current(system)`` run in a thread worker; the
  context goes to ``use_context`` and the answers to ``fill_form`` (so the form starts
  from today's settings).
* ``Field(label, key, check=fn, each=False, hint=..., password=False, widget=None)``:
  ``key`` is the answers-file name (``"dkim.selector"``) and is how problems find their field.
  ``check`` is a pure validator from ``mailwizard.validate`` (raises ``Invalid``); it runs on
  every keystroke as an Input validator. ``each=True`` splits a comma/space separated list
  and checks every item, naming the wrong one. The line under the field shows ``hint`` (what
  is allowed), or the error (✖) / warning (!) for that field.
* Whenever a field changes (``Input.Changed``, or call ``self.changed()`` from your own
  widgets' handlers) the base waits 0.3 s, then calls ``step.propose`` once in a thread
  worker and shows ``plan.summary()``'s rows under "What will change". Problems whose field
  is ``key``, ``key[i]`` or ``key.sub`` are shown at that Field; others in the panel.
* ctrl+s (or enter in the last field): review, blocked while any field is invalid or the step
  reports an error; an empty plan says "nothing to change". esc: back (and ctrl+q: quit),
  asking first when the form's answers differ from those it was filled with. f1: ``step.help``.

Optional hooks, all called on the main thread with data read in the workers:

* ``use_context(context)``: before ``fill_form``, what ``step.context(system)`` returned
  (TLS: the Let's Encrypt pair to offer).
* ``show_facts(facts)``: after each proposal, ``Proposal.facts`` (DKIM: the record).
* ``proposed()``: after each proposal, once fields and panel show it (aliases: row marks).

Never read the system in these methods (they run on the event loop): what a form needs
from the machine comes from ``current()``, ``context()`` or ``propose()``'s facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static
from textual.worker import get_current_worker

from mailwizard.plan import Plan
from mailwizard.postfix import split_list
from mailwizard.steps.base import Problem, Proposal, Step
from mailwizard.validate import Invalid

from .common import WizardScreen
from .keys import FOCUS_KEYS, BurstSafeInput, next_input

A = TypeVar("A")

DEBOUNCE = 0.3


def split_items(value: str) -> list[str]:
    """A comma and/or space separated list as typed into one Input."""
    return split_list(value)


class Check(Validator):
    """An Input validator calling a pure validator; its ``Invalid`` message is the failure."""

    def __init__(self, fn: Callable[[str], object], *, each: bool = False) -> None:
        super().__init__()
        self.fn = fn
        self.each = each

    def validate(self, value: str) -> ValidationResult:
        items = split_items(value) if self.each else [value]
        for item in items:
            try:
                self.fn(item)
            except Invalid as exc:
                message = str(exc)
                if self.each and item not in message:
                    message = f"{item}: {message}"
                return self.failure(message)
        return self.success()


class Field(Vertical):
    """One labelled form field with the line under it (hint, error or warning)."""

    def __init__(
        self,
        label: str,
        key: str,
        *,
        check: Callable[[str], object] | None = None,
        each: bool = False,
        hint: str = "",
        placeholder: str = "",
        password: bool = False,
        widget: Widget | None = None,
    ) -> None:
        super().__init__(classes="field")
        self.key = key
        self.label = label
        self.hint = hint
        self.local_error = ""  # from the Input validator, as the admin types
        self.problems: list[Problem] = []  # from step.propose()
        if widget is None:
            widget = BurstSafeInput(
                placeholder=placeholder,
                password=password,
                validators=[Check(check, each=each)] if check else [],
                id="field-" + key.replace(".", "-").replace("[", "-").replace("]", ""),
            )
        self.widget = widget

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.label, classes="field-label")
            yield self.widget
        yield Static(self.message(), classes="field-message", markup=False)

    @property
    def input(self) -> Input | None:
        return self.widget if isinstance(self.widget, Input) else None

    def matches(self, problem: Problem) -> bool:
        f = problem.field
        return f == self.key or f.startswith((self.key + "[", self.key + "."))

    def check_now(self) -> bool:
        """Run the Input's validators; remember and show the first failure."""
        field_input = self.input
        if field_input is None:
            return not any(p.level == "error" for p in self.problems)
        result = field_input.validate(field_input.value)
        self.local_error = "" if result is None or result.is_valid else (
            result.failure_descriptions[0] if result.failure_descriptions else "not allowed")
        self.show()
        return not self.local_error

    @property
    def has_error(self) -> bool:
        return bool(self.local_error) or any(p.level == "error" for p in self.problems)

    def message(self) -> Text:
        """The line under the field: the first error, else the first warning, else the hint
        (a subclass that shows its warnings elsewhere overrides it)."""
        errors = [p.message for p in self.problems if p.level == "error"]
        warnings = [p.message for p in self.problems if p.level == "warning"]
        if self.local_error:
            return Text("✖ " + self.local_error, style="bold red")
        if errors:
            return Text("✖ " + errors[0], style="bold red")
        if warnings:
            return Text("! " + warnings[0], style="yellow")
        return Text(self.hint, style="dim")

    def show(self) -> None:
        """Show the problems; a field mounted but not composed yet (a proposal can arrive
        first) shows them when it composes (``compose`` asks ``message``)."""
        for message in self.query(".field-message").results(Static):
            message.update(self.message())
        self.set_class(self.has_error, "-error")


class StepScreen(WizardScreen, Generic[A]):
    """A step's screen; subclasses implement compose_form, answers_from_form, fill_form."""

    CSS_PATH = Path(__file__).with_name("step_base.tcss")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "back"),
        Binding("ctrl+s", "review", "review & apply", priority=True),
        Binding("f1", "help", "help"),
        *FOCUS_KEYS,  # keys in a burst: see screens/keys.py
        Binding("enter", "next_field", show=False, priority=True),
    ]

    def __init__(self, step: Step[A]) -> None:
        super().__init__()
        self.step = step
        self.loaded = False  # current() has filled the form
        self.generation = 0  # bumps on every change; stale results are dropped
        self.result_generation = -1
        self.problems: list[Problem] = []
        self.plan: Plan | None = None
        self.error = ""  # propose() raised: shown in the panel
        self._timer: Timer | None = None
        self._review_when_ready = False
        self._as_loaded: object = None  # answers_from_form() right after fill_form

    # The subclass contract --------------------------------------------------------------

    def compose_form(self) -> ComposeResult:
        """Yield the form's Fields (and any other widgets)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def answers_from_form(self) -> A:
        """The Answers the form shows now (may raise ``Invalid``)."""
        raise NotImplementedError

    def fill_form(self, answers: A) -> None:
        """Show ``answers`` in the form."""
        raise NotImplementedError

    # Optional hooks (main thread; the base calls them) ------------------------------------

    def use_context(self, context: object) -> None:
        """Before ``fill_form``: what ``step.context(system)`` read in the load worker."""

    def show_facts(self, facts: object) -> None:
        """After each proposal: the ``facts`` of ``step.propose()`` (e.g. a DNS record)."""

    def proposed(self) -> None:
        """After each proposal, once the fields and "What will change" show it."""

    def first_focus(self) -> Widget | None:
        """The widget focused when the screen opens (default: the first Input)."""
        return next(iter(self.query(Input)), None)

    # Helpers for subclasses -------------------------------------------------------------

    def field(self, key: str) -> Field:
        for field in self.query(Field):
            if field.key == key:
                return field
        raise KeyError(key)

    def value(self, key: str) -> str:
        field_input = self.field(key).input
        assert field_input is not None, f"{key} is not an Input field"
        return field_input.value

    def items(self, key: str) -> tuple[str, ...]:
        """A list field's items (comma/space separated)."""
        return tuple(split_items(self.value(key)))

    def set_value(self, key: str, value: str) -> None:
        field_input = self.field(key).input
        assert field_input is not None, f"{key} is not an Input field"
        field_input.value = value

    def set_items(self, key: str, items: Iterable[str]) -> None:
        self.set_value(key, ", ".join(items))

    def changed(self) -> None:
        """Something in the form changed: recompute "What will change" after a pause."""
        self.generation += 1
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._recompute)

    @property
    def unsaved(self) -> bool:
        """The form says something else than when it was filled (an edit esc would lose)."""
        if not self.loaded:
            return False
        try:
            return self.answers_from_form() != self._as_loaded
        except Invalid:
            return True  # half-typed: that is an edit too

    @property
    def settled(self) -> bool:
        """Loaded, and the panel shows the form's current answers (tests wait for this)."""
        return self.loaded and self.result_generation == self.generation

    # Layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = Text(" mailwizard", style="bold")
        title.append(f" › {self.step.title}")
        yield Static(title, id="step-title")
        yield Static(Text(self.step.blurb), id="step-blurb")
        with Vertical(id="step-form"):
            yield from self.compose_form()
        with VerticalScroll(id="step-changes") as changes:
            changes.border_title = "What will change"
            changes.can_focus = False
            yield Static(Text("reading the current settings…", style="dim"),
                         id="changes-text")
        yield Footer()

    def on_mount(self) -> None:
        for field_input in self.query(Input):
            field_input.cursor_blink = self.blink
        self._focus_first()
        self._load()

    def _focus_first(self) -> None:
        first = self.first_focus()
        if first is not None:
            first.focus()
        else:
            self.focus_next()

    @work(thread=True, exclusive=True, group="step-load")
    def _load(self) -> None:
        try:
            context = self.step.context(self.system)
            current = self.step.current(self.system)
        except Exception as exc:
            self.app.call_from_thread(self._load_failed, exc)
            return
        self.app.call_from_thread(self._loaded, context, current)

    def _loaded(self, context: object, current: A) -> None:
        self.use_context(context)
        self.fill_form(current)
        self.loaded = True
        # Once the widgets have handled what filling them posted (a RadioSet learns its
        # pressed button from a message): what "nothing edited" means on this form.
        self.call_after_refresh(self._remember_as_loaded)
        if self.focused is None:  # the form disabled the focused widget (TLS: snakeoil)
            self._focus_first()
        for field in self.query(Field):
            if field.input is not None and field.input.value:
                field.check_now()
        focused = self.focused
        if isinstance(focused, Input) and focused.select_on_focus:
            focused.select_all()  # as if focused now: typing replaces today's value
        self.changed()

    def _remember_as_loaded(self) -> None:
        try:
            self._as_loaded = self.answers_from_form()
        except Invalid:
            self._as_loaded = None  # today's settings do not parse: any answer differs

    def _load_failed(self, exc: Exception) -> None:
        self.loaded = True
        self.error = f"cannot read the current settings: {exc}"
        self._show_changes()

    # Recomputing ------------------------------------------------------------------------

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        for field in self.query(Field):
            if field.widget is event.input:
                field.check_now()
        if self.loaded:
            self.changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_field":  # enter between fields; in the last one it submits
            return next_input(self, self.focused) is not None
        return super().check_action(action, parameters)

    def action_next_field(self) -> None:
        following = next_input(self, self.focused)
        if following is not None:
            self.set_focus(following)

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        if inputs and event.input is inputs[-1]:
            self.action_review()
        else:
            self.focus_next()

    def _recompute(self) -> None:
        self._timer = None
        if not self.loaded:
            return
        try:
            answers = self.answers_from_form()
        except Invalid as exc:
            self._computed(self.generation, Proposal((Problem(self.step.name, str(exc)),)), "")
            return
        self._compute(answers, self.generation)

    @work(thread=True, exclusive=True, group="step-plan")
    def _compute(self, answers: A, generation: int) -> None:
        worker = get_current_worker()
        found = Proposal()
        error = ""
        try:
            found = self.step.propose(answers, self.system)
        except Invalid as exc:
            found = Proposal((Problem(self.step.name, str(exc)),))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not worker.is_cancelled:
            self.app.call_from_thread(self._computed, generation, found, error)

    def _computed(self, generation: int, found: Proposal, error: str) -> None:
        if generation != self.generation:
            return  # the admin typed on; a newer computation is coming
        self.result_generation = generation
        self.problems, self.plan, self.error = list(found.problems), found.plan, error
        for field in self.query(Field):
            field.problems = [p for p in self.problems if field.matches(p)]
            field.show()
        self.show_facts(found.facts)
        self._show_changes()
        self.proposed()
        if self._review_when_ready:
            self._review_when_ready = False
            self._open_review()

    def _unplaced(self) -> list[Problem]:
        fields = list(self.query(Field))
        return [p for p in self.problems if not any(f.matches(p) for f in fields)]

    def _show_changes(self) -> None:
        text = Text()
        local = [f for f in self.query(Field) if f.local_error]
        unplaced = self._unplaced()
        for problem in unplaced:
            mark, style = ("✖", "bold red") if problem.level == "error" else ("!", "yellow")
            text.append(f"{mark} {problem}\n", style=style)
        if self.error:
            text.append(f"✖ {self.error}\n", style="bold red")
        elif local or any(f.has_error for f in self.query(Field)):
            text.append("Fix the fields marked ✖ to see what will change.", style="dim")
        elif self.plan is None:
            # No plan because of an error shown above: that is the whole story (the step's
            # message says what to do). Only before the first result is anything coming.
            if not any(p.level == "error" for p in unplaced):
                text.append("reading the current settings…", style="dim")
        elif self.plan.is_empty:
            text.append("Nothing: the system already matches these settings.", style="dim")
        else:
            rows = self.plan.summary()
            width = max((len(row.text) for row in rows if row.kind == "file"), default=0)
            for row in rows:
                if row.kind == "file":
                    text.append(row.text.ljust(width), style="bold")
                    text.append(f"  {row.detail}\n", style="dim")
                else:
                    text.append(row.kind + ": ", style="bold")
                    text.append(row.text + "\n")
        text.rstrip()
        self.query_one("#changes-text", Static).update(text)

    # Actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.confirm_leave(self.app.pop_screen)

    def confirm_leave(self, then: Callable[[], object], *, quitting: bool = False) -> None:
        """Esc and ctrl+q: with unsaved edits, ask first (keep editing / discard)."""
        if not self.unsaved:
            then()
            return
        from .unsaved import DiscardEdits

        def answered(discard: bool | None) -> None:
            if discard:
                then()

        self.app.push_screen(DiscardEdits(self.step.title, quitting=quitting), answered)

    def action_help(self) -> None:
        self.wizard.open_help(self.step.help or f"# {self.step.title}\n\n{self.step.blurb}",
                              self.step.title)

    def action_review(self) -> None:
        if not self.loaded:
            self.notify("Still reading the current settings…")
            return
        bad = [f for f in self.query(Field) if not f.check_now()]
        if bad:
            self._block(bad[0])
            return
        if self.settled and self._timer is None:
            self._open_review()
            return
        self._review_when_ready = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
            self._recompute()

    def _block(self, field: Field) -> None:
        self.notify(f"{field.label}: fix the marked field first", severity="error")
        focus = field.input or field.widget
        focus.focus()

    def _open_review(self) -> None:
        bad = [f for f in self.query(Field) if f.has_error]
        if bad:
            self._block(bad[0])
            return
        if self.error or any(p.level == "error" for p in self.problems):
            self.notify("Fix the problems shown first", severity="error")
            return
        if self.plan is None:
            return
        if self.plan.is_empty:
            self.notify("Nothing to change: the system already matches these settings.")
            return
        self.wizard.open_review(self.plan, self.step.title)
