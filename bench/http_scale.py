"""Real HTTP (issue 20, acceptance 4): 200 agents, 50 ms, 32 in flight, through a local OpenAI-compatible server.

Every agent's first wake-up is a call through litellm's OpenAI client to `bench.http_stub`, a server in a process
of its own that waits `latency_ms` and answers one valid note. Three ways of making the same calls, interleaved
in one run so that each sees the same machine, every figure the median of `repeats`:

- `litellm_alone`: the engine's number of calls, with prompts of its size, straight to `litellm.acompletion` at
  the same concurrency, nothing around them: what litellm reaches in one process.
- `engine`: the real engine (`Engine.run`, sim clock, events committed to SQLite), calls made in its process.
- `engine_workers`: the same engine with its calls made in `workers` worker processes (`[engine]
  model_workers`), started and warmed once before the runs, as a long run's workers are.

Reported: wall time, its ratio to the ideal (calls x latency / concurrency), CPU per call of the engine's own
process, `engine_over_litellm_alone` (acceptance: >= 0.9) and `workers_over_engine` (acceptance: >= 1.5). The
server's CPU is the same in every way and not counted; the workers' CPU is not in the engine's figure.

    python -m bench.http_scale --agents 200 --latency-ms 50 --concurrency 32 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, first_wakes, median, messages_of_size, print_result, scale_org

MODEL = "openai/stub"
KEY_ENV = "CONDUCTOR_BENCH_STUB_KEY"


def start_stub(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """The stub server in its own process; returns it and the `api_base` it answers on."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "bench.http_stub", "--latency-ms", f"{latency_ms:g}"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the stub server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def http_org(agents: int, ventures: int, api_base: str) -> dict[str, Any]:
    data = scale_org(agents, ventures, MODEL)
    data["models"] = {MODEL: {"api_base": api_base, "api_key_env": KEY_ENV, "structured_output": "off"}}
    return data


async def _engine_once(data: dict[str, Any], concurrency: int, route: Any) -> dict[str, Any]:
    """The engine's first wake-ups, calls in its own process (`route` None) or in an already started pool."""
    return await first_wakes(data, concurrency, model_workers=0, model_route=route)


async def _litellm_once(calls: int, prompt_chars: int, api_base: str, concurrency: int) -> dict[str, Any]:
    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    messages = messages_of_size(prompt_chars)
    semaphore = asyncio.Semaphore(concurrency)
    key = os.environ[KEY_ENV]

    async def one() -> None:
        async with semaphore:
            await litellm.acompletion(model=MODEL, messages=messages, max_tokens=1200, timeout=120, num_retries=0,
                                      api_base=api_base, api_key=key)

    cpu0, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu0}


async def measure(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, workers: int = 2,
                  ventures: int = 10, repeats: int = 5) -> dict[str, Any]:
    from conductor.engine.model_workers import ModelWorkers
    from conductor.engine.provider import CallRequest, load_litellm
    from conductor.org.loader import parse_org

    os.environ.setdefault(KEY_ENV, "stub-key-for-the-benchmark")
    stub, api_base = start_stub(latency_ms)
    try:
        data = http_org(agents, ventures, api_base)
        warm0 = time.perf_counter()
        await asyncio.to_thread(load_litellm)
        await _litellm_once(concurrency, 100, api_base, concurrency)  # first-call paths and the HTTP client
        pool = ModelWorkers(parse_org(data), workers)
        await pool.ready()
        warm_calls = [CallRequest(MODEL, [{"role": "user", "content": "warm up"}], api_base=api_base)
                      for _ in range(concurrency)]
        await asyncio.gather(*(pool.call(r) for r in warm_calls))
        warm_s = time.perf_counter() - warm0
        one, alone, pooled = [], [], []
        try:
            for _ in range(repeats):
                one.append(await _engine_once(data, concurrency, None))
                last = one[-1]
                alone.append(await _litellm_once(last["calls"], last["prompt_chars"], api_base, concurrency))
                pooled.append(await _engine_once(data, concurrency, pool))
        finally:
            await pool.close()
    finally:
        stub.kill()
        stub.wait()
    calls = one[0]["calls"]
    ideal = calls * latency_ms / 1000 / concurrency
    wall, alone_wall, pooled_wall = (median([r["wall"] for r in runs]) for runs in (one, alone, pooled))
    per_call = lambda runs: round(median([r["cpu"] for r in runs]) / max(calls, 1) * 1000, 3)  # noqa: E731
    return {
        "agents": agents, "calls": calls, "latency_ms": latency_ms, "concurrency": concurrency,
        "workers": workers, "repeats": repeats, "ideal_s": round(ideal, 3),
        "litellm_alone_wall_s": round(alone_wall, 3), "engine_wall_s": round(wall, 3),
        "engine_workers_wall_s": round(pooled_wall, 3),
        "litellm_alone_ideal_over_wall": round(ideal / alone_wall, 3),
        "engine_ideal_over_wall": round(ideal / wall, 3),
        "engine_workers_ideal_over_wall": round(ideal / pooled_wall, 3),
        "engine_over_litellm_alone": round(alone_wall / wall, 3),
        "workers_over_engine": round(wall / pooled_wall, 3),
        "litellm_alone_cpu_per_call_ms": per_call(alone), "engine_cpu_per_call_ms": per_call(one),
        "engine_workers_main_cpu_per_call_ms": per_call(pooled),
        "failed_calls": sum(r["failed"] for r in one + pooled),
        "runs_engine_over_litellm_alone": [round(a["wall"] / e["wall"], 3) for a, e in zip(alone, one, strict=True)],
        "runs_workers_over_engine": [round(e["wall"] / p["wall"], 3) for e, p in zip(one, pooled, strict=True)],
        "prompt_chars": one[0]["prompt_chars"], "warmup_s": round(warm_s, 2),
        "target_engine_over_litellm_alone": 0.9, "target_workers_over_engine": 1.5,
    }


def run(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, workers: int = 2, ventures: int = 10,
        repeats: int = 5) -> dict[str, Any]:
    return asyncio.run(measure(agents, latency_ms, concurrency, workers, ventures, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--ventures", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = run(args.agents, args.latency_ms, args.concurrency, args.workers, args.ventures, args.repeats)
    print_result(result)


if __name__ == "__main__":
    main()
