"""Engine scale (issue 3, acceptance 5): N agents, a fixed model latency, a concurrency limit, against the ideal.

Every agent's first wake-up is a model call through `litellm.acompletion` to a provider that waits
`latency_ms` and answers, as a remote model would (`bench.common.register_latency_provider`). The ideal wall
time is calls x latency / concurrency; the ratio ideal / wall is what acceptance 5 asks to be >= 0.9.

Three figures put the ratio in context, all measured in the same process:

- `litellm_alone_*`: the same number of calls, with prompts of the same size, at the same concurrency, made
  straight to `litellm.acompletion` with nothing else around them. It is the ceiling any engine that calls
  litellm in its own process can reach on this machine: litellm's per-call CPU (its set-up runs on a thread of
  the default executor, then its logging and response handling on the loop) is close to the whole budget.
- `cpu_budget_per_call_ms`: at 50 ms and 32 in flight calls finish at 640 a second, so a call may use at most
  50/32 = 1.56 ms of CPU in all (prompt, litellm, events) before the one Python thread, not the model, sets
  the pace. `cpu_per_call_ms` is the process's CPU time over the run divided by the calls.
- `schedule_bound`: the best ratio the shape of the work allows. 200 calls due at one instant fill 32 slots
  in ceil(200 / 32) = 7 rounds, so the wall time is at least 7 x 50 ms against an ideal of 6.25 x 50 ms.

Each figure is the median of `repeats` runs, each on a fresh database.

    python -m bench.engine_scale --agents 200 --latency-ms 50 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from bench.common import first_wakes, median, messages_of_size, print_result, register_latency_provider, scale_org


async def _engine_once(agents: int, ventures: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    """One run of the real engine: every agent's first wake-up, then nothing is due before the stop time."""
    # The latency provider lives in this process: a worker process would not know it.
    return await first_wakes(scale_org(agents, ventures, f"latency/{latency_ms:g}"), concurrency, model_workers=0)


async def _litellm_once(calls: int, prompt_chars: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    """The same calls straight to `litellm.acompletion`, with the engine's prompt size and call arguments."""
    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    messages = messages_of_size(prompt_chars)
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await litellm.acompletion(model=f"latency/{latency_ms:g}", messages=messages, max_tokens=1200,
                                      timeout=120, num_retries=0)

    cpu0, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu0}


async def measure(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, ventures: int = 10,
                  repeats: int = 5) -> dict[str, Any]:
    register_latency_provider()
    from conductor.engine.provider import load_litellm

    warm0 = time.perf_counter()
    load_litellm().token_counter(text="warm up")  # the brief's tokenizer: loaded once per process
    await _litellm_once(concurrency, 100, 0, concurrency)  # one-time costs (first call paths), not per-call cost
    warm_s = time.perf_counter() - warm0
    engine_runs, alone_runs = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine
        engine_runs.append(await _engine_once(agents, ventures, latency_ms, concurrency))
        last = engine_runs[-1]
        alone_runs.append(await _litellm_once(last["calls"], last["prompt_chars"], latency_ms, concurrency))
    calls = engine_runs[0]["calls"]
    ideal = calls * latency_ms / 1000 / concurrency
    budget_ms = latency_ms / concurrency
    wall = median([r["wall"] for r in engine_runs])
    cpu_per_call_ms = median([r["cpu"] for r in engine_runs]) / max(calls, 1) * 1000
    alone_wall = median([r["wall"] for r in alone_runs])
    alone_cpu_ms = median([r["cpu"] for r in alone_runs]) / max(calls, 1) * 1000
    rounds = math.ceil(calls / concurrency) if concurrency else 1
    return {
        "agents": agents, "calls": calls, "failed_calls": sum(r["failed"] for r in engine_runs),
        "latency_ms": latency_ms, "concurrency": concurrency, "repeats": repeats,
        "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ideal_over_wall": round(ideal / wall, 3),
        "cpu_per_call_ms": round(cpu_per_call_ms, 3), "cpu_budget_per_call_ms": round(budget_ms, 3),
        "litellm_alone_wall_s": round(alone_wall, 3),
        "litellm_alone_ideal_over_wall": round(ideal / alone_wall, 3),
        "litellm_alone_cpu_per_call_ms": round(alone_cpu_ms, 3),
        "conductor_over_litellm_alone": round(alone_wall / wall, 3),
        "schedule_bound": round(min(1.0, calls / concurrency / rounds) if latency_ms else 1.0, 3),
        "runs_ideal_over_wall": [round(ideal / r["wall"], 3) for r in engine_runs],
        "runs_litellm_alone": [round(ideal / r["wall"], 3) for r in alone_runs],
        "events": engine_runs[0]["events"], "prompt_chars": engine_runs[0]["prompt_chars"],
        "warmup_s": round(warm_s, 2),
    }


def run(agents: int = 200, latency_ms: float = 50, concurrency: int = 32, ventures: int = 10,
        repeats: int = 5) -> dict[str, Any]:
    return asyncio.run(measure(agents, latency_ms, concurrency, ventures, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--ventures", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = run(args.agents, args.latency_ms, args.concurrency, args.ventures, args.repeats)
    print_result(result)


if __name__ == "__main__":
    main()
