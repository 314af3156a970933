"""The brain: versions of a venture's (or the platform's) brief, pins, and syntheses that failed.

A failed synthesis is an event rather than a log line so the control room can say why the brief is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from conductor.events.base import EventSpec, Payload, When, val

P = Mapping[str, Any]


class BrainVersion(Payload):
    """`reverted_from` is set on a revert only; `dropped_evidence` came later: optional."""

    version: int
    author: str
    document: dict[str, Any]
    parent: int | None = None
    model: str | None = None
    tokens: int = 0
    cost: float = 0.0
    memory_ids: list[int] = Field(default_factory=list)
    dropped_evidence: int | None = None
    reverted_from: int | None = None


class BrainPinned(Payload):
    version: int


class BrainUnpinned(Payload):
    pass


class BrainSynthesisFailed(Payload):
    """Also carries `for` (the venture or platform it was for), kept as an extra key: a Python keyword."""

    reason: str = ""
    model: str | None = None
    memories: int | None = None
    attempted_version: int | None = None
    kept_version: int | None = None


def _version(p: P, when: When) -> str:
    memories = p.get("memory_ids") or []
    return f"brain v{val(p, 'version')} by {p.get('author', '?')}" + (
        f" from {len(memories)} memories" if memories else "")


def _pinned(p: P, when: When) -> str:
    return f"brain pinned at v{val(p, 'version')}"


def _unpinned(p: P, when: When) -> str:
    return "brain unpinned: the newest version is in force"


def _failed(p: P, when: When) -> str:
    return f"brain synthesis failed: {p.get('reason') or '?'}"


SPECS = (
    EventSpec("brain.version", "brain", BrainVersion, _version, {
        "version": 3, "parent": 2, "author": "synthesis", "model": "sim/studio", "tokens": 2100, "cost": 0.003,
        "memory_ids": [101, 102], "document": {"sections": []}, "dropped_evidence": 0}),
    EventSpec("brain.pinned", "pinned", BrainPinned, _pinned, {"version": 2, "by": "founder"}),
    EventSpec("brain.unpinned", "unpinned", BrainUnpinned, _unpinned, {"by": "founder"}),
    EventSpec("brain.synthesis_failed", "synthesis", BrainSynthesisFailed, _failed, {
        "reason": "the answer cited a decision that does not exist", "model": "sim/studio", "memories": 12,
        "attempted_version": 4, "kept_version": 3, "for": "acme"}),
)
