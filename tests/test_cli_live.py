"""Founder commands from other processes reach a running `conductor run`, which acts on them without a restart,
and nobody's writes are lost.

One scheduler runs the studio on the simulated market (paced, so escalations stay open for a few seconds)
in a subprocess for the whole module; every command is a real `conductor ...` subprocess, as from cron or a
second terminal. Waiting is polling with a deadline that only a hang reaches (`HANG_S`); no test asserts how
long anything took (the pickup time is printed: the scheduler polls every 0.5 s, a loaded machine is slower),
and none sleeps a fixed time: an absence is shown by a later command that the scheduler has acted on.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from conductor.org import load_org
from conductor.services.queries import EventRow, InboxItem, Status
from conductor.store.rebuild import projection_differences

REPO = Path(__file__).resolve().parent.parent
STUDIO = REPO / "orgs" / "studio.toml"
PACE = "3"  # real seconds per simulated day: a 2-day escalation expiry is 6 s of wall time
HANG_S = 60.0  # how long to wait for something that must happen: only a hang reaches it


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), out.get("PYTHONPATH")]))
    out["COLUMNS"] = "200"
    return out


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conductor", *args, "--db", str(db)], env=env(), cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")


def pending_decisions(db: Path) -> list[InboxItem]:
    result = cli(db, "inbox", "list", "--json")
    assert result.returncode == 0, result.stderr
    items = TypeAdapter(list[InboxItem]).validate_json(result.stdout)
    return [i for i in items if i.kind == "decision" and i.state == "pending"]


def woke_after(db: Path, agent: str, after_id: int, reason: str = "") -> list[sqlite3.Row]:
    found = rows(db, "SELECT * FROM events WHERE kind = 'agent.woke' AND agent = ? AND id > ? ORDER BY id",
                 agent, after_id)
    return [r for r in found if reason in json.loads(r["payload"]).get("reason", "")]


def event_id(stdout: str) -> int:
    """The `(event #N)` / `event #N` a founder command prints."""
    return int(stdout.split("event #", 1)[1].split(")", 1)[0].split(";", 1)[0].split()[0])


def _started(db: Path) -> bool:
    try:
        return db.exists() and bool(rows(db, "SELECT 1 FROM events WHERE kind = 'run.started'"))
    except sqlite3.OperationalError:  # the schema is being created
        return False


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    db = tmp_path_factory.mktemp("live") / "live.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conductor", "run", str(STUDIO), "--db", str(db), "--pace", PACE, "--days", "90"],
        env=env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for("the run to start", lambda: _started(db), 90, 0.1)  # so that any one test can run alone
        yield db, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_status_sees_the_running_scheduler_and_its_pid(live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, proc = live
    wait_for("the run to start", lambda: db.exists() and rows(db, "SELECT 1 FROM events WHERE kind = 'run.started'"),
             90, 0.1)
    status = Status.model_validate_json(cli(db, "status", "--json").stdout)
    assert status.run.running is True and status.run.pid == proc.pid
    assert status.org == "Northwind Studio" and status.budget_per_day == load_org(STUDIO).budget_per_day


def test_an_approval_is_executed_by_the_running_scheduler(live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, proc = live
    item = wait_for("a decision escalation in `inbox list --json`", lambda: pending_decisions(db), 90, 0.2)[0]
    approve = cli(db, "inbox", "approve", str(item.id))
    returned = time.monotonic()
    assert approve.returncode == 0, approve.stderr
    assert "the running scheduler acts on it" in approve.stdout
    executed = wait_for(
        f"decision #{item.decision_id} to execute",
        lambda: rows(db, "SELECT * FROM events WHERE kind = 'decision.executed' AND "
                         "json_extract(payload, '$.decision_id') = ?", item.decision_id), HANG_S)[0]
    latency = time.monotonic() - returned
    resolved = rows(db, "SELECT ts FROM events WHERE kind = 'escalation.resolved' AND "
                        "json_extract(payload, '$.escalation_id') = ?", item.id)[0]
    from conductor.store import parse_iso

    in_log = (parse_iso(executed["ts"]) - parse_iso(resolved["ts"])).total_seconds()
    print(f"\napprove -> decision.executed: {latency:.3f} s after `inbox approve` returned, "
          f"{in_log:.3f} s between the two commits")
    assert proc.poll() is None, "the running scheduler executed it: no restart"


def test_a_rejection_is_picked_up_by_the_running_scheduler(live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, _ = live
    item = wait_for("another decision escalation", lambda: pending_decisions(db), 60, 0.2)[0]
    result = cli(db, "inbox", "reject", str(item.id), "--note", "not this quarter")
    returned = time.monotonic()
    assert result.returncode == 0, result.stderr
    wait_for(f"decision #{item.decision_id} to be rejected", lambda: rows(
        db, "SELECT 1 FROM events WHERE kind = 'decision.updated' AND json_extract(payload, '$.decision_id') = ? "
            "AND json_extract(payload, '$.state') = 'rejected'", item.decision_id), HANG_S)
    print(f"\npicked up {time.monotonic() - returned:.3f} s after the command returned")


def test_a_directive_and_a_wake_are_picked_up_by_the_running_scheduler(
        live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, _ = live
    directive = cli(db, "directive", "add", "ledgerly", "keep every change reversible this month")
    assert directive.returncode == 0, directive.stderr
    after = event_id(directive.stdout)
    wake = cli(db, "wake", "ledgerly-cto")
    returned = time.monotonic()
    assert wake.returncode == 0, wake.stderr
    wait_for("ledgerly-cto to wake for the founder", lambda: woke_after(db, "ledgerly-cto", after, "the founder"),
             HANG_S)
    print(f"\npicked up {time.monotonic() - returned:.3f} s after the command returned")
    assert woke_after(db, "ledgerly-cto", after, "a new directive") or woke_after(db, "ledgerly-ceo", after,
                                                                                 "a new directive")


def test_a_recorded_metric_reaches_the_running_schedulers_memory(
        live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, _ = live
    # Dated after anything the simulated market writes, so it stays the latest point of inkwell's signups.
    record = cli(db, "metric", "record", "inkwell", "signups", "987654", "--at", "2027-01-01T00:00:00Z")
    assert record.returncode == 0, record.stderr
    after = event_id(record.stdout)
    wake = cli(db, "wake", "inkwell-cmo")  # owns signups; its wake-up records the value it saw
    returned = time.monotonic()
    assert wake.returncode == 0, wake.stderr
    woke = wait_for("inkwell-cmo to wake", lambda: woke_after(db, "inkwell-cmo", after, "the founder"), HANG_S)
    print(f"\npicked up {time.monotonic() - returned:.3f} s after the command returned")
    assert json.loads(woke[0]["payload"])["metric_value"] == 987654.0


def test_a_paused_agent_stays_asleep_until_resumed(live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, _ = live
    pause = cli(db, "pause", "tidepool-support")
    assert pause.returncode == 0, pause.stderr
    wake = cli(db, "wake", "tidepool-support")  # after the pause in the log, so the scheduler sees it paused
    assert wake.returncode == 0, wake.stderr
    after = event_id(wake.stdout)
    # Showing an absence without waiting a fixed time: the scheduler reads founder commands in log order and
    # starts everyone they made due together, so once an agent woken after this one is awake, a paused agent
    # that (wrongly) took the wake would be awake too.
    witness = cli(db, "wake", "ledgerly-support")
    assert witness.returncode == 0, witness.stderr
    wait_for("the witness to wake for the founder",
             lambda: woke_after(db, "ledgerly-support", event_id(witness.stdout), "the founder"), HANG_S)
    assert woke_after(db, "tidepool-support", after) == []
    resume = cli(db, "resume", "tidepool-support")
    returned = time.monotonic()
    assert resume.returncode == 0, resume.stderr
    wait_for("tidepool-support to wake after resume", lambda: woke_after(db, "tidepool-support", after), HANG_S)
    print(f"\npicked up {time.monotonic() - returned:.3f} s after the command returned")


def test_a_big_import_beside_the_running_scheduler_loses_nothing(live: tuple[Path, subprocess.Popen[bytes]],
                                                                 tmp_path: Path) -> None:
    db, proc = live
    csv_file = tmp_path / "history.csv"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = ["venture,metric,value,at"]
    for n in range(10_000):
        lines.append(f"ledgerly,mrr,{4000 + n},{(start + timedelta(hours=n)).isoformat()}")
    csv_file.write_text("\n".join(lines) + "\n")
    before = rows(db, "SELECT max(id) FROM events")[0][0]
    started = time.monotonic()
    result = cli(db, "metric", "import", str(csv_file))
    print(f"\nmetric import of 10,000 rows beside a running scheduler: {time.monotonic() - started:.2f} s "
          f"(command's own timing: {result.stdout.strip()})")
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) FROM metric_points WHERE source = ?", f"csv:{csv_file.name}")[0][0] == 10_000
    assert proc.poll() is None, "the scheduler died beside the import"
    engine_events = lambda: rows(db, "SELECT count(*) FROM events WHERE id > ? AND "  # noqa: E731
                                     "json_extract(payload, '$.by') IS NULL", before)[0][0]
    mark = engine_events()
    wait_for("the scheduler to keep writing", lambda: engine_events() > mark, 10, 0.1)


def test_events_follow_streams_new_events_as_json_lines_and_ctrl_c_exits_0(
        live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, _ = live
    start = rows(db, "SELECT max(id) FROM events")[0][0]
    # Started with SIGINT ignored, as a script's background job (or a CI runner's) is: Ctrl-C must still end it.
    follow = subprocess.Popen(
        [sys.executable, "-m", "conductor", "events", "--follow", "--json", "--kind", "agent", "--limit", "1",
         "--db", str(db)], env=env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert follow.stdout is not None
        seen = [EventRow.model_validate_json(follow.stdout.readline()) for _ in range(5)]
    finally:
        follow.send_signal(signal.SIGINT)
        code = follow.wait(timeout=10)
    assert code == 0, follow.stderr.read() if follow.stderr else ""
    assert all(e.kind.startswith("agent.") for e in seen)
    assert [e.id for e in seen] == sorted({e.id for e in seen}) and seen[-1].id > start


def test_stopping_leaves_projections_equal_to_the_log(live: tuple[Path, subprocess.Popen[bytes]]) -> None:
    db, proc = live
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        assert projection_differences(conn) == []
        founder = conn.execute("SELECT count(*) FROM events WHERE json_extract(payload, '$.by') = 'founder'").fetchone()
        assert founder[0] >= 10_000 + 8
    finally:
        conn.close()
    status = Status.model_validate_json(cli(db, "status", "--json").stdout)
    assert status.run.running is False and status.run.stop_reason is not None
