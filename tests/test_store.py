"""The event store: safe opening, atomic append-only writes, group commit, rebuildable projections."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import conductor.store.database as database
from conductor.errors import BadInput, ConductorError
from conductor.events import PayloadError
from conductor.org import load_org
from conductor.services.setup import org_loaded_event, record_org
from conductor.store import (
    DEFAULT_DB,
    EventWriter,
    ForeignDatabase,
    NewEvent,
    StoredEvent,
    StoreError,
    commit_events,
    open_database,
    open_reader,
    resolve_db_path,
)
from conductor.store.database import migrate
from conductor.store.rebuild import projection_differences, rebuild_in_memory
from conductor.store.schema import APPLICATION_ID, MIGRATIONS, PROJECTION_TABLES, SCHEMA_VERSION

MINIMAL = Path(__file__).parent / "orgs" / "minimal.toml"


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "conductor.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(db_path)
    try:
        yield connection
    finally:
        connection.close()


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def event_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def note(n: int = 0, **extra: object) -> NewEvent:
    """An event kind with no projection: logged, changes no table."""
    return NewEvent(kind="test.note", payload={"n": n, **extra})


def bad_event() -> NewEvent:
    """Serialisable, but refused inside the write transaction: decision.proposed needs a "kind" key (its
    catalogue model, `conductor.events`, says so before its projection would raise KeyError)."""
    return NewEvent(kind="decision.proposed", payload={"params": {}}, venture="solo", agent="solo-ceo")


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def sidecars(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")) if p.exists()]


# --- opening a new database ---------------------------------------------------------------------------------


def test_new_database_is_wal_versioned_and_has_every_table(db_path: Path) -> None:
    assert not db_path.exists()
    conn = open_database(db_path)
    try:
        assert db_path.exists()
        assert str(pragma(conn, "journal_mode")).lower() == "wal"
        assert pragma(conn, "user_version") == SCHEMA_VERSION
        assert pragma(conn, "application_id") == APPLICATION_ID
        assert pragma(conn, "busy_timeout") == database.BUSY_TIMEOUT_MS
        present = tables(conn)
        assert "events" in present
        assert set(PROJECTION_TABLES) <= present
        assert event_count(conn) == 0
    finally:
        conn.close()


def test_opening_twice_is_idempotent(db_path: Path) -> None:
    first = open_database(db_path)
    stored = commit_events(first, [note(1)])
    schema_before = sorted(tuple(r) for r in first.execute("SELECT type, name, sql FROM sqlite_master"))
    first.close()

    second = open_database(db_path)
    try:
        assert pragma(second, "user_version") == SCHEMA_VERSION
        assert pragma(second, "application_id") == APPLICATION_ID
        assert (
            sorted(tuple(r) for r in second.execute("SELECT type, name, sql FROM sqlite_master"))
            == schema_before
        )
        assert [r["id"] for r in second.execute("SELECT id FROM events")] == [stored[0].id]
        # And a second connection alongside the first one is fine too.
        third = open_database(db_path)
        assert pragma(third, "user_version") == SCHEMA_VERSION
        third.close()
    finally:
        second.close()


def test_empty_file_is_adopted_as_a_new_database(db_path: Path) -> None:
    db_path.write_bytes(b"")
    conn = open_database(db_path)
    try:
        assert pragma(conn, "user_version") == SCHEMA_VERSION
        assert pragma(conn, "application_id") == APPLICATION_ID
        assert "events" in tables(conn)
    finally:
        conn.close()
    assert db_path.stat().st_size > 0


def test_missing_directory_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "conductor.db"
    with pytest.raises(BadInput) as info:
        open_database(path)
    assert info.value.exit_code == 2
    assert str(path) in str(info.value)
    assert not path.parent.exists()


def test_create_false_on_missing_file_is_bad_input(db_path: Path) -> None:
    with pytest.raises(BadInput, match="no conductor database"):
        open_database(db_path, create=False)
    assert not db_path.exists()


def test_directory_as_database_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is a directory"):
        open_database(tmp_path)


# --- foreign files are left untouched -----------------------------------------------------------------------


def _make_text(path: Path) -> None:
    path.write_text("name = 'not a database'\nthis is someone's notes file\n", encoding="utf-8")


def _make_random(path: Path) -> None:
    path.write_bytes(random.Random(1234).randbytes(8192))


def _make_other_app(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE x (a INTEGER)")
    raw.execute("INSERT INTO x VALUES (42)")
    raw.commit()
    raw.close()


def _make_other_application_id(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 0x12345678")
    raw.execute("CREATE TABLE y (b TEXT)")
    raw.commit()
    raw.close()


def _make_newer_conductor(path: Path) -> None:
    ours = open_database(path)
    commit_events(ours, [note(7)])
    ours.close()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    assert not sidecars(path), "closing the last connection should have checkpointed the WAL away"


FOREIGN: dict[str, tuple[Callable[[Path], None], str]] = {
    "text": (_make_text, "not a SQLite database"),
    "random_bytes": (_make_random, "not a SQLite database"),
    "other_app_tables": (_make_other_app, "not conductor's"),
    "other_application_id": (_make_other_application_id, "another application"),
    "newer_conductor": (_make_newer_conductor, "newer conductor"),
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_file_is_refused_and_left_byte_identical(tmp_path: Path, kind: str) -> None:
    make, reason = FOREIGN[kind]
    path = tmp_path / "precious.db"
    make(path)
    before = snapshot(path)

    with pytest.raises(ForeignDatabase) as info:
        open_database(path)

    error = info.value
    assert error.exit_code == 2
    assert isinstance(error, BadInput)
    assert str(path) in str(error)
    assert reason in str(error)
    assert "\n" not in str(error)
    assert snapshot(path) == before
    if kind in ("text", "random_bytes"):
        assert not sidecars(path)

    # The read-only opener refuses it the same way, still without touching it.
    with pytest.raises(ForeignDatabase):
        open_reader(path)
    assert snapshot(path) == before


def test_foreign_application_id_without_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty_other.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA application_id = 7")
    raw.execute("VACUUM")  # writes the header, no tables
    raw.close()
    before = snapshot(path)
    with pytest.raises(ForeignDatabase, match="application_id 0x7"):
        open_database(path)
    assert snapshot(path) == before


# --- permissions and locks ----------------------------------------------------------------------------------


def _directory_is_writable_despite_mode(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


def test_read_only_directory_gives_a_one_line_store_error(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if _directory_is_writable_despite_mode(locked):
            pytest.skip("running with privileges that ignore directory permissions (root)")
        path = locked / "conductor.db"
        with pytest.raises(ConductorError) as info:
            open_database(path)
        error = info.value
        assert isinstance(error, StoreError)
        assert not isinstance(error, sqlite3.Error)
        assert error.exit_code == 1
        assert str(path) in str(error)
        assert "\n" not in str(error)
    finally:
        locked.chmod(stat.S_IRWXU)


def test_open_reader_cannot_write(db_path: Path) -> None:
    writer = open_database(db_path)
    commit_events(writer, [note(1)])
    writer.close()

    reader = open_reader(db_path)
    try:
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("CREATE TABLE sneaky (a)")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("PRAGMA user_version = 99")
        assert reader.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        reader.close()
    # And a writer still sees exactly what it wrote.
    check = open_database(db_path)
    assert event_count(check) == 1
    assert check.execute("SELECT count(*) FROM meta WHERE key = 'x'").fetchone()[0] == 0
    check.close()


def test_open_reader_on_missing_path_is_bad_input(db_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        open_reader(db_path)
    assert info.value.exit_code == 2
    assert str(db_path) in str(info.value)
    assert not db_path.exists()


def test_locked_database_fails_then_succeeds_without_partial_rows(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    conn = open_database(db_path)
    assert pragma(conn, "busy_timeout") == 100
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            commit_events(conn, [note(1), note(2), note(3)])
        assert not conn.in_transaction
        holder.execute("ROLLBACK")

        assert event_count(conn) == 0
        stored = commit_events(conn, [note(4), note(5)])
        assert [e.payload["n"] for e in stored] == [4, 5]
        assert [r["payload"] for r in conn.execute("SELECT payload FROM events ORDER BY id")] == [
            '{"n":4}',
            '{"n":5}',
        ]
    finally:
        holder.close()
        conn.close()


def test_open_database_while_locked_before_migration_is_a_friendly_store_error(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a brand-new, empty file, write-locked by someone else
        with pytest.raises(StoreError) as info:
            open_database(db_path)
        assert "locked" in str(info.value)
        assert str(db_path) in str(info.value)
        assert info.value.exit_code == 1
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    conn = open_database(db_path)
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    conn.close()


# --- writing ------------------------------------------------------------------------------------------------


def test_commit_events_is_atomic(conn: sqlite3.Connection) -> None:
    commit_events(conn, [note(0)])
    with pytest.raises(PayloadError):
        commit_events(conn, [note(1), bad_event(), note(2)])
    assert not conn.in_transaction
    assert [json.loads(r[0])["n"] for r in conn.execute("SELECT payload FROM events ORDER BY id")] == [0]
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0
    # The connection is still usable afterwards.
    assert len(commit_events(conn, [note(3)])) == 1
    assert event_count(conn) == 2


def test_a_guard_that_fails_inside_the_transaction_writes_nothing(conn: sqlite3.Connection) -> None:
    """The founder's verdict re-checks "still pending" under the write lock, so a stale read cannot win."""
    seen: list[bool] = []

    def guard(c: sqlite3.Connection) -> None:
        seen.append(c.in_transaction)
        raise ValueError("escalation #1: already expired")

    with pytest.raises(ValueError, match="already expired"):
        commit_events(conn, [note(1)], guard=guard)
    assert seen == [True], "the guard ran inside the write transaction"
    assert not conn.in_transaction and event_count(conn) == 0
    assert len(commit_events(conn, [note(2)], guard=lambda c: None)) == 1


def test_commit_events_with_nothing_writes_nothing(conn: sqlite3.Connection) -> None:
    assert commit_events(conn, []) == []
    assert event_count(conn) == 0


def test_events_are_append_only(conn: sqlite3.Connection) -> None:
    stored = commit_events(conn, [note(1), note(2)])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET kind = 'forged' WHERE id = ?", (stored[0].id,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events WHERE id = ?", (stored[1].id,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events")
    assert [(r["id"], r["kind"]) for r in conn.execute("SELECT id, kind FROM events ORDER BY id")] == [
        (stored[0].id, "test.note"),
        (stored[1].id, "test.note"),
    ]


def test_brain_versions_are_immutable(conn: sqlite3.Connection) -> None:
    commit_events(
        conn,
        [
            NewEvent(
                "brain.version",
                {"version": 1, "author": "platform", "document": {"rules": ["a"]}},
                venture="solo",
            )
        ],
    )
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE brain_versions SET document = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("DELETE FROM brain_versions")
    row = conn.execute("SELECT venture, version, document FROM brain_versions").fetchone()
    assert tuple(row) == ("solo", 1, '{"rules":["a"]}')


def test_event_payload_must_be_json(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO events(ts, kind, payload) VALUES ('2025-01-01T00:00:00.000000Z', 'x', 'not json')"
        )
    assert event_count(conn) == 0


async def test_event_ids_strictly_increase_across_commits_and_writer_batches(db_path: Path) -> None:
    returned: list[int] = []
    conn = open_database(db_path)
    returned += [e.id for e in commit_events(conn, [note(1), note(2), note(3)])]
    with pytest.raises(PayloadError):  # a rolled-back batch leaves no gap-filling surprises behind
        commit_events(conn, [note(99), bad_event()])
    returned += [e.id for e in commit_events(conn, [note(4)])]
    conn.close()

    async with EventWriter(db_path) as writer:
        returned += [e.id for e in await writer.append([note(5), note(6)])]
        returned += [(await writer.append_one(note(7))).id]
        batches = await asyncio.gather(*(writer.append([note(10 + i), note(20 + i)]) for i in range(5)))
        for batch in batches:
            returned += [e.id for e in batch]
        assert writer.batches >= 3

    conn = open_database(db_path)
    try:
        returned += [e.id for e in commit_events(conn, [note(8)])]
        in_db = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")]
    finally:
        conn.close()
    assert returned == in_db
    assert all(a < b for a, b in itertools.pairwise(returned))
    assert len(in_db) == 3 + 1 + 2 + 1 + 10 + 1


async def test_event_writer_group_commits_concurrent_producers(db_path: Path) -> None:
    producers, per_producer = 20, 200

    async def produce(writer: EventWriter, p: int) -> list[StoredEvent]:
        out = []
        for i in range(per_producer):
            out.append(
                await writer.append_one(NewEvent("test.note", {"p": p, "i": i}, agent=f"producer-{p}"))
            )
        return out

    writer = await EventWriter(db_path).start()
    try:
        results = await asyncio.gather(*(produce(writer, p) for p in range(producers)))
    finally:
        await writer.close()

    total = producers * per_producer
    assert writer.written == total
    assert 0 < writer.batches < total, "group commit should have put several producers in one transaction"
    for p, stored in enumerate(results):
        assert [e.payload for e in stored] == [{"p": p, "i": i} for i in range(per_producer)]
        ids = [e.id for e in stored]
        assert all(a < b for a, b in itertools.pairwise(ids))
    all_ids = [e.id for stored in results for e in stored]
    assert len(set(all_ids)) == total

    conn = open_reader(db_path)
    try:
        assert event_count(conn) == total
        for p, stored in enumerate(results):
            rows = conn.execute(
                "SELECT id, payload FROM events WHERE agent = ? ORDER BY id", (f"producer-{p}",)
            ).fetchall()
            assert [r["id"] for r in rows] == [e.id for e in stored]
            assert [json.loads(r["payload"])["i"] for r in rows] == list(range(per_producer))
    finally:
        conn.close()

    with pytest.raises(StoreError, match="not running"):
        await writer.append_one(note(1))


async def test_event_writer_rejects_appends_before_start(db_path: Path) -> None:
    writer = EventWriter(db_path)
    with pytest.raises(StoreError, match="not running"):
        await writer.append_one(note(1))
    assert await writer.append([]) == []
    await writer.close()
    assert not db_path.exists()


async def test_event_writer_close_commits_what_is_queued(db_path: Path) -> None:
    writer = await EventWriter(db_path).start()
    pending = [asyncio.ensure_future(writer.append_one(note(i))) for i in range(50)]
    await asyncio.sleep(0)  # let every producer queue its event (no wall-clock wait)
    await writer.close()
    stored = [await f for f in pending]
    assert [e.payload["n"] for e in stored] == list(range(50))
    conn = open_reader(db_path)
    assert event_count(conn) == 50
    conn.close()


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        # its payload does not fit its kind's model
        (bad_event(), PayloadError),
        # its payload cannot be serialised (mixed key types cannot be sorted)
        (NewEvent("test.note", {1: "int key", "s": "str key"}), TypeError),
    ],
    ids=["payload", "serialisation"],
)
async def test_event_writer_bad_event_fails_only_its_own_producer(
    db_path: Path, bad: NewEvent, error: type[Exception]
) -> None:
    async with EventWriter(db_path) as writer:
        await writer.append_one(note(0))  # the writer is idle again, so the next appends share one batch
        before = writer.batches
        results = await asyncio.gather(
            writer.append([note(1)]),
            writer.append([note(2), bad]),
            writer.append([note(3)]),
            return_exceptions=True,
        )
        assert writer.batches == before + 1, "the three appends should have been one batch"
    good_first, bad_result, good_last = results
    assert isinstance(bad_result, error)
    assert isinstance(good_first, list) and good_first[0].payload == {"n": 1}
    assert isinstance(good_last, list) and good_last[0].payload == {"n": 3}
    conn = open_reader(db_path)
    try:
        payloads = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM events ORDER BY id")]
    finally:
        conn.close()
    assert payloads == [{"n": 0}, {"n": 1}, {"n": 3}]


async def test_event_writer_bad_batch_commits_nothing_of_it(db_path: Path) -> None:
    """Whatever the batching, the bad producer's own events are never partly committed."""
    async with EventWriter(db_path) as writer:
        with pytest.raises(PayloadError):
            await writer.append([note(1), bad_event()])
        assert (await writer.append_one(note(2))).payload == {"n": 2}
    conn = open_reader(db_path)
    try:
        assert [json.loads(r[0]) for r in conn.execute("SELECT payload FROM events")] == [{"n": 2}]
    finally:
        conn.close()


def test_payload_with_lone_surrogate_and_a_megabyte_round_trips(conn: sqlite3.Connection) -> None:
    big = "x" * (1024 * 1024) + "é✓"
    payload = {"lone": "bad \udcff text", "big": big, "nested": {"list": [1, 2.5, None, True]}, "emoji": "🎛"}
    stored = commit_events(conn, [NewEvent("test.note", payload, venture="solo", agent="a", sim_time="t")])[0]
    assert stored.payload == payload
    row = conn.execute("SELECT * FROM events WHERE id = ?", (stored.id,)).fetchone()
    loaded = StoredEvent.from_row(row)
    assert loaded.payload == payload
    assert loaded.payload["lone"] == "bad \udcff text"
    assert len(loaded.payload["big"]) == len(big)
    assert (loaded.id, loaded.kind, loaded.venture, loaded.agent, loaded.sim_time) == (
        stored.id,
        "test.note",
        "solo",
        "a",
        "t",
    )
    assert loaded.ts == stored.ts
    # The stored text itself is valid UTF-8 JSON that SQLite accepts.
    assert (
        conn.execute("SELECT json_valid(payload) FROM events WHERE id = ?", (stored.id,)).fetchone()[0] == 1
    )


# --- paths --------------------------------------------------------------------------------------------------


def test_resolve_db_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CONDUCTOR_DB", raising=False)
    assert resolve_db_path(None) == Path(DEFAULT_DB) == Path("conductor.db")
    monkeypatch.setenv("CONDUCTOR_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(None) == tmp_path / "env.db"
    assert resolve_db_path(tmp_path / "flag.db") == tmp_path / "flag.db"
    assert resolve_db_path(str(tmp_path / "flag.db")) == tmp_path / "flag.db"


def test_open_database_uses_the_environment_when_no_path_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONDUCTOR_DB", str(tmp_path / "env.db"))
    monkeypatch.chdir(tmp_path)
    conn = open_database()
    conn.close()
    assert (tmp_path / "env.db").exists()
    assert not (tmp_path / DEFAULT_DB).exists()


# --- migrations ---------------------------------------------------------------------------------------------


def _empty_sqlite_file(path: Path) -> None:
    """A real SQLite file (100-byte header and all) at user_version 0 with no tables."""
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE scratch (a)")
    raw.execute("DROP TABLE scratch")
    raw.commit()
    raw.close()
    assert path.stat().st_size >= 100
    assert path.read_bytes().startswith(b"SQLite format 3\x00")


def test_empty_version_zero_database_is_migrated(db_path: Path) -> None:
    _empty_sqlite_file(db_path)
    conn = open_database(db_path)
    try:
        assert pragma(conn, "user_version") == SCHEMA_VERSION
        assert pragma(conn, "application_id") == APPLICATION_ID
        assert set(PROJECTION_TABLES) | {"events"} <= tables(conn)
    finally:
        conn.close()


def _older_file_of_ours(path: Path) -> None:
    """A conductor database at schema 1, as an older conductor left it."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.executescript(MIGRATIONS[0])
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 1")
    raw.close()


def test_open_reader_never_creates_nor_migrates(db_path: Path) -> None:
    """Read commands never write: an empty SQLite file and an older schema are refused and left as they were;
    a write (any command that records something) upgrades the older file, and then it reads."""
    _empty_sqlite_file(db_path)
    before = db_path.read_bytes()
    with pytest.raises(BadInput, match="an empty SQLite database, not a conductor database"):
        open_reader(db_path)
    with pytest.raises(BadInput, match="not a conductor database"):
        open_database(db_path, create=False)
    assert db_path.read_bytes() == before
    db_path.unlink()
    _older_file_of_ours(db_path)
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match=r"older conductor \(schema 1;"):
        open_reader(db_path)
    assert db_path.read_bytes() == before
    open_database(db_path, create=False).close()
    reader = open_reader(db_path)
    try:
        assert pragma(reader, "user_version") == SCHEMA_VERSION
        assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    finally:
        reader.close()


def test_migrate_from_zero_on_a_raw_connection_then_no_op(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "raw.db", isolation_level=None)
    try:
        assert migrate(raw) == SCHEMA_VERSION
        assert pragma(raw, "user_version") == SCHEMA_VERSION
        assert pragma(raw, "application_id") == APPLICATION_ID
        schema = sorted(tuple(r) for r in raw.execute("SELECT type, name, sql FROM sqlite_master"))
        changes = raw.total_changes

        assert migrate(raw) == SCHEMA_VERSION
        assert raw.total_changes == changes
        assert not raw.in_transaction
        assert sorted(tuple(r) for r in raw.execute("SELECT type, name, sql FROM sqlite_master")) == schema
    finally:
        raw.close()


def test_migrate_is_a_no_op_at_the_current_version(conn: sqlite3.Connection) -> None:
    commit_events(conn, [note(1)])
    schema = sorted(tuple(r) for r in conn.execute("SELECT type, name, sql FROM sqlite_master"))
    changes = conn.total_changes
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.total_changes == changes
    assert sorted(tuple(r) for r in conn.execute("SELECT type, name, sql FROM sqlite_master")) == schema
    assert event_count(conn) == 1


# --- projections --------------------------------------------------------------------------------------------


T0, T1, T2, T3 = (f"2025-03-0{d}T09:00:00.000000Z" for d in (1, 2, 3, 4))


def test_every_projected_kind_updates_its_tables_and_rebuilds_identically(conn: sqlite3.Connection) -> None:
    org = load_org(MINIMAL)

    def one(
        kind: str,
        payload: dict,
        *,
        venture: str | None = None,
        agent: str | None = None,
        sim_time: str | None = T1,
    ) -> StoredEvent:
        return commit_events(
            conn, [NewEvent(kind, payload, venture=venture, agent=agent, sim_time=sim_time)]
        )[0]

    commit_events(conn, [org_loaded_event(org, MINIMAL, sim_time=T0)])
    one("run.started", {"pid": 4242})
    one("clock.advanced", {}, sim_time=T1)
    woke = one("agent.woke", {}, venture="solo", agent="solo-ceo", sim_time=T1)
    one("agent.state", {"state": "sleeping", "next_wake": T2}, venture="solo", agent="solo-ceo")
    one("agent.idle", {"next_wake": T3}, venture="solo", agent="solo-cto")
    one("founder.paused", {"scope": "agent", "target": "solo-cto"})
    one("founder.paused", {"scope": "venture", "target": "solo"})
    one("founder.paused", {"scope": "org"})
    one("founder.resumed", {"scope": "venture", "target": "solo"})

    task = one(
        "task.created",
        {"from_agent": "solo-ceo", "to_agent": "solo-cto", "title": "Ship login", "body": "OAuth please"},
        venture="solo",
        agent="solo-ceo",
    )
    one("task.updated", {"task_id": task.id, "state": "done", "result": "shipped"}, sim_time=T2)

    decision = one(
        "decision.proposed",
        {
            "kind": "pricing.change",
            "params": {"price": 19},
            "rationale": "cheaper wins",
            "expected": {"mrr": 50},
            "confidence": 0.7,
            "reversible": True,
            "brain_version": 1,
        },
        venture="solo",
        agent="solo-ceo",
    )
    one(
        "decision.updated",
        {
            "decision_id": decision.id,
            "state": "approved",
            "route": "founder",
            "review_round": 1,
            "final": True,
        },
        sim_time=T2,
    )
    one(
        "decision.executed",
        {
            "decision_id": decision.id,
            "idempotency_key": "solo-pricing-1",
            "ok": True,
            "result": {"price": 19},
        },
        sim_time=T2,
    )
    one("decision.outcome", {"decision_id": decision.id, "outcome": {"mrr_delta": 12.5}}, sim_time=T3)

    escalation = one(
        "escalation.opened",
        {
            "decision_id": decision.id,
            "kind": "pricing.change",
            "reason": "pricing is always gated",
            "urgency": 2,
            "expires": T3,
            "detail": {"price": 19},
        },
        venture="solo",
        agent="solo-ceo",
    )
    one(
        "escalation.resolved",
        {
            "escalation_id": escalation.id,
            "verdict": "amended",
            "note": "make it 21",
            "amended": {"price": 21},
        },
        sim_time=T2,
    )

    kept = one("directive.added", {"text": "Focus on retention."}, venture="solo")
    retired = one("directive.added", {"text": "Spend nothing on ads."}, venture="solo")
    one("directive.retired", {"directive_id": retired.id})

    one("metric.recorded", {"metric": "mrr", "at": T1, "value": 10, "source": "sim"}, venture="solo")
    revised = one("metric.recorded", {"metric": "mrr", "at": T1, "value": "12.5"}, venture="solo")
    one("metric.recorded", {"metric": "signups", "at": T2, "value": 3, "source": "sim"}, venture="solo")

    call = one(
        "call.recorded",
        {
            "model": "fake/model",
            "purpose": "wake",
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "cost": 0.0012,
            "latency_ms": 85.5,
            "ok": True,
        },
        venture="solo",
        agent="solo-ceo",
        sim_time=T2,
    )
    failed_call = one(
        "call.recorded",
        {"model": "fake/model", "ok": False, "error": "timeout"},
        agent="platform",
        sim_time=None,
    )

    one(
        "brain.version",
        {
            "version": 1,
            "author": "platform",
            "model": "fake/model",
            "tokens": 900,
            "cost": 0.01,
            "memory_ids": [3, 5],
            "document": {"rules": ["ship small"]},
        },
        venture="solo",
    )
    one("brain.version", {"version": 2, "parent": 1, "author": "platform", "document": {"rules": []}})

    one("trust.changed", {"agent": "solo-cto", "kind": "feature.ship", "spend_limit": 10, "state": "granted"})
    one("trust.changed", {"agent": "solo-cto", "kind": "feature.ship", "state": "revoked"}, sim_time=T3)
    one("venture.stage", {"stage": "launch"}, venture="solo")
    one("clock.advanced", {}, sim_time=T3)
    one("run.stopped", {"pid": 4242})

    def row(sql: str, *params: object) -> dict:
        found = conn.execute(sql, params).fetchone()
        assert found is not None, sql
        return dict(found)

    # org.loaded, run.*, clock.advanced, founder.paused (org) -> meta
    meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
    assert meta["org.name"] == "Minimal"
    assert meta["org.path"] == str(MINIMAL.resolve())
    assert meta["org.clock"] == org.clock
    assert len(meta["org.digest"]) == 16
    assert meta["run.state"] == "stopped" and meta["run.pid"] == "4242"
    assert meta["clock.now"] == T3
    assert meta["org.paused"] == "1"

    # org.loaded, agent.*, founder.paused (agent) -> agents
    assert sorted(r[0] for r in conn.execute("SELECT id FROM agents")) == ["platform", "solo-ceo", "solo-cto"]
    ceo = row("SELECT * FROM agents WHERE id = 'solo-ceo'")
    assert (ceo["venture"], ceo["role"], ceo["owns_metric"]) == ("solo", "CEO", "mrr")
    assert (ceo["state"], ceo["wakes"], ceo["last_wake"], ceo["next_wake"]) == ("sleeping", 1, T1, T2)
    assert ceo["updated_by"] > woke.id
    cto = row("SELECT * FROM agents WHERE id = 'solo-cto'")
    assert (cto["paused"], cto["idle_ticks"], cto["next_wake"], cto["state"]) == (1, 1, T3, "sleeping")
    platform = row("SELECT * FROM agents WHERE id = 'platform'")
    assert platform["venture"] is None and platform["paused"] == 0

    # ventures: loaded, paused then resumed, stage changed
    venture = row("SELECT * FROM ventures WHERE id = 'solo'")
    assert (venture["name"], venture["stage"], venture["paused"]) == ("Solo", "launch", 0)
    assert venture["goal"] == "Reach 10 paying customers."

    t = row("SELECT * FROM tasks WHERE id = ?", task.id)
    assert (t["venture"], t["from_agent"], t["to_agent"], t["title"], t["body"]) == (
        "solo",
        "solo-ceo",
        "solo-cto",
        "Ship login",
        "OAuth please",
    )
    assert (t["state"], t["result"], t["created"], t["updated"]) == ("done", "shipped", T1, T2)

    d = row("SELECT * FROM decisions WHERE id = ?", decision.id)
    assert (d["venture"], d["agent"], d["kind"], d["confidence"], d["reversible"]) == (
        "solo",
        "solo-ceo",
        "pricing.change",
        0.7,
        1,
    )
    assert json.loads(d["params"]) == {"price": 19} and json.loads(d["expected"]) == {"mrr": 50}
    assert (d["state"], d["route"], d["review_round"], d["decided"], d["executed"]) == (
        "executed",
        "founder",
        1,
        T2,
        T2,
    )
    assert d["idempotency_key"] == "solo-pricing-1"
    assert json.loads(d["result"]) == {"price": 19}
    assert json.loads(d["outcome"]) == {"mrr_delta": 12.5}

    e = row("SELECT * FROM escalations WHERE id = ?", escalation.id)
    assert (e["decision_id"], e["kind"], e["urgency"], e["expires"], e["created"]) == (
        decision.id,
        "pricing.change",
        2,
        T3,
        T1,
    )
    assert (e["state"], e["verdict"], e["note"], e["resolved"]) == ("amended", "amended", "make it 21", T2)
    assert json.loads(e["amended"]) == {"price": 21} and json.loads(e["detail"]) == {"price": 19}

    directives = {r["id"]: (r["text"], r["active"]) for r in conn.execute("SELECT * FROM directives")}
    assert directives == {kept.id: ("Focus on retention.", 1), retired.id: ("Spend nothing on ads.", 0)}

    points = [
        tuple(r)
        for r in conn.execute(
            "SELECT metric, at, value, source, event_id FROM metric_points "
            "WHERE venture = 'solo' ORDER BY metric"
        )
    ]
    assert points[0] == ("mrr", T1, 12.5, "engine", revised.id)
    assert points[1][:4] == ("signups", T2, 3.0, "sim")

    c = row("SELECT * FROM calls WHERE id = ?", call.id)
    assert (c["at"], c["day"], c["model"], c["prompt_tokens"], c["completion_tokens"], c["ok"]) == (
        T2,
        T2[:10],
        "fake/model",
        120,
        30,
        1,
    )
    assert c["cost"] == pytest.approx(0.0012) and c["latency_ms"] == pytest.approx(85.5)
    fc = row("SELECT * FROM calls WHERE id = ?", failed_call.id)
    assert (fc["ok"], fc["error"], fc["purpose"], fc["at"]) == (0, "timeout", "wake", failed_call.ts)
    assert fc["day"] == failed_call.ts[:10]

    brains = [
        tuple(r)
        for r in conn.execute(
            "SELECT venture, version, parent, author, tokens, memory_ids, document "
            "FROM brain_versions ORDER BY version"
        )
    ]
    assert brains == [
        ("solo", 1, None, "platform", 900, "[3,5]", '{"rules":["ship small"]}'),
        ("platform", 2, 1, "platform", 0, "[]", '{"rules":[]}'),
    ]

    grant = row("SELECT * FROM trust_grants WHERE agent = 'solo-cto' AND kind = 'feature.ship'")
    assert (grant["state"], grant["spend_limit"], grant["changed"]) == ("revoked", 0.0, T3)
    assert conn.execute("SELECT count(*) FROM trust_grants").fetchone()[0] == 1

    # The tables hold nothing the log does not: a rebuild from the events alone matches exactly.
    assert projection_differences(conn) == []
    rebuilt = rebuild_in_memory(conn)
    try:
        for table in PROJECTION_TABLES:
            live = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert rebuilt.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == live, table
    finally:
        rebuilt.close()


def test_projection_differences_notices_a_tampered_table(conn: sqlite3.Connection) -> None:
    record_org(conn, load_org(MINIMAL), MINIMAL)
    assert projection_differences(conn) == []
    conn.execute("UPDATE agents SET state = 'working' WHERE id = 'solo-cto'")
    assert projection_differences(conn) == ["agents"]


def test_record_org_records_once_per_content(conn: sqlite3.Connection) -> None:
    org = load_org(MINIMAL)
    first = record_org(conn, org, MINIMAL)
    assert first is not None and first.kind == "org.loaded"
    assert record_org(conn, org, MINIMAL) is None
    assert conn.execute("SELECT count(*) FROM events WHERE kind = 'org.loaded'").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == org.agent_count
    assert conn.execute("SELECT count(*) FROM ventures").fetchone()[0] == len(org.ventures)


def test_unknown_kind_is_logged_but_projects_nothing(conn: sqlite3.Connection) -> None:
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in PROJECTION_TABLES}
    commit_events(conn, [NewEvent("something.new", {"a": 1})])
    assert event_count(conn) == 1
    assert {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in PROJECTION_TABLES} == counts


def test_store_errors_never_leak_raw_sqlite_errors(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    ours = open_database(path)
    commit_events(ours, [note(i) for i in range(200)])
    ours.close()
    data = bytearray(path.read_bytes())
    # Keep the 100-byte header (so it still looks like ours) and trash the first page's b-tree.
    data[100:4096] = random.Random(5).randbytes(4096 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info:
        open_database(path)
    assert not isinstance(info.value, sqlite3.Error)
    assert info.value.exit_code == 1
    assert "damaged" in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_one_batch_projects_the_same_as_one_event_at_a_time(conn: sqlite3.Connection) -> None:
    """`_apply` groups runs of identical statements; the result must equal a one-by-one replay."""
    first = (conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone() or [0])[0] + 1
    batch = [
        org_loaded_event(load_org(MINIMAL), MINIMAL, sim_time=T0),
        NewEvent("agent.woke", {}, venture="solo", agent="solo-ceo", sim_time=T1),
        NewEvent("agent.woke", {}, venture="solo", agent="solo-ceo", sim_time=T2),
        NewEvent("agent.woke", {}, venture="solo", agent="solo-cto", sim_time=T2),
        NewEvent("founder.paused", {"scope": "agent", "target": "solo-cto"}),
        NewEvent("founder.resumed", {"scope": "agent", "target": "solo-cto"}),
        NewEvent("task.created", {"to_agent": "solo-cto", "title": "a"}, venture="solo", sim_time=T1),
        NewEvent("task.updated", {"task_id": first + 6, "state": "done"}, sim_time=T2),
        *(
            NewEvent("metric.recorded", {"metric": "mrr", "at": T1, "value": v}, venture="solo")
            for v in (1, 2, 3)
        ),
    ]
    stored = commit_events(conn, batch)
    assert stored[0].id == first
    assert [e.id for e in stored] == list(range(first, first + len(batch)))
    assert conn.execute("SELECT wakes FROM agents WHERE id = 'solo-ceo'").fetchone()[0] == 2
    assert conn.execute("SELECT paused FROM agents WHERE id = 'solo-cto'").fetchone()[0] == 0
    assert conn.execute("SELECT state FROM tasks WHERE id = ?", (first + 6,)).fetchone()[0] == "done"
    assert [tuple(r) for r in conn.execute("SELECT value FROM metric_points")] == [(3.0,)]
    assert projection_differences(conn) == []


# -- durability ----------------------------------------------------------------------------------------------
def _synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])  # 1 NORMAL, 2 FULL


async def test_a_full_durability_writer_syncs_every_commit(db_path: Path) -> None:
    async with EventWriter(db_path, synchronous="full") as writer:
        await writer.append([note(1)])
        await writer.append([note(2), note(3)])
        assert _synchronous(writer._conn) == 2  # type: ignore[arg-type]
    async with EventWriter(db_path) as writer:
        await writer.append([note(4)])
        assert _synchronous(writer._conn) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(("setting", "pragma"), [("normal", 1), ("full", 2)])
def test_every_connection_that_writes_keeps_the_orgs_durability(db_path: Path, setting: str, pragma: int) -> None:
    """Founder commands from another terminal commit with the durability the org file asked for, too."""
    org = load_org(Path(__file__).resolve().parent / "orgs" / "duo.toml")
    org = org.model_copy(update={"engine": org.engine.model_copy(update={"synchronous": setting})})
    conn = open_database(db_path)
    assert _synchronous(conn) == 1  # nothing recorded yet: normal
    record_org(conn, org, "duo.toml")
    conn.close()
    conn = open_database(db_path)
    try:
        assert _synchronous(conn) == pragma
    finally:
        conn.close()
