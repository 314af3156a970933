"""The crash harness in CI: 20 SIGKILLs lose nothing, and the harness itself notices when something runs twice.

The harness (tests/crash/) forks `conductor run` on the studio, kills it at seeded random moments, resumes
it, plays the founder from another connection, and checks the invariants in tests/crash/checks.py after
every kill and at the end. `CONDUCTOR_CRASH_SEED` picks another kill plan (default 1).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

import conductor.engine.jobs as jobs_module
from conductor.engine.provider import CallResult
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import Org, load_org
from conductor.services.founder import resolve_escalation
from conductor.store import NewEvent, commit_events, open_database
from crash import checks
from crash.harness import Config, Report, run_harness

SEED = int(os.environ.get("CONDUCTOR_CRASH_SEED", "1"))
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"


def harness(cfg: Config) -> Report:
    """`run_harness` in a fresh interpreter of its own: it forks its runs from the process it runs in, which must
    have no thread but the main one (it asserts so), and the test process may have others (pytest-xdist's worker
    talks to the controller from a thread; an earlier test may leave one behind)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run_harness, cfg).result()


def test_twenty_sigkills_lose_nothing_and_run_nothing_twice(tmp_path: Path) -> None:
    report = harness(Config(trials=20, seed=SEED, workdir=tmp_path))
    print("\n".join(report.lines()))
    assert report.kills >= 20
    assert report.violations == []
    # The trials did reach the moments that matter: commands and founder verdicts, not only quiet stretches.
    assert report.acks_checked > 1000 and report.decisions_executed > 100
    assert report.commands_run > 0 and sum(report.founder_verdicts.values()) > 0
    assert report.wakes_interrupted > 0  # and each was done again (`checks.check_interrupted_redone`)


def test_without_idempotency_the_harness_reports_a_command_run_twice(tmp_path: Path) -> None:
    """A test of the test: kill while a declared command runs, with the engine's at-most-once switched off."""
    report = harness(Config(trials=2, seed=SEED, workdir=tmp_path, idempotency=False, strategies=("shell",),
                                chain_length=2, shell_wait_s=30.0, command_sleep_s=0.5))
    print("\n".join(report.lines()))
    assert report.kills >= 1
    assert any("its command ran" in v for v in report.violations), report.violations


# -- the checks themselves fail on a doctored database ------------------------------------------------------
def _db(tmp_path: Path, events: list[NewEvent]) -> Path:
    path = tmp_path / "doctored.db"
    conn = open_database(path)
    try:
        commit_events(conn, events)
    finally:
        conn.close()
    return path


def test_checks_report_a_missing_acknowledged_event_and_a_rewritten_log(tmp_path: Path) -> None:
    db = _db(tmp_path, [NewEvent("run.started", {"pid": 1}), NewEvent("clock.advanced", {"day": 1})])
    conn = checks.connect(db)
    try:
        before = checks.snapshot(conn)
        assert checks.check_after_kill(conn, [(1, "run.started"), (2, "clock.advanced")], before) == []
        assert checks.check_acked(conn, [(3, "agent.woke")]) == ["event #3 (agent.woke) was reported written and is missing"]
        assert checks.check_acked(conn, [(2, "agent.woke")]) == [
            "event #2 was reported written as agent.woke but the log holds clock.advanced"]
        tampered = checks.Snapshot(max_id=before.max_id, digest="0" * 64)
        assert checks.check_log_shape(conn, tampered) == ["events up to #2 changed after they were committed"]
        assert checks.check_log_shape(conn, checks.Snapshot(max_id=5, digest="")) == [
            "the log shrank: highest id 2, was 5"]
        lost = checks.Snapshot(brain_versions={("inkwell", 1): "x"})
        assert checks.check_brain_versions(conn, lost) == ["brain version inkwell@1 changed or vanished"]
    finally:
        conn.close()


def test_checks_report_double_execution_and_a_gate_lifted_without_approval(tmp_path: Path) -> None:
    db = _db(tmp_path, [
        NewEvent("decision.proposed", {"kind": "release.deploy", "params": {}, "state": "proposed"}, venture="v",
                 agent="a"),
        NewEvent("escalation.opened", {"kind": "decision", "decision_id": 1, "reason": "always", "detail": {}},
                 venture="v", agent="a"),
        NewEvent("escalation.resolved", {"escalation_id": 2, "verdict": "expired", "decision_id": 1, "by": "policy"}),
        NewEvent("escalation.resolved", {"escalation_id": 2, "verdict": "approved", "decision_id": 1, "by": "founder"}),
        NewEvent("decision.executing", {"decision_id": 1, "idempotency_key": "decision-1"}),
        NewEvent("decision.executed", {"decision_id": 1, "idempotency_key": "decision-1", "ok": True,
                                       "result": {"exit_code": 0}}),
    ])
    conn = checks.connect(db)
    try:
        assert checks.check_gates(conn) == ["decision #1 executed although its escalation #2 was never approved"]
        assert checks.check_executed_once(conn, Counter({1: 1})) == []
        assert checks.check_executed_once(conn, Counter({1: 2})) == [
            "decision #1: its command ran 2 times", "decision #1 is recorded as run but its command ran 2 times"]
        assert checks.check_escalations_kept(conn, {2, 99}) == ["escalation #99 was pending at a kill and is gone"]
        assert checks.check_wakes_closed(conn) == []
    finally:
        conn.close()


def test_checks_report_an_interrupted_wake_up_dropped_doubled_or_changed(tmp_path: Path) -> None:
    def woke(payload: dict) -> NewEvent:
        return NewEvent("agent.woke", {"reason": "a new message", **payload}, venture="v", agent="a")

    def closed(kind: str = "agent.concluded") -> NewEvent:
        return NewEvent(kind, {"next_wake": "2026-01-05T09:00:00Z"}, venture="v", agent="a")

    db = _db(tmp_path, [
        woke({"inputs": {"messages": [9]}}), closed("agent.interrupted"),  # 1, 2: never done again
        woke({"reason": "your heartbeat"}), closed(),  # 3, 4
        woke({"inputs": {"messages": [9]}}), closed("agent.interrupted"),  # 5, 6: done again twice
        woke({"redoes": 5, "inputs": {"messages": [9]}}), closed(),  # 7, 8
        woke({"redoes": 5, "reason": "a new task", "inputs": {"messages": [9, 10]}}), closed(),  # 9, 10
    ])
    conn = checks.connect(db)
    try:
        assert checks.check_interrupted_redone(conn) == [
            "a's interrupted wake-up #1 was never done again",
            "a's interrupted wake-up #5 was done again 2 times",
            "message #9 was shown to wake-ups #7 and #9",
        ]
    finally:
        conn.close()
    db.unlink()
    db = _db(tmp_path, [woke({"inputs": {"messages": [9], "outcomes": [4]}}), closed("agent.interrupted"),
                        woke({"redoes": 1, "reason": "a new task", "inputs": {"messages": [9, 10], "verdicts": [3]}}),
                        closed()])
    conn = checks.connect(db)
    try:
        assert checks.check_interrupted_redone(conn) == [
            "wake-up #1 was woken for 'a new message', its redo for 'a new task'",
            "wake-up #1 was shown messages [9], its redo [9, 10]",
            "wake-up #1 was shown outcomes [4], its redo []",
        ]
    finally:
        conn.close()


# -- regressions the harness found, made deterministic --------------------------------------------------------
def _lead_signs(messages: list[dict[str, str]]) -> str:
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    if "Agent id: duo-lead" in prompt and "first wake-up" in prompt:
        return json.dumps({"summary": "sign", "decisions": [{
            "kind": "vendor.sign", "params": {"vendor": "Acme"}, "rationale": "We need hosting.", "confidence": 0.9,
            "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}}]})
    return json.dumps({"verdict": "approve"} if prompt.startswith("# Review request") else {"summary": "quiet"})


async def _run_duo(db: Path, org: Org, hours: int, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake(model: str, messages: list[dict[str, str]], **kw: object) -> CallResult:
        return CallResult(text=_lead_signs(messages), model=model, prompt_tokens=10, completion_tokens=10, cost=0.0,
                          latency_ms=1.0)

    monkeypatch.setattr(jobs_module, "call_model", fake)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(hours=hours), model="test/scripted"))
    await asyncio.wait_for(engine.run(), 30)


def _pending(db: Path) -> tuple[int, int]:
    conn = checks.connect(db)
    try:
        (row,) = conn.execute("SELECT id, decision_id FROM escalations WHERE state = 'pending'").fetchall()
        return row["id"], row["decision_id"]
    finally:
        conn.close()


def _executions(db: Path, decision_id: int) -> list[str]:
    conn = checks.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT state FROM decisions WHERE id = ?", (decision_id,))] + [
            "executed-event" for _ in conn.execute("SELECT id FROM events WHERE kind = 'decision.executed' AND "
                                                   "json_extract(payload, '$.decision_id') = ?", (decision_id,))]
    finally:
        conn.close()


async def test_a_verdict_the_killed_run_never_acted_on_is_carried_out_on_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = load_org(DUO)
    db = tmp_path / "v.db"
    await _run_duo(db, org, 6, monkeypatch)
    escalation, decision = _pending(db)
    conn = open_database(db)
    try:
        resolve_escalation(conn, escalation, "approved", org=org)
        # The run went on writing its own events after the verdict, and was killed before it polled it.
        commit_events(conn, [NewEvent("run.stopped", {"reason": "killed"})])
    finally:
        conn.close()
    await _run_duo(db, org, 12, monkeypatch)
    assert _executions(db, decision) == ["executed", "executed-event"]


async def test_a_founder_approval_written_after_the_expiry_never_executes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = load_org(DUO)
    db = tmp_path / "v.db"
    await _run_duo(db, org, 6, monkeypatch)
    escalation, decision = _pending(db)
    conn = open_database(db)
    try:
        base = {"escalation_id": escalation, "escalation_kind": "decision", "decision_id": decision}
        commit_events(conn, [NewEvent("escalation.resolved", {**base, "verdict": "expired", "by": "policy",
                                                              "note": "nobody acted before it expired"})])
        # A founder who saw it pending a moment before: the check passed, the write landed after the expiry.
        commit_events(conn, [NewEvent("escalation.resolved", {**base, "verdict": "approved", "by": "founder"})])
    finally:
        conn.close()
    await _run_duo(db, org, 12, monkeypatch)
    assert _executions(db, decision) == ["expired"]
