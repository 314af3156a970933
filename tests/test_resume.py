"""Killing a headless run with SIGKILL and starting it again: nothing executes twice, nothing pending is lost,
and every wake-up the kill interrupted is done again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conductor.store.rebuild import projection_differences
from crash import checks

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "orgs" / "studio.toml"


def _run(db: Path, days: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "conductor", "run", str(STUDIO), "--db", str(db), "--days", str(days)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0] or 0
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_sigkill_then_resume_executes_nothing_twice_and_loses_no_escalation(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proc = _run(db, 16)
    deadline = time.monotonic() + 120
    # Kill it mid-run, once it has executed decisions and opened escalations (polling, not sleeping blindly).
    while time.monotonic() < deadline and proc.poll() is None:
        if _count(db, "SELECT count(*) FROM escalations") >= 3 and _count(db, "SELECT count(*) FROM events") > 1500:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; raise --days"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    conn = sqlite3.connect(db)
    pending_at_kill = {r[0] for r in conn.execute("SELECT id FROM escalations WHERE state = 'pending'")}
    last_id_at_kill = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    conn.close()
    assert last_id_at_kill > 0

    second = _run(db, 18)
    _, err = second.communicate(timeout=180)
    assert second.returncode == 0, err.decode()[-2000:]

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    executed = conn.execute(
        "SELECT json_extract(payload, '$.decision_id') AS d, count(*) AS n FROM events "
        "WHERE kind = 'decision.executed' GROUP BY d HAVING n > 1"
    ).fetchall()
    assert executed == [], f"decisions executed twice: {[tuple(r) for r in executed]}"
    states = {r["id"]: r["state"] for r in conn.execute("SELECT id, state FROM escalations")}
    for escalation_id in pending_at_kill:
        assert escalation_id in states, f"escalation #{escalation_id} was pending at the kill and is gone"
    resumed = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM events WHERE kind = 'run.started'")]
    assert len(resumed) == 2 and resumed[1]["resumed"] is True
    interrupted = conn.execute("SELECT count(*) FROM events WHERE kind = 'agent.interrupted'").fetchone()[0]
    woke_after = conn.execute("SELECT count(*) FROM events WHERE kind = 'agent.woke' AND id > ?",
                              (last_id_at_kill,)).fetchone()[0]
    assert woke_after > 0 and interrupted >= 0
    last_day = conn.execute("SELECT max(sim_time) FROM events").fetchone()[0]
    assert last_day >= "2026-01-22"
    assert projection_differences(conn) == []
    conn.close()


def test_second_scheduler_on_same_database_refuses_with_first_pid(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = _run(db, 400)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _count(db, "SELECT count(*) FROM events") < 50:
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-m", "conductor", "run", str(STUDIO), "--db", str(db), "--days", "1"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()


def _metrics(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT venture, metric, at, value FROM metric_points ORDER BY venture, metric, at").fetchall()
    finally:
        conn.close()


def test_a_seeded_run_resumes_under_its_own_seed(tmp_path: Path) -> None:
    """Resumed without `--seed`, a run started with `--seed 8` rebuilds the markets it started with: the market
    steps after the resume are the ones a run that never stopped takes. (Later days may part: the agents of
    a resumed run do not wake at the very moments of an unbroken one.) A different `--seed` is refused."""
    import pytest

    from conductor.cli.run_cmd import run_headless
    from conductor.errors import BadInput

    whole, split = tmp_path / "whole.db", tmp_path / "split.db"
    run_headless(STUDIO, whole, days=3, live=False, seed=8)
    run_headless(STUDIO, split, days=1.5, live=False, seed=8)
    run_headless(STUDIO, split, days=3, live=False)
    through_day_2 = "2026-01-07T23"  # the studio starts on 2026-01-05: days 0 and 1 before the stop, 2 after
    resumed = [m for m in _metrics(split) if m[2] < through_day_2]
    assert resumed == [m for m in _metrics(whole) if m[2] < through_day_2]
    assert len({at for _, _, at, _ in resumed}) == 3

    with pytest.raises(BadInput, match=r"split\.db: this run's markets were started with other seeds "
                                        r"\(inkwell \d+, ledgerly \d+, tidepool \d+\); resume it with --seed 8,"):
        run_headless(STUDIO, split, days=4, live=False, seed=9)
    # A run started from the file's own seeds says to resume without --seed.
    plain = tmp_path / "plain.db"
    run_headless(STUDIO, plain, days=0.5, live=False)
    with pytest.raises(BadInput, match=r"\(inkwell 11, ledgerly 23, tidepool 37\); resume it without --seed"):
        run_headless(STUDIO, plain, days=1, live=False, seed=7)


# -- a wave killed in flight: every interrupted wake-up is done again, once, with what it had -----------------
MIDWAVE_DAYS = 3


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The studio for three simulated days without a kill: what a resumed run is compared with."""
    from conductor.cli.run_cmd import run_headless

    db = tmp_path_factory.mktemp("unbroken") / "whole.db"
    run_headless(STUDIO, db, days=MIDWAVE_DAYS, live=False)
    return db


def _kill_mid_wave(db: Path, after: int, reason: str | None = None) -> dict[str, int]:
    """Run the studio in a subprocess that SIGKILLs itself mid-wave (`tests/crash/midwave.py`); returns the
    wake-ups it left in flight, agent -> its `agent.woke` id."""
    command = [sys.executable, "-m", "tests.crash.midwave", str(STUDIO), str(db), str(MIDWAVE_DAYS), str(after)]
    proc = subprocess.run([*command, *([reason] if reason else [])], cwd=ROOT, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    conn = checks.connect(db)
    try:
        open_wakes: dict[str, int] = {}
        for r in conn.execute("SELECT id, agent, kind FROM events WHERE kind IN ('agent.woke', ?, ?, ?) ORDER BY id",
                              checks.WAKE_CLOSERS):
            if r["kind"] == "agent.woke":
                open_wakes[r["agent"]] = r["id"]
            else:
                open_wakes.pop(r["agent"], None)
        return open_wakes
    finally:
        conn.close()


def _resume(db: Path) -> sqlite3.Connection:
    from conductor.cli.run_cmd import run_headless

    run_headless(STUDIO, db, days=MIDWAVE_DAYS, live=False)
    return checks.connect(db)


def _wake_decisions(conn: sqlite3.Connection, woke_id: int) -> list[tuple[str, str]]:
    """(kind, params) of the decisions a wake-up proposed: its agent's, from its `agent.woke` to the next one."""
    agent = conn.execute("SELECT agent FROM events WHERE id = ?", (woke_id,)).fetchone()[0]
    end = conn.execute("SELECT min(id) FROM events WHERE agent = ? AND kind = 'agent.woke' AND id > ?",
                       (agent, woke_id)).fetchone()[0] or 2**62
    return [(json.loads(r[0])["kind"], json.dumps(json.loads(r[0])["params"], sort_keys=True)) for r in conn.execute(
        "SELECT payload FROM events WHERE agent = ? AND kind = 'decision.proposed' AND id > ? AND id < ? ORDER BY id",
        (agent, woke_id, end))]


def _redo_of(conn: sqlite3.Connection, woke_id: int) -> int:
    (redo,) = conn.execute("SELECT id FROM events WHERE kind = 'agent.woke' AND json_extract(payload, '$.redoes') = ?",
                           (woke_id,)).fetchall()
    return redo[0]


def _decision_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM events WHERE kind = 'decision.proposed'").fetchone()[0]


def test_a_wave_killed_in_flight_is_done_again_as_the_unbroken_run_did_it(tmp_path: Path, unbroken: Path) -> None:
    """SIGKILL right after one wake-up of a wave committed while others were in flight: each one left in flight
    is done again exactly once after the restart, with the same reason and news, and (its prompt being the one
    it had) proposes what the same wake-up proposed in a run that was never killed."""
    db = tmp_path / "split.db"
    in_flight = _kill_mid_wave(db, after=60)
    assert len(in_flight) >= 2, "the kill did not land with a wave in flight"
    conn = _resume(db)
    whole = checks.connect(unbroken)
    try:
        assert checks.check_interrupted_redone(conn) == []
        interrupted = {r[0]: json.loads(r[1]).get("wake") for r in conn.execute(
            "SELECT agent, payload FROM events WHERE kind = 'agent.interrupted'")}
        assert interrupted == in_flight
        for agent, woke_id in in_flight.items():
            assert _wake_decisions(conn, _redo_of(conn, woke_id)) == _wake_decisions(whole, woke_id), agent
        assert _decision_count(conn) == _decision_count(whole)
        assert checks.check_wakes_closed(conn) == [] and projection_differences(conn) == []
    finally:
        whole.close()
        conn.close()


def test_an_author_killed_while_revising_revises_after_the_restart(tmp_path: Path, unbroken: Path) -> None:
    """The revision loop closes: a decision sent back by its reviewer, whose author's revision wake-up was
    killed, is revised by the redone wake-up instead of staying "revising" for ever."""
    db = tmp_path / "split.db"
    in_flight = _kill_mid_wave(db, after=0, reason="revision")  # the first revision in flight, wherever it falls
    conn = checks.connect(db)
    try:
        revising = {r[0]: r[1] for r in conn.execute("SELECT id, agent FROM decisions WHERE state = 'revising'")}
    finally:
        conn.close()
    authors = {agent for agent in revising.values() if agent in in_flight}
    assert authors, "the kill did not land while an author was revising"
    conn = _resume(db)
    whole = checks.connect(unbroken)
    try:
        assert checks.check_interrupted_redone(conn) == []
        for author in authors:
            redo = conn.execute("SELECT payload FROM events WHERE id = ?", (_redo_of(conn, in_flight[author]),))
            assert "a decision returned for revision" in json.loads(redo.fetchone()[0])["reason"]
        states = dict(conn.execute("SELECT id, state FROM decisions").fetchall())
        assert [d for d in revising if states[d] == "revising"] == [], "a revision was never done"
        assert _decision_count(conn) == _decision_count(whole)
        assert projection_differences(conn) == []
    finally:
        whole.close()
        conn.close()


def _what_was_decided(conn: sqlite3.Connection) -> Counter[tuple[str, ...]]:
    """Every proposal (with how it ended) and every review verdict, as (instant, agent, what): nothing that
    names an event id, since a resumed run's own events (`run.started`, `agent.interrupted`, the redone
    `agent.woke`) shift every later id."""
    states = dict(conn.execute("SELECT id, state FROM decisions").fetchall())
    decided: Counter[tuple[str, ...]] = Counter()
    for row in conn.execute("SELECT id, sim_time, agent, kind, payload FROM events "
                            "WHERE kind IN ('decision.proposed', 'review.answered') ORDER BY id"):
        p = json.loads(row["payload"])
        what = ((p["kind"], json.dumps(p["params"], sort_keys=True), states.get(row["id"], "?"))
                if row["kind"] == "decision.proposed" else (p["verdict"], p.get("feedback") or ""))
        decided[(row["sim_time"], row["agent"], row["kind"], *what)] += 1
    return decided


@pytest.mark.parametrize("after", [60, 150, 240])
def test_a_run_killed_anywhere_decides_what_the_unbroken_run_decided(tmp_path: Path, unbroken: Path,
                                                                      after: int) -> None:
    """Killed mid-wave at points from the first wave to the last day and resumed, the run proposes the same
    decisions at the same instants, they end the same way, and every review says the same, as in the run
    that was never killed (the simulated model's draws ignore event ids, and a redone wake-up or review is
    shown the memories its first attempt was shown)."""
    db = tmp_path / "split.db"
    in_flight = _kill_mid_wave(db, after=after)
    assert in_flight, "the kill did not land with a wave in flight"
    conn = _resume(db)
    whole = checks.connect(unbroken)
    try:
        assert checks.check_interrupted_redone(conn) == []
        resumed, expected = _what_was_decided(conn), _what_was_decided(whole)
        assert sum(resumed.values()) == sum(expected.values())
        assert resumed - expected == Counter() and expected - resumed == Counter()
        assert _decision_count(conn) == _decision_count(whole)
    finally:
        whole.close()
        conn.close()
