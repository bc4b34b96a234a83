"""The aliases step's screen: /etc/aliases as a table, edited one row at a time.

The table (a :class:`ListEditor`) holds the alias table as the admin wants it, with the
pending edits marked; the two fields under it edit the highlighted row (ctrl+n adds a row,
ctrl+d marks it for deletion or keeps it again). ``steps.aliases.table_answers`` turns the
edited table into the minimal answers (changed, new and removed names only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from mailwizard import validate
from mailwizard.pending import Entry, PendingEdits
from mailwizard.steps.aliases import AliasesAnswers, pending_table, table_answers, toml_key
from mailwizard.steps.base import Problem

from .list_editor import Level, ListEditor, RowInput
from .step_base import Check, Field, StepScreen

NAME_INPUT = "alias-name"
TARGETS_INPUT = "alias-targets"
NO_ROW = "aliases.\0"  # the fields' key while no row is selected: matches nothing


def where(entry: Entry[str]) -> str:
    """The answers-file name of an entry (what its problems are named by)."""
    return f"aliases.{toml_key(entry.key.strip().lower())}"


class RowField(Field):
    """A field of the highlighted row: it shows that row's name or target problems only,
    and is off (no check, no error) while no row is highlighted."""

    def __init__(self, label: str, part: str, widget: Input, hint: str) -> None:
        super().__init__(label, NO_ROW, widget=widget, hint=hint)
        self.part = part

    def matches(self, problem: Problem) -> bool:
        if self.part == "name":
            return problem.field == self.key
        return problem.field.startswith(self.key + "[")

    def check_now(self) -> bool:
        if self.widget.disabled:
            self.local_error = ""
            self.show()
            return True
        return super().check_now()


class NameCheck(Validator):
    """An alias name, not already another row's (a blank row is fine: it is ignored)."""

    def __init__(self, owner: AliasesScreen) -> None:
        super().__init__()
        self.owner = owner

    def validate(self, value: str) -> ValidationResult:
        entry = self.owner.selected
        if entry is None:
            return self.success()
        problem = self.owner.table.key_problem(value, entry)
        return self.failure(problem) if problem else self.success()


class TargetsCheck(Validator):
    """One or more addresses; the wrong one is named. An untouched row is left alone."""

    def __init__(self, owner: AliasesScreen) -> None:
        super().__init__()
        self.owner = owner
        self.each = Check(validate.address, each=True)

    def validate(self, value: str) -> ValidationResult:
        entry = self.owner.selected
        if entry is None or value == entry.original:
            return self.success()
        problem = self.owner.table.value_problem(entry, value)
        return self.failure(problem) if problem else self.each.validate(value)


class AliasesScreen(StepScreen[AliasesAnswers]):
    """A table of name → addresses with an editor for the highlighted row."""

    CSS_PATH: ClassVar[Any] = [
        Path(__file__).with_name("step_base.tcss"),
        Path(__file__).with_name("aliases.tcss"),
    ]
    BINDINGS: ClassVar[list[Any]] = [
        *StepScreen.BINDINGS,
        Binding("ctrl+n", "new_alias", "new alias", priority=True),
        Binding("ctrl+d", "delete_alias", "delete alias", priority=True),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before = AliasesAnswers()
        self.table: PendingEdits[str] = pending_table(self.before)
        self.selected: Entry[str] | None = None

    # Layout -------------------------------------------------------------------------------

    def compose_form(self) -> ComposeResult:
        yield ListEditor(
            RowField("Alias", "name", RowInput(
                placeholder="support", validators=[NameCheck(self)], id=NAME_INPUT,
                compact=True), hint="a local name: mail to it@ your domains is forwarded"),
            RowField("Forwards to", "targets", RowInput(
                placeholder="you@example.net, other@example.net",
                validators=[TargetsCheck(self)], id=TARGETS_INPUT, compact=True),
                hint="addresses or local users, separated by commas"),
            columns=("Alias", "Forwards to"), detail=lambda entry: entry.value,
            empty="no aliases yet: ctrl+n adds one", id="aliases", table_id="aliases-table")

    @property
    def editor(self) -> ListEditor[str]:
        return self.query_one("#aliases", ListEditor)

    def on_mount(self) -> None:
        super().on_mount()
        self._enable(False)
        self.call_after_refresh(self.editor.table.focus)  # after the base focused an Input

    # The contract ---------------------------------------------------------------------------

    def answers_from_form(self) -> AliasesAnswers:
        return table_answers(self.before, self.table)

    def fill_form(self, answers: AliasesAnswers) -> None:
        self.before = answers
        self.table = pending_table(answers)
        self.editor.show(self.table)
        self._select(self.table.entries[0] if self.table.entries else None)

    # The row editor -----------------------------------------------------------------------

    def _input(self, name: str) -> Input:
        return self.query_one("#" + name, Input)

    def _enable(self, on: bool) -> None:
        for field_input in self.query(Input):
            field_input.disabled = not on

    def _select(self, entry: Entry[str] | None) -> None:
        """Show ``entry`` in the fields (None, or one marked for deletion: nothing to edit)."""
        self.selected = entry
        self._enable(entry is not None and not entry.deleted)
        self._input(NAME_INPUT).value = entry.key if entry else ""
        self._input(TARGETS_INPUT).value = entry.value if entry else ""
        self._rekey()
        for field in self.query(RowField):
            field.check_now()

    def _rekey(self) -> None:
        """Point the fields at the highlighted row's answers-file name and its problems."""
        key = where(self.selected) if self.selected else NO_ROW
        for field in self.query(RowField):
            field.key = key
            field.problems = [p for p in self.problems if field.matches(p)]
            field.show()
        self._show_changes()

    @on(ListEditor.Highlighted, "#aliases")
    def _highlighted(self, event: ListEditor.Highlighted) -> None:
        if event.entry is not self.selected:
            self._select(event.entry)

    @on(ListEditor.Chosen, "#aliases")
    def _chosen(self) -> None:
        if self.selected is not None and not self.selected.deleted:
            self._input(TARGETS_INPUT).focus()

    @on(Input.Changed, "#" + NAME_INPUT)
    def _name_typed(self, event: Input.Changed) -> None:
        entry = self.selected
        value = event.input.value  # now, not when the event was made
        if entry is None or entry.key == value:
            return
        self.table.edit(entry, key=value)
        self.editor.update(entry)
        self._rekey()
        for field in self.query(RowField):
            if field.part == "targets":
                field.check_now()  # a row that stops being blank needs addresses

    @on(Input.Changed, "#" + TARGETS_INPUT)
    def _targets_typed(self, event: Input.Changed) -> None:
        entry = self.selected
        value = event.input.value
        if entry is None or entry.value == value:
            return
        self.table.edit(entry, value=value)
        self.editor.update(entry)

    def action_new_alias(self) -> None:
        if not self.loaded:
            return
        entry = self.table.add("", "")
        self.editor.append(entry)
        self._select(entry)
        self.set_focus(self._input(NAME_INPUT))  # now: typing may follow at once

    def action_delete_alias(self) -> None:
        entry = self.selected
        if entry is None:
            return
        name = entry.key.strip().lower() or "the new row"
        editor = self.editor
        if entry.deleted:
            self.table.keep(entry)
            self.notify(f"{name} is kept.", timeout=3)
            editor.update(entry)
            self._select(entry)
        elif self.table.delete(entry):
            self.notify(f"{name} will be removed: review to apply", timeout=3)
            editor.update(entry)
            self._select(entry)
            editor.table.focus()
        else:
            self.notify(f"{name} will not be added.", timeout=3)
            editor.show(self.table)
            self._select(editor.selected)
            editor.table.focus()
        self.changed()

    # Marks: ✖ / ! where the step sees problems ----------------------------------------------

    def proposed(self) -> None:
        self._rekey()
        self._mark_rows()

    def _mark_rows(self) -> None:
        marks: dict[str, Level] = {}
        typed_wrong = any(f.local_error for f in self.query(RowField))
        for entry in self.table.entries:
            name = where(entry)
            mine = [p for p in self.problems
                    if p.field == name or p.field.startswith(name + "[")]
            if (entry is self.selected and typed_wrong) or any(
                    p.level == "error" for p in mine):
                marks[entry.id] = "error"
            elif mine:
                marks[entry.id] = "warning"
        self.editor.mark_problems(marks)
