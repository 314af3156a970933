"""The live event stream: a line-API widget that only ever draws the rows on screen.

Rows arrive in batches (one per poll, 10 Hz) and are appended in one go, so 200 events a second cost ten
small appends, not two hundred repaints. It keeps its own viewport (the first row on screen) and draws its own
one-column scrollbar instead of being a ScrollView: following the stream then only repaints its own lines,
with no scroll reflow of the screen for every batch. While following, the view sticks to the newest row;
scrolling or moving the cursor up stops following (as in toolong), and `G` resumes it. Enter opens the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from conductor.services.queries import EventRow
from conductor.tui.format import short_time
from conductor.tui.summaries import describe
from conductor.tui.widgets.activity_filter import ActivityFilter, kind_family, kind_label

MAX_ROWS = 10_000
VENTURE_COLOURS = 6
FAMILIES = ("decision", "escalation", "success", "problem", "founder", "normal", "quiet")
WHEEL_STEP = 3


class ActivityLog(Widget, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "activity-log--time", "activity-log--cursor", "activity-log--platform", "activity-log--scrollbar",
        "activity-log--thumb",
        *(f"activity-log--venture-{i}" for i in range(VENTURE_COLOURS)),
        *(f"activity-log--{family}" for family in FAMILIES),
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("g,home", "first", "First event", show=False),
        Binding("G,end", "follow", "Follow", key_display="G", id="activity.follow"),
        Binding("enter", "open", "Open event", id="activity.open"),
    ]

    follow: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(-1, repaint=False)

    class Opened(Message):
        """The founder asked for the full event under the cursor."""

        def __init__(self, event: EventRow) -> None:
            super().__init__()
            self.event = event

    class Changed(Message):
        """Follow mode or the number of rows changed: the pane's title shows them."""

    def __init__(self, ventures: list[str], origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ventures = {v: i % VENTURE_COLOURS for i, v in enumerate(ventures)}
        self.origin = origin
        self._rows: list[EventRow] = []
        self._visible: list[EventRow] = []
        self._filter = ActivityFilter()
        self._cache: LRUCache[tuple[int, int, bool, bool], Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self.top = 0  # the index of the first visible row on screen
        self.unseen = 0

    # -- data -----------------------------------------------------------------------------------------------
    @property
    def filter(self) -> ActivityFilter:
        return self._filter

    @property
    def last_event_id(self) -> int:
        """The newest event received (shown, or hidden by the filter)."""
        return self._rows[-1].id if self._rows else 0

    @property
    def visible_count(self) -> int:
        return len(self._visible)

    @property
    def selected(self) -> EventRow | None:
        return self._visible[self.cursor] if 0 <= self.cursor < len(self._visible) else None

    @property
    def height(self) -> int:
        return max(1, self.content_region.height)

    def append(self, rows: list[EventRow]) -> None:
        """Add a batch of events (oldest first); one repaint however many there are."""
        if not rows:
            return
        self._rows.extend(rows)
        matching = [r for r in rows if self._filter.matches(r)]
        self._visible.extend(matching)
        if len(self._rows) > MAX_ROWS:
            self._trim()
        if self.follow:
            self._to_end()
        else:
            self.unseen += len(matching)
            self.refresh()  # the scrollbar moves
        self.post_message(self.Changed())

    def _trim(self) -> None:
        """Drop the oldest rows beyond MAX_ROWS, keeping the cursor on the same event."""
        self._rows = self._rows[-MAX_ROWS:]
        first_id = self._rows[0].id
        dropped = sum(1 for r in self._visible if r.id < first_id)
        if dropped:
            self._visible = self._visible[dropped:]
            self.top = max(0, self.top - dropped)
            self.set_reactive(ActivityLog.cursor, max(0, self.cursor - dropped))

    def set_filter(self, new: ActivityFilter) -> None:
        selected = self.selected
        self._filter = new
        self._visible = [r for r in self._rows if new.matches(r)]
        if self.follow or selected is None:
            self._to_end()
        else:
            index = next((i for i, r in enumerate(self._visible) if r.id >= selected.id), len(self._visible) - 1)
            self.cursor = index
        self.refresh()
        self.post_message(self.Changed())

    def _to_end(self) -> None:
        self.set_reactive(ActivityLog.cursor, len(self._visible) - 1)
        self.top = max(0, len(self._visible) - self.height)
        self.unseen = 0
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._styles.clear()

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        row_width = max(1, width - 1)
        index = self.top + y
        if index < len(self._visible):
            row = self._visible[index]
            is_cursor = index == self.cursor
            key = (row.id, row_width, is_cursor, is_cursor and self.has_focus)
            strip = self._cache.get(key)
            if strip is None:
                strip = self._render_row(row, row_width, is_cursor)
                self._cache[key] = strip
        else:
            strip = Strip.blank(row_width, self._style(""))
        return Strip.join([strip, Strip([self._scrollbar_cell(y)], 1)])

    def _scrollbar_cell(self, y: int) -> Segment:
        """One cell of the scrollbar: the thumb where the view is in the stream, the track elsewhere."""
        total, height = len(self._visible), self.height
        if total <= height:
            return Segment(" ", self._style(""))
        size = max(1, height * height // total)
        start = (height - size) * self.top // max(1, total - height)
        thumb = start <= y < start + size
        return Segment(" ", self.get_component_rich_style("activity-log--thumb" if thumb else "activity-log--scrollbar"))

    def _style(self, name: str) -> Style:
        """A component's style over the widget's own, computed once per theme (both walk the DOM)."""
        style = self._styles.get(name)
        if style is None:
            base = self._styles.get("")
            if base is None:
                base = self._styles[""] = self.rich_style
            style = self._styles[name] = base if not name else base + self.get_component_rich_style(name)
        return style

    def _render_row(self, row: EventRow, width: int, is_cursor: bool) -> Strip:
        """One event as segments, cut to `width`: time, who (coloured by venture), kind, summary."""
        agent_width = 18 if width >= 100 else 16
        who = row.agent or row.venture or "org"
        venture = row.venture
        if venture is None and row.agent and row.agent in self.ventures:
            venture = row.agent
        who_style = self._style(f"activity-log--venture-{self.ventures[venture]}" if venture in self.ventures
                                else "activity-log--platform")
        family = kind_family(row)
        cells = [
            (f"{short_time(row.sim_time, self.origin):>9} ", self._style("activity-log--time")),
            (f"{who[:agent_width]:<{agent_width}} ", who_style),
            (f"{kind_label(row.kind)[:11]:<11} ", self._style(f"activity-log--{family}")),
            (describe(row, self.origin), self._style("activity-log--quiet" if family == "quiet" else "")),
        ]
        segments: list[Segment] = []
        room = width
        for text, style in cells:
            if room <= 0:
                break
            length = cell_len(text)
            if length > room:
                text = set_cell_size(text, room - 1) + "…"
                length = room
            segments.append(Segment(text, style))
            room -= length
        if room > 0:
            segments.append(Segment(" " * room, self._style("")))
        if is_cursor:
            cursor = self.get_component_rich_style("activity-log--cursor")
            if not self.has_focus:
                cursor = Style(bgcolor=cursor.bgcolor, dim=True) if cursor.bgcolor else cursor
            segments = list(Segment.apply_style(segments, post_style=cursor))
        return Strip(segments, width)

    # -- moving ---------------------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        if new < 0:
            return
        if new < self.top:
            self.top = new
        elif new >= self.top + self.height:
            self.top = new - self.height + 1
        self.refresh()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self._to_end()
        self.post_message(self.Changed())

    def on_resize(self) -> None:
        if self.follow:
            self._to_end()
        else:
            self.top = max(0, min(self.top, len(self._visible) - self.height))

    def watch_has_focus(self, _focus: bool) -> None:
        self.refresh()

    def _move(self, delta: int) -> None:
        if not self._visible:
            return
        target = min(max(self.cursor + delta, 0), len(self._visible) - 1)
        if target < len(self._visible) - 1:
            self.follow = False
        self.cursor = target

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self._move(-max(1, self.height - 1))

    def action_page_down(self) -> None:
        self._move(max(1, self.height - 1))

    def action_first(self) -> None:
        self.follow = False
        self.cursor = 0 if self._visible else -1

    def action_follow(self) -> None:
        if self.follow:
            self._to_end()
        self.follow = True

    def action_open(self) -> None:
        if self.selected is not None:
            self.post_message(self.Opened(self.selected))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.follow = False
        self.top = max(0, self.top - WHEEL_STEP)
        self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.top = max(0, min(self.top + WHEEL_STEP, len(self._visible) - self.height))
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        index = self.top + event.y
        if 0 <= index < len(self._visible):
            if index != len(self._visible) - 1:
                self.follow = False
            self.cursor = index
            if event.chain == 2:
                self.action_open()
