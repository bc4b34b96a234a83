"""One list editor for lists with pending edits (aliases, SASL logins).

:class:`ListEditor` shows a :class:`mailwizard.pending.PendingEdits` as a table (a mark,
the key, a detail) and holds the fields, if any, that edit the highlighted entry. Screens
say what the detail column shows and what happens on add, edit and delete; the editor
keeps the marks (``+`` new, ``~`` changed, ``−`` to be deleted; ✖ / ! where the step sees
a problem) and the keyboard honest.

Keys in a burst (``screens/keys.py``): tab, shift+tab and enter between the fields are
priority bindings here, so the focus moves before the next key is read, and the fields are
:class:`BurstSafeInput`. A bracketed paste (one Paste event) is split at its tabs the same
way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, Literal, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input

from mailwizard.pending import Entry, PendingEdits

from .keys import FOCUS_KEYS, BurstSafeInput, next_input

V = TypeVar("V")
Level = Literal["error", "warning"] | None
EMPTY_ROW = "\0empty"  # the placeholder row's key when the list is empty

STYLES = {"+": "green", "~": "yellow", "−": "red"}
PROBLEM_MARKS = {"error": Text("✖", style="bold red"), "warning": Text("!", style="yellow")}


class RowInput(BurstSafeInput):
    """An Input of the editor: a pasted tab moves on to the next field, like a typed one."""

    def on_paste(self, event: events.Paste) -> None:
        if "\t" not in event.text:
            return  # Input's own paste
        event.prevent_default()
        event.stop()
        editor = next((a for a in self.ancestors if isinstance(a, ListEditor)), None)
        following = editor.input_after(self) if editor is not None else None
        line = event.text.splitlines()[0] if event.text else ""
        here, _, rest = line.partition("\t")
        if following is None:
            here, rest = line.replace("\t", " "), ""
        if self.selection.is_empty:
            self.insert_text_at_cursor(here)
        else:
            self.replace(here, *self.selection)
        if following is not None:
            # Focus first: the Paste is queued behind the Focus (which selects the field),
            # so the rest replaces it as typed keys would.
            self.screen.set_focus(following)
            following.post_message(events.Paste(rest))


class ListEditor(Vertical, Generic[V]):
    """A table of pending edits, and the fields (``RowInput`` inside Fields) that edit the
    highlighted entry, composed below the table."""

    DEFAULT_CSS = """
    ListEditor {
        height: auto;
    }
    ListEditor > DataTable {
        height: auto;
        max-height: 30vh;
        margin-bottom: 1;
    }
    """
    BINDINGS: ClassVar[list[Any]] = [
        *FOCUS_KEYS,
        Binding("enter", "next_field", show=False, priority=True),
    ]

    class Highlighted(Message):
        """The highlighted entry changed (None: the list is empty)."""

        def __init__(self, editor: ListEditor[Any], entry: Entry[Any] | None) -> None:
            super().__init__()
            self.editor = editor
            self.entry = entry

        @property
        def control(self) -> ListEditor[Any]:
            return self.editor

    class Chosen(Message):
        """Enter (or a click) on an entry in the table."""

        def __init__(self, editor: ListEditor[Any], entry: Entry[Any]) -> None:
            super().__init__()
            self.editor = editor
            self.entry = entry

        @property
        def control(self) -> ListEditor[Any]:
            return self.editor

    def __init__(
        self,
        *fields: Widget,
        columns: tuple[str, str],
        detail: Callable[[Entry[V]], str],
        empty: str,
        italic_detail: bool = False,
        header: bool = True,
        id: str | None = None,
        table_id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.pending: PendingEdits[V] | None = None
        self.fields = fields
        self.columns = columns
        self.detail = detail
        self.empty = empty
        self.italic_detail = italic_detail
        self.problems: dict[str, Level] = {}
        self.table: DataTable[Text] = DataTable(id=table_id, cursor_type="row",
                                                zebra_stripes=True, show_header=header)
        self.table.add_column(" ", key="mark", width=1)
        self.table.add_column(columns[0], key="key")
        self.table.add_column(columns[1], key="detail")

    def compose(self) -> ComposeResult:
        yield self.table
        yield from self.fields

    # Showing ------------------------------------------------------------------------------

    def show(self, pending: PendingEdits[V], select: Entry[V] | None = None) -> None:
        """Show ``pending`` (again), the cursor on ``select`` or where it was."""
        current = select or self.selected
        self.pending = pending
        table = self.table
        table.clear()
        table.show_cursor = bool(pending.entries)  # the placeholder is not a row to choose
        if not pending.entries:
            table.add_row(Text(" "), Text(self.empty, style="dim"), Text(""), key=EMPTY_ROW)
            self.post_message(self.Highlighted(self, None))
            return
        for entry in pending.entries:
            table.add_row(*self._cells(entry), key=entry.id)
        index = pending.entries.index(current) if current in pending.entries else 0
        table.move_cursor(row=index)
        self.post_message(self.Highlighted(self, pending.entries[index]))

    def append(self, entry: Entry[V]) -> None:
        """Add the row of a new last entry and move the cursor to it (no rebuild: a rebuild
        would highlight other rows on the way, while keys may already be arriving)."""
        table = self.table
        if EMPTY_ROW in table.rows:
            table.remove_row(EMPTY_ROW)
            table.show_cursor = True
        table.add_row(*self._cells(entry), key=entry.id)
        table.move_cursor(row=table.row_count - 1)

    def update(self, entry: Entry[V]) -> None:
        """Redraw one entry's row (after its key or value changed)."""
        if self.pending is None or entry not in self.pending.entries:
            return
        for column, cell in zip(("mark", "key", "detail"), self._cells(entry), strict=True):
            self.table.update_cell(entry.id, column, cell, update_width=column != "mark")

    def mark_problems(self, problems: dict[str, Level]) -> None:
        """✖ or ! instead of the edit mark on the entries (by id) the step has problems with."""
        self.problems = problems
        for entry in self.pending.entries if self.pending else ():
            self.update(entry)

    def _cells(self, entry: Entry[V]) -> tuple[Text, Text, Text]:
        assert self.pending is not None
        mark = self.pending.mark(entry)
        style = STYLES.get(mark, "")
        level = self.problems.get(entry.id)
        if level is not None:
            mark_text, style = PROBLEM_MARKS[level], ""
        else:
            mark_text = Text(mark or " ", style=f"bold {style}".strip())
        struck = f"{style} strike" if entry.deleted else style
        key = Text(entry.key, style=struck.strip())
        # A note ("will be deleted") is not struck through; a value (the targets) is.
        detail = Text(self.detail(entry), style=(f"italic {style}" if self.italic_detail
                                                 else struck).strip())
        return mark_text, key, detail

    def focus(self, scroll_visible: bool = True) -> ListEditor[V]:
        """Focus the table (the editor itself takes no focus)."""
        self.table.focus(scroll_visible)
        return self

    # The highlighted entry ----------------------------------------------------------------

    @property
    def selected(self) -> Entry[V] | None:
        if self.pending is None or not self.pending.entries or not self.table.row_count:
            return None
        row = self.table.cursor_row
        entries = self.pending.entries
        return entries[row] if 0 <= row < len(entries) else None

    def select(self, entry: Entry[V]) -> None:
        if self.pending is not None and entry in self.pending.entries:
            self.table.move_cursor(row=self.pending.entries.index(entry))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self, self._entry(event.row_key.value)))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        entry = self._entry(event.row_key.value)
        if entry is not None:
            self.post_message(self.Chosen(self, entry))

    def _entry(self, entry_id: str | None) -> Entry[V] | None:
        entries = self.pending.entries if self.pending else []
        return next((e for e in entries if e.id == entry_id), None)

    # Keys ---------------------------------------------------------------------------------

    def input_after(self, field_input: Input) -> Input | None:
        return next_input(self, field_input)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_field":
            # Only between the fields: enter in the last one is the screen's (review), and
            # enter on the table chooses the row.
            return next_input(self, self.screen.focused) is not None
        return True

    def action_next_field(self) -> None:
        following = next_input(self, self.screen.focused)
        if following is not None:
            self.screen.set_focus(following)
