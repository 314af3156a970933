"""With a founder at the keyboard (a control room hosts the run), the simulated clock waits for them: no
decision escalation expires while someone is there to judge it, and pausing the whole org stops the clock.

The founder here is a coroutine beside the engine that answers whatever the clock is holding for, as slowly
as it likes: what is checked is where the clock stood, never how long anything took."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from conductor.engine.provider import load_litellm
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import load_org
from conductor.services.founder import resolve_escalation, set_paused
from conductor.store import open_database
from conductor.store.lock import FounderSeat, founder_attached

STUDIO = Path(__file__).resolve().parents[1] / "orgs" / "studio.toml"
DAYS = 4
HANG_S = 240.0  # only a scheduler that never reaches its end time meets this


async def _run(db: Path, *, present: bool, founder: Callable[[Engine], Awaitable[None]] | None = None,
               days: int = DAYS) -> Engine:
    org = load_org(STUDIO)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(days=days), poll_interval=0.01,
                                           founder_present=present))
    await asyncio.to_thread(load_litellm)
    run = asyncio.create_task(engine.run())
    helper = asyncio.create_task(founder(engine)) if founder is not None else None
    try:
        await asyncio.wait_for(asyncio.shield(run), HANG_S)
    finally:
        if helper is not None:
            helper.cancel()
    return engine


def _expired_decisions(db: Path) -> int:
    conn = open_database(db)
    try:
        return conn.execute("SELECT count(*) FROM escalations WHERE kind = 'decision' AND state = 'expired'"
                            ).fetchone()[0]
    finally:
        conn.close()


async def test_no_decision_escalation_expires_while_a_founder_is_present(tmp_path: Path) -> None:
    """Headless, the studio's decision escalations expire after two simulated days; with a founder present
    the clock stops at each one's expiry until the founder's verdict, so none is lost however slow they are."""
    headless = tmp_path / "headless.db"
    await _run(headless, present=False)
    assert _expired_decisions(headless) > 0, "the studio must expire escalations headless, or this shows nothing"

    held_at: list[tuple[int, object, object]] = []

    async def slow_founder(engine: Engine) -> None:
        org = load_org(STUDIO)
        while True:
            waiting = engine.waiting_on_founder()
            if waiting:
                escalation = engine.state.escalations[waiting[0]]
                held_at.append((escalation.id, engine.state.now, escalation.expires))
                assert "waiting for your verdict" in engine.held_for_founder()
                conn = open_database(engine.db)
                try:
                    resolve_escalation(conn, escalation.id, "rejected", note="read it, not now", org=org)
                finally:
                    conn.close()
                while escalation.id in engine.state.escalations:  # until the engine has read the verdict
                    await asyncio.sleep(0.005)
            await asyncio.sleep(0.005)

    present = tmp_path / "present.db"
    await _run(present, present=True, founder=slow_founder)
    assert held_at, "no escalation reached its expiry: nothing was shown"
    assert all(now == expires for _, now, expires in held_at), "the clock must stand still at the expiry"
    assert _expired_decisions(present) == 0


async def test_pausing_the_whole_org_stops_the_clock_while_a_founder_is_present(tmp_path: Path) -> None:
    """`P` in the room (the org paused) freezes the simulated day until the founder resumes it."""
    seen: dict[str, object] = {}

    async def pauses_then_resumes(engine: Engine) -> None:
        while engine.state.day_index() < 1:
            await asyncio.sleep(0.005)
        conn = open_database(engine.db)
        try:
            set_paused(conn, None, True)
        finally:
            conn.close()
        while engine.held_for_founder() != "paused by the founder":
            await asyncio.sleep(0.005)
        frozen, polls = engine.state.now, engine.founder_polls
        while engine.founder_polls < polls + 20:  # the engine looks again and again, and holds each time
            await asyncio.sleep(0.005)
            assert engine.state.now == frozen
        seen["frozen"] = frozen
        conn = open_database(engine.db)
        try:
            set_paused(conn, None, False)
        finally:
            conn.close()
        while True:  # answer the rest as they come, so the run can finish
            for escalation_id in engine.waiting_on_founder():
                conn = open_database(engine.db)
                try:
                    resolve_escalation(conn, escalation_id, "rejected", note="later", org=load_org(STUDIO))
                finally:
                    conn.close()
            await asyncio.sleep(0.005)

    engine = await _run(tmp_path / "paused.db", present=True, founder=pauses_then_resumes)
    assert "frozen" in seen
    assert engine.state.now > seen["frozen"]  # resumed, it went on to the end


def _hold_the_seat(db: Path) -> subprocess.Popen[str]:
    """Another process in the founder's seat, as `conductor attach` holds it while its window is open; returns
    once the seat is held (the child says so)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from conductor.store.lock import "
         "FounderSeat; seat = FounderSeat(Path(sys.argv[1])).__enter__(); print(seat.held, flush=True); "
         "time.sleep(3600)", str(db)],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "True"
    return child


async def test_a_founder_attached_from_another_process_holds_the_clock_until_they_leave(tmp_path: Path) -> None:
    """`conductor attach` to a headless run: the run's clock waits for the attached founder's verdicts as it
    does for a room in its own process; when that room's process ends (here it is killed, as a crash would),
    the seat is free again and escalations expire by the org file."""
    db = tmp_path / "attached.db"
    child = _hold_the_seat(db)
    assert founder_attached(db)
    held_at: list[tuple[int, object, object]] = []
    try:
        async def answers_then_leaves(engine: Engine) -> None:
            org = load_org(STUDIO)
            while len(held_at) < 2:
                waiting = engine.waiting_on_founder()
                if waiting:
                    escalation = engine.state.escalations[waiting[0]]
                    held_at.append((escalation.id, engine.state.now, escalation.expires))
                    assert engine.held_for_founder().startswith("waiting for your verdict")
                    conn = open_database(engine.db)
                    try:
                        resolve_escalation(conn, escalation.id, "rejected", note="read it", org=org)
                    finally:
                        conn.close()
                    while escalation.id in engine.state.escalations:
                        await asyncio.sleep(0.005)
                await asyncio.sleep(0.005)
            child.kill()  # the room's process ends without a word: the OS frees the seat
            await asyncio.to_thread(child.wait)

        engine = await _run(db, present=False, founder=answers_then_leaves, days=2 * DAYS)
    finally:
        child.kill()
        child.wait()
    assert len(held_at) == 2 and all(now == expires for _, now, expires in held_at)
    assert not engine.opts.founder_present and not founder_attached(db)
    conn = open_database(db)
    try:
        held = {escalation_id for escalation_id, _, _ in held_at}
        verdicts = dict(conn.execute("SELECT id, state FROM escalations WHERE kind = 'decision'").fetchall())
    finally:
        conn.close()
    assert all(verdicts[i] == "rejected" for i in held)
    assert "expired" in verdicts.values(), "with the seat empty again, the org file's expiry applies"


def test_the_founder_seat_is_empty_without_a_room_and_free_after_one_closes(tmp_path: Path) -> None:
    db = tmp_path / "seat.db"
    assert not founder_attached(db)  # nobody ever attached: no file, no lock
    with FounderSeat(db) as seat:
        assert seat.held and founder_attached(db)
        with FounderSeat(db) as second:  # two rooms may attach at once
            assert second.held
        assert founder_attached(db)
    assert not founder_attached(db)  # the file stays behind, unlocked: nobody is there
