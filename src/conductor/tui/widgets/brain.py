"""Pane 3, Brain: every brain version per venture and the platform (author, time, memories consumed), a
preview of the selected one, and the founder's hands on it: open, compare two, write a founder version, pin,
revert.

`space` marks up to two versions; `c` compares the two marked (or the selected one with its parent).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from conductor.tui.data import BrainVersionRow
from conductor.tui.format import short_time
from conductor.tui.messages import BrainAction
from conductor.tui.widgets.brain_text import document_text
from conductor.tui.widgets.row_table import Column, RowTable

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp


def older_first(a: BrainVersionRow, b: BrainVersionRow) -> tuple[BrainVersionRow, BrainVersionRow]:
    """Two marked versions in the order a diff reads them, older → newer, whichever was marked first: by version
    number within a venture, by when they were written across ventures."""
    if a.venture == b.venture:
        newer = b.version > a.version
    else:
        newer = (b.created or "", b.version) >= (a.created or "", a.version)
    return (a, b) if newer else (b, a)


class PreviewLoaded(Message):
    def __init__(self, key: str, text: Text) -> None:
        super().__init__()
        self.key = key
        self.text = text


def version_key(row: BrainVersionRow) -> str:
    return f"{row.venture}/{row.version}"


COLUMNS = (Column("mark", "", 2), Column("venture", "venture", 10), Column("version", "version", 7),
           Column("author", "author", 10), Column("at", "at", 9), Column("memories", "memories", 8),
           Column("lessons", "lessons", 8), Column("pin", "", 9))


class BrainTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="brain.open"),
        Binding("space", "mark", "Mark", id="brain.mark"),
        Binding("c", "compare", "Compare", id="brain.compare"),
        Binding("w", "write", "Write", id="brain.write"),
        Binding("p", "pin", "Pin", id="brain.pin"),
        Binding("R", "revert", "Revert", id="brain.revert"),
        Binding("escape", "clear_marks", "Clear marks", show=False, id="brain.clear"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.origin = origin
        self.versions: list[BrainVersionRow] = []
        self.marked: list[str] = []

    def set_versions(self, rows: list[BrainVersionRow]) -> None:
        self.versions = rows
        keys = {version_key(r) for r in rows}
        self.marked = [k for k in self.marked if k in keys]
        self.set_rows([(version_key(r), self._cells(r)) for r in rows])

    def _cells(self, row: BrainVersionRow) -> tuple[Text | str, ...]:
        key = version_key(row)
        mark = Text(str(self.marked.index(key) + 1), style="bold reverse") if key in self.marked else ""
        author = Text(row.author, style="bold" if row.author == "founder" else "")
        lessons = Text(f"{row.worked}", style="green")
        lessons.append("/")
        lessons.append(f"{row.failed}", style="red")
        version = f"v{row.version}" + (f"←v{row.reverted_from}" if row.reverted_from is not None else "")
        return (mark, row.venture, version, author, short_time(row.created, self.origin), str(row.memories),
                lessons, Text("◆ pinned", style="bold yellow") if row.pinned else "")

    @property
    def selected(self) -> BrainVersionRow | None:
        if not self.versions or not 0 <= self.cursor_row < len(self.versions):
            return None
        return self.versions[self.cursor_row]

    def _row(self, key: str) -> BrainVersionRow | None:
        return next((r for r in self.versions if version_key(r) == key), None)

    def _need(self) -> BrainVersionRow | None:
        row = self.selected
        if row is None:
            self.notify("no brain versions yet: synthesis writes one once enough memories gather, or press w",
                        timeout=3)
        return row

    def action_open(self) -> None:
        if (row := self._need()) is not None:
            self.post_message(BrainAction("open", row.venture, row.version))

    def action_mark(self) -> None:
        row = self._need()
        if row is None:
            return
        key = version_key(row)
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked = [*self.marked, key][-2:]
        self.set_versions(self.versions)

    def action_clear_marks(self) -> None:
        self.marked = []
        self.set_versions(self.versions)

    def action_compare(self) -> None:
        if len(self.marked) == 2:
            a, b = (self._row(k) for k in self.marked)
            if a is not None and b is not None:
                a, b = older_first(a, b)
                self.post_message(BrainAction("compare", a.venture, a.version, (b.venture, b.version)))
            return
        row = self._need()
        if row is None:
            return
        parent = row.parent if row.parent is not None else row.version - 1
        if self._row(f"{row.venture}/{parent}") is None:
            self.notify(f"{row.venture} v{row.version} is its first version: mark two versions with space to compare",
                        severity="warning", timeout=3)
            return
        self.post_message(BrainAction("compare", row.venture, parent, (row.venture, row.version)))

    def action_write(self) -> None:
        row = self.selected
        venture = row.venture if row is not None else None
        self.post_message(BrainAction("write", venture or "", row.version if row else None))

    def action_pin(self) -> None:
        if (row := self._need()) is not None:
            self.post_message(BrainAction("unpin" if row.pinned else "pin", row.venture, row.version))

    def action_revert(self) -> None:
        if (row := self._need()) is not None:
            self.post_message(BrainAction("revert", row.venture, row.version))


class BrainPane(Horizontal):
    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    def __init__(self, origin: datetime | None, venture_names: dict[str, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.origin = origin
        self.venture_names = venture_names
        self.border_title = "Brain"
        self._previewed: str | None = None

    def compose(self) -> ComposeResult:
        yield BrainTable(self.origin, id="brain-table")
        with VerticalScroll(id="brain-preview"):
            yield Static(Text("No brain versions yet.", style="italic"), id="brain-preview-body")

    @property
    def table(self) -> BrainTable:
        return self.query_one(BrainTable)

    def focus_primary(self) -> None:
        self.table.focus()

    def set_versions(self, rows: list[BrainVersionRow]) -> None:
        self.table.set_versions(rows)
        ventures = len({r.venture for r in rows})
        self.border_subtitle = f"{len(rows)} versions across {ventures} brains" if rows else "no versions yet"

    @on(RowTable.Highlighted, "#brain-table")
    def _preview(self) -> None:
        row = self.table.selected
        if row is not None and version_key(row) != self._previewed:
            self._previewed = version_key(row)
            self._load(row.venture, row.version)

    @work(thread=True, exclusive=True, group="brain-preview", exit_on_error=False)
    def _load(self, venture: str, version: int) -> None:
        document = self.app.reader.brain_document(venture, version)
        text = document_text(document, title=f"{self.venture_names.get(venture, venture)} brain v{version}",
                             names=self.venture_names)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewLoaded(f"{venture}/{version}", text))

    @on(PreviewLoaded)
    def _show(self, message: PreviewLoaded) -> None:
        row = self.table.selected
        if row is not None and version_key(row) == message.key:
            self.query_one("#brain-preview-body", Static).update(message.text)
