"""An agent's wake-ups: woken, concluded, idle, stuck, interrupted, capped, out of budget.

Required fields are the ones the store's projections or the engine's fold read without a default; the rest are
optional, so a payload from any earlier release validates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conductor.events.base import EventSpec, Payload, When

P = Mapping[str, Any]


class AgentWoke(Payload):
    """A wake-up that calls the model. `inputs` (the news it is shown) and `redoes` (the `agent.woke` of the
    interrupted wake-up it does again) came later: optional, absent from older logs, so no new version."""

    reason: str = ""
    model: str | None = None
    prompt_chars: int | None = None
    brain_version: int | None = None
    brain_in_force: int | None = None
    brief_arm: str | None = None
    metric_value: float | None = None
    inputs: dict[str, Any] | None = None
    redoes: int | None = None


class AgentConcluded(Payload):
    summary: str = ""
    next_wake: str | None = None
    reason: str | None = None
    decisions: int = 0
    tasks: int = 0
    messages: int = 0


class AgentIdle(Payload):
    next_wake: str
    reason: str | None = None


class AgentStuck(Payload):
    reason: str = ""
    next_wake: str | None = None


class AgentInterrupted(Payload):
    """`wake` (the `agent.woke` left in flight) came later: optional."""

    reason: str = ""
    wake: int | None = None


class AgentWakeCapped(Payload):
    until: str
    cap: int | None = None
    reason: str = ""


class AgentBudgetStopped(Payload):
    day: str  # the day key, e.g. '2026-01-07'
    scope: str = ""


class AgentState(Payload):
    """A state set directly (kept for logs and tests that write it; the engine no longer emits it)."""

    state: str
    next_wake: str | None = None


def _woke(p: P, when: When) -> str:
    return f"woke: {p.get('reason', '')}"


def _concluded(p: P, when: When) -> str:
    return str(p.get("summary") or "concluded its wake-up")


def _idle(p: P, when: When) -> str:
    return f"{p.get('reason') or 'nothing new'}; next wake-up {when(p.get('next_wake'))}"


def _stuck(p: P, when: When) -> str:
    return f"stuck: {p.get('reason', '')}"


def _reason(default: str) -> Any:
    def text(p: P, when: When) -> str:
        return str(p.get("reason") or default)
    return text


def _budget(p: P, when: When) -> str:
    return f"out of budget for {p.get('day', '?')} ({p.get('scope', '?')})"


def _state(p: P, when: When) -> str:
    return f"now {p.get('state', '?')}" + (f" until {when(p['next_wake'])}" if p.get("next_wake") else "")


T = "2026-01-07T09:00:00.000000Z"
SPECS = (
    EventSpec("agent.woke", "woke", AgentWoke, _woke, {
        "reason": "a new task", "model": "sim/studio", "prompt_chars": 5120, "brain_version": 2, "brain_in_force": 2,
        "brief_arm": "brief", "metric_value": 120.0, "inputs": {"tasks": [41]}}),
    EventSpec("agent.concluded", "concluded", AgentConcluded, _concluded, {
        "summary": "Proposed a price test.", "next_wake": T, "reason": "heartbeat", "decisions": 1, "tasks": 0,
        "messages": 0}),
    EventSpec("agent.idle", "idle", AgentIdle, _idle, {"next_wake": T, "reason": "nothing new"}),
    EventSpec("agent.stuck", "stuck", AgentStuck, _stuck, {"reason": "the answer was not valid JSON", "next_wake": T}),
    EventSpec("agent.interrupted", "interrupted", AgentInterrupted, _reason("interrupted"), {
        "reason": "the previous run stopped mid wake-up; it is done again", "wake": 12}),
    EventSpec("agent.wake_capped", "wake cap", AgentWakeCapped, _reason("wake-ups capped"), {
        "until": T, "cap": 6, "reason": f"6 wake-ups in the last hour; further wake-ups wait until {T}"}),
    EventSpec("agent.budget_stopped", "budget stop", AgentBudgetStopped, _budget, {"day": "2026-01-07", "scope": "agent:acme-ceo"}),
    EventSpec("agent.state", "state", AgentState, _state, {"state": "sleeping", "next_wake": T}),
)
