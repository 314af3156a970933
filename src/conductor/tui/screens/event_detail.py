"""The full event, and the wake-up it belongs to: why the agent woke (the prompt's reason, brain version,
model, prompt size), what it concluded and proposed, and what its calls cost."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from conductor.services.queries import EventRow
from conductor.tui.format import money, plain, short_time

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp


def _payload_text(payload: dict) -> Text:
    shown = {k: v for k, v in payload.items() if k != "by"}
    return plain(json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def render_event(event: EventRow, wake_up: list[EventRow], origin: datetime | None) -> RenderableType:
    head = Text()
    head.append(f"#{event.id} {event.kind}", "bold")
    head.append(f"  {short_time(event.sim_time, origin)}")
    who = " · ".join(x for x in (event.venture, event.agent) if x)
    if who:
        head.append(f"  {who}")
    if event.by:
        head.append(f"  by {event.by}", "italic")
    parts: list[RenderableType] = [head, plain(event.summary, style="italic"), Text(""), _payload_text(event.payload)]
    if len(wake_up) > 1 or (wake_up and wake_up[0].kind == "agent.woke" and wake_up[0].id != event.id):
        woke = next((e for e in wake_up if e.kind == "agent.woke"), None)
        calls = [e for e in wake_up if e.kind == "call.recorded"]
        cost = sum(float(e.payload.get("cost", 0) or 0) for e in calls)
        tokens = sum(int(e.payload.get("prompt_tokens", 0) or 0) + int(e.payload.get("completion_tokens", 0) or 0)
                     for e in calls)
        failed = sum(1 for e in calls if not e.payload.get("ok", True))
        parts.append(Text("\nThe wake-up", "bold"))
        facts = Table.grid(padding=(0, 1))
        facts.add_column(style="bold", no_wrap=True)
        facts.add_column()
        if woke is not None:
            p = woke.payload
            facts.add_row("Woken by", plain(p.get("reason", "?")))
            facts.add_row("Prompt", plain(f"{p.get('prompt_chars', '?')} characters to {p.get('model', '?')}, "
                                          f"brain version {p.get('brain_version') or 'none'}"))
        facts.add_row("Cost", plain(f"{money(cost)} in {len(calls)} call{'s' if len(calls) != 1 else ''}, "
                                    f"{tokens:,} tokens" + (f", {failed} retried" if failed else "")))
        concluded = next((e for e in wake_up if e.kind in ("agent.concluded", "agent.stuck")), None)
        if concluded is not None:
            facts.add_row("Output", plain(concluded.payload.get("summary") or concluded.summary))
        parts.append(facts)
        steps = Table.grid(padding=(0, 1))
        steps.add_column(no_wrap=True, style="dim")
        steps.add_column(no_wrap=True)
        steps.add_column()
        for e in wake_up:
            marker = "▶" if e.id == event.id else " "
            steps.add_row(f"{marker}#{e.id}", e.kind, plain(e.summary))
        parts.append(Text(""))
        parts.append(steps)
    return Group(*parts)


class EventDetailScreen(ModalScreen[None]):
    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Back", id="event.close")]

    def __init__(self, event: EventRow, origin: datetime | None) -> None:
        super().__init__(classes="modal")
        self.event = event
        self.origin = origin

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(Text(f"Event #{self.event.id}", style="bold"), classes="dialog-title")
            with VerticalScroll(id="event-body"):
                yield Static(render_event(self.event, [], self.origin), id="event-text")
            yield Static(Text("esc back", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#event-body").focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        rows = self.app.reader.wake_up(self.event.id)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[EventRow]) -> None:
        if self.is_attached:
            self.query_one("#event-text", Static).update(render_event(self.event, rows, self.origin))

    def action_close(self) -> None:
        self.dismiss(None)
