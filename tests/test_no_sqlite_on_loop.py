"""No SQLite call runs on the engine's event loop thread: reads go through the async reader, writes through the
writer's thread, the start-up fold through a thread of its own.

Every sqlite3 connection opened during these tests is a `Guarded` one (through `sqlite3.connect`, which
aiosqlite calls too): each statement checks whether an asyncio loop is running on the calling thread and,
if so, records where it came from. The engine runs the studio for days (wake-ups with briefs, reviews, brain
syntheses, expiries), with a founder command written from another thread mid-run, then restarts and resumes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conductor.cli.main import example_org_path
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org.loader import load_org
from conductor.services.founder import add_directive
from conductor.store import StoredEvent, open_database
from test_demo import rows

_violations: list[str] = []


def _check() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop on this thread: a worker thread (aiosqlite's, the writer's) or plain sync code
    frames = [f for f in traceback.extract_stack()[:-2] if "/conductor/" in f.filename]
    where = frames[-1] if frames else traceback.extract_stack()[-3]
    _violations.append(f"{Path(where.filename).name}:{where.lineno} {where.name}")


def _guarded(method: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _check()
        return method(self, *args, **kwargs)

    return wrapper


class GuardedCursor(sqlite3.Cursor):
    execute = _guarded(sqlite3.Cursor.execute)
    executemany = _guarded(sqlite3.Cursor.executemany)
    fetchall = _guarded(sqlite3.Cursor.fetchall)
    fetchone = _guarded(sqlite3.Cursor.fetchone)


class Guarded(sqlite3.Connection):
    execute = _guarded(sqlite3.Connection.execute)
    executemany = _guarded(sqlite3.Connection.executemany)
    executescript = _guarded(sqlite3.Connection.executescript)
    commit = _guarded(sqlite3.Connection.commit)
    close = _guarded(sqlite3.Connection.close)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        _check()
        return super().cursor(*args, **(kwargs or {"factory": GuardedCursor}))


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every connection opened meanwhile is `Guarded`; yields the violations found (cleared first)."""
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", Guarded)
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    _violations.clear()
    yield _violations
    _violations.clear()


def test_the_guard_catches_a_statement_on_a_loop_thread(guarded: list[str]) -> None:
    async def careless() -> None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.execute("SELECT 1")
        await asyncio.to_thread(conn.execute, "SELECT 2")  # a worker thread: allowed

    asyncio.run(careless())
    assert len(guarded) == 1 and "careless" in guarded[0]


def test_a_run_and_its_resume_touch_sqlite_only_off_the_loop(guarded: list[str], tmp_path: Path) -> None:
    org = load_org(example_org_path())
    db = tmp_path / "studio.db"
    founder: list[threading.Thread] = []

    def direct(event: StoredEvent) -> None:
        # mid-run, the founder writes a directive from another thread; the engine's polling picks it up
        if event.kind == "clock.advanced" and not founder:
            def write() -> None:
                conn = open_database(db)
                try:
                    add_directive(conn, org.ventures[0].id, "focus on activation this week")
                finally:
                    conn.close()
            founder.append(threading.Thread(target=write))
            founder[0].start()

    async def run(days: int) -> None:
        engine = Engine(org, db, EngineOptions(until=org.start + timedelta(days=days)), on_event=direct)
        await engine.run()

    asyncio.run(run(16))
    founder[0].join()
    asyncio.run(run(18))  # a restart: the fold, the interrupted work, the founder's command already in the log

    assert guarded == []
    kinds = {r["kind"] for r in rows(db, "SELECT DISTINCT kind FROM events")}
    assert {"agent.woke", "review.requested", "brain.version", "directive.added", "clock.advanced",
            "escalation.resolved", "decision.executed"} <= kinds  # expiries read the first verdict back
    assert [r["resumed"] for r in rows(db, "SELECT json_extract(payload, '$.resumed') AS resumed FROM events "
                                           "WHERE kind = 'run.started' ORDER BY id")] == [0, 1]
