"""The one SQLite file: an append-only event log plus the projections the product shows."""

from conductor.store.database import (
    DEFAULT_DB,
    ForeignDatabase,
    StoreError,
    friendly_error,
    inspection_connection,
    open_database,
    open_reader,
    resolve_db_path,
)
from conductor.store.events import NewEvent, OwnPayload, StoredEvent, iso, parse_iso, utc_now
from conductor.store.writer import EventWriter, commit_events

__all__ = [
    "DEFAULT_DB",
    "EventWriter",
    "ForeignDatabase",
    "NewEvent",
    "OwnPayload",
    "StoreError",
    "StoredEvent",
    "commit_events",
    "friendly_error",
    "inspection_connection",
    "iso",
    "open_database",
    "open_reader",
    "parse_iso",
    "resolve_db_path",
    "utc_now",
]
