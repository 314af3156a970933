"""The engine's working memory forgets the decisions that ended longer ago than any rule reads: it stays the size
of what the org is doing, not of everything it ever did, and no measurement changes because of it."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from conductor.brain.attribution import measure_decision, peers_by_venture
from conductor.engine.state import EngineState
from conductor.org import load_org
from conductor.store.events import StoredEvent, iso

STUDIO = Path(__file__).resolve().parents[1] / "orgs" / "studio.toml"
DAYS = 420
CHANNELS = ("seo", "content", "ads", "partnerships", "community", "email")
LIFT = {"seo": 0.03, "content": 0.0, "ads": 0.06, "partnerships": -0.02, "community": 0.01, "email": 0.0}


def _log(org: Any) -> list[StoredEvent]:
    """A year and more of one venture: its MRR every day and a campaign or two a day, each executed the same day."""
    rng = random.Random(5)
    events: list[StoredEvent] = []
    running: list[tuple[int, str]] = []

    def add(kind: str, payload: dict[str, Any], day: int, hour: int) -> int:
        at = iso(org.start + timedelta(days=day, hours=hour))
        events.append(StoredEvent(len(events) + 1, at, kind, payload, "inkwell", "inkwell-ceo", at))
        return len(events)

    for day in range(DAYS):
        lift = sum(LIFT[c] for d, c in running if d < day <= d + 14)
        value = 1000 * (1 + 0.001 * day) * (1 + lift) * (1 + rng.gauss(0, 0.03)) * (0.93 if day % 7 > 4 else 1.0)
        add("metric.recorded", {"metric": "mrr", "value": round(value, 2), "day": day, "at": iso(org.start),
                                "source": "sim"}, day, 9)
        for _ in range(1 + (day % 3 == 0)):
            channel = rng.choice(CHANNELS)
            proposed = add("decision.proposed", {
                "kind": "campaign.launch", "params": {"channel": channel, "budget": 300, "days": 14},
                "rationale": "more signups", "expected": {"metric": "mrr", "direction": "up"}, "confidence": 0.6,
                "reversible": True, "brain_version": None, "state": "approved"}, day, 10)
            add("decision.executed", {"decision_id": proposed, "ok": True, "idempotency_key": f"decision-{proposed}",
                                      "result": {}, "day": day}, day, 11)
            running.append((day, channel))
    return events


def test_ended_decisions_older_than_the_horizon_are_forgotten_and_no_measurement_changes() -> None:
    org = load_org(STUDIO)
    forgetting, keeping = EngineState(org, org.start), EngineState(org, org.start)
    keeping.memory_days = lambda: 10**6  # type: ignore[method-assign]
    log = _log(org)
    measured = 0
    for event in log:
        forgetting.observe(event)
        keeping.observe(event)
        if event.kind != "metric.recorded" or event.payload["day"] % 30 != 29:
            continue
        today = event.payload["day"]
        due = [d for d in keeping.decisions.values()
               if d.executed_day is not None and d.executed_day + org.effect_window_days(d.kind) == today]
        for d in due:
            kept = measure_decision(org, d, peers_by_venture(org, sorted(keeping.decisions.values(),
                                                                       key=lambda x: x.id)), keeping.metrics)
            forgot = measure_decision(org, forgetting.decisions[d.id], peers_by_venture(
                org, sorted(forgetting.decisions.values(), key=lambda x: x.id)), forgetting.metrics)
            assert forgot == kept, f"decision {d.id} measured on day {today}"
            measured += kept is not None
    assert measured >= 10
    decisions = len(keeping.decisions)
    assert decisions == sum(1 for e in log if e.kind == "decision.proposed")
    horizon = forgetting.memory_days()
    per_day = decisions / DAYS
    assert forgetting.forgotten == decisions - len(forgetting.decisions)
    assert len(forgetting.decisions) <= math.ceil((horizon + 2) * per_day * 1.2)
    assert forgetting.forgotten > decisions / 3
    assert all(i in forgetting.decisions for ids in forgetting.by_kind.values() for i in ids)
