"""The one SQLite file: an append-only event log plus the projections the product shows.

Names are imported on first use (PEP 562), so a module that needs one small part of the package (a duration
parser, a timestamp format) does not pay for the rest at start-up: `conductor status` imports only what it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conductor.lazy import lazy_exports

if TYPE_CHECKING:
    from conductor.store.database import (
        DEFAULT_DB,
        ForeignDatabase,
        StoreError,
        friendly_error,
        inspection_connection,
        note_clean_close,
        open_database,
        open_reader,
        resolve_db_path,
    )
    from conductor.store.events import NewEvent, OwnPayload, StoredEvent, iso, parse_iso, utc_now
    from conductor.store.reads import AsyncReader, Plan, Query, run_plan
    from conductor.store.writer import EventWriter, commit_events

_WHERE = {
    "DEFAULT_DB": "conductor.store.database",
    "ForeignDatabase": "conductor.store.database",
    "StoreError": "conductor.store.database",
    "friendly_error": "conductor.store.database",
    "inspection_connection": "conductor.store.database",
    "note_clean_close": "conductor.store.database",
    "open_database": "conductor.store.database",
    "open_reader": "conductor.store.database",
    "resolve_db_path": "conductor.store.database",
    "NewEvent": "conductor.store.events",
    "OwnPayload": "conductor.store.events",
    "StoredEvent": "conductor.store.events",
    "iso": "conductor.store.events",
    "parse_iso": "conductor.store.events",
    "utc_now": "conductor.store.events",
    "EventWriter": "conductor.store.writer",
    "AsyncReader": "conductor.store.reads",
    "Plan": "conductor.store.reads",
    "Query": "conductor.store.reads",
    "run_plan": "conductor.store.reads",
    "commit_events": "conductor.store.writer",
}

__all__ = [
    "DEFAULT_DB",
    "AsyncReader",
    "EventWriter",
    "ForeignDatabase",
    "NewEvent",
    "OwnPayload",
    "Plan",
    "Query",
    "StoreError",
    "StoredEvent",
    "commit_events",
    "friendly_error",
    "inspection_connection",
    "iso",
    "note_clean_close",
    "open_database",
    "open_reader",
    "parse_iso",
    "resolve_db_path",
    "run_plan",
    "utc_now",
]


__getattr__ = lazy_exports(__name__, _WHERE)
