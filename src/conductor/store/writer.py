"""Writing events: each event and its projection changes commit in one transaction.

`commit_events` is the one write path, used directly by short-lived commands (the CLI approving an escalation)
and, batched, by `EventWriter`, the single writer task of a long-running process. The writer implements group
commit: producers queue their events and each awaits its own commit, while the writer drains whatever has
queued into one `BEGIN IMMEDIATE` transaction. The batch runs as one call on the connection's own thread (as
aiosqlite runs each statement), so a batch of a thousand events costs one thread hop, not thousands.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from conductor.store.database import StoreError, _friendly, open_database
from conductor.store.events import NewEvent, StoredEvent, dump_payload, iso, utc_now
from conductor.store.projections import project

_INSERT = "INSERT INTO events(id, ts, sim_time, venture, agent, kind, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _apply(conn: sqlite3.Connection, events: Sequence[NewEvent], ts: str) -> list[StoredEvent]:
    """Insert a batch with one `executemany`, then its projections, grouping runs of the same statement.

    Ids are assigned here, under the write lock `BEGIN IMMEDIATE` holds, from the AUTOINCREMENT sequence, so
    they stay strictly increasing and are never reused, even after the newest rows are gone.
    """
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    first = (row[0] if row else 0) + 1
    stored = [
        StoredEvent(
            id=first + n, ts=ts, kind=e.kind, payload=e.payload, venture=e.venture, agent=e.agent, sim_time=e.sim_time
        )
        for n, e in enumerate(events)
    ]
    conn.executemany(
        _INSERT,
        [(s.id, ts, s.sim_time, s.venture, s.agent, s.kind, dump_payload(s.payload)) for s in stored],
    )
    pending_sql: str | None = None
    pending: list[tuple] = []
    for event in stored:
        for sql, params in project(event):
            if sql != pending_sql and pending:
                conn.executemany(pending_sql, pending)  # type: ignore[arg-type]
                pending = []
            pending_sql = sql
            pending.append(params)
    if pending:
        conn.executemany(pending_sql, pending)  # type: ignore[arg-type]
    return stored


def commit_events(
    conn: sqlite3.Connection,
    events: Sequence[NewEvent],
    *,
    now: Callable[[], datetime] = utc_now,
) -> list[StoredEvent]:
    """Append events and apply their projections atomically: all of them are committed, or none."""
    if not events:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = _apply(conn, events, iso(now()))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return stored


class EventWriter:
    """The one writer of a long-running process: queued events, group-committed, each producer awaiting its own."""

    def __init__(self, db: str | Path, *, now: Callable[[], datetime] = utc_now, max_batch: int = 4096) -> None:
        self._path = Path(db)
        self._now = now
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conductor-writer")
        self._queue: asyncio.Queue[tuple[Sequence[NewEvent], asyncio.Future[list[StoredEvent]]] | None] = (
            asyncio.Queue()
        )
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    async def start(self) -> EventWriter:
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(
            self._executor, lambda: open_database(self._path, check_same_thread=False)
        )
        self._task = asyncio.create_task(self._run(), name="conductor-event-writer")
        return self

    async def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Queue events and wait until they are committed; raises StoreError if they could not be."""
        if not events:
            return []
        if self._task is None or self._task.done():
            raise StoreError(f"{self._path}: the event writer is not running")
        future: asyncio.Future[list[StoredEvent]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((events, future))
        return await future

    async def append_one(self, event: NewEvent) -> StoredEvent:
        return (await self.append([event]))[0]

    def _commit_batch(self, batch: list[tuple[Sequence[NewEvent], asyncio.Future]]) -> list:
        """Runs on the writer thread. One transaction for the batch; on failure, each item alone."""
        assert self._conn is not None
        flat = [event for events, _ in batch for event in events]
        try:
            stored = commit_events(self._conn, flat, now=self._now)
        except Exception:  # retry each producer alone, so one bad event fails only its own producer
            results: list = []
            for events, _ in batch:
                try:
                    results.append(commit_events(self._conn, events, now=self._now))
                except sqlite3.Error as exc:
                    results.append(_friendly(self._path, exc))
                except Exception as exc:  # a bad payload fails only its own producer
                    results.append(exc)
            return results
        results, start = [], 0
        for events, _ in batch:
            results.append(stored[start : start + len(events)])
            start += len(events)
        return results

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch = [item]
            size = len(item[0])
            stop = False
            while size < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                size += len(nxt[0])
            try:
                results = await loop.run_in_executor(self._executor, self._commit_batch, batch)
            except Exception as exc:  # e.g. a payload that cannot be serialised: fail the batch's producers
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            self.batches += 1
            self.written += size
            if stop:
                return

    async def close(self) -> None:
        """Commit everything already queued, then close the connection."""
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> EventWriter:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
