"""The aliases step's screen: /etc/aliases as a table, edited one row at a time.

The table holds the whole alias table as the admin wants it; the two fields under it edit
the highlighted row (ctrl+n adds a row, ctrl+d removes it). ``steps.aliases.edits`` turns
the edited table into the minimal answers (changed, new and removed names only).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.validation import ValidationResult, Validator
from textual.widgets import DataTable, Input

from mailwizard import validate
from mailwizard.steps.aliases import AliasesAnswers, edits, toml_key
from mailwizard.steps.base import Problem
from mailwizard.validate import Invalid

from .step_base import Check, Field, StepScreen, split_items

NAME_INPUT = "alias-name"
TARGETS_INPUT = "alias-targets"
NO_ROW = "aliases.\0"  # the fields' key while no row is selected: matches nothing


@dataclass
class Row:
    """One table row as typed; ``original`` is the file's targets (None for a new row)."""

    id: str
    name: str
    text: str
    original: tuple[str, ...] | None = None
    original_name: str | None = None

    @property
    def blank(self) -> bool:
        return not self.name.strip() and not self.text.strip()

    @property
    def key(self) -> str:
        return self.name.strip().lower()

    def targets(self) -> tuple[str, ...]:
        """The targets; an untouched row keeps the file's (even forms the wizard won't write)."""
        if self.original is not None and self.text == ", ".join(self.original):
            return self.original
        return tuple(split_items(self.text))

    @property
    def where(self) -> str:
        return f"aliases.{toml_key(self.key)}"


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
        row = self.owner.selected
        if row is None or row.blank:
            return self.success()
        if row.original_name is not None and value == row.original_name:
            return self.success()
        try:
            key = validate.local_name(value)
        except Invalid as exc:
            return self.failure(str(exc))
        if any(r.key == key for r in self.owner.rows if r is not row):
            return self.failure(f"{key} is already in the table: edit that row")
        return self.success()


class TargetsCheck(Validator):
    """One or more addresses; the wrong one is named. An untouched row is left alone."""

    def __init__(self, owner: AliasesScreen) -> None:
        super().__init__()
        self.owner = owner
        self.each = Check(validate.address, each=True)

    def validate(self, value: str) -> ValidationResult:
        row = self.owner.selected
        if row is None or row.blank:
            return self.success()
        if row.original is not None and value == ", ".join(row.original):
            return self.success()
        if not split_items(value):
            return self.failure("give one or more addresses (ctrl+d removes the alias)")
        return self.each.validate(value)


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
        self.rows: list[Row] = []
        self.selected: Row | None = None
        self._ids = itertools.count()

    # Layout -------------------------------------------------------------------------------

    def compose_form(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="aliases-table", cursor_type="row",
                                                 zebra_stripes=True)
        table.add_column(" ", key="mark", width=1)
        table.add_column("Alias", key="name")
        table.add_column("Forwards to", key="targets")
        yield table
        yield RowField("Alias", "name", Input(
            placeholder="support", validators=[NameCheck(self)], id=NAME_INPUT,
            compact=True), hint="a local name: mail to it@ your domains is forwarded")
        yield RowField("Forwards to", "targets", Input(
            placeholder="you@example.net, other@example.net",
            validators=[TargetsCheck(self)], id=TARGETS_INPUT, compact=True),
            hint="addresses or local users, separated by commas")

    def on_mount(self) -> None:
        super().on_mount()
        self._enable(False)
        self.call_after_refresh(self.table.focus)  # after the base focused the first Input

    # The contract ---------------------------------------------------------------------------

    def answers_from_form(self) -> AliasesAnswers:
        seen: set[str] = set()
        entries: list[tuple[str, tuple[str, ...]]] = []
        for number, row in enumerate(self.rows, 1):
            if row.blank:
                continue
            if not row.key:
                raise Invalid(f"row {number} has no alias name")
            if row.key in seen:
                raise Invalid(f"{row.key} is in the table twice")
            targets = row.targets()
            if not targets:
                raise Invalid(f"{row.key}: give one or more addresses (ctrl+d removes it)")
            seen.add(row.key)
            entries.append((row.key, targets))
        return edits(self.before, AliasesAnswers(tuple(entries)))

    def fill_form(self, answers: AliasesAnswers) -> None:
        self.before = answers
        self.rows = [Row(self._new_id(), name, ", ".join(targets), targets, name)
                     for name, targets in answers.entries]
        table = self.table
        table.clear()
        for row in self.rows:
            table.add_row(" ", row.name, row.text, key=row.id)
        self._select(self.rows[0] if self.rows else None)

    # The table ----------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#aliases-table", DataTable)

    def _new_id(self) -> str:
        return f"row{next(self._ids)}"

    def _row(self, row_id: str | None) -> Row | None:
        return next((r for r in self.rows if r.id == row_id), None)

    def _enable(self, on: bool) -> None:
        for field_input in self.query(Input):
            field_input.disabled = not on

    def _select(self, row: Row | None) -> None:
        """Show ``row`` in the fields (None: nothing to edit)."""
        self.selected = row
        self._enable(row is not None)
        name_input = self.query_one("#" + NAME_INPUT, Input)
        targets_input = self.query_one("#" + TARGETS_INPUT, Input)
        name_input.value = row.name if row else ""
        targets_input.value = row.text if row else ""
        self._rekey()
        for field in self.query(RowField):
            field.check_now()

    def _rekey(self) -> None:
        """Point the fields at the highlighted row's answers-file name and its problems."""
        key = self.selected.where if self.selected else NO_ROW
        for field in self.query(RowField):
            field.key = key
            field.problems = [p for p in self.problems if field.matches(p)]
            field.show()
        self._show_changes()

    @on(DataTable.RowHighlighted, "#aliases-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self._row(event.row_key.value)
        if row is not None and row is not self.selected:
            self._select(row)

    @on(DataTable.RowSelected, "#aliases-table")
    def _chosen(self) -> None:
        if self.selected is not None:
            self.query_one("#" + TARGETS_INPUT, Input).focus()

    @on(Input.Changed, "#" + NAME_INPUT)
    def _name_typed(self, event: Input.Changed) -> None:
        row = self.selected
        value = event.input.value  # now, not when the event was made
        if row is None or row.name == value:
            return
        row.name = value
        self.table.update_cell(row.id, "name", value, update_width=True)
        self._rekey()
        for field in self.query(RowField):
            if field.part == "targets":
                field.check_now()  # a row that stops being blank needs addresses

    @on(Input.Changed, "#" + TARGETS_INPUT)
    def _targets_typed(self, event: Input.Changed) -> None:
        row = self.selected
        value = event.input.value
        if row is None or row.text == value:
            return
        row.text = value
        self.table.update_cell(row.id, "targets", value, update_width=True)

    def action_new_alias(self) -> None:
        if not self.loaded:
            return
        row = Row(self._new_id(), "", "")
        self.rows.append(row)
        table = self.table
        table.add_row(" ", "", "", key=row.id)
        self._select(row)
        table.move_cursor(row=len(self.rows) - 1)
        self.set_focus(self.query_one("#" + NAME_INPUT, Input))  # now: typing may follow

    def action_delete_alias(self) -> None:
        row = self.selected
        if row is None:
            return
        index = self.rows.index(row)
        self.rows.remove(row)
        self.selected = None
        table = self.table
        table.remove_row(row.id)
        following = self.rows[min(index, len(self.rows) - 1)] if self.rows else None
        self._select(following)
        if following is not None:
            table.move_cursor(row=self.rows.index(following))
        else:
            table.focus()
        self.notify(f"{row.key or 'the new row'} removed: review to apply", timeout=3)
        self.changed()

    # Marks: + new, ~ changed, ✖ / ! problems --------------------------------------------

    def proposed(self) -> None:
        self._rekey()
        self._mark_rows()

    def _mark_rows(self) -> None:
        before = self.before.as_dict()
        for row in self.rows:
            mine = [p for p in self.problems
                    if p.field == row.where or p.field.startswith(row.where + "[")]
            typed_wrong = row is self.selected and any(
                f.local_error for f in self.query(RowField))
            if typed_wrong or any(p.level == "error" for p in mine):
                mark = Text("✖", style="bold red")
            elif mine:
                mark = Text("!", style="yellow")
            elif row.blank:
                mark = Text(" ")
            elif row.key not in before:
                mark = Text("+", style="green")
            elif before[row.key] != row.targets():
                mark = Text("~", style="yellow")
            else:
                mark = Text(" ")
            self.table.update_cell(row.id, "mark", mark)
