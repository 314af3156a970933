"""Rebuilding projections from the events alone, to prove the tables hold nothing the log does not."""

from __future__ import annotations

import sqlite3

from conductor.store.database import _configure, _split_sql
from conductor.store.events import StoredEvent
from conductor.store.projections import project
from conductor.store.schema import MIGRATIONS, PROJECTION_TABLES


def rebuild_in_memory(source: sqlite3.Connection) -> sqlite3.Connection:
    """A fresh in-memory database at the current schema, with every event of `source` replayed into it."""
    target = sqlite3.connect(":memory:", isolation_level=None)
    _configure(target)
    for migration in MIGRATIONS:
        for statement in _split_sql(migration):
            target.execute(statement)
    target.execute("BEGIN")
    for row in source.execute("SELECT * FROM events ORDER BY id"):
        event = StoredEvent.from_row(row)
        for sql, params in project(event):
            target.execute(sql, params)
    target.execute("COMMIT")
    return target


def projection_rows(conn: sqlite3.Connection, table: str) -> list[tuple]:
    """A table's rows in a stable order, for comparing a live database with a rebuilt one."""
    if table not in PROJECTION_TABLES:
        raise ValueError(f"not a projection table: {table}")
    return sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}"))


def projection_differences(live: sqlite3.Connection) -> list[str]:
    """Names of the projection tables whose live rows differ from a rebuild from the events."""
    rebuilt = rebuild_in_memory(live)
    try:
        return [t for t in PROJECTION_TABLES if projection_rows(live, t) != projection_rows(rebuilt, t)]
    finally:
        rebuilt.close()
