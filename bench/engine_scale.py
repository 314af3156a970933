"""Engine scale (issue 3, acceptance 5): N agents, a fixed model latency, a concurrency limit, against the ideal.

Every agent's first wake-up is a model call through `litellm.acompletion`, with the simulated provider
sleeping `latency_ms` as a real provider's latency would be awaited. The ideal wall time is
calls x latency / concurrency; the ratio ideal / wall is what acceptance 5 asks to be >= 0.9.

CPU per call (process CPU time over the run / calls) says why a ratio is missed: at 50 ms and 32 in flight a
call may use at most 50/32 = 1.56 ms of CPU in all (prompt, litellm, simulated model, events) before the one
Python thread, not the model, sets the pace.

    python -m bench.engine_scale --agents 200 --latency-ms 50 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import scale_org, warm_litellm


async def measure(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, ventures: int = 10) -> dict[str, Any]:
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.org.loader import parse_org

    model = f"sim/perfect:sleep_ms={latency_ms:g}"
    org = parse_org(scale_org(agents, ventures, model))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.db"
        # One round: every agent's first wake-up is a model call (later heartbeats with nothing new are idle).
        until = org.start + org.ventures[0].agents[0].heartbeat / 2
        engine = Engine(org, db, EngineOptions(concurrency=concurrency, until=until))
        warm_s = await warm_litellm()
        cpu0, started = time.process_time(), time.perf_counter()
        await engine.run()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        conn = sqlite3.connect(db)
        try:
            calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    ideal = calls * latency_ms / 1000 / concurrency
    budget_ms = latency_ms / concurrency
    cpu_per_call_ms = cpu / max(calls, 1) * 1000
    return {
        "agents": agents, "calls": calls, "latency_ms": latency_ms, "concurrency": concurrency,
        "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ideal_over_wall": round(ideal / wall, 3),
        "cpu_s": round(cpu, 3), "cpu_per_call_ms": round(cpu_per_call_ms, 3),
        "cpu_budget_per_call_ms": round(budget_ms, 3),
        # If CPU were the only limit (one core, nothing else running): the best ratio this CPU cost allows.
        "cpu_bound_ratio": round(min(1.0, budget_ms / cpu_per_call_ms) if cpu_per_call_ms else 1.0, 3),
        "events": events, "events_per_s": round(events / wall), "warmup_s": round(warm_s, 2),
    }


def run(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, ventures: int = 10) -> dict[str, Any]:
    return asyncio.run(measure(agents, latency_ms, concurrency, ventures))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--ventures", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = run(args.agents, args.latency_ms, args.concurrency, args.ventures)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
