"""One escalation full screen, with the same keys as the inbox: a approves, r rejects, e amends, n/p move,
esc goes back. It answers with what the founder chose; the control room carries it out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from conductor.services.queries import EscalationDetail
from conductor.tui.widgets.escalation_view import EscalationView

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp


class InboxDetailScreen(ModalScreen[tuple[str, int] | None]):
    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "choose('approve')", "Approve", id="detail.approve"),
        Binding("r", "choose('reject')", "Reject", id="detail.reject"),
        Binding("e", "choose('amend')", "Amend", id="detail.amend"),
        Binding("m", "choose('respond')", "Reply", id="detail.respond"),
        Binding("n,j", "move(1)", "Next", id="detail.next"),
        Binding("p,k", "move(-1)", "Previous", id="detail.previous"),
        Binding("escape", "back", "Back", id="detail.back"),
    ]

    def __init__(self, ids: list[int], current: int, *, now: datetime | None, origin: datetime | None,
                 venture_names: dict[str, str]) -> None:
        super().__init__(classes="modal")
        self.ids = ids
        self.current = current
        self.now = now
        self.origin = origin
        self.venture_names = venture_names
        self.detail: EscalationDetail | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("", id="detail-title", classes="dialog-title")
            yield EscalationView(id="detail-view")
            yield Static(Text("a approve · r reject · e amend · m reply · n/p next/previous · esc back", style="dim"))

    def on_mount(self) -> None:
        self._title()
        self.query_one(EscalationView).show_message("loading…")
        self._load(self.current)

    def follow(self, ids: list[int], now: datetime | None) -> None:
        """Keep the screen true while it is open: the open escalations and the clock move on under it, so the
        counter, the countdown and, once this one is decided or expired, its state follow the log."""
        was_open = self.current in self.ids
        moved = now != self.now
        self.ids, self.now = ids, now
        self._title()
        if was_open and self.current not in ids:
            self._load(self.current)  # decided or expired meanwhile: show how it ended
        elif moved and self.detail is not None:
            self._show(self.detail)

    def _title(self) -> None:
        position = self.ids.index(self.current) + 1 if self.current in self.ids else 0
        where = f"  ({position} of {len(self.ids)})" if position else "  (no longer open)"
        self.query_one("#detail-title", Label).update(Text(f"Escalation #{self.current}" + where, style="bold"))

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self, escalation_id: int) -> None:
        detail = self.app.reader.escalation(escalation_id)
        self.app.call_from_thread(self._show, detail)

    def _show(self, detail: EscalationDetail) -> None:
        if detail.id != self.current or not self.is_attached:
            return
        self.detail = detail
        self.query_one(EscalationView).show(detail, now=self.now, origin=self.origin, venture_names=self.venture_names)

    def action_choose(self, what: str) -> None:
        if what == "amend" and self.detail is not None and self.detail.kind != "decision":
            self.notify("only a decision's parameters can be amended", severity="warning")
            return
        self.dismiss((what, self.current))

    def action_move(self, step: int) -> None:
        if not self.ids or (self.current in self.ids and len(self.ids) < 2):
            return
        # from one decided meanwhile, n goes to the first still open
        index = (self.ids.index(self.current) + step) % len(self.ids) if self.current in self.ids else 0
        self.current = self.ids[index]
        self._title()
        self._load(self.current)

    def action_back(self) -> None:
        self.dismiss(None)
