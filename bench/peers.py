"""Orchestration overhead against LangGraph and CrewAI: one chain of agent steps, each calling a zero-latency mock.

The workload is the same in each framework: three agents hand work on in a ring, a -> b -> c -> a, for
`steps` steps each (3 x 1,000 by default), one step at a time. Every step calls the framework's own model
abstraction with a mock that answers at once, and the mock notes the time of every call. The time between two
consecutive calls is then all framework: what it does after one model answer and before the next request.
We report its median and p95 per framework and the ratio conductor / peer.

What each number contains (be fair when reading it):

- conductor: the real engine (`Engine.run`) on a sim clock, each agent's model a litellm custom provider
  (`chain/...`, registered in `litellm.custom_provider_map`), which the engine calls directly, as it calls
  every custom handler while no litellm callback is registered (`engine/custom_handlers.py`). A step is a
  wake-up: the task arrives, the context and prompt are built, litellm is called, the JSON contract is parsed
  and validated, the task is handed to the next agent by id, and every event (woke, call, concluded, task
  created and done) is committed durably to SQLite before the next agent wakes.
- conductor-full: the same with `[engine] synchronous = "full"`: every commit synced to disk (survives a power
  loss), the writer committing on its own thread; the default ("normal") survives a crash of the process.
- LangGraph: a compiled `StateGraph` of three nodes in a loop; each node builds a two-message prompt and calls
  `GenericFakeChatModel.invoke` (langchain-core's chat model path: callbacks, run tree, message types). No
  checkpointer (nothing persisted), which is LangGraph's default.
- langgraph-sqlite and langgraph-sqlite-full: the same graph with LangGraph's SQLite checkpointer
  (`langgraph-checkpoint-sqlite`'s `SqliteSaver`, WAL) and `durability="sync"`, so each step's checkpoint is
  committed before the next step, with `synchronous` NORMAL and FULL: the like-for-like peers of conductor
  and conductor-full.
- CrewAI: three `Agent`s with three sequential `Task`s, kicked off `steps` times; each agent's `llm` is a
  `BaseLLM` subclass answering "Final Answer: ..." (CrewAI's documented custom-LLM hook, so no litellm).
  Telemetry is switched off. A step is one task executed by one agent; kickoff set-up is spread over its 3.

Each framework runs in its own subprocess so that imports, threads and global settings never leak.

    python -m bench.peers [--steps 1000] [--only conductor|langgraph|crewai]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT, median, percentile

FRAMEWORKS = ("conductor", "conductor-full", "langgraph", "langgraph-sqlite", "langgraph-sqlite-full", "crewai")
AGENTS = 3
WARMUP_STEPS = 6  # the first steps pay one-time costs (imports on first use, caches): not framework overhead
_TASK = re.compile(r"- task #(\d+):")
_AGENT_ID = re.compile(r"Agent id: (\S+)")


# -- conductor ------------------------------------------------------------------------------------------------
def _conductor_chain(steps: int, synchronous: str = "normal") -> list[float]:
    import asyncio

    from conductor.engine.provider import load_litellm
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.org.loader import parse_org

    litellm = load_litellm()
    stamps: list[float] = []
    total = steps * AGENTS
    ids = [f"c-a{i}" for i in range(AGENTS)]
    state = {"left": total, "started": False}

    from litellm import CustomLLM

    class ChainProvider(CustomLLM):
        """Hands the task on to the agent its model names (`chain/<next id>`), completing the one it got."""

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            prompt = messages[-1]["content"]
            tasks = [int(t) for t in _TASK.findall(prompt)]
            agent = (_AGENT_ID.search(prompt) or [None, ""])[1]
            start = not state["started"] and agent == ids[0]
            handing = state["left"] > 0 and (bool(tasks) or start)
            if tasks or start:
                stamps.append(time.perf_counter())
                state["started"] = True
            if handing:
                state["left"] -= 1
            answer = {
                "summary": "Passed the work on." if handing else "Nothing to do.",
                "decisions": [], "messages": [],
                "tasks": [{"to": model.split("/", 1)[-1], "title": "Next step", "body": ""}] if handing else [],
                "completed_tasks": [{"task_id": t, "result": "done"} for t in tasks],
            }
            response = kwargs["model_response"]
            response.choices[0].message.content = json.dumps(answer)
            response.model = model
            response.usage = litellm.Usage(prompt_tokens=len(prompt) // 4, completion_tokens=40,
                                           total_tokens=len(prompt) // 4 + 40)
            return response

        def completion(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - the engine is async
            raise NotImplementedError

    others = [e for e in litellm.custom_provider_map if e.get("provider") != "chain"]  # a second run replaces it
    litellm.custom_provider_map = [*others, {"provider": "chain", "custom_handler": ChainProvider()}]
    litellm.utils.custom_llm_setup()
    data = {
        "name": "Chain", "model": "sim/perfect", "clock": "sim", "seed": 1, "budget_per_day": 1e9,
        "prices": {f"chain/{i}": {"input_per_mtok": 0.0, "output_per_mtok": 0.0} for i in ids},
        "engine": {"concurrency": 8, "wake_cap_per_hour": 1_000_000, "synchronous": synchronous},
        "decision_kinds": [{"id": "note.write", "description": "Write a note.", "action": "record"}],
        "platform": {"mission": "Watch.", "heartbeat": "365d"},
        "ventures": [{
            "id": "c", "name": "Chain", "stage": "mvp", "goal": "Pass work on.",
            "metrics": [{"name": "m", "unit": "n", "direction": "up"}],
            "agents": [{"id": a, "role": f"Step {n}", "mission": "Pass the work on.", "owns_metric": "m",
                        "heartbeat": "365d", "budget_per_day": 1e6, "model": f"chain/{ids[(n + 1) % AGENTS]}",
                        "decision_kinds": ["note.write"]} for n, a in enumerate(ids)],
        }],
    }
    org = parse_org(data)
    with tempfile.TemporaryDirectory() as tmp:
        # The chain runs at one instant of the sim clock; stop an hour later, long before any heartbeat.
        engine = Engine(org, Path(tmp) / "chain.db", EngineOptions(until=org.start + timedelta(hours=1)))
        asyncio.run(engine.run())
    return stamps


# -- LangGraph ------------------------------------------------------------------------------------------------
def _langgraph_chain(steps: int, synchronous: str | None = None) -> list[float]:
    """LangGraph's chain; with `synchronous`, its SQLite checkpointer (`SqliteSaver`) on a file with that
    setting, every step's checkpoint written before the next step starts (`durability="sync"`), as conductor
    commits each step before the next agent wakes."""
    import itertools
    import sqlite3
    from typing import TypedDict

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    from langgraph.graph import END, START, StateGraph

    stamps: list[float] = []

    class Chain(TypedDict):
        step: int
        last: str

    class StampedModel(GenericFakeChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            stamps.append(time.perf_counter())
            return super()._generate(*args, **kwargs)

    model = StampedModel(messages=itertools.cycle([AIMessage(content="Passed the work on.")]))
    names = [f"a{i}" for i in range(AGENTS)]

    def node(name: str) -> Any:
        def run(state: Chain) -> dict[str, Any]:
            reply = model.invoke([SystemMessage(content=f"You are agent {name}."),
                                  HumanMessage(content=f"Step {state['step']}: {state['last']}")])
            return {"step": state["step"] + 1, "last": str(reply.content)}
        return run

    graph = StateGraph(Chain)
    for name in names:
        graph.add_node(name, node(name))
    graph.add_edge(START, names[0])
    graph.add_edge(names[0], names[1])
    graph.add_edge(names[1], names[2])
    graph.add_conditional_edges(names[2], lambda s: END if s["step"] >= steps * AGENTS else names[0])
    config: dict[str, Any] = {"recursion_limit": steps * AGENTS + 10}
    if synchronous is None:
        graph.compile().invoke({"step": 0, "last": "start"}, config=config)
        return stamps
    from langgraph.checkpoint.sqlite import SqliteSaver

    with tempfile.TemporaryDirectory(prefix="bench-langgraph-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "checkpoints.db", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        app = graph.compile(checkpointer=SqliteSaver(conn))
        config["configurable"] = {"thread_id": "chain"}
        app.invoke({"step": 0, "last": "start"}, config=config, durability="sync")
        conn.close()
    return stamps


# -- CrewAI ---------------------------------------------------------------------------------------------------
def _crewai_chain(steps: int) -> list[float]:
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
    # CrewAI imports litellm itself: without these it first tries to fetch a price map over the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    from crewai import Agent, Crew, Process, Task
    from crewai.llms.base_llm import BaseLLM

    stamps: list[float] = []

    class StampedLLM(BaseLLM):
        def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            stamps.append(time.perf_counter())
            return "Thought: I passed the work on.\nFinal Answer: Passed the work on."

        def supports_function_calling(self) -> bool:
            return False

        def get_context_window_size(self) -> int:
            return 8192

    llm = StampedLLM(model="stamped-mock")
    agents = [Agent(role=f"Step {i}", goal="Pass the work on.", backstory="One link of a chain.", llm=llm,
                    allow_delegation=False, verbose=False, max_iter=1) for i in range(AGENTS)]
    tasks = [Task(description=f"Step {i}: pass the work on.", expected_output="One line.", agent=agents[i])
             for i in range(AGENTS)]
    crew = Crew(agents=agents, tasks=tasks, process=Process.sequential, verbose=False)
    for _ in range(steps):
        crew.kickoff()
    return stamps


RUNNERS = {"conductor": _conductor_chain, "conductor-full": lambda steps: _conductor_chain(steps, "full"),
           "langgraph": _langgraph_chain, "langgraph-sqlite": lambda steps: _langgraph_chain(steps, "normal"),
           "langgraph-sqlite-full": lambda steps: _langgraph_chain(steps, "full"), "crewai": _crewai_chain}


def intervals_ms(stamps: list[float]) -> list[float]:
    """Milliseconds between consecutive model calls, after the warm-up steps."""
    kept = stamps[WARMUP_STEPS:]
    return [(b - a) * 1000 for a, b in itertools.pairwise(kept)]


def summarise(stamps: list[float]) -> dict[str, Any]:
    gaps = intervals_ms(stamps)
    return {"steps": len(stamps), "median_ms": round(median(gaps), 3), "p95_ms": round(percentile(gaps, 95), 3),
            "mean_ms": round(sum(gaps) / len(gaps), 3) if gaps else 0.0}


def _child(framework: str, steps: int) -> None:
    """Runs inside the subprocess: one framework, result as one JSON line on stdout."""
    started = time.perf_counter()
    stamps = RUNNERS[framework](steps)
    result = summarise(stamps)
    result["wall_s"] = round(time.perf_counter() - started, 2)
    print("BENCH-RESULT " + json.dumps(result), flush=True)
    sys.stderr.flush()
    os._exit(0)  # a framework's leftover non-daemon threads (CrewAI's event bus) must not hold the exit


# CrewAI pins mcp<2 and aiosqlite 0.21, which cannot be installed beside conductor (mcp 2.3): it runs from an
# interpreter of its own, named by this variable (a virtualenv with crewai; conductor is not needed there).
CREWAI_PYTHON = "CONDUCTOR_BENCH_CREWAI_PYTHON"


def _interpreter(framework: str) -> tuple[str, str]:
    """(python, how to install what it lacks) for a framework's child process."""
    if framework == "crewai":
        return (os.environ.get(CREWAI_PYTHON) or sys.executable,
                f"python3 -m venv /tmp/crewai && /tmp/crewai/bin/pip install crewai, then {CREWAI_PYTHON}="
                "/tmp/crewai/bin/python (CrewAI's mcp<2 cannot be installed beside conductor)")
    return sys.executable, "pip install -e '.[bench]'"


def measure_one(framework: str, steps: int, timeout: float = 600) -> dict[str, Any]:
    """Run one framework in a fresh interpreter; a framework that is not installed is skipped with the reason."""
    module = {"conductor": "litellm", "conductor-full": "litellm", "langgraph": "langgraph",
              "langgraph-sqlite": "langgraph.checkpoint.sqlite", "langgraph-sqlite-full": "langgraph.checkpoint.sqlite",
              "crewai": "crewai"}[framework]
    python, install = _interpreter(framework)
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["not importable"])[-1]
        return {"skipped": f"{module} is not installed here ({last}); {install}"}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([python, "-m", "bench.peers", "--child", framework, "--steps", str(steps)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line.removeprefix("BENCH-RESULT "))
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return {"error": f"exit {proc.returncode}: {tail[-400:]}"}


def run(steps: int = 1000, only: tuple[str, ...] = FRAMEWORKS) -> dict[str, Any]:
    """Per-step overhead of each framework on the same chain, and conductor's ratio to each peer and the faster."""
    results: dict[str, Any] = {"workload": f"{AGENTS} agents x {steps} steps, sequential, zero-latency mock"}
    for framework in only:
        results[framework] = measure_one(framework, steps)
    full = results.get("conductor-full", {}).get("median_ms")
    normal = results.get("conductor", {}).get("median_ms")
    if full and normal:
        results["ratio_full_over_normal_durability"] = round(full / normal, 2)
    # Like for like: the same durability on both sides (each step committed before the next; "normal" survives
    # a crash of the process, "full" a power loss too).
    for ours_name, theirs_name in (("conductor", "langgraph-sqlite"), ("conductor-full", "langgraph-sqlite-full")):
        a = results.get(ours_name, {}).get("median_ms")
        b = results.get(theirs_name, {}).get("median_ms")
        if a and b:
            results[f"ratio_{ours_name}_over_{theirs_name}"] = round(a / b, 2)
    ours = results.get("conductor", {}).get("median_ms")
    peers = {f: results[f]["median_ms"] for f in ("langgraph", "crewai") if f in results and "median_ms" in results[f]}
    if ours and peers:
        for name, theirs in peers.items():
            results[f"ratio_conductor_over_{name}"] = round(ours / theirs, 2) if theirs else None
        faster = min(peers, key=lambda name: peers[name])
        results["faster_peer"] = faster
        results["target_ratio"] = 0.2
        results["target_met"] = ours <= 0.2 * peers[faster]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per agent (3 agents)")
    parser.add_argument("--only", choices=FRAMEWORKS, action="append")
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.steps)
        return
    print(json.dumps(run(args.steps, tuple(args.only or FRAMEWORKS)), indent=2))


if __name__ == "__main__":
    main()
