"""One escalation, everything needed to decide: who, what, why, the rationale, the expected effect, the
confidence, whether it can be undone, the brain version in force, the review exchange (or the transcript of a
stuck agent), what it cost so far, and what happens if nobody acts.

Used by the Inbox pane's preview and by the full-screen detail. Every string a model wrote is shown as plain
text: `queries` already stripped terminal escapes, and `Text` never parses markup.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from conductor.services.queries import EscalationDetail
from conductor.text import expected_effect_text, state_and_verdict
from conductor.tui.format import money, plain, short_time, until, urgency_mark

KIND_TITLES = {
    "decision": "decision", "trust_proposal": "earned autonomy", "budget_exhausted": "budget exhausted",
    "agent_stuck": "stuck agent",
}


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in sorted(params.items())) or "no parameters"


def render_escalation(d: EscalationDetail, *, now: datetime | None, origin: datetime | None,
                      venture_names: dict[str, str] | None = None) -> RenderableType:
    """The detail as one rich renderable (no widgets), so the preview and the full screen are the same."""
    names = venture_names or {}
    title = Text()
    title.append(f"#{d.id} ", "bold")
    title.append(KIND_TITLES.get(d.kind, d.kind), "bold")
    if d.decision_kind:
        title.append(f": {d.decision_kind}", "bold")
    title.append(f"   {urgency_mark(d.urgency)} ", "bold red" if d.urgency >= 2 else "bold yellow")
    if d.state == "pending":
        title.append(f"expires {until(d.expires, now)}" if d.expires else "no expiry")
    else:
        title.append(state_and_verdict(d.state, d.verdict), "italic")

    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="bold", no_wrap=True, width=14)
    grid.add_column(ratio=1)
    who = d.agent or "the org"
    if d.venture:
        who += f" ({names.get(d.venture, d.venture)})"
    grid.add_row("Who", plain(who))
    if d.kind == "decision":
        grid.add_row("What", plain(f"{d.decision_kind} {params_text(d.params)}"))
    grid.add_row("Why escalated", plain(d.reason))
    if d.kind == "decision":
        grid.add_row("Rationale", plain(d.rationale or "none given"))
        grid.add_row("Expected", plain(expected_effect_text(d.expected_effect)))
        facts = []
        if d.confidence is not None:
            facts.append(f"confidence {d.confidence:.2f}")
        if d.reversible is not None:
            facts.append("reversible" if d.reversible else "NOT reversible")
        facts.append(f"brain v{d.brain_version}" if d.brain_version is not None else "no brain version yet")
        grid.add_row("Judgement", plain(" · ".join(facts)))
        money_bits = []
        if d.spend:
            money_bits.append(f"spends {money(d.spend)}")
        money_bits.append(f"{money(d.cost_so_far)} of model calls so far today")
        grid.add_row("Cost", plain(" · ".join(money_bits)))
    elif d.kind == "trust_proposal":
        detail = d.detail
        grid.add_row("Grants", plain(f"{detail.get('agent')} may take {detail.get('kind')} without asking, "
                                     f"spending up to {money(detail.get('spend_limit'))}"))
    elif d.kind == "budget_exhausted":
        detail = d.detail
        grid.add_row("Budget", plain(f"spent {money(detail.get('spent'))} on {detail.get('day')}; approving "
                                     f"allows {money(detail.get('allowance'))} more today"))
    elif d.kind == "agent_stuck" and d.failure:
        grid.add_row("Failure", plain(d.failure))
    grid.add_row("If nobody acts", plain(d.if_nobody_acts))
    if d.note:
        grid.add_row("Note", plain(d.note))
    if d.amended:
        grid.add_row("Amended", plain(params_text(d.amended)))
    parts: list[RenderableType] = [title, grid]

    if d.review:
        parts.append(Text("\nReview exchange", "bold"))
        steps = Table.grid(padding=(0, 1), expand=True)
        steps.add_column(no_wrap=True, style="dim")
        steps.add_column(no_wrap=True)
        steps.add_column(ratio=1)
        for step in d.review:
            steps.add_row(short_time(step.at, origin), plain(step.actor or "", limit=18), plain(step.text))
        parts.append(steps)
    if d.transcript:
        parts.append(Text("\nTranscript of the last attempt", "bold"))
        for message in d.transcript:
            line = Text()
            line.append(f"{message.get('role', '?')}: ", "bold")
            line.append_text(plain(message.get("content", ""), limit=700))
            parts.append(line)
    return Group(*parts)


class EscalationView(VerticalScroll):
    """A scrollable detail; `show` replaces what it shows, `show_message` when there is nothing to show.

    What to show is kept here too, so a call that comes before the inner Static is mounted is not lost.
    """

    can_focus = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._content: RenderableType = Text("")

    def compose(self) -> ComposeResult:
        yield Static(self._content, id="escalation-body")

    def _set(self, content: RenderableType) -> None:
        self._content = content
        for body in self.query("#escalation-body").results(Static):
            body.update(content)

    def show(self, detail: EscalationDetail, *, now: datetime | None, origin: datetime | None,
             venture_names: dict[str, str] | None = None) -> None:
        self._set(render_escalation(detail, now=now, origin=origin, venture_names=venture_names))

    def show_message(self, text: str) -> None:
        self._set(Text(text, style="italic"))
