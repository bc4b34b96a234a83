"""A log for a lot of streamed output: styled plain lines, wrapped, only visible rows drawn.

``RichLog`` keeps every line as rendered Strips (about 40 objects a line): with 10,000
lines of apt output the garbage collector's walks over that heap held key presses up for
hundreds of milliseconds. Textual's ``Log`` holds strings but styles none and does not
wrap. This holds ``(text, style)`` per line, wraps it to the width (continuation rows
indented, so a wrapped line reads as one), follows the end unless the reader scrolled up,
and keeps following when it is resized (an outcome box appearing under it). Text is never
parsed as markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

INDENT = 2  # continuation rows of a wrapped line start this far in
_CONTROL = re.compile("[\u0000-\u0008\u000a-\u001f\u007f]").sub
_WORDS = re.compile(r"\s*\S+\s*|\s+").findall


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


def wrap(text: str, width: int) -> list[str]:
    """``text`` as rows of at most ``width`` cells, broken between words where it can be;
    rows after the first indented by ``INDENT``."""
    text = _CONTROL("\ufffd", text.expandtabs())
    measure = len if text.isascii() else cell_len
    if measure(text) <= width or width <= INDENT + 1:
        return [text]
    rows: list[str] = []
    row = ""
    for word in _WORDS(text):
        while word:
            room = width - (INDENT if rows else 0)
            if measure((row + word).rstrip()) <= room:
                row += word
                break
            if row:  # the word goes on the next row
                rows.append(row.rstrip())
                row = ""
                continue
            # Longer than a whole row (a path, a hash): cut it.
            piece = word[:room] if measure is len else chop_cells(word, room)[0]
            rows.append(piece)
            word = word[len(piece):]
    if row.rstrip() or not rows:
        rows.append(row.rstrip())
    return [rows[0], *(" " * INDENT + r for r in rows[1:])]


class LogLine(NamedTuple):
    """One line: ``mark`` (styled ``mark_style``) then a space and ``text`` (``style``)."""

    text: str
    style: str = ""
    mark: str = ""
    mark_style: str = ""

    @property
    def plain(self) -> str:
        return f"{self.mark} {self.text}" if self.mark else self.text


class _Row(NamedTuple):
    text: str
    style: str
    marked: int  # characters at the start in mark_style (the first row's mark and space)
    mark_style: str


def _rows(line: LogLine, width: int) -> list[_Row]:
    rows = [_Row(row, line.style, 0, "") for row in wrap(line.plain, width)]
    if line.mark:
        rows[0] = rows[0]._replace(marked=len(line.mark) + 1, mark_style=line.mark_style)
    return rows


class StreamLog(ScrollView, can_focus=True):
    """``LogLine``s, wrapped to the width; ``lines`` gives their plain text."""

    DEFAULT_CSS = """
    StreamLog {
        background: $surface;
        color: $text;
        overflow-x: hidden;
        overflow-y: scroll;  /* a steady width to wrap to */
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[LogLine] = []
        self._rows: list[_Row] = []  # wrapped to _wrap_width
        self._wrap_width = 0
        self._follow = True  # at the end: stay there as lines come and the size changes

    @property
    def lines(self) -> list[str]:
        """The plain text of every line written (unwrapped)."""
        return [line.plain for line in self._lines]

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def write_lines(self, lines: Iterable[LogLine]) -> None:
        """Append lines (styles: Rich style strings, e.g. "bold red")."""
        new = list(lines)
        if not new:
            return
        self._lines.extend(new)
        if self._wrap_width:
            width = self._wrap_width
            for line in new:
                self._rows.extend(_rows(line, width))
        self._update_virtual_size()

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._wrap_width, len(self._rows))
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _rewrap(self, width: int) -> None:
        self._wrap_width = width
        self._rows = [row for line in self._lines for row in _rows(line, width)]
        self._update_virtual_size()

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._wrap_width:
            self._rewrap(width)
        elif self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._follow = new_value >= self.max_scroll_y

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self.scroll_offset.y + y
        if index >= len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[index]
        text, marked = row.text, row.marked
        segments = [Segment(text[marked:], base + _style(row.style))]
        if marked:
            segments.insert(0, Segment(text[:marked], base + _style(row.mark_style)))
        strip = Strip(segments, cell_len(text))
        return strip.crop_extend(0, width, base)
