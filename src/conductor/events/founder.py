"""What the founder and the agents say to each other: directives, pauses, wake-ups, tasks and messages.

Refusals (`task.refused`, `message.refused`) are kept as events of their own, so an agent that addressed
someone it may not reach is visible in the log rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conductor.events.base import EventSpec, Payload, When, suffix, val

P = Mapping[str, Any]


class DirectiveAdded(Payload):
    text: str


class DirectiveRetired(Payload):
    directive_id: int


class FounderPaused(Payload):
    """Also the shape of `founder.resumed`. `scope` is org, venture or agent; `target` names it."""

    scope: str
    target: str | None = None


class FounderWake(Payload):
    target: str | None = None


class TaskCreated(Payload):
    to_agent: str
    title: str
    from_agent: str | None = None
    body: str = ""


class TaskUpdated(Payload):
    task_id: int
    state: str
    result: str | None = None


class Refused(Payload):
    """Also the shape of `message.refused`: who was addressed and why it could not be delivered."""

    to: str | None = None
    reason: str = ""
    title: str | None = None


class MessageSent(Payload):
    to: str
    text: str = ""


def _directive(p: P, when: When) -> str:
    return f"directive: {p.get('text', '')}"


def _retired(p: P, when: When) -> str:
    return f"directive #{val(p, 'directive_id')} retired"


def _paused(word: str) -> Any:
    def text(p: P, when: When) -> str:
        return f"{word} {val(p, 'scope')}" + suffix(p, "target", " ")
    return text


def _wake(p: P, when: When) -> str:
    return f"the founder wakes {val(p, 'target')}"


def _task_created(p: P, when: When) -> str:
    return f"task for {val(p, 'to_agent')}: {p.get('title', '')}"


def _task_updated(p: P, when: When) -> str:
    return f"task #{val(p, 'task_id')} {val(p, 'state')}" + suffix(p, "result")


def _refused(p: P, when: When) -> str:
    return f"refused ({p.get('to', '?')}): {p.get('reason', '')}"


def _message(p: P, when: When) -> str:
    return f"to {val(p, 'to')}: {p.get('text', '')}"


SPECS = (
    EventSpec("directive.added", "directive", DirectiveAdded, _directive, {"text": "Focus on retention.", "by": "founder"}),
    EventSpec("directive.retired", "directive", DirectiveRetired, _retired, {"directive_id": 31, "by": "founder"}),
    EventSpec("founder.paused", "paused", FounderPaused, _paused("paused"), {"scope": "venture", "target": "acme", "by": "founder"}),
    EventSpec("founder.resumed", "resumed", FounderPaused, _paused("resumed"), {"scope": "org", "target": None, "by": "founder"}),
    EventSpec("founder.wake", "wake", FounderWake, _wake, {"target": "acme-ceo", "by": "founder"}),
    EventSpec("task.created", "task", TaskCreated, _task_created, {
        "to_agent": "acme-growth", "from_agent": "acme-ceo", "title": "Draft the launch post", "body": "By Friday."}),
    EventSpec("task.updated", "task", TaskUpdated, _task_updated, {"task_id": 41, "state": "done", "result": "Posted."}),
    EventSpec("task.refused", "refused", Refused, _refused, {
        "to": "nobody", "title": "Draft the launch post", "reason": "no agent or role 'nobody' in acme"}),
    EventSpec("message.sent", "message", MessageSent, _message, {"to": "acme-growth", "text": "Numbers look good."}),
    EventSpec("message.refused", "refused", Refused, _refused, {
        "to": "beta-ceo", "reason": "beta-ceo is not acme-growth's manager or report"}),
)
