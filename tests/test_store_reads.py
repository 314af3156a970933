"""The async reader and read plans: one query plan, the same answer on a command's connection and on the engine's
async reader; the reader never writes and reports SQLite's errors as one line naming the file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from conductor.store import AsyncReader, NewEvent, Plan, Query, StoreError, commit_events, open_database, run_plan


def notes_and_total(after: int) -> Plan[tuple[list[int], int]]:
    """Two statements, the second built from the first's rows: what a plan is for."""
    ids = [r[0] for r in (yield Query("SELECT id FROM events WHERE id > ? ORDER BY id", (after,)))]
    marks = ",".join("?" * len(ids)) or "NULL"
    total = (yield Query(f"SELECT count(*) FROM events WHERE id IN ({marks})", ids))[0][0]
    return ids, total


def empty() -> Plan[str]:
    """A plan that needs no statement at all."""
    return "nothing to read"
    yield Query("SELECT 1")  # pragma: no cover - makes this a generator


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    conn = open_database(path)
    try:
        commit_events(conn, [NewEvent("test.note", {"n": n}) for n in range(5)])
    finally:
        conn.close()
    return path


async def test_a_plan_gives_the_same_answer_on_both_connections(db: Path) -> None:
    conn = open_database(db)
    try:
        expected = run_plan(conn, notes_and_total(2))
        assert run_plan(conn, empty()) == "nothing to read"
    finally:
        conn.close()
    async with AsyncReader(db) as reader:
        assert await reader.run(notes_and_total(2)) == expected == ([3, 4, 5], 3)
        assert await reader.run(empty()) == "nothing to read"
        row = await reader.row("SELECT id, kind FROM events ORDER BY id DESC LIMIT 1")
        assert (row["id"], row["kind"]) == (5, "test.note")  # rows by name as well as by index
        assert await reader.row("SELECT id FROM events WHERE id > 99") is None


async def test_the_reader_never_writes_and_says_so_in_one_line(db: Path) -> None:
    async with AsyncReader(db) as reader:
        with pytest.raises(StoreError, match=r"r\.db: .*read-only|r\.db: database error"):
            await reader.rows("INSERT INTO meta(key, value) VALUES ('written', 'by the reader')")
        with pytest.raises(StoreError, match=r"r\.db: database error: no such table: nowhere"):
            await reader.rows("SELECT * FROM nowhere")
    conn = open_database(db)
    try:
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'written'").fetchone()[0] == 0
    finally:
        conn.close()


async def test_a_file_the_reader_cannot_open_is_one_line(tmp_path: Path) -> None:
    def workers() -> set[int | None]:
        return {t.ident for t in threading.enumerate() if t.is_alive() and "_connection_worker_thread" in t.name}

    before = workers()
    with pytest.raises(StoreError, match=r"nowhere/r\.db: cannot open the database file"):
        await AsyncReader(tmp_path / "nowhere" / "r.db").open()
    # No connection thread is left to outlive the loop (it would die with a traceback when the loop closes).
    assert workers() == before
