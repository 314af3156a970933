"""Killing a headless run with SIGKILL and starting it again: nothing executes twice, nothing pending is lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conductor.store.rebuild import projection_differences

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
