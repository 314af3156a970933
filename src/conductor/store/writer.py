"""Writing events: each event and its projection changes commit in one transaction.

`commit_events` is the one write path, used directly by short-lived commands (the CLI approving an escalation)
and, batched, by `EventWriter`, the single writer task of a long-running process. The writer implements group
commit: producers queue their events and each awaits its own commit, while the writer drains whatever has
queued into one `BEGIN IMMEDIATE` transaction.

Every batch commits on the writer's thread, never on the event loop's: a long-running process does no SQLite
work on its loop at all (reads go through `store.reads.AsyncReader`). A transaction here is one hop to that
thread and back, however many statements it takes. aiosqlite, which the reads use, runs each statement as a
hop of its own: a typical batch (begin, the id sequence, the events, four or five projection statements,
commit) measured 1.1 ms that way against 0.35 ms as one hop, so the writer keeps its own thread and
connection. Waiting for another process's write lock happens there too, blocking nobody. Checkpoints, the
only step that syncs to disk in WAL mode with `synchronous = NORMAL`, are taken on the same thread: the
connection does not checkpoint on commit, and the writer runs a passive checkpoint every `checkpoint_every`
events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Literal

from conductor.redaction import redact_payload, refresh_credentials
from conductor.store.database import StoreError, _friendly, open_database
from conductor.store.events import NewEvent, OwnPayload, StoredEvent, dump_payload, iso, utc_now
from conductor.store.projections import project

_INSERT = "INSERT INTO events(id, ts, sim_time, venture, agent, kind, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"


_TABLE = re.compile(r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+([\w\"]+)", re.I)
_tables: dict[str, str | None] = {}
# One encoder, built once: `json.dumps` builds a new one on every call. Same output as `dump_payload`.
_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str).encode


def _dump(payload: dict) -> str:
    text = _encode(payload)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates a model may have produced: the careful path escapes them
            return dump_payload(payload)
    return text


def _safe(payload: dict) -> tuple[dict, str]:
    """The payload as it may be stored, and its JSON: any credential in any of its strings redacted.

    This is the one door into the log, so text from outside (answers, provider errors, command output, metric
    sources) cannot reach the database, the views or an export without passing it, whoever produced the event.
    """
    dumped = _dump(payload)
    cleaned = redact_payload(payload, dumped, own=type(payload) is OwnPayload)
    return (payload, dumped) if cleaned is None else (cleaned, _dump(cleaned))


def _table_of(sql: str) -> str | None:
    """The one table a projection statement writes, or None when it cannot be told (then it is a barrier)."""
    try:
        return _tables[sql]
    except KeyError:
        match = _TABLE.match(sql)
        table = match.group(1).strip('"').lower() if match else None
        _tables[sql] = table
        return table


def _run_projections(conn: sqlite3.Connection, stored: Sequence[StoredEvent]) -> None:
    """Apply the batch's projection statements with as few `executemany` calls as order allows.

    Projection statements each write one table and read no other, so statements on different tables commute;
    on one table their order is kept, and each run of the same statement becomes one `executemany`. A
    statement whose table cannot be told flushes everything before it, keeping the order exactly.
    """
    runs: dict[str, list[tuple[str, list[tuple]]]] = {}

    def flush() -> None:
        for table_runs in runs.values():
            for sql, rows in table_runs:
                conn.executemany(sql, rows)
        runs.clear()

    for event in stored:
        for sql, params in project(event):
            table = _table_of(sql)
            if table is None:
                flush()
                conn.execute(sql, params)
                continue
            table_runs = runs.setdefault(table, [])
            if table_runs and table_runs[-1][0] == sql:
                table_runs[-1][1].append(params)
            else:
                table_runs.append((sql, [params]))
    flush()


def _apply(conn: sqlite3.Connection, events: Sequence[NewEvent], ts: str) -> list[StoredEvent]:
    """Insert a batch with one `executemany`, then its projections (see `_run_projections`), credentials redacted.

    Ids are assigned here, under the write lock `BEGIN IMMEDIATE` holds, from the AUTOINCREMENT sequence, so
    they stay strictly increasing and are never reused, even after the newest rows are gone.
    """
    # Imported here, not with the module: read commands import the store and never write, and the catalogue's
    # forty pydantic models cost them ~30 ms of start-up (`conductor status` should answer in 0.3 s).
    from conductor.events import check as check_payload

    for e in events:
        check_payload(e.kind, e.payload)  # a known kind's payload must fit its model (conductor.events)
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    first = (row[0] if row else 0) + 1
    safe = [_safe(e.payload) for e in events]
    stored = [
        StoredEvent(
            id=first + n, ts=ts, kind=e.kind, payload=payload, venture=e.venture, agent=e.agent, sim_time=e.sim_time
        )
        for n, (e, (payload, _)) in enumerate(zip(events, safe, strict=True))
    ]
    conn.executemany(
        _INSERT,
        [(s.id, ts, s.sim_time, s.venture, s.agent, s.kind, dumped) for s, (_, dumped) in zip(stored, safe, strict=True)],
    )
    _run_projections(conn, stored)
    return stored


def commit_events(
    conn: sqlite3.Connection,
    events: Sequence[NewEvent],
    *,
    now: Callable[[], datetime] = utc_now,
    guard: Callable[[sqlite3.Connection], object] | None = None,
) -> list[StoredEvent]:
    """Append events and apply their projections atomically: all of them are committed, or none.

    `guard` runs inside the write transaction, before anything is written, and may raise to write nothing:
    a check that must still hold when the events land (an escalation still pending) cannot go stale there.
    """
    if not events:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        if guard is not None:
            guard(conn)
        stored = _apply(conn, events, iso(now()))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return stored


class EventWriter:
    """The one writer of a long-running process: queued events, group-committed, each producer awaiting its own."""

    def __init__(
        self,
        db: str | Path,
        *,
        now: Callable[[], datetime] = utc_now,
        max_batch: int = 4096,
        checkpoint_every: int = 20_000,
        synchronous: Literal["normal", "full"] = "normal",
    ) -> None:
        self._path = Path(db)
        self._now = now
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._checkpoint_every = checkpoint_every
        self._since_checkpoint = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="conductor-writer")
        self._queue: asyncio.Queue[tuple[Sequence[NewEvent], asyncio.Future[list[StoredEvent]]] | None] = (
            asyncio.Queue()
        )
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    def _open(self) -> sqlite3.Connection:
        conn = open_database(self._path, check_same_thread=False)
        conn.execute(f"PRAGMA synchronous = {self._synchronous.upper()}")
        # Commits never checkpoint (the one step that syncs to disk): the writer runs one now and then, see _run.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn

    async def start(self) -> EventWriter:
        refresh_credentials()  # the credentials of the environment this run was started with
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, self._open)
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
        """Runs on the writer thread: one transaction for the batch; on failure, each item alone. Waiting for
        another process's write lock (up to the busy timeout) blocks nobody here."""
        assert self._conn is not None
        flat = [event for events, _ in batch for event in events]
        try:
            stored = commit_events(self._conn, flat, now=self._now)
        except Exception:
            return self._one_by_one(batch)
        results, start = [], 0
        for events, _ in batch:
            results.append(stored[start : start + len(events)])
            start += len(events)
        return results

    def _one_by_one(self, batch: list[tuple[Sequence[NewEvent], asyncio.Future]]) -> list:
        """Retry each producer alone, so one bad event fails only its own producer."""
        assert self._conn is not None
        results: list = []
        for events, _ in batch:
            try:
                results.append(commit_events(self._conn, events, now=self._now))
            except sqlite3.Error as exc:
                results.append(_friendly(self._path, exc))
            except Exception as exc:  # a bad payload fails only its own producer
                results.append(exc)
        return results

    def _checkpoint(self) -> None:
        """Runs on the writer thread: copy the log back into the database, never waiting for readers."""
        assert self._conn is not None
        with contextlib.suppress(sqlite3.Error):  # housekeeping: the next checkpoint catches up
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

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
            self._since_checkpoint += size
            if self._since_checkpoint >= self._checkpoint_every:
                self._since_checkpoint = 0
                await loop.run_in_executor(self._executor, self._checkpoint)
            if stop:
                return

    async def close(self) -> None:
        """Commit everything already queued, then close the connection (SQLite checkpoints on the last close)."""
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
