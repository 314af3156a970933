"""Model calls in worker processes (`[engine] model_workers`, `conductor run --model-workers`).

A worker makes the same call the engine would (litellm's real HTTP client against a stub OpenAI-compatible server
on 127.0.0.1): the same answer, usage, price and faults. A worker that dies fails its calls in flight with a
retryable fault and is replaced; a cancelled call is cancelled in the worker too; closing the pool leaves no
process behind; a key that is not set fails in the engine's process, before anything is sent; and a whole run
with workers leaves the same kind of log and database as one without, with no key in either.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from conductor.engine.model_workers import ModelWorkers
from conductor.engine.provider import CallRequest, ProviderFault, RetryPolicy, call_model
from conductor.org.loader import parse_org
from process_support import alive, started_workers
from stub_openai import Hit, Reply, StubOpenAI, ok, stall, status
from test_org_models import LEAD_KEY, OPS_KEY, answer, clean_env, conductor, org_file

MODEL = "openai/stub-model"
KEY_ENV = "CONDUCTOR_TEST_WORKER_KEY"
KEY = "sk-worker-test-8c1d2e3f4a5b6978"


def _org(base_url: str, model: str = MODEL) -> object:
    data = {
        "name": "Workers", "model": model, "clock": "sim", "seed": 1, "budget_per_day": 100,
        "prices": {MODEL: {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
        "models": {MODEL: {"api_base": base_url, "api_key_env": KEY_ENV}},
        "decision_kinds": [{"id": "note.write", "description": "Write a note.", "action": "record"}],
        "platform": {"mission": "Watch.", "heartbeat": "30d"},
        "ventures": [{"id": "v", "name": "V", "stage": "mvp", "goal": "Grow.",
                      "metrics": [{"name": "m", "unit": "n", "direction": "up"}],
                      "agents": [{"id": "a", "role": "A", "mission": "Work.", "owns_metric": "m",
                                  "heartbeat": "1d", "budget_per_day": 10, "decision_kinds": ["note.write"]}]}],
    }
    return parse_org(data)


async def _until(condition: object, what: str) -> None:
    """Wait for something another process does (a request reaching the server), polling, within a bound."""
    for _ in range(2000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def _script(hit: Hit) -> Reply:
    prompt = hit.prompt
    if prompt.startswith("fail"):
        return status(401, "invalid key given")
    if prompt.startswith("hold"):
        return stall(60)
    return ok({"summary": f"answer {hit.n}"}, usage=(120, 30), cached=40)


async def test_a_worker_answers_as_this_process_would_and_fails_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with StubOpenAI(_script) as server:
        org = _org(server.base_url)
        here = await call_model(MODEL, [{"role": "user", "content": "hello"}], org=org, max_tokens=50)
        async with ModelWorkers(org, 2) as pool:
            await pool.ready()
            there = await pool.call(CallRequest(MODEL, [{"role": "user", "content": "hello"}], max_tokens=50))
            assert there.text.startswith('{"summary": "answer ') and here.text.startswith('{"summary": "answer ')
            assert (there.prompt_tokens, there.completion_tokens, there.cached_tokens, there.cost, there.faults) == (
                here.prompt_tokens, here.completion_tokens, here.cached_tokens, here.cost, here.faults)
            assert there.cost == pytest.approx((120 * 1.0 + 30 * 2.0) / 1e6)

            with pytest.raises(ProviderFault) as local:
                await call_model(MODEL, [{"role": "user", "content": "fail"}], org=org)
            with pytest.raises(ProviderFault) as remote:
                await pool.call(CallRequest(MODEL, [{"role": "user", "content": "fail"}]))
            assert (str(remote.value), remote.value.retryable) == (str(local.value), False)
            assert "401" in str(remote.value)

            # Many at once spread over both workers, each answer to its own call.
            answers = await asyncio.gather(*(pool.call(CallRequest(MODEL, [{"role": "user", "content": f"n{i}"}]))
                                             for i in range(12)))
            assert len({a.text for a in answers}) == 12
        assert all(h.headers.get("authorization") == f"Bearer {KEY}" for h in server.hits)


async def test_a_cancelled_call_stops_there_a_dead_worker_is_replaced_and_closing_leaves_no_process(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    monkeypatch.setenv(KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG, logger="conductor")  # the workers log at the engine's level: their debug lines
    with StubOpenAI(_script) as server:
        pool = ModelWorkers(_org(server.base_url), 1)
        try:
            await pool.ready()
            # Cancelled here (a timeout, a stop): the worker is told, and nothing stays in flight.
            held = asyncio.create_task(pool.call(CallRequest(MODEL, [{"role": "user", "content": "hold"}])))
            await _until(lambda: sum(h.prompt == "hold" for h in server.hits) == 1, "the held call reached the server")
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held
            assert pool.in_flight() == 0
            await _until(lambda: "call cancelled in the worker" in caplog.text, "the worker cancelled the call")
            assert (await pool.call(CallRequest(MODEL, [{"role": "user", "content": "next"}]))).prompt_tokens == 120

            # The worker dies during a call: the call fails as retryable, and the next call gets a new worker.
            held = asyncio.create_task(pool.call(CallRequest(MODEL, [{"role": "user", "content": "hold"}])))
            await _until(lambda: sum(h.prompt == "hold" for h in server.hits) == 2, "the held call reached the server")
            [first_pid] = pool.pids()
            os.kill(first_pid, signal.SIGKILL)
            with pytest.raises(ProviderFault) as fault:
                await held
            assert fault.value.retryable and "worker stopped" in str(fault.value)
            after = await pool.call(CallRequest(MODEL, [{"role": "user", "content": "again"}]))
            assert after.text.startswith('{"summary"')
            [pid] = pool.pids()
            assert pid != first_pid and not alive(first_pid)
        finally:
            await pool.close()
        assert not alive(pid) and pool.pids() == []
        with pytest.raises(ProviderFault):
            await pool.call(CallRequest(MODEL, [{"role": "user", "content": "closed"}]))


async def test_a_stuck_worker_is_stopped_after_the_longest_its_call_could_take(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker bounds each attempt; the pool bounds the worker: one that stops answering (here, stopped with
    SIGSTOP) fails the call as retryable once every attempt and backoff would have ended, and is replaced."""
    monkeypatch.setenv(KEY_ENV, KEY)
    with StubOpenAI(_script) as server:
        pool = ModelWorkers(_org(server.base_url), 1, stuck_margin_s=0.5)
        try:
            await pool.ready()
            [pid] = pool.pids()
            os.kill(pid, signal.SIGSTOP)
            quick = RetryPolicy(max_retries=0, timeout_s=0.5)
            with pytest.raises(ProviderFault) as fault:
                await pool.call(CallRequest(MODEL, [{"role": "user", "content": "x"}], retry=quick))
            assert fault.value.retryable and "did not answer within 1 s" in str(fault.value)
            again = await pool.call(CallRequest(MODEL, [{"role": "user", "content": "y"}]))
            assert again.prompt_tokens == 120 and pool.pids() != [pid] and not alive(pid)
        finally:
            await pool.close()


async def test_workers_that_die_at_start_fail_calls_for_good_saying_why(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    """A worker that cannot start (no such interpreter, a broken install) is retried a few times, then every call
    fails at once, not retryable, with the worker's last words; no call waits on a worker that will never come."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named conductor' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    pool = ModelWorkers(_org("http://127.0.0.1:9/v1"), 1)
    try:
        faults = []
        for _ in range(5):
            with pytest.raises(ProviderFault) as fault:
                await pool.call(CallRequest(MODEL, [{"role": "user", "content": "x"}]))
            faults.append(fault.value)
        assert faults[0].retryable
        assert not faults[-1].retryable and "died before they could take a call" in str(faults[-1])
        assert "No module named conductor" in str(faults[-1])
    finally:
        await pool.close()


async def test_a_key_that_is_not_set_fails_here_before_anything_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    from conductor.engine.provider import routed

    class Unreachable:
        async def call(self, request: CallRequest) -> object:
            raise AssertionError("sent to a worker without its key")

    with StubOpenAI(_script) as server, routed(Unreachable()):  # type: ignore[arg-type]
        with pytest.raises(ProviderFault) as fault:
            await call_model(MODEL, [{"role": "user", "content": "x"}], org=_org(server.base_url))
        assert KEY_ENV in str(fault.value) and not fault.value.retryable
        assert server.hits == []


def test_a_run_with_model_workers_answers_every_agent_and_keeps_keys_out(tmp_path: Path) -> None:
    with StubOpenAI(answer) as lead, StubOpenAI(answer) as ops:
        org = org_file(tmp_path, lead.base_url, ops.base_url)
        db = tmp_path / "workers.db"
        call_log = tmp_path / "calls.jsonl"
        proc = conductor("run", str(org), "--db", str(db), "--days", "0.5", "--model-workers", "2",
                         "--log-calls", str(call_log), env=clean_env(DUO_LEAD_KEY=LEAD_KEY, DUO_OPS_KEY=OPS_KEY))
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert {h.agent for h in lead.hits if h.agent} == {"duo-lead"}
    # `--log-calls` is written by the engine, whoever made the call: one line per call, with its answer.
    written = call_log.read_text()
    logged = [json.loads(line) for line in written.splitlines()]
    assert len(logged) == len(lead.hits) + len(ops.hits)
    assert all(r["answer"] and r["prompt_tokens"] > 0 for r in logged)
    assert LEAD_KEY not in written and OPS_KEY not in written
    assert {h.agent for h in ops.hits if h.agent} == {"duo-ops"}
    conn = sqlite3.connect(db)
    try:
        calls = conn.execute("SELECT model, count(*), sum(ok), sum(cost) FROM calls GROUP BY model").fetchall()
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert {m for m, n, good, _ in calls if n == good} >= {"openai/lead-model", "openai/ops-model"}, calls
    assert all(cost > 0 for *_, cost in calls)  # priced from the org file in the worker
    log = Path(str(db) + ".log").read_text()
    assert log.count("model worker started") == 2
    assert "call for=duo-lead wake model=openai/lead-model" in log  # the worker's own line, logged here
    pids = started_workers(log)
    assert pids and not any(alive(pid) for pid in pids)
    for key in (LEAD_KEY, OPS_KEY):
        assert key not in dump and key not in log and key not in proc.stdout + proc.stderr


def test_model_workers_out_of_range_is_one_line(tmp_path: Path) -> None:
    org = org_file(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    proc = conductor("run", str(org), "--db", str(tmp_path / "x.db"), "--days", "0.5", "--model-workers", "-1",
                     env=clean_env())
    assert proc.returncode != 0
    assert "--model-workers -1" in proc.stderr + proc.stdout
    assert not (tmp_path / "x.db").exists()


def test_no_worker_outlives_an_engine_that_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the engine no chance to close anything: each worker reads the end of its input, cancels its
    calls and exits by itself."""
    import subprocess
    import time as clock

    with StubOpenAI(lambda hit: stall(60), max_seconds=90) as lead, StubOpenAI(lambda hit: stall(60)) as ops:
        org = org_file(tmp_path, lead.base_url, ops.base_url)
        db = tmp_path / "killed.db"
        proc = subprocess.Popen([sys.executable, "-m", "conductor", "run", str(org), "--db", str(db), "--days", "0.5",
                                 "--model-workers", "2"], env=clean_env(DUO_LEAD_KEY=LEAD_KEY, DUO_OPS_KEY=OPS_KEY),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = clock.monotonic() + 60
            while not (lead.hits and ops.hits) and proc.poll() is None and clock.monotonic() < deadline:
                clock.sleep(0.05)
            assert lead.hits and ops.hits, "the calls never reached the servers"
            log = Path(str(db) + ".log").read_text()
            pids = started_workers(log)
            assert len(pids) == 2 and all(alive(pid) for pid in pids)
            proc.kill()
            proc.wait(timeout=30)
            deadline = clock.monotonic() + 30
            while any(alive(pid) for pid in pids) and clock.monotonic() < deadline:
                clock.sleep(0.05)
            assert not any(alive(pid) for pid in pids), "a worker outlived its engine"
        finally:
            if proc.poll() is None:
                proc.kill()


async def test_a_run_whose_models_are_all_simulated_starts_no_worker(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The simulator is a function in the engine's process: asking for workers then starts none, and says why."""
    import logging
    from datetime import timedelta

    from conductor.engine.scheduler import Engine, EngineOptions

    caplog.set_level(logging.INFO, logger="conductor")
    org = _org("http://127.0.0.1:9/v1", model="sim/perfect")
    engine = Engine(org, tmp_path / "sim.db",  # type: ignore[arg-type]
                    EngineOptions(model_workers=2, until=org.start + timedelta(hours=2)))  # type: ignore[attr-defined]
    await engine.run()
    assert "model workers not started: every model of this run is the simulator" in caplog.text
    assert "model worker started" not in caplog.text and engine.calls_made > 0
