"""Putting an org file into the database, so every reader knows the ventures and agents it describes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conductor.engine.org_events import org_digest, org_loaded_event
from conductor.org import Org
from conductor.store import commit_events
from conductor.store.events import StoredEvent

__all__ = ["org_digest", "org_loaded_event", "record_org"]


def record_org(conn: sqlite3.Connection, org: Org, path: Path | str) -> StoredEvent | None:
    """Record the org in the log unless this exact content is already the one recorded."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'org.digest'").fetchone()
    if row is not None and row[0] == org_digest(org):
        return None
    return commit_events(conn, [org_loaded_event(org, path)])[0]
