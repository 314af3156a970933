"""A decision's life: proposed, reviewed, updated, executed, measured.

`decision.updated` carries only what changed (a state, and the route, note, round or parameters that came with
it); readers keep the decision's current state in the `decisions` projection, not in any one payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from conductor.events.base import EventSpec, Payload, When, short, suffix, val
from conductor.text import with_note

P = Mapping[str, Any]


class DecisionProposed(Payload):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""
    expected: dict[str, Any] | None = None
    confidence: float | None = None
    reversible: bool | None = None
    brain_version: int | None = None
    brain_in_force: int | None = None
    brief_arm: str | None = None
    state: str | None = None


class DecisionUpdated(Payload):
    decision_id: int
    state: str
    note: str | None = None
    route: str | None = None
    review_round: int | None = None
    params: dict[str, Any] | None = None
    rationale: str | None = None
    confidence: float | None = None
    final: bool | None = None


class DecisionExecuting(Payload):
    decision_id: int
    idempotency_key: str | None = None


class DecisionExecuted(Payload):
    decision_id: int
    idempotency_key: str
    ok: bool = True
    result: Any = None
    day: int | None = None
    market: dict[str, Any] | None = None


class DecisionOutcome(Payload):
    decision_id: int
    outcome: dict[str, Any]
    summary: str = ""
    brain_version: int | None = None


class ReviewRequested(Payload):
    """`redoes` (the request a review in flight at a kill repeats) came later: optional."""

    decision_id: int
    round: int | None = None
    author: str | None = None
    redoes: int | None = None


class ReviewAnswered(Payload):
    decision_id: int
    verdict: str
    feedback: str | None = None
    round: int | None = None


def _proposed(p: P, when: When) -> str:
    return f"proposes {val(p, 'kind')} ({short(p.get('params', {}))}): {p.get('rationale', '')}"


def _updated(p: P, when: When) -> str:
    return with_note(f"decision #{val(p, 'decision_id')} → {val(p, 'state')}", p.get("note"))


def _executing(p: P, when: When) -> str:
    return f"decision #{val(p, 'decision_id')} running its command"


def _executed(p: P, when: When) -> str:
    if p.get("ok", True):
        return f"decision #{val(p, 'decision_id')} executed (ok)"
    return f"decision #{val(p, 'decision_id')} failed: {val(p, 'result')}"


def _outcome(p: P, when: When) -> str:
    return str(p.get("summary") or f"decision #{val(p, 'decision_id')} outcome")


def _requested(p: P, when: When) -> str:
    return f"reviews decision #{val(p, 'decision_id')} by {p.get('author', '?')} (round {p.get('round', '?')})"


def _answered(p: P, when: When) -> str:
    return f"{p.get('verdict', '?')} #{val(p, 'decision_id')}" + suffix(p, "feedback")


SPECS = (
    EventSpec("decision.proposed", "decision", DecisionProposed, _proposed, {
        "kind": "pricing.change", "params": {"price": 24.0}, "rationale": "Churn is flat; test a higher price.",
        "expected": {"metric": "mrr", "direction": "up"}, "confidence": 0.6, "reversible": True,
        "brain_version": 2, "brain_in_force": 2, "brief_arm": "brief", "state": "proposed"}),
    EventSpec("decision.updated", "decision", DecisionUpdated, _updated, {
        "decision_id": 7, "state": "in_review", "review_round": 1, "route": "spend over the threshold"}),
    EventSpec("decision.executing", "executing", DecisionExecuting, _executing, {"decision_id": 7, "idempotency_key": "decision-7"}),
    EventSpec("decision.executed", "executed", DecisionExecuted, _executed, {
        "decision_id": 7, "idempotency_key": "decision-7", "ok": True, "result": {"applied": True}, "day": 3,
        "market": None}),
    EventSpec("decision.outcome", "outcome", DecisionOutcome, _outcome, {
        "decision_id": 7, "outcome": {"metric": "mrr", "delta_pct": 0.04, "success": True}, "brain_version": 2,
        "summary": "pricing.change (price=24) moved mrr +4.0%: worked"}),
    EventSpec("review.requested", "review", ReviewRequested, _requested, {"decision_id": 7, "round": 1, "author": "acme-ceo"}),
    EventSpec("review.answered", "review", ReviewAnswered, _answered, {
        "decision_id": 7, "verdict": "approve", "feedback": "Reasonable and reversible.", "round": 1}),
)
