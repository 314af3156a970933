"""A small keyed table drawn with the line API: a header, rows of cells, one cursor row.

The Inbox and Brain lists hold a handful of rows that change a few times a second; Textual's DataTable
re-renders every cell through Rich whenever focus or size changes, which made switching to those panes the
slowest thing in the app. This draws each row once into a cached strip (keyed by its cells, width and cursor)
and only draws the rows on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text


class Column:
    def __init__(self, key: str, label: str, width: int | None = None) -> None:
        self.key, self.label, self.width = key, label, width


class RowTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-table--header", "row-table--cursor", "row-table--odd"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, repaint=False)

    class Highlighted(Message):
        """The cursor moved to another row (or the rows under it changed)."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self._keys: list[str] = []
        self._row_cells: dict[str, tuple[Cell, ...]] = {}
        self._row_versions: dict[str, int] = {}  # bumped when a row's cells change: the strip cache's key
        self._serial = 0
        self._cache: LRUCache[tuple, Strip] = LRUCache(512)

    # -- data ---------------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def row_keys(self) -> list[str]:
        return list(self._keys)

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None

    def get_cell(self, key: str, column: str) -> Cell:
        index = next(i for i, c in enumerate(self.columns) if c.key == column)
        return self._row_cells[key][index]

    def set_rows(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
        """Replace the rows; the cursor stays on the same key, or on the same position when its row left."""
        before = self.cursor_key
        keys = [key for key, _ in rows]
        changed = keys != self._keys or any(self._row_cells.get(k) != cells for k, cells in rows)
        if not changed:
            return
        for key, cells in rows:
            if self._row_cells.get(key) != cells:
                self._serial += 1
                self._row_versions[key] = self._serial
        self._keys = keys
        self._row_cells = dict(rows)
        index = keys.index(before) if before in keys else min(self.cursor_row, max(len(keys) - 1, 0))
        self.virtual_size = Size(self.size.width, len(keys) + 1)
        self.set_reactive(RowTable.cursor_row, index)
        self._scroll_to_cursor()
        self.refresh()
        if self.cursor_key != before or before is None:
            self.post_message(self.Highlighted(self, self.cursor_key))

    # -- drawing ------------------------------------------------------------------------------------------
    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._keys) + 1

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _widths(self, width: int) -> list[int]:
        """Fixed columns keep their width; flexible ones share the rest. The last column needs no separator
        after it, so a flexible last column reaches the edge instead of stopping one cell short."""
        fixed = sum((c.width or 0) + 1 for c in self.columns)
        flexible = [c for c in self.columns if c.width is None]
        separators = len(flexible) - (1 if self.columns and self.columns[-1].width is None else 0)
        rest = max(0, width - fixed - separators)
        share = rest // len(flexible) if flexible else 0
        return [c.width if c.width is not None else share for c in self.columns]

    def _line(self, cells: Sequence[Cell], width: int, style: Style) -> list[Segment]:
        text = Text(no_wrap=True, overflow="ellipsis", end="", style=style)
        for cell, cell_width in zip(cells, self._widths(width), strict=False):
            piece = cell if isinstance(cell, Text) else Text(str(cell))
            piece = piece.copy()
            piece.truncate(cell_width, overflow="ellipsis", pad=True)
            text.append_text(piece)
            text.append(" ")
        text.truncate(width, pad=True)
        return list(text.render(self.app.console))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            key: tuple[object, ...] = ("header", width)
            strip = self._cache.get(key)
            if strip is None:
                style = base + self.get_component_rich_style("row-table--header")
                strip = Strip(self._line([c.label for c in self.columns], width, style), width)
                self._cache[key] = strip
            return strip
        index = self.scroll_offset.y + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, base)
        row_key = self._keys[index]
        cells = self._row_cells[row_key]
        is_cursor = index == self.cursor_row
        key = (row_key, self._row_versions.get(row_key, 0), width, is_cursor, is_cursor and self.has_focus, index % 2)
        strip = self._cache.get(key)
        if strip is None:
            style = base + self.get_component_rich_style("row-table--odd") if index % 2 else base
            segments = self._line(cells, width, style)
            if is_cursor:
                cursor = self.get_component_rich_style("row-table--cursor")
                if not self.has_focus:
                    cursor = Style(bgcolor=cursor.bgcolor, dim=True)
                segments = list(Segment.apply_style(segments, post_style=cursor))
            strip = Strip(segments, width).simplify()
            self._cache[key] = strip
        return strip

    def watch_has_focus(self, _focus: bool) -> None:
        self.refresh()

    # -- moving -------------------------------------------------------------------------------------------
    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True, force=True)

    def move_cursor(self, row: int) -> None:
        if self._keys:
            self.cursor_row = min(max(row, 0), len(self._keys) - 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._keys) - 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.scrollable_content_region.height - 2))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.scrollable_content_region.height - 2))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y - 1
        if 0 <= index < len(self._keys):
            self.move_cursor(index)
