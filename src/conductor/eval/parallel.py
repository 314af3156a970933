"""Running every (seed, arm) in worker processes with a progress bar: the evaluation's only concurrency.

Each run is a separate process with its own database, so runs share nothing but the machine; results come
back as plain data and are sorted by (seed, arm), so the report never depends on which run finished first.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from conductor.eval.run import run_one


def run_all(org_path: str, seeds: list[int], arms: list[str], days: int, workdir: Path, jobs: int,
            console: Console | None = None, skip: set[tuple[int, str]] | None = None) -> list[dict[str, Any]]:
    """Every arm on every seed (but the `skip` pairs); the full arm also replays the reference policies and
    grades attribution."""
    tasks = [(seed, arm) for seed in seeds for arm in arms if (seed, arm) not in (skip or set())]
    results: list[dict[str, Any]] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console or Console(stderr=True), transient=False)
    context = multiprocessing.get_context("spawn")
    with progress, ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        bar = progress.add_task(f"{len(seeds)} seeds × {len(arms)} arms, {days} days", total=len(tasks))
        futures = {pool.submit(run_one, org_path, seed, arm, days, str(workdir), arm == "full"): (seed, arm)
                   for seed, arm in tasks}
        for future in as_completed(futures):
            results.append(future.result())
            seed, arm = futures[future]
            progress.update(bar, advance=1, description=f"seed {seed} {arm} done")
    return sorted(results, key=lambda r: (r["seed"], arms.index(r["arm"])))
