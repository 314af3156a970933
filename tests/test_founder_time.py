"""With a founder at the keyboard (a control room hosts the run), the simulated clock waits for them: no
decision escalation expires while someone is there to judge it, and pausing the whole org stops the clock.

The founder here is a coroutine beside the engine that answers whatever the clock is holding for, as slowly
as it likes: what is checked is where the clock stood, never how long anything took."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from conductor.engine.provider import load_litellm
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import load_org
from conductor.services.founder import resolve_escalation, set_paused
from conductor.store import open_database

STUDIO = Path(__file__).resolve().parents[1] / "orgs" / "studio.toml"
DAYS = 4
HANG_S = 240.0  # only a scheduler that never reaches its end time meets this


async def _run(db: Path, *, present: bool, founder: Callable[[Engine], Awaitable[None]] | None = None) -> Engine:
    org = load_org(STUDIO)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(days=DAYS), poll_interval=0.01,
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
