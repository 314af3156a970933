"""Pane 2, Inbox: what needs the founder, most urgent and soonest to expire first, with why.

`a` approves the selected escalation in one keystroke, `A` every open one like it (same kind, same agent) after
listing them; `m` replies to its agent without deciding it, `z` sets it aside for a simulated day (its expiry moves
with it); `r` rejects (asking for a note), `e` amends the
decision's parameters, enter opens the full detail. n/p and j/k move. The preview beside (wide terminals) or
below (narrow ones) shows the full detail of the selected item.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.worker import get_current_worker

from conductor.services.queries import EscalationDetail, InboxItem
from conductor.tui.format import plain, until, urgency_mark
from conductor.tui.messages import Amend, Approve, ApproveGroup, OpenEscalation, Reject, Respond, Snooze
from conductor.tui.widgets.escalation_view import EscalationView
from conductor.tui.widgets.row_table import Column, RowTable

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp

KIND_SHORT = {"trust_proposal": "autonomy", "budget_exhausted": "budget", "agent_stuck": "stuck"}


class DetailLoaded(Message):
    def __init__(self, detail: EscalationDetail) -> None:
        super().__init__()
        self.detail = detail


COLUMNS = (Column("urgency", "!", 3), Column("id", "#", 5), Column("agent", "agent", 16),
           Column("what", "what", 17), Column("expires", "expires", 10), Column("why", "why"))


class InboxTable(RowTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", id="inbox.approve"),
        Binding("A", "approve_group", "Approve all like it", id="inbox.approve_group"),
        Binding("r", "reject", "Reject", id="inbox.reject"),
        Binding("e", "amend", "Amend", id="inbox.amend"),
        Binding("m", "respond", "Reply", id="inbox.respond"),
        Binding("z", "snooze", "Snooze a day", id="inbox.snooze"),
        Binding("j,n", "cursor_down", "Next", show=False, id="inbox.next"),
        Binding("k,p", "cursor_up", "Previous", show=False, id="inbox.previous"),
        Binding("enter", "open", "Detail", id="inbox.open"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self.escalations: list[InboxItem] = []

    @property
    def selected(self) -> InboxItem | None:
        if not self.escalations or not 0 <= self.cursor_row < len(self.escalations):
            return None
        return self.escalations[self.cursor_row]

    def action_approve(self) -> None:
        if (item := self._need()) is not None:
            self.post_message(Approve(item.id))

    def similar(self, item: InboxItem) -> list[InboxItem]:
        """The open escalations like `item`: the same kind of escalation, from the same agent, about the same
        kind of decision (three discount offers from one sales agent, say)."""
        return [i for i in self.escalations
                if (i.kind, i.agent, i.decision_kind) == (item.kind, item.agent, item.decision_kind)]

    def action_approve_group(self) -> None:
        if (item := self._need()) is None:
            return
        group = self.similar(item)
        what = f"{item.decision_kind or KIND_SHORT.get(item.kind, item.kind)} from {item.agent or 'the org'}"
        self.post_message(ApproveGroup([i.id for i in group], what))

    def action_snooze(self) -> None:
        if (item := self._need()) is not None:
            self.post_message(Snooze(item.id))

    def action_respond(self) -> None:
        if (item := self._need()) is not None:
            self.post_message(Respond(item.id))

    def action_reject(self) -> None:
        if (item := self._need()) is not None:
            self.post_message(Reject(item.id))

    def action_amend(self) -> None:
        item = self._need()
        if item is None:
            return
        if item.kind != "decision":
            self.notify(f"#{item.id} is not a decision: only a decision's parameters can be amended", severity="warning")
            return
        self.post_message(Amend(item.id))

    def action_open(self) -> None:
        if (item := self._need()) is not None:
            self.post_message(OpenEscalation(item.id))

    def _need(self) -> InboxItem | None:
        item = self.selected
        if item is None:
            self.notify("the inbox is empty: nothing needs you", timeout=2)
        return item


class InboxPane(Container):
    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    def __init__(self, origin: datetime | None, venture_names: dict[str, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.origin = origin
        self.venture_names = venture_names
        self.now: datetime | None = None
        self._detail: EscalationDetail | None = None
        self.border_title = "Inbox"

    def compose(self) -> ComposeResult:
        yield InboxTable(id="inbox-table")
        yield EscalationView(id="inbox-preview")

    @property
    def table(self) -> InboxTable:
        return self.query_one(InboxTable)

    def focus_primary(self) -> None:
        self.table.focus()

    def set_items(self, items: list[InboxItem], now: datetime | None) -> None:
        """The open escalations, most urgent first; rows are redrawn only where their cells changed."""
        self.now = now
        table = self.table
        table.escalations = items
        table.set_rows([(str(item.id), self._cells(item)) for item in items])
        self.border_subtitle = f"{len(items)} open" if items else "nothing needs you"
        if not items:
            self._detail = None
            self.query_one(EscalationView).show_message(
                "Nothing needs you. Escalations appear here, most urgent first.")
        self._rerender()

    def _cells(self, item: InboxItem) -> tuple[Text | str, ...]:
        mark = Text(urgency_mark(item.urgency), style="bold red" if item.urgency >= 2 else "bold yellow")
        what = item.decision_kind or KIND_SHORT.get(item.kind, item.kind)
        return (mark, str(item.id), plain(item.agent or "org"), plain(what),
                until(item.expires, self.now) if item.expires else "—", plain(item.reason, one_line=True, limit=300))

    @on(RowTable.Highlighted, "#inbox-table")
    def _highlighted(self, event: RowTable.Highlighted) -> None:
        item = self.table.selected
        if item is not None and (self._detail is None or self._detail.id != item.id):
            self._load(item.id)

    @work(thread=True, exclusive=True, group="inbox-preview", exit_on_error=False)
    def _load(self, escalation_id: int) -> None:
        detail = self.app.reader.escalation(escalation_id)
        if not get_current_worker().is_cancelled:
            self.post_message(DetailLoaded(detail))

    @on(DetailLoaded)
    def _show(self, message: DetailLoaded) -> None:
        detail = message.detail
        selected = self.table.selected
        if selected is not None and selected.id == detail.id:
            self._detail = detail
            self._rerender()

    def _rerender(self) -> None:
        """The preview again with the clock's new time (expiry counts down), without reading the database."""
        detail = self._detail
        selected = self.table.selected if self.is_mounted else None
        if detail is not None and selected is not None and selected.id == detail.id:
            self.query_one(EscalationView).show(detail, now=self.now, origin=self.origin,
                                                venture_names=self.venture_names)
