"""One line per event for the Activity pane, in the product's words.

`queries.event_summary` (shared with `conductor events`) covers the common kinds; the few it leaves to its
generic `key=value` form (reviews, runs, the clock, idle agents, brain versions) read better spelled out. All
text here comes from payloads `queries` already passed through `printable`, and is cut to one line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conductor.services.queries import EventRow
from conductor.text import printable
from conductor.tui.format import short_time


def _one_line(text: str) -> str:
    return printable(text, one_line=True, limit=400)


def describe(event: EventRow, origin: datetime | None) -> str:
    p: dict[str, Any] = event.payload
    kind = event.kind
    if kind == "review.requested":
        text = f"reviews decision #{p.get('decision_id')} by {p.get('author', '?')} (round {p.get('round', '?')})"
    elif kind == "review.answered":
        verdict = p.get("verdict", "?")
        text = f"{verdict} #{p.get('decision_id')}" + (f": {p['feedback']}" if p.get("feedback") else "")
    elif kind == "run.started":
        text = ("run resumed" if p.get("resumed") else "run started") + f" (model {p.get('model', '?')})"
    elif kind == "run.stopped":
        text = f"run stopped: {p.get('reason', '?')}"
    elif kind == "org.loaded":
        text = f"org loaded: {p.get('name', '?')}, {len(p.get('ventures', []))} ventures, " \
               f"{len(p.get('agents', []))} agents"
    elif kind == "clock.advanced":
        text = f"day {int(p.get('day', 0)) + 1} begins"
    elif kind == "agent.idle":
        text = f"nothing new; next wake-up {short_time(p.get('next_wake'), origin)}"
    elif kind == "brain.version":
        memories = p.get("memory_ids") or []
        text = f"brain v{p.get('version')} by {p.get('author', '?')}" + (
            f" from {len(memories)} memories" if memories else "")
    elif kind == "task.updated":
        text = f"task #{p.get('task_id')} {p.get('state')}" + (f": {p['result']}" if p.get("result") else "")
    elif kind in ("task.refused", "message.refused"):
        text = f"refused ({p.get('to', '?')}): {p.get('reason', '')}"
    elif kind == "trust.changed":
        text = f"autonomy {p.get('state')}: {p.get('agent')} for {p.get('kind')}" + (
            f" ({p['reason']})" if p.get("reason") else "")
    elif kind in ("agent.wake_capped", "agent.interrupted"):
        text = str(p.get("reason", kind))
    elif kind == "agent.budget_stopped":
        text = f"out of budget for {p.get('day')} ({p.get('scope')})"
    elif kind == "decision.executing":
        text = f"decision #{p.get('decision_id')} running its command"
    elif kind == "market.stepped":
        text = f"market day {p.get('day')}"
    elif kind == "venture.stage":
        text = f"stage is now {p.get('stage')}"
    elif kind == "founder.wake":
        text = f"the founder wakes {p.get('target')}"
    elif kind == "decision.executed" and not p.get("ok", True):
        text = f"decision #{p.get('decision_id')} failed: {p.get('result')}"
    else:
        return event.summary
    return _one_line(text)
