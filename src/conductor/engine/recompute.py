"""Recomputing every stored decision outcome from the raw events, to show attribution hides nothing.

The engine measures a decision when its effect window closes, from what it has observed by then. Replaying
the events through the engine's own state (`engine.state.EngineState`, derived from events alone) and calling
the same pure function (`brain.attribution.measure_decision`) at the point where each `decision.outcome`
event was written gives the outcome again; `recompute_outcomes` returns both so a test (or a sceptical
founder) can compare them. It lives in the engine because it replays through the engine's state; services
may not import the engine.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from conductor.brain.attribution import measure_decision, peers_by_venture
from conductor.engine.state import EngineState
from conductor.org.models import Org
from conductor.store import StoredEvent


@dataclass(frozen=True)
class Recomputed:
    decision_id: int
    stored: dict[str, Any]
    recomputed: dict[str, Any] | None

    @property
    def same(self) -> bool:
        return self.recomputed == self.stored


def recompute_outcomes(conn: sqlite3.Connection, org: Org) -> list[Recomputed]:
    """Each `decision.outcome` in the log with the outcome recomputed from the events before it."""
    state = EngineState(org, org.start)
    out: list[Recomputed] = []
    peers: dict[str, list] | None = None
    memo: dict = {}
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    for row in cursor.execute("SELECT * FROM events ORDER BY id"):
        event = StoredEvent.from_row(row)
        if event.kind == "decision.outcome":
            d = state.decisions.get(event.payload["decision_id"])
            if peers is None:  # one batch of outcomes is measured from the same state
                peers = peers_by_venture(org, sorted(state.decisions.values(), key=lambda x: x.id), memo)
            found = measure_decision(org, d, peers, state.metrics) if d is not None else None
            out.append(Recomputed(event.payload["decision_id"], event.payload["outcome"],
                                  found.as_payload() if found is not None else None))
        else:
            peers = None
        state.observe(event)
    return out
