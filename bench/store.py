"""Store: events appended per second through the engine's own write path, rebuild time, size on disk.

The events are the engine's own mix, in the engine's own shapes and batches: for every wake-up an
`agent.woke`, then one batch with the call, the conclusion, perhaps a decision, a task or a message, then the
routing and execution of the decision, and once a simulated day the metrics and idle ticks. Most of them
project into tables (agents, calls, decisions, tasks, metric points) and the brain's memory stream (with its
FTS5 index), all in the same transaction as the event, exactly as in a run.

- append: `EventWriter.append` (the engine's write path) from 1 producer (the engine commits a wave's results
  one after another) and from 64 concurrent producers (group commit at its best); events per wall second,
  and per CPU second of the whole process (steadier on a shared machine). A log-only row (events whose kinds
  project nothing) shows the ceiling of the log itself.
- rebuild: a log of 1,000,000 events of the same mix (written straight into `events`, which is faster than
  the write path and irrelevant to what is timed), then `rebuild_in_memory`: every projection recreated
  from the events alone.
- size: bytes on disk per 100,000 events, projections and memory index included, after a checkpoint.

    python -m bench.store [--events 100000] [--rebuild 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench.common  # noqa: F401  (puts src/ on the path when run from a checkout)
from conductor.store import EventWriter, NewEvent, OwnPayload, open_database
from conductor.store.events import dump_payload, iso
from conductor.store.rebuild import rebuild_in_memory

START = datetime(2025, 1, 1, tzinfo=UTC)
SUMMARIES = (
    "Signups are flat; trying a lower trial price and asking support why users churn.",
    "Organic traffic up after the SEO push; keep the budget and watch conversion.",
    "Churn rose among monthly plans; propose an annual discount and an onboarding email.",
    "Nothing new worth a decision; waiting for the pricing test to report.",
)


def engine_batches(events: int, agents: int = 1000, ventures: int = 20, seed: int = 1, *,
                   start: datetime = START, first_id: int = 1) -> Iterator[list[NewEvent]]:
    """Lists of events as the engine appends them, until `events` events in all (the last list may be cut),
    a simulated day at a time from `start`; the first gets id `first_id` (decisions refer to earlier ids)."""
    rng = random.Random(seed)
    produced = 0
    next_id = first_id  # ids appended in this order: decisions and tasks refer to earlier ids
    day = 0

    def emit(batch: list[NewEvent]) -> list[NewEvent]:
        nonlocal produced, next_id
        batch = batch[: events - produced]
        produced += len(batch)
        next_id += len(batch)
        return batch

    while produced < events:
        now = iso(start + timedelta(days=day))
        for v in range(ventures):
            if produced >= events:
                return
            yield emit([NewEvent("metric.recorded", OwnPayload(metric="mrr", value=round(rng.uniform(900, 1100), 2),
                                                                at=now, day=day, source="sim"), venture=f"v{v}",
                                 sim_time=now),
                        NewEvent("market.stepped", OwnPayload(day=day), venture=f"v{v}", sim_time=now)])
        for a in range(agents):
            if produced >= events:
                return
            venture, agent = f"v{a % ventures}", f"v{a % ventures}-a{a}"
            if rng.random() < 0.3:  # nothing new: an idle tick, no model call
                yield emit([NewEvent("agent.idle", OwnPayload(next_wake=now, reason="nothing new"),
                                     venture=venture, agent=agent, sim_time=now)])
                continue
            yield emit([NewEvent("agent.woke", OwnPayload(reason="your heartbeat (your metric moved)", brain_version=3,
                                                          metric_value=1000.0, model="sim/standard", prompt_chars=4200),
                                 venture=venture, agent=agent, sim_time=now)])
            result = [
                NewEvent("call.recorded", {"model": "sim/standard", "purpose": "wake", "prompt_tokens": 1050,
                                           "completion_tokens": 210, "cost": 0.0021, "latency_ms": 1800.0, "ok": True,
                                           "error": None}, venture=venture, agent=agent, sim_time=now),
                NewEvent("agent.concluded", {"summary": rng.choice(SUMMARIES), "next_wake": now, "decisions": 1,
                                             "tasks": 0, "messages": 0, "reason": "your heartbeat"},
                         venture=venture, agent=agent, sim_time=now),
            ]
            decided = rng.random() < 0.5
            if decided:
                result.append(NewEvent("decision.proposed", {
                    "kind": "pricing.change", "params": {"plan": "pro", "price": rng.choice((15, 19, 24))},
                    "rationale": "Competitors charge 19 and our trial conversion lags theirs.",
                    "expected": {"metric": "mrr", "direction": "up", "size": 0.05}, "confidence": 0.7,
                    "reversible": True, "brain_version": 3, "state": "proposed"}, venture=venture, agent=agent,
                    sim_time=now))
            if rng.random() < 0.15:
                result.append(NewEvent("task.created", {"to_agent": agent, "from_agent": agent,
                                                        "title": "Collect churn reasons",
                                                        "body": "Ask the last 20 churned users why they left."},
                                       venture=venture, agent=agent, sim_time=now))
            if rng.random() < 0.1:
                result.append(NewEvent("message.sent", {"to": agent, "text": "Pricing test starts Monday."},
                                       venture=venture, agent=agent, sim_time=now))
            decision_id = next_id + 2
            yield emit(result)
            if decided and produced < events:
                yield emit([NewEvent("decision.updated", {"decision_id": decision_id, "state": "approved",
                                                          "final": True, "route": "within policy"},
                                     venture=venture, agent=agent, sim_time=now)])
                yield emit([NewEvent("decision.executed", {"decision_id": decision_id, "ok": True,
                                                           "idempotency_key": f"decision-{decision_id}",
                                                           "result": {"recorded": True}, "day": day, "market": None},
                                     venture=venture, agent=agent, sim_time=now)])
                if rng.random() < 0.5 and produced < events:
                    yield emit([NewEvent("decision.outcome", {
                        "decision_id": decision_id, "brain_version": 3,
                        "outcome": {"metric": "mrr", "before": 1000.0, "after": 1030.0, "delta_pct": 0.03,
                                    "success": True},
                        "summary": "pricing.change plan=pro price=19 worked: mrr +3.0% in 7 days"},
                        venture=venture, agent=agent, sim_time=now)])
        day += 1


def log_only_batches(events: int, per: int = 5) -> Iterator[list[NewEvent]]:
    """Events of a kind no projection reads: the cost of the log itself."""
    now = iso(START)
    for start in range(0, events, per):
        yield [NewEvent("agent.note", {"n": n, "text": "a short note of what happened"}, venture=f"v{n % 20}",
                        agent=f"a{n % 1000}", sim_time=now) for n in range(start, min(events, start + per))]


async def _append(batches: list[list[NewEvent]], producers: int, db: Path) -> dict[str, Any]:
    queue = iter(batches)
    total = sum(len(b) for b in batches)
    async with EventWriter(db) as writer:
        async def producer() -> None:
            for batch in queue:  # the producers share one iterator: each takes the next list when it is free
                await writer.append(batch)

        cpu0, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(producers)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        batches_committed = writer.batches
    return {"events": total, "producers": producers, "transactions": batches_committed,
            "events_per_s": round(total / wall), "events_per_cpu_s": round(total / cpu), "wall_s": round(wall, 2)}


def append_throughput(events: int, producers: int, mix: str = "engine") -> tuple[dict[str, Any], Path]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    db = tmp / "append.db"
    batches = list(engine_batches(events) if mix == "engine" else log_only_batches(events))
    result = asyncio.run(_append(batches, producers, db))
    result["mix"] = mix
    return result, db


def db_bytes(db: Path) -> int:
    """The database and whatever is left of its log, after a full checkpoint."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def write_log(db: Path, events: int, *, start: datetime = START) -> None:
    """A log of `events` events of the engine mix from the day `start`, inserted straight into `events` (no
    projections), after whatever the log holds already."""
    conn = open_database(db)
    try:
        ts = iso(start)
        conn.execute("BEGIN IMMEDIATE")
        first = int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]) + 1
        rows: list[tuple] = []
        batches = engine_batches(events, start=start, first_id=first)
        for n, event in enumerate((e for batch in batches for e in batch), start=first):
            rows.append((n, ts, event.sim_time, event.venture, event.agent, event.kind, dump_payload(event.payload)))
            if len(rows) >= 50_000:
                conn.executemany("INSERT INTO events(id, ts, sim_time, venture, agent, kind, payload) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                rows.clear()
        if rows:
            conn.executemany("INSERT INTO events(id, ts, sim_time, venture, agent, kind, payload) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def rebuild_time(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        db = Path(tmp) / "log.db"
        write_log(db, events)
        source = sqlite3.connect(db)
        source.row_factory = sqlite3.Row
        try:
            cpu0, started = time.process_time(), time.perf_counter()
            rebuilt = rebuild_in_memory(source)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            memories = rebuilt.execute("SELECT count(*) FROM memories").fetchone()[0]
            rebuilt.close()
        finally:
            source.close()
        log_size = db_bytes(db)
    return {"events": events, "rebuild_s": round(wall, 2), "rebuild_cpu_s": round(cpu, 2),
            "events_per_s": round(events / wall), "memories": memories,
            "log_only_mb_per_100k": round(log_size / events * 100_000 / 1e6, 2)}


def run(events: int = 100_000, rebuild_events: int = 1_000_000) -> dict[str, Any]:
    engine_one, _ = append_throughput(events, producers=1)
    engine_many, db = append_throughput(events, producers=64)
    size = db_bytes(db)
    log_many, _ = append_throughput(events, producers=64, mix="log-only")
    for path in (db,):
        for leftover in path.parent.glob("*"):
            leftover.unlink()
        path.parent.rmdir()
    return {
        "append_engine_1_producer": engine_one,
        "append_engine_64_producers": engine_many,
        "append_log_only_64_producers": log_many,
        "db_mb_per_100k_events": round(size / engine_many["events"] * 100_000 / 1e6, 2),
        "rebuild": rebuild_time(rebuild_events),
        "target_events_per_s": 100_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rebuild", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(run(args.events, args.rebuild), indent=2))


if __name__ == "__main__":
    main()
