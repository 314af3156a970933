"""Reading the store from async code without touching SQLite on the event loop's thread.

A long-running process (the engine, the brain inside it) reads through `AsyncReader`, one aiosqlite connection:
aiosqlite runs the sqlite3 connection on a thread of its own, and each statement is one hop there and back, so
the loop never waits on SQLite's file I/O or holds the GIL through a long query. Writes go through
`store.writer.EventWriter`, the one writer connection.

The same queries also serve short-lived commands on a plain sqlite3 connection, and a query should be written
once. So a read that takes several statements is written as a *plan*: a generator that yields each `Query`
and is sent its rows back, then returns its result. `run_plan(conn, plan)` drives it on a sqlite3 connection;
`AsyncReader.run(plan)` drives it on the async reader. What a plan computes between its statements is plain
Python on the caller's side, and nothing about it depends on which driver ran it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from conductor.store.database import BUSY_TIMEOUT_MS, _friendly

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Query:
    """One statement of a plan and its parameters; the plan is sent back every row it returns."""

    sql: str
    params: Sequence[Any] = ()


# A read that takes several statements: yields each Query, is sent its rows (a list), returns its result.
Plan = Generator[Query, list[Any], T]


def run_plan(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Drive `plan` on a synchronous connection (a command's, or a thread's own)."""
    try:
        query = next(plan)
        while True:
            query = plan.send(conn.execute(query.sql, query.params).fetchall())
    except StopIteration as done:
        return done.value


def _can_open(path: str) -> None:
    """Open and close `path` as the reader's connection will (raises sqlite3's error if it cannot)."""
    sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000).close()


def one(rows: list[Any]) -> Any:
    """The first row of a result, or None (what `fetchone` would have returned)."""
    return rows[0] if rows else None


class AsyncReader:
    """The read connection of a long-running process: every statement runs on aiosqlite's thread.

    Rows are `sqlite3.Row`s (by index or by name). The connection only reads (`query_only`), so nothing can
    reach the log except through the writer; SQLite errors come back as one friendly `StoreError` line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> AsyncReader:
        """Connect; a file that cannot be opened is one `StoreError` line, and no thread is left behind.

        The file is opened once on a worker thread first: when aiosqlite's own connect fails, it stops its
        connection thread without waiting for it, and that thread, outliving the event loop of a command that
        exits on the error, would die with a traceback on stderr under the one line."""
        try:
            await asyncio.to_thread(_can_open, self.path)
            conn = await aiosqlite.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise _friendly(Path(self.path), exc) from exc
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise _friendly(Path(self.path), exc) from exc
            raise
        self._conn = conn
        return self

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one statement."""
        assert self._conn is not None, "the reader is not open"
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise _friendly(Path(self.path), exc) from exc

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one statement, or None."""
        return one(await self.rows(sql, params))

    async def run(self, plan: Plan[T]) -> T:
        """Drive `plan`, one hop to the reader's thread per statement."""
        try:
            query = next(plan)
            while True:
                query = plan.send(await self.rows(query.sql, query.params))
        except StopIteration as done:
            return done.value

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> AsyncReader:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
