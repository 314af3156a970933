"""Scale: N agents with a fixed simulated model latency under a concurrency limit, against the ideal.

The ideal wall time is (calls x latency) / concurrency. Every call goes through `litellm.acompletion` with
the simulated provider sleeping `sleep_ms`, exactly as a real provider's latency would be awaited.

    python bench/engine_scale.py --agents 200 --latency-ms 50 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from conductor.engine.scheduler import Engine, EngineOptions  # noqa: E402
from conductor.org.loader import parse_org  # noqa: E402


def scale_org(agents: int, ventures: int, model: str) -> dict:
    kinds = [{"id": "note.write", "description": "Write a note.", "action": "record",
              "params": {"text": {"type": "string", "required": False}}}]
    per = max(1, agents // ventures)
    data = {
        "name": "Scale", "model": model, "clock": "sim", "seed": 1, "budget_per_day": 1e9,
        "prices": {model: {"input_per_mtok": 0.0, "output_per_mtok": 0.0}},
        "engine": {"concurrency": 8, "wake_cap_per_hour": 100},
        "decision_kinds": kinds, "platform": {"mission": "Watch.", "heartbeat": "30d"}, "ventures": [],
    }
    for v in range(ventures):
        data["ventures"].append({
            "id": f"v{v}", "name": f"V{v}", "stage": "mvp", "goal": "Grow.",
            "metrics": [{"name": "m", "unit": "n", "direction": "up"}],
            "agents": [{"id": f"v{v}-a{i}", "role": f"Role {i}", "mission": "Work.", "owns_metric": "m",
                        "heartbeat": "1d", "budget_per_day": 1e6, "decision_kinds": ["note.write"]}
                       for i in range(per)],
        })
    return data


async def run(agents: int, latency_ms: float, concurrency: int, ventures: int) -> dict:
    model = f"sim/perfect:sleep_ms={latency_ms:g}"
    org = parse_org(scale_org(agents, ventures, model))
    db = Path(tempfile.mkdtemp()) / "scale.db"
    # One round: every agent's first wake-up is a model call (later heartbeats with nothing new are idle).
    engine = Engine(org, db, EngineOptions(concurrency=concurrency, until=org.start + (org.ventures[0].agents[0].heartbeat / 2)))
    from conductor.engine.provider import load_litellm

    await asyncio.to_thread(load_litellm)
    started = time.perf_counter()
    await engine.run()
    wall = time.perf_counter() - started
    conn = sqlite3.connect(db)
    calls = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    ideal = calls * latency_ms / 1000 / concurrency
    return {"agents": agents, "calls": calls, "latency_ms": latency_ms, "concurrency": concurrency,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ratio_ideal_over_wall": round(ideal / wall, 3),
            "events": events, "events_per_s": round(events / wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--ventures", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(run(args.agents, args.latency_ms, args.concurrency, args.ventures))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
