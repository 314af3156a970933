"""Scale: 1,000 agents across 20 ventures, 10 wake-ups each, 50 ms model latency, 64 calls in flight.

The real engine on a sim clock, every call through `litellm.acompletion` to the simulated provider sleeping
50 ms. Each agent's first wake-up is a model call; on each of the next simulated days the founder adds one
directive per venture (20 events, written from outside the engine the way the CLI writes them), which is news
to every agent of that venture, so its daily heartbeat is a model call too: 10 wake-ups per agent. The clock
itself advances only when a day's calls are done, as a sim clock does.

Reported: wall time against the ideal (calls x latency / concurrency), CPU per call and the ratio that CPU
cost alone allows, peak memory of the process (ru_maxrss, litellm's import included) and events written
per second.

    python -m bench.scale [--agents 1000] [--ventures 20] [--wakes 10] [--latency-ms 50] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import peak_rss_mb, scale_org, warm_litellm


async def measure(agents: int = 1000, ventures: int = 20, wakes: int = 10, latency_ms: float = 50,
                  concurrency: int = 64) -> dict[str, Any]:
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.org.loader import parse_org
    from conductor.services.founder import add_directive
    from conductor.store import StoredEvent, open_database

    model = f"sim/perfect:sleep_ms={latency_ms:g}"
    org = parse_org(scale_org(agents, ventures, model))
    warm_s = await warm_litellm()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = Path(tmp) / "scale.db"
        founder: list[sqlite3.Connection] = []

        def on_event(event: StoredEvent) -> None:
            # A new simulated day: the founder writes one directive per venture, as `conductor directive` would.
            if event.kind != "clock.advanced":
                return
            if not founder:
                founder.append(open_database(db))
            for venture in org.ventures:
                add_directive(founder[0], venture.id, f"Day {event.payload['day']}: keep going.")

        # Day 0 is the first wake-up; days 1..wakes-1 are heartbeats with a directive as news. Stop before the
        # heartbeat after the last one.
        until = org.start + timedelta(days=wakes - 1, hours=12)
        engine = Engine(org, db, EngineOptions(concurrency=concurrency, until=until), on_event=on_event)
        cpu0, started = time.process_time(), time.perf_counter()
        await engine.run()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        for conn in founder:
            conn.close()
        conn = sqlite3.connect(db)
        try:
            calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
            wake_calls = conn.execute("SELECT count(*) FROM calls WHERE purpose = 'wake'").fetchone()[0]
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    ideal = calls * latency_ms / 1000 / concurrency
    budget_ms = latency_ms / concurrency
    cpu_per_call_ms = cpu / max(calls, 1) * 1000
    peak = peak_rss_mb()
    return {
        "agents": agents, "ventures": ventures, "wake_ups_per_agent": round(wake_calls / agents, 2),
        "calls": calls, "latency_ms": latency_ms, "concurrency": concurrency,
        "wall_s": round(wall, 2), "ideal_s": round(ideal, 2), "ideal_over_wall": round(ideal / wall, 3),
        "cpu_per_call_ms": round(cpu_per_call_ms, 3), "cpu_budget_per_call_ms": round(budget_ms, 3),
        "cpu_bound_ratio": round(min(1.0, budget_ms / cpu_per_call_ms) if cpu_per_call_ms else 1.0, 3),
        "peak_rss_mb": round(peak), "events": events, "events_per_s": round(events / wall),
        "warmup_s": round(warm_s, 2), "target_ratio": 0.9, "target_peak_mb": 1024,
    }


def run(agents: int = 1000, ventures: int = 20, wakes: int = 10, latency_ms: float = 50,
        concurrency: int = 64) -> dict[str, Any]:
    return asyncio.run(measure(agents, ventures, wakes, latency_ms, concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--ventures", type=int, default=20)
    parser.add_argument("--wakes", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    print(json.dumps(run(args.agents, args.ventures, args.wakes, args.latency_ms, args.concurrency), indent=2))


if __name__ == "__main__":
    main()
