"""Ctrl-C during a model call that hangs: `conductor run` stops without waiting for the call, records the
wake-ups it cut off as interrupted, and the next start does them again.

The stub server on 127.0.0.1 stalls every call for a minute; the run gets SIGINT once its calls are in flight.
No wall-clock duration is asserted (how fast it stops is measured by hand and reported, not tested): the
process must end long before the stall would, which a run that waits for its calls cannot.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from process_support import started_workers
from stub_openai import StubOpenAI, ok, stall

REPO = Path(__file__).resolve().parents[1]
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"
STALL_S = 60.0


def org_file(tmp_path: Path, base: str) -> Path:
    text = DUO.read_text().replace('model = "sim/perfect"', 'model = "openai/stub"')
    text += '\n[prices."openai/stub"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n'
    text += f'\n[models."openai/stub"]\napi_base = "{base}"\napi_key_env = "STUB_KEY"\n'
    path = tmp_path / "duo.toml"
    path.write_text(text)
    return path


def run(org: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CONDUCTOR_DB"))}
    env.update(STUB_KEY="sk-stub-ctrl-c-123456", PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"),
                                                                                         env.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "conductor", "run", str(org), "--db", str(db), "--days", "0.5",
                             *extra], start_new_session=True,  # its own process group, as a terminal gives it
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def events(db: Path, *kinds: str) -> list[tuple[str, str | None, dict]]:
    conn = sqlite3.connect(db)
    try:
        marks = ",".join("?" * len(kinds))
        rows = conn.execute(f"SELECT kind, agent, payload FROM events WHERE kind IN ({marks}) ORDER BY id", kinds)
        return [(k, a, json.loads(p)) for k, a, p in rows]
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [(), ("--model-workers", "2")], ids=["in-process", "model-workers"])
def test_ctrl_c_cuts_off_a_hanging_call_records_it_and_the_next_start_redoes_it(tmp_path: Path,
                                                                                 workers: tuple[str, ...]) -> None:
    """With model workers too: the calls in flight are cut off in the workers (Ctrl-C reaches them as well, and
    they leave it to the engine), and no worker outlives the run."""
    db = tmp_path / "c.db"
    with StubOpenAI(lambda hit: stall(STALL_S), max_seconds=STALL_S + 30) as stub:
        proc = run(org_file(tmp_path, stub.base_url), db, *workers)
        deadline = time.monotonic() + 60
        while len(stub.hits) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.hits) >= 2, "the calls never started"
        if workers:  # as a terminal's Ctrl-C does: the whole process group
            os.killpg(os.getpgid(proc.pid), signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=STALL_S / 2)  # a run that waited for its calls would still be waiting
    assert proc.returncode == 0, err[-2000:]
    log = Path(str(db) + ".log").read_text()
    pids = started_workers(log)
    assert len(pids) == (2 if workers else 0)
    assert "KeyboardInterrupt" not in log and "model worker stopped" not in log, "a worker died of the Ctrl-C"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    cut = events(db, "agent.interrupted", "run.stopped")
    assert cut[-1][0] == "run.stopped" and cut[-1][2]["reason"] == "interrupted (Ctrl-C)"
    interrupted = {agent for kind, agent, p in cut if kind == "agent.interrupted"
                   and "interrupted (Ctrl-C) during its model call" in p["reason"]}
    assert interrupted == {"duo-lead", "duo-ops"}
    cut_calls = [(agent, p) for kind, agent, p in events(db, "call.recorded")]
    assert {agent for agent, _ in cut_calls} == {"duo-lead", "duo-ops"}
    assert all(not p["ok"] and "interrupted (Ctrl-C)" in p["error"] and p["latency_ms"] > 0 for _, p in cut_calls)

    answer = {"summary": "back at work"}
    with StubOpenAI(lambda hit: ok(answer)) as stub:
        again = run(org_file(tmp_path, stub.base_url), db)
        _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-2000:]
    woke = [(agent, p) for kind, agent, p in events(db, "agent.woke")]
    redone = {agent for agent, p in woke if p.get("redoes")}
    assert redone == {"duo-lead", "duo-ops"}, woke
    assert [k for k, _, _ in events(db, "agent.interrupted")].count("agent.interrupted") == 2, "not recorded twice"
