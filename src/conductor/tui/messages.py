"""Messages up: what a pane or a modal asks for; the control room screen carries it out.

Panes never call services themselves; they say what the founder asked for, and the screen runs it in a
worker, reports the outcome, and re-reads what changed.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class Snooze(Message):
    """Set an escalation aside for a day of the org clock (its expiry moves by as much)."""

    def __init__(self, escalation_id: int) -> None:
        super().__init__()
        self.escalation_id = escalation_id


class Respond(Message):
    """Answer an escalation's agent without deciding it (asks for the text first)."""

    def __init__(self, escalation_id: int) -> None:
        super().__init__()
        self.escalation_id = escalation_id


class ApproveGroup(Message):
    """Approve these escalations together (one kind, one agent), once the founder has seen them listed."""

    def __init__(self, escalation_ids: list[int], what: str) -> None:
        super().__init__()
        self.escalation_ids = escalation_ids
        self.what = what


class Approve(Message):
    def __init__(self, escalation_id: int, amended: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.escalation_id = escalation_id
        self.amended = amended


class Reject(Message):
    """Reject after asking for a note (the agent reads it at its next wake-up)."""

    def __init__(self, escalation_id: int) -> None:
        super().__init__()
        self.escalation_id = escalation_id


class Amend(Message):
    """Open the amendment form for a decision's parameters, then approve with them."""

    def __init__(self, escalation_id: int) -> None:
        super().__init__()
        self.escalation_id = escalation_id


class OpenEscalation(Message):
    def __init__(self, escalation_id: int) -> None:
        super().__init__()
        self.escalation_id = escalation_id


class PauseToggle(Message):
    """Pause or resume an agent, a venture, or (target None) the whole org."""

    def __init__(self, target: str | None, paused: bool) -> None:
        super().__init__()
        self.target = target
        self.paused = paused


class Wake(Message):
    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent


class Directive(Message):
    """Ask for a directive's text for a venture, then record it."""

    def __init__(self, venture: str | None) -> None:
        super().__init__()
        self.venture = venture


class BrainAction(Message):
    """open, compare, write, pin, unpin or revert, on a brain version of one venture (or the platform).

    `other` is the second version of a comparison, as (venture, version).
    """

    def __init__(self, action: str, venture: str, version: int | None = None,
                 other: tuple[str, int] | None = None) -> None:
        super().__init__()
        self.action = action
        self.venture = venture
        self.version = version
        self.other = other
