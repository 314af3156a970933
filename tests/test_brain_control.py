"""The brain's concurrent control (seeded arms recorded on wake-ups and decisions), the comparison with it, and
outcomes recomputed from the raw events."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from brain_support import lab_org, run_lab
from conductor.brain.control import control_arm, shown_version
from conductor.brain.quality import DecisionRow, compare_to_control, decision_quality, load_decision_rows
from conductor.engine.recompute import recompute_outcomes
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.store import open_database


def _woke(db: Path) -> list[tuple[str | None, str, dict]]:
    conn = sqlite3.connect(db)
    try:
        return [(r[0], r[1], json.loads(r[2])) for r in conn.execute(
            "SELECT agent, sim_time, payload FROM events WHERE kind = 'agent.woke' ORDER BY id")]
    finally:
        conn.close()


def test_without_a_control_share_every_wake_up_and_decision_is_current() -> None:
    db = run_lab(16)
    woke = _woke(db)
    assert woke and all(p["brief_arm"] == "current" for _, _, p in woke)
    assert all(p["brain_version"] == p["brain_in_force"] for _, _, p in woke)
    conn = sqlite3.connect(db)
    arms = {r[0] for r in conn.execute("SELECT brief_arm FROM decisions")}
    conn.close()
    assert arms == {"current"}


@pytest.fixture(scope="module")
def control_run() -> Path:
    org = lab_org(1)
    org = org.model_copy(update={"brain": org.brain.model_copy(update={"control_share": 0.5})})
    path = Path(tempfile.mkdtemp(prefix="conductor-control-")) / "lab.db"
    open_database(path).close()
    engine = Engine(org, path, EngineOptions(until=org.start + timedelta(days=20)))
    asyncio.run(asyncio.wait_for(engine.run(), timeout=300))
    return path


def test_half_the_wake_ups_see_the_previous_version_by_a_seeded_draw_and_it_is_recorded(control_run: Path) -> None:
    woke = [(a, t, p) for a, t, p in _woke(control_run) if p["brain_in_force"] is not None and a != "platform"]
    assert len(woke) >= 40
    # The draw is one per (agent, simulated time): wake-ups of one agent at one moment share it, so the share is
    # counted over distinct draws, the unit that is randomised.
    draws = {(a, t): p["brief_arm"] for a, t, p in woke}
    previous = [arm for arm in draws.values() if arm == "previous"]
    assert 0.35 <= len(previous) / len(draws) <= 0.65, (len(previous), len(draws))
    for agent, sim_time, p in woke:
        # The arm is the draw, a function of the seed, the agent and the simulated time alone, while a version
        # before the one in force exists; before that there is no control to show.
        drawn = control_arm(1, agent, sim_time, 0.5, "previous")
        assert p["brief_arm"] == (drawn if p["brain_in_force"] > 1 else "current")
        assert p["brain_version"] == p["brain_in_force"] - (p["brief_arm"] == "previous")
    conn = sqlite3.connect(control_run)
    rows = conn.execute("SELECT brief_arm, brain_version, brain_in_force FROM decisions "
                        "WHERE brain_in_force IS NOT NULL").fetchall()
    conn.close()
    assert {r[0] for r in rows} == {"current", "previous"}
    assert all(r[1] == r[2] for r in rows if r[0] == "current")
    assert all(r[2] > 1 and r[1] == r[2] - 1 for r in rows if r[0] == "previous")
    quality = decision_quality(load_decision_rows(sqlite3.connect(control_run)))
    assert any(q.control is not None for q in quality)


def test_the_control_draw_is_deterministic_and_near_its_share() -> None:
    draws = [control_arm(7, "ink-ceo", f"2026-01-{d:02d}T{h:02d}:00:00.000000Z", 0.3, "none")
             for d in range(1, 29) for h in range(24)]
    assert draws == [control_arm(7, "ink-ceo", f"2026-01-{d:02d}T{h:02d}:00:00.000000Z", 0.3, "none")
                     for d in range(1, 29) for h in range(24)]
    assert set(draws) == {"current", "none"}
    assert 0.25 <= draws.count("none") / len(draws) <= 0.35
    assert control_arm(7, "ink-ceo", "2026-01-01T00:00:00.000000Z", 0.0, "previous") == "current"


def test_the_older_control_is_shown_the_version_lag_versions_back() -> None:
    assert [shown_version("previous", v) for v in (None, 1, 2, 5)] == [None, None, 1, 4]
    assert [shown_version("previous", v, lag=3) for v in (None, 1, 3, 4, 10)] == [None, None, None, 1, 7]
    assert shown_version("current", 10, lag=3) == 10 and shown_version("none", 10, lag=3) is None


def test_a_run_with_a_control_lag_shows_and_records_the_older_version() -> None:
    org = lab_org(2)
    org = org.model_copy(update={"brain": org.brain.model_copy(update={"control_share": 0.5, "control_lag": 3})})
    path = Path(tempfile.mkdtemp(prefix="conductor-control-lag-")) / "lab.db"
    open_database(path).close()
    asyncio.run(asyncio.wait_for(Engine(org, path, EngineOptions(until=org.start + timedelta(days=20))).run(),
                                 timeout=300))
    woke = [p for a, _, p in _woke(path) if p["brain_in_force"] is not None and a != "platform"]
    older = [p for p in woke if p["brief_arm"] == "previous"]
    assert older
    # Only while a version 3 back exists is a wake-up a control: before it, it sees the version in force and
    # is recorded as current (shown no version at all, it would be a "none" control posing as an older one).
    for p in older:
        assert p["brain_in_force"] > 3 and p["brain_version"] == p["brain_in_force"] - 3
    early = [p for p in woke if p["brain_in_force"] <= 3]
    assert early and all(p["brief_arm"] == "current" and p["brain_version"] == p["brain_in_force"] for p in early)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT brain_version, brain_in_force FROM decisions WHERE brief_arm = 'previous'").fetchall()
    conn.close()
    assert rows and all(f > 3 and v == f - 3 for v, f in rows)


def _rows(effects: list[float], arm: str, start: int) -> list[DecisionRow]:
    return [DecisionRow(id=start + i, venture="ink", brain_version=5 if arm == "current" else 4, state="executed",
                        success=e > 0, normalized_delta=e, brief_arm=arm, brain_in_force=5)
            for i, e in enumerate(effects)]


def test_a_clear_difference_is_ahead_and_none_is_not_enough_evidence() -> None:
    current = [0.05 + 0.01 * (i % 5) for i in range(20)]
    control = [0.00 + 0.01 * (i % 5) for i in range(20)]
    ahead = compare_to_control(5, current, _rows(control, "previous", 100))
    assert ahead.evidence and ahead.low is not None and ahead.low > 0
    assert ahead.statement.startswith("v5 ahead of control by +5.0 pts (95% ") and "not enough" not in ahead.statement
    same = compare_to_control(5, control, _rows(control, "previous", 100))
    assert not same.evidence and same.statement.endswith(": not enough evidence")
    few = compare_to_control(5, current[:5], _rows(control[:5], "previous", 100))
    assert not few.evidence and few.statement.endswith(": not enough evidence")
    # In the quality table the control decisions are compared, not counted as v4's.
    table = decision_quality(_rows(current, "current", 1) + _rows(control, "previous", 100))
    assert [(r.brain_version, r.decisions) for r in table] == [(5, 20)]
    assert table[0].control is not None and table[0].control.n_control == 20


def test_every_stored_outcome_is_recomputed_from_the_events() -> None:
    db = run_lab(16)
    conn = sqlite3.connect(db)
    try:
        again = recompute_outcomes(conn, lab_org(1))
    finally:
        conn.close()
    assert len(again) >= 20
    assert [r.decision_id for r in again if not r.same] == []


def test_a_run_where_nobody_sees_the_brain_still_draws_and_records_the_control() -> None:
    """Without it, a blind run has no control decisions, and "no difference" could never be shown."""
    org = lab_org(1)
    org = org.model_copy(update={"brain": org.brain.model_copy(update={"control_share": 0.5})})
    path = Path(tempfile.mkdtemp(prefix="conductor-blind-")) / "lab.db"
    open_database(path).close()
    engine = Engine(org, path, EngineOptions(until=org.start + timedelta(days=20), ablate_brief=True))
    asyncio.run(asyncio.wait_for(engine.run(), timeout=300))
    woke = [(a, t, p) for a, t, p in _woke(path) if p["brain_in_force"] is not None and a != "platform"]
    assert woke
    for agent, sim_time, p in woke:
        # The arm is the draw, a function of the seed, the agent and the simulated time alone, while a version
        # before the one in force exists; before that there is no control to show.
        drawn = control_arm(1, agent, sim_time, 0.5, "previous")
        assert p["brief_arm"] == (drawn if p["brain_in_force"] > 1 else "current")
    conn = sqlite3.connect(path)
    arms = {r[0] for r in conn.execute("SELECT brief_arm FROM decisions WHERE brain_in_force IS NOT NULL")}
    conn.close()
    assert arms == {"current", "previous"}
