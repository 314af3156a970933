"""`python -m bench`: every benchmark, each in a fresh interpreter, as rich tables and bench/results.json.

    python -m bench                 # everything (under 10 minutes on 2 cores)
    python -m bench --quick         # small sizes, for a quick look (about a minute or two)
    python -m bench --only peers --only store

A benchmark whose module or optional dependencies are missing is skipped with a note, never failed: the
peers need the `bench` extra (`pip install -e '.[bench]'`), the context and UI benchmarks come with their
features. Each runs in its own process so that peak memory, imports and global settings are its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine

RESULTS = Path(__file__).with_name("results.json")

# name -> (module, full-size arguments, quick arguments, what it answers)
BENCHMARKS: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
    "peers": ("bench.peers", {"steps": 1000}, {"steps": 100},
              "per-step overhead against LangGraph and CrewAI (3 agents x N steps, zero-latency mock)"),
    "engine_scale": ("bench.engine_scale", {"agents": 200, "latency_ms": 50, "concurrency": 32},
                     {"agents": 200, "latency_ms": 50, "concurrency": 32},
                     "issue 3 acceptance 5: 200 agents, 50 ms, concurrency 32, against the ideal"),
    "http_scale": ("bench.http_scale", {"agents": 200, "latency_ms": 50, "concurrency": 32, "workers": 2},
                   {"agents": 200, "latency_ms": 50, "concurrency": 32, "workers": 2, "repeats": 3},
                   "issue 20 acceptance 4: 200 agents, 50 ms, 32 in flight over real HTTP; litellm alone, the "
                   "engine, the engine with 2 model workers"),
    "scale": ("bench.scale", {"agents": 1000, "ventures": 20, "wakes": 10, "latency_ms": 50, "concurrency": 64},
              {"agents": 200, "ventures": 10, "wakes": 3, "latency_ms": 50, "concurrency": 64},
              "1,000 agents, 20 ventures, 10 wake-ups each, 50 ms, concurrency 64"),
    "store": ("bench.store", {"events": 100_000, "rebuild_events": 1_000_000},
              {"events": 20_000, "rebuild_events": 100_000},
              "events appended per second, rebuild of 1,000,000 events, size per 100,000 events"),
    "context_cost": ("bench.context_cost", {}, {"quick": True},
                     "tokens per wake-up and assembly time at 100 / 1k / 10k / 100k memories"),
    "prompt_cache": ("bench.prompt_cache", {"days": 60}, {"days": 10},
                     "issue 20 acceptance 1: prompt prefix shared by consecutive wake-ups, the org-wide system block"),
    "ui_latency": ("bench.ui_latency", {}, {"presses": 10},
                   "launch to first frame; keypress to frame while 200 events/s arrive"),
    "startup": ("bench.startup", {"small": 10_000, "big": 1_000_000, "repeats": 3},
                {"small": 2_000, "big": 20_000, "repeats": 1},
                "`conductor run` start-up on 10,000 and 1,000,000 events, with and without the start-up snapshot"),
    "metric_import": ("bench.metric_import", {"rows": 10_000}, {"rows": 2_000},
                      "`metric import` of a 10,000-row CSV file, and of the same file again"),
}

_RUNNER = """
import inspect, json, sys
import bench.common
module = __import__(sys.argv[1], fromlist=["run"])
wanted = json.loads(sys.argv[2])
accepted = inspect.signature(module.run).parameters
kwargs = {k: v for k, v in wanted.items() if k in accepted}
print("BENCH-RESULT " + json.dumps(module.run(**kwargs), default=str), flush=True)
"""


def run_one(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    module, full, small, _ = BENCHMARKS[name]
    if importlib.util.find_spec(module) is None:
        return {"skipped": f"{module} does not exist yet"}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "src"),
                                                                      os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", _RUNNER, module, json.dumps(small if quick else full)],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line.removeprefix("BENCH-RESULT "))
            if isinstance(result, dict):
                result.setdefault("bench_seconds", round(time.perf_counter() - started, 1))
            return result
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
    return {"error": f"exit {proc.returncode}: {tail[-500:]}"}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _rows(result: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten one level of nesting into `outer.inner` rows, so a table shows every figure."""
    rows: list[tuple[str, str]] = []
    for key, value in result.items():
        if isinstance(value, dict) and value and all(not isinstance(v, dict) for v in value.values()):
            rows += [(f"{prefix}{key}.{k}", _cell(v)) for k, v in value.items()]
        elif isinstance(value, dict):
            rows += _rows(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            rows += [(f"{prefix}{key}[{i}]", ", ".join(f"{k}={_cell(round(v, 3) if isinstance(v, float) else v)}"
                                                      for k, v in item.items())) for i, item in enumerate(value)]
        else:
            rows.append((f"{prefix}{key}", _cell(value)))
    return rows


def _get(result: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, measured, met, note) for each target of issue 9 that this run measured."""
    out: list[tuple[str, str, str, str]] = []

    def add(what: str, measured: Any, met: bool | None, note: str = "") -> None:
        if measured is None:
            return
        out.append((what, _cell(measured), "-" if met is None else ("yes" if met else "NO"), note))

    peers = results.get("peers", {})
    ours = _get(peers, "conductor", "median_ms")
    faster = peers.get("faster_peer")
    if ours is not None and faster:
        theirs = _get(peers, faster, "median_ms")
        add(f"per-step overhead <= 1/5 of {faster}", f"{ours} ms vs {theirs} ms", peers.get("target_met"),
            f"ratio {round(ours / theirs, 2) if theirs else '-'} (target 0.2)")
    for ours_name, theirs_name, what in (("conductor", "langgraph-sqlite", "normal"),
                                         ("conductor-full", "langgraph-sqlite-full", "full")):
        ratio = peers.get(f"ratio_{ours_name}_over_{theirs_name}")
        add(f"per step <= LangGraph + SQLite checkpointer, synchronous {what}", ratio,
            None if ratio is None else ratio <= 1.0,
            f"{_get(peers, ours_name, 'median_ms')} ms vs {_get(peers, theirs_name, 'median_ms')} ms")
    es = results.get("engine_scale", {})
    add("200 agents / 50 ms / c=32 at >= 90% of ideal", es.get("ideal_over_wall"),
        None if es.get("ideal_over_wall") is None else es["ideal_over_wall"] >= 0.9,
        f"litellm alone reaches {es.get('litellm_alone_ideal_over_wall')}; CPU {es.get('cpu_per_call_ms')} ms/call, "
        f"budget {es.get('cpu_budget_per_call_ms')} ms")
    hs = results.get("http_scale", {})
    ratio = hs.get("engine_over_litellm_alone")
    add("HTTP, one process: engine >= 90% of litellm alone", ratio, None if ratio is None else ratio >= 0.9,
        f"ideal ratios: litellm {hs.get('litellm_alone_ideal_over_wall')}, engine {hs.get('engine_ideal_over_wall')}")
    gain = hs.get("workers_over_engine")
    add(f"HTTP, {hs.get('workers')} model workers >= 1.5x one process", gain, None if gain is None else gain >= 1.5,
        f"engine with workers at {hs.get('engine_workers_ideal_over_wall')} of ideal")
    sc = results.get("scale", {})
    add("scale within 10% of ideal", sc.get("ideal_over_wall"),
        None if sc.get("ideal_over_wall") is None else sc["ideal_over_wall"] >= 0.9,
        f"CPU {sc.get('cpu_per_call_ms')} ms/call, budget {sc.get('cpu_budget_per_call_ms')} ms")
    add("scale peak memory < 1 GB", f"{sc.get('peak_rss_mb')} MB" if sc.get("peak_rss_mb") else None,
        None if sc.get("peak_rss_mb") is None else sc["peak_rss_mb"] < 1024)
    st = results.get("store", {})
    many = _get(st, "append_engine_64_producers", "events_per_s")
    add(">= 100,000 events/s appended (engine mix)", many, None if many is None else many >= 100_000,
        f"log-only {_cell(_get(st, 'append_log_only_64_producers', 'events_per_s'))}/s")
    ctx = results.get("context_cost", {})
    spread = ctx.get("brief_spread")
    add("flat tokens per wake-up (largest within 10% of smallest)",
        None if spread is None else f"brief +{spread:.1%}, prompt +{ctx.get('prompt_spread', 0):.1%}",
        ctx.get("flat_within_10pct"), f"never over budget: {ctx.get('never_over_budget')}")
    pc = results.get("prompt_cache", {})
    share = pc.get("prefix_share_pooled")
    add("consecutive wake-ups share >= 70% of prompt tokens as a prefix", share,
        None if share is None else share >= 0.70,
        f"median {pc.get('prefix_share_median')}, p10 {pc.get('prefix_share_p10')}, over {pc.get('days')} days")
    block = pc.get("system_block_tokens")
    add("one org-wide system block >= 1,024 tokens", None if block is None else f"{pc.get('system_blocks')} block(s), "
        f"{block} tokens", None if block is None else (block >= 1024 and pc.get("system_blocks") == 1))
    ui = results.get("ui_latency", {})
    first = ui.get("launch_to_first_frame_s")
    add("first frame < 1 s", first, None if first is None else first < 1.0, "conductor attach, median")
    key = ui.get("keypress_to_frame_ms_median")
    add("keypress-to-frame < 50 ms median", key, None if key is None else key < 50,
        f"p95 {ui.get('keypress_to_frame_ms_p95')} ms at {ui.get('events_per_s')} events/s")
    return out


def print_tables(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # piped to a file: wide enough that every figure stays on one line
        console = Console(width=110)
    info = results["machine"]
    console.print(f"[bold]conductor benchmarks[/] {info['date']}: {info['nproc']} x {info['cpu']}, "
                  f"Python {info['python']}, load {info['load_average']}")
    for name, result in results["benchmarks"].items():
        table = Table(title=f"{name}: {BENCHMARKS[name][3]}", title_justify="left", show_header=False)
        table.add_column("figure", style="cyan")
        table.add_column("value", justify="right")
        for key, value in _rows(result):
            table.add_row(key, value)
        console.print(table)
    summary = Table(title="targets (reported, not asserted)", title_justify="left")
    for column in ("target", "measured", "met", "note"):
        summary.add_column(column)
    for row in targets(results["benchmarks"]):
        summary.add_row(*row, style="red" if row[2] == "NO" else None)
    console.print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a quick look")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), help="run only this (repeatable)")
    parser.add_argument("--timeout", type=float, default=420, help="seconds one benchmark may take")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "benchmarks": {}}
    started = time.perf_counter()
    for name in args.only or list(BENCHMARKS):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results["benchmarks"][name] = run_one(name, args.quick, args.timeout)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = [dict(zip(("target", "measured", "met", "note"), row, strict=True))
                          for row in targets(results["benchmarks"])]
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_tables(results)
    print(f"wrote {args.output} in {results['total_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
