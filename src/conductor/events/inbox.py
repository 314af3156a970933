"""The founder's inbox: escalations opened and resolved, and the autonomy (trust) they grant or take back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from conductor.events.base import EventSpec, Payload, When, val
from conductor.text import with_note

P = Mapping[str, Any]


class EscalationOpened(Payload):
    """`kind` is what is escalated (decision, trust_proposal, budget_exhausted, agent_stuck); `detail` holds
    what that kind needs to be decided, e.g. the trust proposal's agent and decision kind."""

    kind: str
    reason: str
    urgency: int = 1
    expires: str | None = None
    decision_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class EscalationResolved(Payload):
    escalation_id: int
    verdict: str
    note: str | None = None
    amended: dict[str, Any] | None = None
    escalation_kind: str | None = None
    decision_id: int | None = None
    detail: dict[str, Any] | None = None


class EscalationSnoozed(Payload):
    """The founder set an escalation aside: out of the inbox until `until`, its expiry moved by as much."""

    escalation_id: int
    until: str
    expires: str | None = None


class TrustChanged(Payload):
    agent: str
    kind: str
    state: str  # granted or revoked
    spend_limit: float | None = None
    reason: str | None = None


def _opened(p: P, when: When) -> str:
    return f"escalation ({val(p, 'kind')}): {p.get('reason', '')}"


def _resolved(p: P, when: When) -> str:
    return with_note(f"escalation #{val(p, 'escalation_id')} {val(p, 'verdict')}", p.get("note"))


def _snoozed(p: P, when: When) -> str:
    return f"escalation #{val(p, 'escalation_id')} snoozed until {when(p.get('until'))}"


def _trust(p: P, when: When) -> str:
    reason = f" ({p['reason']})" if p.get("reason") else ""
    return f"autonomy {val(p, 'state')}: {val(p, 'agent')} for {val(p, 'kind')}{reason}"


SPECS = (
    EventSpec("escalation.opened", "escalated", EscalationOpened, _opened, {
        "kind": "decision", "decision_id": 7, "reason": "spend over the threshold", "urgency": 2,
        "expires": "2026-01-08T09:00:00.000000Z", "detail": {"kind": "pricing.change", "params": {"price": 24.0}}}),
    EventSpec("escalation.resolved", "verdict", EscalationResolved, _resolved, {
        "escalation_id": 9, "verdict": "approved", "note": "go ahead", "amended": None, "escalation_kind": "decision",
        "decision_id": 7, "detail": {"kind": "pricing.change"}, "by": "founder"}),
    EventSpec("escalation.snoozed", "snoozed", EscalationSnoozed, _snoozed, {
        "escalation_id": 9, "until": "2026-01-06T09:00:00.000000Z", "expires": "2026-01-09T09:00:00.000000Z",
        "by": "founder"}),
    EventSpec("trust.changed", "trust", TrustChanged, _trust, {
        "agent": "acme-ceo", "kind": "pricing.change", "state": "granted", "spend_limit": 500.0}),
)
