"""The event writer commits on its own thread: another process's write lock is waited for there, not failed on."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

from conductor.store import EventWriter, NewEvent, open_database, open_reader


def note(n: int) -> NewEvent:
    return NewEvent(kind="test.note", payload={"n": n})


async def test_a_commit_waits_for_another_process_lock_instead_of_failing(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    async with EventWriter(db) as writer:
        first = await writer.append_one(note(0))
        other = open_database(db)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process is writing
            pending = asyncio.ensure_future(writer.append_one(note(1)))
            for _ in range(5):
                await asyncio.sleep(0)  # the writer's thread finds the lock taken and waits for it
            assert not pending.done(), "the append must wait for the lock, not fail"
            other.execute(
                "INSERT INTO events(ts, kind, payload) VALUES ('2025-01-01T00:00:00.000000Z', 'test.other', '{}')"
            )
            other.execute("COMMIT")
        finally:
            other.close()
        second = await pending
    conn = open_reader(db)
    try:
        rows = [(r["id"], r["kind"], json.loads(r["payload"])) for r in conn.execute("SELECT * FROM events ORDER BY id")]
    finally:
        conn.close()
    assert [r[1] for r in rows] == ["test.note", "test.other", "test.note"]
    ids = [r[0] for r in rows]
    assert ids[0] == first.id and ids[2] == second.id
    assert all(a < b for a, b in itertools.pairwise(ids))


async def test_payloads_with_non_ascii_text_and_lone_surrogates_round_trip(tmp_path: Path) -> None:
    payloads = [{"text": "déjà vu ✓"}, {"text": "bad \udcff text"}, {"b": 1, "a": [1, 2.5, None]}]
    async with EventWriter(tmp_path / "c.db") as writer:
        stored = await writer.append([NewEvent("test.note", p) for p in payloads])
    conn = open_reader(tmp_path / "c.db")
    try:
        texts = [r[0] for r in conn.execute("SELECT payload FROM events ORDER BY id")]
    finally:
        conn.close()
    assert [e.payload for e in stored] == payloads
    assert texts[0] == '{"text":"déjà vu ✓"}'
    assert json.loads(texts[1]) == {"text": "bad \udcff text"}
    assert texts[2] == '{"a":[1,2.5,null],"b":1}'
