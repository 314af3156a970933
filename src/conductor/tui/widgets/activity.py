"""Pane 1, Activity: what the agents are doing, live, with a filter and follow mode."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input

from conductor.services.queries import EventRow
from conductor.tui.widgets.activity_filter import ActivityFilter
from conductor.tui.widgets.activity_log import ActivityLog

FILTER_HELP = "filter: words, venture:ID agent:ID kind:decision (v: a: k:) · enter keeps · esc clears"


class ActivityPane(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="activity.filter"),
        Binding("v", "verbose", "All kinds", id="activity.verbose"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="activity.clear"),
    ]

    def __init__(self, ventures: list[str], origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ventures = ventures
        self._origin = origin
        self.border_title = "Activity"
        self._subtitle = ""
        self._early: list[EventRow] = []  # rows that came before the log existed (see append)

    def compose(self) -> ComposeResult:
        yield ActivityLog(self._ventures, self._origin, id="activity-log")
        yield Input(placeholder=FILTER_HELP, id="activity-filter", classes="-hidden", select_on_focus=False)

    @property
    def log_view(self) -> ActivityLog:
        return self.query_one(ActivityLog)

    def focus_primary(self) -> None:
        self.log_view.focus()

    def append(self, rows: list[EventRow]) -> None:
        """Show new events; the first poll can land before this pane has built its log, so keep them till then."""
        logs = self.query(ActivityLog)
        if not logs:
            self._early.extend(rows)
            return
        logs.first().append(rows)

    def on_mount(self) -> None:
        if self._early:  # the log exists now (compose runs before mount)
            rows, self._early = self._early, []
            self.log_view.append(rows)

    def action_filter(self) -> None:
        field = self.query_one("#activity-filter", Input)
        field.remove_class("-hidden")
        if field.value and not field.value.endswith(" "):
            field.value += " "
        field.cursor_position = len(field.value)
        field.focus()

    def action_verbose(self) -> None:
        log = self.log_view
        log.set_filter(ActivityFilter.parse(log.filter.text, verbose=not log.filter.verbose))
        self.notify("showing every kind of event" if log.filter.verbose else "hiding market ticks and plain calls",
                    timeout=2)

    def action_clear_filter(self) -> None:
        field = self.query_one("#activity-filter", Input)
        field.value = ""
        field.add_class("-hidden")
        log = self.log_view
        if log.filter.active:
            log.set_filter(ActivityFilter.parse("", verbose=log.filter.verbose))
        log.focus()

    @on(Input.Changed, "#activity-filter")
    def _live_filter(self, event: Input.Changed) -> None:
        log = self.log_view
        log.set_filter(ActivityFilter.parse(event.value, verbose=log.filter.verbose))

    @on(Input.Submitted, "#activity-filter")
    def _keep_filter(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.add_class("-hidden")
        self.log_view.focus()

    @on(ActivityLog.Changed)
    def _retitle(self) -> None:
        log = self.log_view
        bits = []
        if log.filter.active:
            bits.append(f"filter: {log.filter.text}")
        if log.filter.verbose:
            bits.append("all kinds")
        if log.follow:
            bits.append("following")
        else:
            bits.append(f"paused, {log.unseen} new · G follows" if log.unseen else "paused · G follows")
        subtitle = " · ".join(bits)
        if subtitle != self._subtitle:  # setting it repaints the whole pane: only when it says something new
            self._subtitle = subtitle
            self.border_subtitle = Text(subtitle)
