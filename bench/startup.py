"""Start-up: does `conductor run` take longer to be running again on a log of 1,000,000 events than on 10,000?

Each database is a log of the engine's own event mix (`bench.store.engine_batches`, 20 ventures and 1,000
agents that are not the studio's, written straight into `events`) followed by a real three-day run of the
example studio on top of it, so the restart has a real org, real markets and real pending work. Then
`conductor run ORG --db FILE --days 3` is started again: the run is at its end time, so it recovers, records
`run.started` and stops. What is timed is launch to `run.started` committed (that event's wall-clock `ts`):
process start, imports, opening and checking the database, the litellm preload, and loading the engine's
working memory. The summary printed after the run is not start-up and is not timed.

The engine's working memory holds the decisions any rule may still read: those of the last half year or so
(`EngineState.memory_days`: attribution reads that far back). So two things could make a start slower, and
the databases separate them:
- `small`: 10,000 events of that mix, ending the day before the studio's run;
- `big`: 990,000 events more than a year older, then the same 10,000: a longer log, the same recent work
  (the question of this benchmark: does start-up grow with the log?);
- `big_recent`: 1,000,000 events, all in the 200 days before the studio's run: the same length with a hundred
  times the recent work (25,000 decisions still within reach), which start-up does grow with.

Two ways of starting, each on every database, alternated in one run so machine load falls on all alike:
- with the start-up snapshot beside the database (`conductor.engine.snapshot`, what a user gets);
- with the snapshot deleted before each start, so the whole log is folded (what every start did before).

Ratios (big / small, big_recent / small) of medians are the figures. What it misses: a cold page cache (the
files have just been written; an open skips the full check of a file its last run closed cleanly, but reads
what it needs from a cold disk slower).

    python -m bench.startup [--small 10000] [--big 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.store import write_log
from conductor.engine.snapshot import snapshot_path
from conductor.org import load_org
from conductor.store.events import parse_iso

STUDIO = ROOT / "orgs" / "studio.toml"
DAYS = "3"


def _run(db: Path, env: dict[str, str]) -> float:
    """One `conductor run` to the end time; seconds from launch to its `run.started` being committed."""
    launched = datetime.now(UTC)
    subprocess.run([sys.executable, "-m", "conductor", "run", str(STUDIO), "--db", str(db), "--days", DAYS],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    conn = sqlite3.connect(db)
    try:
        (ts,) = conn.execute("SELECT ts FROM events WHERE kind = 'run.started' ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (parse_iso(ts) - launched).total_seconds()


def _events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


EVENTS_PER_DAY = 5_000  # the mix: 1,000 agents, most of them waking once a simulated day


def run(small: int = 10_000, big: int = 1_000_000, repeats: int = 5) -> dict[str, Any]:
    origin = load_org(STUDIO).start
    recent = origin - timedelta(days=1 + small // EVENTS_PER_DAY)
    layouts = {
        "small": [(small, recent)],
        "big": [(big - small, origin - timedelta(days=400 + (big - small) // EVENTS_PER_DAY)), (small, recent)],
        "big_recent": [(big, origin - timedelta(days=1 + big // EVENTS_PER_DAY))],
    }
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = {**os.environ, "XDG_STATE_HOME": str(Path(tmp) / "state")}
        dbs = {}
        for name, parts in layouts.items():
            db = Path(tmp) / f"{name}.db"
            for events, start in parts:
                write_log(db, events, start=start)
            _run(db, env)  # the real run on top (its first start folds the whole filler and keeps a snapshot)
            dbs[name] = db
        timings: dict[str, list[float]] = {f"{how}_{name}": [] for how in ("snapshot", "full_fold") for name in dbs}
        for _ in range(repeats):
            for name, db in dbs.items():
                timings[f"snapshot_{name}"].append(_run(db, env))
            for name, db in dbs.items():
                snapshot_path(db).unlink(missing_ok=True)
                timings[f"full_fold_{name}"].append(_run(db, env))
        sizes = {name: _events(db) for name, db in dbs.items()}
        snapshot_bytes = {name: snapshot_path(db).stat().st_size for name, db in dbs.items()}
    medians = {key: round(statistics.median(values), 3) for key, values in timings.items()}
    return {
        "events": sizes,
        "snapshot_bytes": snapshot_bytes,
        "repeats": repeats,
        "median_s": medians,
        "ratio_big_over_small_with_snapshot": round(medians["snapshot_big"] / medians["snapshot_small"], 2),
        "ratio_big_recent_over_small_with_snapshot": round(
            medians["snapshot_big_recent"] / medians["snapshot_small"], 2),
        "ratio_big_over_small_full_fold": round(medians["full_fold_big"] / medians["full_fold_small"], 2),
        "all_s": {key: [round(v, 3) for v in values] for key, values in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.small, args.big, args.repeats), indent=2))


if __name__ == "__main__":
    main()
