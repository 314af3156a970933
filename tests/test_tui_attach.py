"""`conductor attach` against a headless `conductor run` in another process: events the other process commits
show in the control room, and an approval made in the control room is executed by the headless process.

Real processes, so this waits on conditions (polling the database and the screen) with deadlines that only
a hang reaches, never fixed sleeps, and asserts no duration: how fast the control room follows a busy log is
measured by `python -m bench.ui_latency`, not here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tui_support import REPO, STUDIO, control_room_app, settle, subprocess_env


def one(db: Path, sql: str, *args: Any) -> Any:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


async def wait_for(check: Any, what: str, deadline_s: float, pilot: Any = None) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            value = check()
        except sqlite3.Error:
            value = None
        if value:
            return value
        if pilot is not None:
            await pilot.pause()
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out after {deadline_s:g} s waiting for {what}")


@pytest.fixture
def headless_run(tmp_path: Path) -> Any:
    """The example studio run headless, slowly (20 s a simulated day), so escalations stay open a while."""
    db = tmp_path / "attach.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conductor", "run", str(STUDIO), "--db", str(db), "--pace", "20", "--days", "30"],
        env=subprocess_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield db, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Long enough that only a hang reaches it, however loaded the machine.
HANG_S = 60


async def test_attach_shows_the_events_the_headless_run_commits_and_the_headless_run_executes_an_approval(
        headless_run: Any) -> None:
    db, proc = headless_run
    await wait_for(lambda: db.exists() and one(db, "SELECT count(*) FROM escalations WHERE state = 'pending' "
                                                   "AND kind = 'decision'"), "a decision escalation", 90)
    app = control_room_app(db, poll_interval=0.1)
    assert app.runner is None, "attached: the scheduler is the other process"
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.room.query_one("#activity-log")
        for _ in range(3):  # three times: an event the other process commits from now on, then it on screen
            seen = one(db, "SELECT max(id) FROM events")
            newest = await wait_for(lambda s=seen: (one(db, "SELECT max(id) FROM events") or 0) > s and one(
                db, "SELECT max(id) FROM events"), "a new event from the headless run", HANG_S)
            await wait_for(lambda n=newest: log.last_event_id >= n, f"event #{newest} on screen", HANG_S, pilot)

        await pilot.press("2")
        table = app.room.query_one("#inbox-table")
        await wait_for(lambda: table.row_count, "the inbox", HANG_S, pilot)
        for _ in range(table.row_count):
            if table.selected is not None and table.selected.kind == "decision":
                break
            await pilot.press("j")
        chosen = table.selected
        assert chosen is not None and chosen.kind == "decision"
        await pilot.press("a")
        await settle(pilot)
        assert one(db, "SELECT verdict FROM escalations WHERE id = ?", chosen.id) == "approved"

    executed = await wait_for(lambda: one(
        db, "SELECT count(*) FROM events WHERE kind = 'decision.executed' AND json_extract(payload, '$.decision_id') = ?",
        chosen.decision_id), "the headless run to execute the approved decision", HANG_S)
    assert executed == 1
    assert one(db, "SELECT state FROM decisions WHERE id = ?", chosen.decision_id) in ("executed", "failed")
    assert proc.poll() is None, "the headless run is still going: it picked the verdict up from the database"
