"""Putting an org file into the database, so every reader knows the ventures and agents it describes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conductor.engine.org_events import org_digest, org_loaded_event
from conductor.errors import BadInput
from conductor.org import Org
from conductor.store import commit_events
from conductor.store.events import StoredEvent

__all__ = ["org_digest", "org_loaded_event", "record_org", "seeded_for_database"]


def record_org(conn: sqlite3.Connection, org: Org, path: Path | str) -> StoredEvent | None:
    """Record the org in the log unless this exact content is already the one recorded."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'org.digest'").fetchone()
    if row is not None and row[0] == org_digest(org):
        return None
    return commit_events(conn, [org_loaded_event(org, path)])[0]


def seeded_for_database(conn: sqlite3.Connection, org: Org, seed: int | None, db: Path | str = "") -> Org:
    """The org under the seed its database was started with, so that a resumed run replays the same markets.

    A run started with `--seed 8` and resumed without it would otherwise rebuild its markets from the file's
    seed: the metrics already in the log would no longer be what the markets say. So a resume without
    `--seed` takes the seed the first run recorded, and one with a different `--seed` is refused.
    """
    candidate = org.reseeded(seed) if seed is not None else org
    row = conn.execute("SELECT payload FROM events WHERE kind = 'run.started' ORDER BY id LIMIT 1").fetchone()
    first = json.loads(row[0]) if row is not None else {}
    recorded = first.get("market_seeds")
    if not isinstance(recorded, dict):
        return candidate  # a new database, or one written before seeds were recorded

    def agrees(o: Org) -> bool:
        return all(recorded[k] == v for k, v in o.market_seeds().items() if k in recorded)

    if agrees(candidate):
        return candidate
    if seed is None and isinstance(first.get("seed"), int) and agrees(org.reseeded(first["seed"])):
        return org.reseeded(first["seed"])
    where = f"{db}: " if db else ""
    started = f"--seed {first['seed']}" if isinstance(first.get("seed"), int) else "other market seeds"
    raise BadInput(f"{where}this run was started with {started}; resume it with the same seed, or use another --db")
