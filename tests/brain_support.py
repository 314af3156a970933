"""Shared by the brain tests: one run of the brain-lab org per (days, seed, ablation), cached for the session.

The lab org (tests/orgs/brainlab.toml) is one venture of four agents on the simulated market and the simulated
model, so a run of a few simulated weeks takes seconds and involves no network.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import Org, load_org
from conductor.store import iso, open_database

LAB = Path(__file__).resolve().parent / "orgs" / "brainlab.toml"
_RUNS: dict[tuple[int, int, bool], Path] = {}


def lab_org(seed: int = 1) -> Org:
    """The lab org with another seed: the market's hidden parameters (and so the world) change with it."""
    org = load_org(LAB)
    ventures = [v.model_copy(update={"seed": None}) for v in org.ventures]
    return org.model_copy(update={"seed": seed, "ventures": ventures})


def run_lab(days: int, seed: int = 1, *, ablate: bool = False, db: Path | None = None) -> Path:
    """The database of a finished run (cached unless `db` is given)."""
    key = (days, seed, ablate)
    if db is None and key in _RUNS:
        return _RUNS[key]
    org = lab_org(seed)
    path = db or Path(tempfile.mkdtemp(prefix="conductor-brain-")) / "lab.db"
    open_database(path).close()
    engine = Engine(org, path, EngineOptions(until=org.start + timedelta(days=days), ablate_brief=ablate))
    asyncio.run(asyncio.wait_for(engine.run(), timeout=300))
    if db is None:
        _RUNS[key] = path
    return path


def success_in_last(db: Path, org: Org, days: int, last: int) -> tuple[float, int]:
    """(mean decision success, measured decisions) over decisions executed in the last `last` days."""
    conn = sqlite3.connect(db)
    try:
        cut = iso(org.start + timedelta(days=days - last))
        row = conn.execute(
            "SELECT avg(json_extract(outcome, '$.success')), count(*) FROM decisions "
            "WHERE outcome IS NOT NULL AND executed >= ?", (cut,)).fetchone()
    finally:
        conn.close()
    return float(row[0] or 0.0), int(row[1])
