"""Putting an org file into the database, so every reader knows the ventures and agents it describes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conductor.errors import BadInput
from conductor.org import Org
from conductor.org.record import ORG_LOADED, org_digest, org_loaded_payload
from conductor.store import NewEvent, commit_events
from conductor.store.events import StoredEvent

__all__ = ["org_digest", "org_loaded_event", "record_org", "seeded_for_database"]


def org_loaded_event(org: Org, path: Path | str, sim_time: str | None = None) -> NewEvent:
    """The `org.loaded` event that records the org's content, so every reader knows its ventures and agents."""
    return NewEvent(kind=ORG_LOADED, sim_time=sim_time, payload=org_loaded_payload(org, path))


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
    `--seed` takes the seed the first run recorded, and one whose markets would differ is refused, saying
    what would bring them back. Ventures added since keep the org's seeds; the earliest run that recorded
    seeds is the reference (databases from before seeds were recorded are not checked).
    """
    candidate = org.reseeded(seed) if seed is not None else org
    row = conn.execute(
        "SELECT payload FROM events WHERE kind = 'run.started' AND json_extract(payload, '$.market_seeds') IS NOT NULL "
        "ORDER BY id LIMIT 1").fetchone()
    if row is None:
        return candidate
    first = json.loads(row[0])
    recorded = first["market_seeds"] if isinstance(first.get("market_seeds"), dict) else {}

    def differing(o: Org) -> list[str]:
        return [k for k, v in o.market_seeds().items() if k in recorded and recorded[k] != v]

    if not differing(candidate):
        return candidate
    before = first.get("seed")
    if seed is None and isinstance(before, int) and not differing(org.reseeded(before)):
        return org.reseeded(before)
    if not differing(org):
        remedy = "resume it without --seed"
    elif isinstance(before, int) and not differing(org.reseeded(before)):
        remedy = f"resume it with --seed {before}"
    else:
        remedy = "restore those seeds in the org file"
    was = ", ".join(f"{k} {recorded[k]}" for k in differing(candidate))
    where = f"{db}: " if db else ""
    raise BadInput(f"{where}this run's markets were started with other seeds ({was}); {remedy}, or use another --db")
