"""What every benchmark shares: percentiles, the machine description, peak memory and a synthetic org.

Benchmarks report ratios and medians measured inside one run: on a small shared machine the absolute
figures move with whatever else runs, while a ratio taken within one run moves much less.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import sqlite3
import statistics
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # run from a checkout without an install, as `python -m bench` does
    sys.path.insert(0, str(ROOT / "src"))

PACKAGES = ("litellm", "langgraph", "langchain-core", "crewai", "textual", "pydantic")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """Where and when the figures were taken, for docs/benchmarks.md."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": {p: version(p) for p in PACKAGES},
    }


def scale_org(agents: int, ventures: int, model: str, *, wake_cap_per_hour: int = 100) -> dict[str, Any]:
    """An org of `agents` agents spread evenly over `ventures` ventures, one cheap decision kind, free calls.

    The price is set to zero so that budgets never stop a wake-up, and the only decision kind is recorded,
    not executed, so what is measured is the scheduler, the provider path and the store.
    """
    kinds = [{"id": "note.write", "description": "Write a note.", "action": "record",
              "params": {"text": {"type": "string", "required": False}}}]
    per = max(1, agents // ventures)
    data: dict[str, Any] = {
        "name": "Scale", "model": model, "clock": "sim", "seed": 1, "budget_per_day": 1e9,
        "prices": {model: {"input_per_mtok": 0.0, "output_per_mtok": 0.0}},
        "engine": {"concurrency": 8, "wake_cap_per_hour": wake_cap_per_hour},
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


async def warm_litellm() -> float:
    """Import litellm and make one call, so its one-time costs (import, tokenizer load) are not timed.

    Returns the seconds it took: a long-running engine pays this once per process.
    """
    import asyncio
    import time

    from conductor.engine.provider import call_model, load_litellm

    started = time.perf_counter()
    await asyncio.to_thread(load_litellm)
    await call_model("sim/perfect", [{"role": "user", "content": "# Your role\nWarm-up.\n"}])
    return time.perf_counter() - started


LATENCY_ANSWER = {
    "summary": "Wrote the day's note.",
    "decisions": [{"kind": "note.write", "params": {"text": "Status noted."}, "rationale": "Keep a record.",
                   "expected_effect": {"metric": "m", "direction": "up", "size": 0.01}, "confidence": 0.8,
                   "reversible": True}],
    "tasks": [], "messages": [],
}


def register_latency_provider() -> str:
    """A litellm custom provider `latency/<ms>`: waits `ms`, then answers one valid note, as a remote model would.

    The scale benchmarks measure the orchestration around a model, so their model must cost the engine's process
    nothing but the wait: a real provider's model runs on someone else's machine. (The simulated model reads and
    reasons over the whole prompt, about 0.5 ms of CPU a call that a hosted model would not charge here.) The
    answer is fixed, one `note.write` decision, which the scale org records. Returns the provider's name.
    """
    import asyncio
    import json

    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    from litellm import CustomLLM

    text = json.dumps(LATENCY_ANSWER)

    class LatencyProvider(CustomLLM):
        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(float(model.rsplit("/", 1)[-1]) / 1000)
            response = kwargs["model_response"]
            response.choices[0].message.content = text
            prompt_tokens = sum(len(m.get("content") or "") for m in messages) // 4
            response.usage = litellm.Usage(prompt_tokens=prompt_tokens, completion_tokens=60,
                                           total_tokens=prompt_tokens + 60)
            return response

        def completion(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - the engine is async
            raise NotImplementedError

    others = [e for e in litellm.custom_provider_map if e.get("provider") != "latency"]
    litellm.custom_provider_map = [*others, {"provider": "latency", "custom_handler": LatencyProvider()}]
    litellm.utils.custom_llm_setup()
    return "latency"


async def first_wakes(data: dict[str, Any], concurrency: int, **options: Any) -> dict[str, Any]:
    """One run of the real engine on the org `data` (a `scale_org`): every agent's first wake-up, then nothing is
    due before the stop time. `options` go to `EngineOptions` (a model route, model workers). Returns the calls
    answered and failed, wall and CPU seconds (the process's, all its threads), events, and the mean prompt size."""
    import sqlite3
    import tempfile
    import time

    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.org.loader import parse_org

    org = parse_org(data)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.db"
        until = org.start + org.ventures[0].agents[0].heartbeat / 2
        engine = Engine(org, db, EngineOptions(concurrency=concurrency, until=until, **options))
        cpu0, started = time.process_time(), time.perf_counter()
        await engine.run()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        conn = sqlite3.connect(db)
        try:
            calls = conn.execute("SELECT count(*) FROM calls WHERE ok = 1").fetchone()[0]
            failed = conn.execute("SELECT count(*) FROM calls WHERE ok = 0").fetchone()[0]
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            prompt_chars = conn.execute(
                "SELECT avg(json_extract(payload, '$.prompt_chars')) FROM events WHERE kind = 'agent.woke'"
            ).fetchone()[0]
        finally:
            conn.close()
    return {"calls": calls, "failed": failed, "wall": wall, "cpu": cpu, "events": events,
            "prompt_chars": int(prompt_chars or 0)}


def messages_of_size(prompt_chars: int) -> list[dict[str, str]]:
    """A system and a user message of `prompt_chars` characters in all: what "litellm alone" sends."""
    system = "s" * min(400, prompt_chars)
    return [{"role": "system", "content": system}, {"role": "user", "content": "u" * max(prompt_chars - len(system), 1)}]


def print_result(result: dict[str, Any]) -> None:
    """A benchmark's figures one per line, then the same as one JSON line (what `python -m bench` reads)."""
    import json

    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))
