"""The founder's desk: every command the control room sends, written as founder events on its own connection.

The commands are `conductor.services.founder`'s, the same ones the CLI uses; a scheduler in this process or
another picks them up from the database. Calls come from worker threads, one at a time under a lock, so the
UI thread never waits on SQLite's write lock.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from conductor.org.models import Org
from conductor.store import StoredEvent, open_database


def _founder() -> Any:
    """The founder services, imported on first use (they pull in the engine's contract), not at start-up."""
    from conductor.services import founder

    return founder


class FounderDesk:
    def __init__(self, db: Path, org: Org) -> None:
        self.db = Path(db)
        self.org = org
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = open_database(self.db, create=False, check_same_thread=False)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def approve(self, escalation_id: int, amended: dict[str, Any] | None = None) -> StoredEvent:
        with self._lock:
            return _founder().resolve_escalation(self._connection(), escalation_id, "approved", amended=amended or None,
                                              org=self.org)

    def reject(self, escalation_id: int, note: str) -> StoredEvent:
        with self._lock:
            return _founder().resolve_escalation(self._connection(), escalation_id, "rejected", note=note.strip())

    def snooze(self, escalation_id: int, span: timedelta) -> StoredEvent:
        with self._lock:
            return _founder().snooze_escalation(self._connection(), escalation_id, span)

    def respond(self, escalation_id: int, text: str) -> StoredEvent:
        with self._lock:
            return _founder().respond_to_escalation(self._connection(), escalation_id, text)

    def directive(self, venture: str, text: str) -> StoredEvent:
        with self._lock:
            return _founder().add_directive(self._connection(), venture, text)

    def pause(self, target: str | None, paused: bool) -> StoredEvent:
        with self._lock:
            return _founder().set_paused(self._connection(), target, paused)

    def wake(self, agent: str) -> StoredEvent:
        with self._lock:
            return _founder().wake_agent(self._connection(), agent)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Any other founder service taking the connection first (e.g. the brain's write actions)."""
        with self._lock:
            return fn(self._connection(), *args, **kwargs)
