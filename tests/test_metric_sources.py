"""Metric sources: a venture metric read by the running engine from a command or a URL, on the run's clock.

The duo org (simulated clock, no simulated market) gets a `source` on its `revenue` metric. Commands are tiny
Python scripts written into tmp_path; the URL source is a `http.server` stub on 127.0.0.1 that the test starts
and stops. The model is the scripted one of `test_engine`, so each wake-up's prompt can be read. No test sleeps
or measures time: the one slow reading is a subprocess that sleeps past its 1 s timeout.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import sys
import textwrap
import threading
import tomllib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

import conductor.engine.jobs as jobs_module
from conductor.cli.doctor_cmd import DoctorCheck
from conductor.cli.main import app
from conductor.engine.metric_sources import (
    EXCERPT_CHARS,
    Declared,
    Reading,
    Refused,
    due_sources,
    excerpt,
    judge,
    next_due,
    parse_value,
    pick,
    reading_event,
    remember_credentials,
    shown_url,
)
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import Org, OrgFileError, load_org, parse_org
from conductor.org.models import MetricSource
from conductor.services import queries
from conductor.services.founder import add_directive
from conductor.store import open_database, open_reader, parse_iso
from conductor.tui.data import StoreReader
from conductor.tui.widgets.activity_filter import ActivityFilter, kind_family
from test_engine import DUO, MODEL, Scripted, quiet, warm

PYTHON = PurePath(sys.executable).name
REPO = Path(__file__).resolve().parent.parent
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "CONDUCTOR_DB": None}
RUN_TIMEOUT_S = 30.0  # a guard against a stalled clock; the runs take well under a second (one waits 1 s)


# -- building an org with a source, and running it -------------------------------------------------------------
def org_text(**source: Any) -> str:
    inline = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in source.items()) + " }"
    text = DUO.read_text()
    anchor = 'unit = "USD"\ndirection = "up"\n'
    assert text.count(anchor) == 1
    return text.replace(anchor, f"{anchor}source = {inline}\n")


def org_with(tmp_path: Path, **source: Any) -> Org:
    path = tmp_path / "org.toml"
    path.write_text(org_text(**source), encoding="utf-8")
    return load_org(path)


def script(tmp_path: Path, body: str, name: str = "source.py") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def counting(tmp_path: Path, values: list[Any]) -> list[str]:
    """A command printing `{"data": {"count": values[n]}}` at its n-th run (the last value thereafter)."""
    return script(tmp_path, f"""
        import json, pathlib
        state = pathlib.Path(__file__).with_suffix(".n")
        n = int(state.read_text()) if state.exists() else 0
        state.write_text(str(n + 1))
        values = {values!r}
        print(json.dumps({{"data": {{"count": values[min(n, len(values) - 1)]}}}}))
    """)


Run = Callable[..., Any]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """`await run(org, until=timedelta(...))`: the org on the scripted model against `tmp_path/c.db`."""

    async def go(org: Org, *, until: timedelta, db: Path | None = None, fake: Scripted | None = None) -> Scripted:
        fake = fake or Scripted(quiet)
        monkeypatch.setattr(jobs_module, "call_model", fake)
        engine = Engine(org, db or tmp_path / "c.db", EngineOptions(until=org.start + until, model=MODEL))
        await warm(engine)
        await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
        return fake

    return go


def events(db: Path, kind: str | None = None) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    return [{"id": r["id"], "kind": r["kind"], "venture": r["venture"], "agent": r["agent"], "sim_time": r["sim_time"],
             "payload": json.loads(r["payload"])} for r in rows if kind is None or r["kind"] == kind]


# -- 1. a command source feeds the metric, the prompt and the metrics pane ---------------------------------------
async def test_a_command_source_is_recorded_with_provenance_and_reaches_the_prompt_and_the_metrics_pane(
        tmp_path: Path, run: Run) -> None:
    org = org_with(tmp_path, command=counting(tmp_path, [40, 41, 42.5]), path="data.count", every="1d")
    fake = await run(org, until=timedelta(days=2, hours=1))
    db = tmp_path / "c.db"

    recorded = events(db, "metric.recorded")
    assert [e["payload"]["value"] for e in recorded] == [40, 41, 42.5]
    assert [parse_iso(e["sim_time"]) for e in recorded] == [org.start + timedelta(days=d) for d in range(3)]
    for e in recorded:
        assert e["venture"] == "duo"
        assert {k: e["payload"][k] for k in ("metric", "source", "provenance", "path")} == {
            "metric": "revenue", "source": "command", "provenance": f"{PYTHON} source.py", "path": "data.count"}
    # The reading at the start commits before anyone wakes, so the first prompt already has it...
    first_woke = events(db, "agent.woke")[0]
    assert recorded[0]["id"] < first_woke["id"]
    lead = fake.of("duo-lead")
    assert "Recent daily values, oldest first: 40\n" in lead[0].prompt
    # ...and the metric moving wakes its owner, whose next prompt shows the new values.
    assert any("Recent daily values, oldest first: 40, 41, 42.5\n" in c.prompt for c in lead[1:])

    # The metrics pane reads the same points.
    reader = StoreReader(db, org)
    try:
        view = reader.first().metrics
    finally:
        reader.close()
    assert view is not None
    series = {(s.venture, s.metric): s.values for s in view.series}
    assert series[("duo", "revenue")] == (40.0, 41.0, 42.5)
    conn = open_reader(db)
    try:
        (row,) = queries.metrics(conn, "duo")
    finally:
        conn.close()
    assert (row.value, row.source, row.points) == (42.5, "command", 3)


# -- 2. a reading that is not a number is refused, shown, and the run goes on -------------------------------------
async def test_a_reading_that_is_not_a_number_is_refused_once_and_shown_and_the_run_goes_on(
        tmp_path: Path, run: Run) -> None:
    evil = "\x1b]0;pwned\x07\x1b[31m"
    org = org_with(tmp_path, command=script(tmp_path, f"print({evil!r} + 'not a number')"), every="1d")
    fake = await run(org, until=timedelta(hours=12))
    db = tmp_path / "c.db"

    (refused,) = events(db, "metric.refused")
    p = refused["payload"]
    assert refused["venture"] == "duo"
    assert (p["metric"], p["source"], p["check"]) == ("revenue", "command", "not_a_number")
    assert p["provenance"] == f"{PYTHON} source.py"
    assert "not a number in the answer" in p["reason"]
    assert p["excerpt"] == "not a number"  # the escapes are gone
    assert events(db, "metric.recorded") == []
    assert fake.of("duo-lead") and "Recent daily values, oldest first: no data yet" in fake.of("duo-lead")[0].prompt
    assert events(db, "run.stopped")[-1]["payload"]["reason"] == "finished: reached its end time"

    conn = open_reader(db)
    try:
        (row,) = queries.events(conn, kind="metric.refused")
        status = queries.status(conn, db)
    finally:
        conn.close()
    assert row.summary.startswith(f"revenue reading refused (command {PYTHON} source.py): not a number")
    assert kind_family(row) == "problem" and ActivityFilter.parse("").matches(row)  # in the Activity pane
    assert status.failing_sources == ["duo/revenue: not a number in the answer: 'not a number'"]
    shown = CliRunner(env=ENV).invoke(app, ["status", "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "refused      duo/revenue: not a number in the answer: 'not a number'" in shown.output


# -- 3. failed and absurd readings, each refused with its own reason ----------------------------------------------
@pytest.mark.parametrize(("body", "extra", "check", "words", "said"), [
    ("import sys\nprint('half')\nsys.stderr.write('database is down\\n')\nsys.exit(3)", {}, "exit_code",
     "exited with code 3", "database is down"),
    ("import time\nprint('starting', flush=True)\ntime.sleep(60)", {"timeout": "1s"}, "timeout",
     "no answer within 1s", ""),
    ("print('{\"data\": {\"total\": 5}}')", {"path": "data.count"}, "path_missing", "no 'count' at data.count",
     '{"data": {"total": 5}}'),
    ("print('{\"data\": [1, 2]}')", {"path": "data.5"}, "path_missing", "no item 5 at data.5",
     '{"data": [1, 2]}'),
    ("print('<html>oops</html>')", {"path": "data.count"}, "not_json", "not JSON", "<html>oops</html>"),
    ("print('nan')", {}, "not_finite", "not a finite number", "nan"),
    ("print(5000)", {"max": 1000}, "above_max", "5000 is above the maximum 1000", "5000"),
    ("print(-3)", {"min": 0}, "below_min", "-3 is below the minimum 0", "-3"),
    ("print('')", {}, "empty", "the answer is empty", ""),
], ids=["exit-code", "timeout", "path-missing", "index-missing", "not-json", "nan", "above-max", "below-min", "empty"])
async def test_a_failed_or_absurd_reading_is_refused_with_its_reason(
        tmp_path: Path, run: Run, body: str, extra: dict[str, Any], check: str, words: str, said: str) -> None:
    org = org_with(tmp_path, command=script(tmp_path, body), **extra)
    await run(org, until=timedelta(hours=12))
    db = tmp_path / "c.db"
    (refused,) = events(db, "metric.refused")
    assert refused["payload"]["check"] == check
    assert words in refused["payload"]["reason"]
    assert refused["payload"]["excerpt"] == said
    assert events(db, "metric.recorded") == []
    assert events(db, "agent.woke"), "the run went on"


async def test_a_jump_beyond_max_jump_is_refused_and_the_last_good_value_stays(tmp_path: Path, run: Run) -> None:
    org = org_with(tmp_path, command=counting(tmp_path, [100, 130, 300, 120]), path="data.count", max_jump=0.5)
    await run(org, until=timedelta(days=3, hours=1))
    db = tmp_path / "c.db"
    assert [e["payload"]["value"] for e in events(db, "metric.recorded")] == [100, 130, 120]
    (refused,) = events(db, "metric.refused")
    assert refused["payload"]["check"] == "jump" and refused["payload"]["value"] == 300
    assert "300 is +131% from the last value 130" in refused["payload"]["reason"]
    assert parse_iso(refused["sim_time"]) == org.start + timedelta(days=2)


async def test_a_command_that_cannot_start_is_refused(tmp_path: Path, run: Run) -> None:
    org = org_with(tmp_path, command=[str(tmp_path / "no-such-program")])
    await run(org, until=timedelta(hours=12))
    (refused,) = events(tmp_path / "c.db", "metric.refused")
    assert refused["payload"]["check"] == "cannot_start"
    assert refused["payload"]["reason"].startswith("cannot start no-such-program")


# -- 4. a URL source, with a password that is never stored or logged -------------------------------------------
class _Stub(http.server.ThreadingHTTPServer):
    answers: list[tuple[int, str]]
    seen: list[tuple[str, str | None]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Stub

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        status, body = self.server.answers.pop(0) if self.server.answers else (404, "no more answers")
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def stub() -> Iterator[_Stub]:
    server = _Stub(("127.0.0.1", 0), _Handler)
    server.answers, server.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_a_url_source_is_read_with_its_password_which_is_in_no_event_and_no_log(
        tmp_path: Path, run: Run, stub: _Stub, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    password = f"pw{secrets.token_hex(12)}"
    port = stub.server_address[1]
    url = f"http://founder:{password}@127.0.0.1:{port}/stats"
    stub.answers = [(200, json.dumps({"signups": {"today": 17}})),
                    (503, f"upstream failed; it was sent password {password}")]  # a server that echoes it
    org = org_with(tmp_path, url=url, path="signups.today", every="1d")
    caplog.set_level("DEBUG", logger="conductor")
    await run(org, until=timedelta(days=1, hours=1))
    db = tmp_path / "c.db"

    basic = "Basic " + base64.b64encode(f"founder:{password}".encode()).decode()
    assert stub.seen == [("/stats", basic), ("/stats", basic)]
    shown = f"http://founder:[redacted]@127.0.0.1:{port}/stats"
    (recorded,) = events(db, "metric.recorded")
    assert recorded["payload"]["value"] == 17
    assert (recorded["payload"]["source"], recorded["payload"]["provenance"]) == ("http", shown)
    (refused,) = events(db, "metric.refused")
    assert refused["payload"]["check"] == "http_status" and refused["payload"]["reason"].startswith("HTTP 503")
    assert refused["payload"]["excerpt"] == "upstream failed; it was sent password [redacted]"
    assert refused["payload"]["provenance"] == shown

    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert password not in dump
    for path in tmp_path.glob("c.db*"):
        assert password.encode() not in path.read_bytes(), path.name
    assert "metric reading refused" in caplog.text and password not in caplog.text
    assert password not in "".join(str(r.args) for r in caplog.records)


async def test_an_unreachable_url_is_refused(tmp_path: Path, run: Run, stub: _Stub,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    port = stub.server_address[1]
    stub.shutdown()
    stub.server_close()  # nobody listens on the port now
    stub.shutdown = lambda: None  # type: ignore[method-assign]
    org = org_with(tmp_path, url=f"http://127.0.0.1:{port}/stats", timeout="2s")
    await run(org, until=timedelta(hours=12))
    (refused,) = events(tmp_path / "c.db", "metric.refused")
    assert refused["payload"]["check"] in ("unreachable", "timeout")


# -- 5. a bad declaration is one line naming the venture and the metric --------------------------------------------
@pytest.mark.parametrize(("source", "where", "words"), [
    ({"command": ["x"], "url": "http://127.0.0.1/x"}, "ventures[0].metrics[0].source",
     "give one of a command, a url or a tool, not command and url"),
    ({"path": "a.b"}, "ventures[0].metrics[0].source", "a source needs a command (an argv list), a url or a tool"),
    ({"command": ["x"], "path": "data..count"}, "ventures[0].metrics[0].source.path",
     "path 'data..count' has an empty part"),
    ({"command": ["x"], "path": "data.my count"}, "ventures[0].metrics[0].source.path", "holds a space"),
    ({"url": "http://127.0.0.1/x", "min": 10, "max": 1}, "ventures[0].metrics[0].source", "min 10 is above max 1"),
    ({"command": [""]}, "ventures[0].metrics[0].source.command[0]", "the command's program is empty"),
    ({"command": ["x"], "every": "10s"}, "ventures[0].metrics[0].source.every", "at most once a minute"),
])
def test_a_bad_source_is_one_line_naming_the_venture_and_the_metric(
        tmp_path: Path, source: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(OrgFileError) as caught:
        org_with(tmp_path, **source)
    (line,) = caught.value.lines()
    assert line.startswith(f"{tmp_path / 'org.toml'}: {where}: metric 'revenue' of venture 'duo': ")
    assert words in line


@pytest.mark.parametrize(("source", "where", "words"), [
    ({"url": "ftp://127.0.0.1/x"}, "ventures[0].metrics[0].source.url", "should match pattern"),
    ({"command": ["x"], "max_jump": 0}, "ventures[0].metrics[0].source.max_jump", "greater than 0"),
    ({"command": ["x"], "every": "daily"}, "ventures[0].metrics[0].source.every", "invalid duration"),
    ({"command": ["x"], "cmd": ["y"]}, "ventures[0].metrics[0].source.cmd", "unknown key"),
])
def test_a_malformed_source_field_is_one_line_at_its_key(tmp_path: Path, source: dict[str, Any], where: str,
                                                         words: str) -> None:
    with pytest.raises(OrgFileError) as caught:
        org_with(tmp_path, **source)
    (line,) = caught.value.lines()
    assert f": {where}: " in line and words in line


def test_org_check_prints_the_line(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(org_text(command=["x"], url="http://127.0.0.1/x"), encoding="utf-8")
    result = CliRunner(env=ENV).invoke(app, ["org", "check", str(path)])
    assert result.exit_code != 0
    assert "metric 'revenue' of venture 'duo': give one of a command, a url or a tool, not command and url" in \
        result.output


# -- 6. the schedule, on the simulated clock -------------------------------------------------------------------
@pytest.mark.parametrize(("every", "until", "expected"), [
    ("1d", timedelta(days=4), 4),  # at the start, then each day; the end time itself is not read
    ("1d", timedelta(days=4, hours=1), 5),
    ("6h", timedelta(days=1), 4),
])
async def test_a_source_is_read_at_the_start_and_then_every_period(
        tmp_path: Path, run: Run, every: str, until: timedelta, expected: int) -> None:
    org = org_with(tmp_path, command=script(tmp_path, "print(7)"), every=every)
    await run(org, until=until)
    times = [parse_iso(e["sim_time"]) for e in events(tmp_path / "c.db", "metric.recorded")]
    step = org.ventures[0].metrics[0].source.every  # type: ignore[union-attr]
    assert times == [org.start + n * step for n in range(expected)]


async def test_a_resumed_run_reads_on_the_schedule_an_unbroken_one_keeps(tmp_path: Path, run: Run) -> None:
    org = org_with(tmp_path, command=script(tmp_path, "print(7)"), every="1d")
    await run(org, until=timedelta(days=2), db=tmp_path / "broken.db")
    await run(org, until=timedelta(days=4), db=tmp_path / "broken.db")
    await run(org, until=timedelta(days=4), db=tmp_path / "unbroken.db")
    broken, unbroken = ([(e["sim_time"], e["payload"]) for e in events(tmp_path / name, "metric.recorded")]
                        for name in ("broken.db", "unbroken.db"))
    assert broken == unbroken and len(broken) == 4


async def test_readings_commit_in_venture_and_metric_order(tmp_path: Path, run: Run) -> None:
    """Two sources of one venture, the slower first in the file: committed by metric name all the same."""
    slow = script(tmp_path, "import time\ntime.sleep(0.3)\nprint(1)", "slow.py")
    fast = script(tmp_path, "print(2)", "fast.py")
    text = org_text(command=slow).replace('name = "revenue"', 'name = "zeta"').replace(
        'owns_metric = "revenue"', 'owns_metric = "zeta"')
    text = text.replace("[[ventures.agents]]", "[[ventures.metrics]]\nname = \"alpha\"\nunit = \"count\"\n"
                        f"direction = \"up\"\nsource = {{ command = {json.dumps(fast)} }}\n\n[[ventures.agents]]", 1)
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    await run(load_org(path), until=timedelta(hours=1))
    assert [e["payload"]["metric"] for e in events(tmp_path / "c.db", "metric.recorded")] == ["alpha", "zeta"]


# -- a slow reading does not hold the founder up; the real clock -------------------------------------------------
async def test_founder_commands_are_picked_up_while_a_slow_source_is_read(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The command waits until the founder's directive has reached the engine; had the engine not looked for
    founder commands while reading, it would time out and be refused."""
    go = tmp_path / "go"
    command = script(tmp_path, f"""
        import pathlib, time
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.01)
        print(5)
    """)
    org = org_with(tmp_path, command=command, timeout="20s")
    db = tmp_path / "c.db"
    seen: list[str] = []

    def on_event(event: Any) -> None:
        seen.append(event.kind)
        if event.kind == "run.started":
            conn = open_database(db)
            try:
                add_directive(conn, "duo", "Count signups twice.")  # as `conductor directive add` would
            finally:
                conn.close()
        elif event.kind == "directive.added":
            go.touch()

    monkeypatch.setattr(jobs_module, "call_model", Scripted(quiet))
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(hours=1), model=MODEL, poll_interval=0.01),
                    on_event=on_event)
    await warm(engine)
    await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
    assert seen.index("directive.added") < seen.index("metric.recorded")
    assert "metric.refused" not in seen


async def test_an_interrupted_reading_is_not_recorded_its_command_is_killed_and_the_next_start_reads_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    go, pid = tmp_path / "go", tmp_path / "pid"
    command = script(tmp_path, f"""
        import os, pathlib, time
        pathlib.Path({str(pid)!r}).write_text(str(os.getpid()))
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.01)
        print(5)
    """)
    org = org_with(tmp_path, command=command, timeout="20s")
    db = tmp_path / "c.db"
    monkeypatch.setattr(jobs_module, "call_model", Scripted(quiet))
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(hours=1), model=MODEL, poll_interval=0.01))
    looks = engine.poll_founder

    async def interrupting_look() -> int:
        if pid.exists():  # the command runs: Ctrl-C now
            engine.interrupt("interrupted")
        return await looks()

    monkeypatch.setattr(engine, "poll_founder", interrupting_look)
    await warm(engine)
    await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
    assert [e for e in events(db) if e["kind"].startswith("metric.")] == []
    assert events(db, "run.stopped")[-1]["payload"]["reason"] == "interrupted"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.read_text()), 0)  # killed and reaped, not left waiting for a file that never comes

    go.touch()
    await asyncio.wait_for(Engine(org, db, EngineOptions(until=org.start + timedelta(hours=1), model=MODEL)).run(),
                           RUN_TIMEOUT_S)
    (recorded,) = events(db, "metric.recorded")
    assert recorded["payload"]["value"] == 5 and parse_iso(recorded["sim_time"]) == org.start


async def test_a_real_clock_run_reads_at_the_start_and_when_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    org = org_with(tmp_path, command=script(tmp_path, "print(3)"), every="1d").model_copy(update={"clock": "real"})
    start = org.start
    clock = {"now": start}

    def wall() -> Any:
        clock["now"] += timedelta(minutes=30)  # time passes whenever the engine looks
        return clock["now"]

    monkeypatch.setattr(jobs_module, "call_model", Scripted(quiet))
    db = tmp_path / "c.db"
    engine = Engine(org, db, EngineOptions(until=start + timedelta(days=2, hours=12), model=MODEL,
                                           poll_interval=0.001), wall=wall)
    await warm(engine)
    await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
    times = [parse_iso(e["sim_time"]) for e in events(db, "metric.recorded")]
    started = parse_iso(events(db, "run.started")[0]["sim_time"])
    assert len(times) == 3 and times[0] == started  # read when the run starts, then when due on the wall clock
    assert all(timedelta(days=1) <= b - a < timedelta(days=1, hours=1) for a, b in itertools.pairwise(times))


async def test_in_a_simulated_market_a_metric_with_a_source_is_read_from_it_alone(tmp_path: Path) -> None:
    """The studio example's markets move `signups` of inkwell too; with a source, only the source records it."""
    studio = (REPO / "orgs" / "studio.toml").read_text()
    anchor = 'name = "signups"\nunit = "per day"\ndirection = "up"\n'
    assert studio.index(anchor) < studio.index('id = "ledgerly"')  # the first is inkwell's
    command = json.dumps(script(tmp_path, "print(151)"))
    path = tmp_path / "studio.toml"
    path.write_text(studio.replace(anchor, f"{anchor}source = {{ command = {command} }}\n", 1), encoding="utf-8")
    org = load_org(path)
    engine = Engine(org, tmp_path / "c.db", EngineOptions(until=org.start + timedelta(days=2, hours=1)))
    await warm(engine)
    await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
    recorded = events(tmp_path / "c.db", "metric.recorded")
    signups = [e["payload"] for e in recorded if e["venture"] == "inkwell" and e["payload"]["metric"] == "signups"]
    assert [(p["source"], p["value"]) for p in signups] == [("command", 151)] * 3
    assert {e["payload"]["source"] for e in recorded if e["payload"]["metric"] != "signups"} == {"sim"}
    assert any(e["venture"] == "ledgerly" for e in recorded)


# -- the README's example --------------------------------------------------------------------------------------
async def test_the_readme_example_runs_as_written(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("python3") is None:
        pytest.skip("no python3 on PATH")
    section = (REPO / "README.md").read_text().split("### Metrics that arrive by themselves", 1)[1].split("\n### ")[0]
    metric = section.split("```toml\n", 1)[1].split("```", 1)[0]
    program = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # the command's relative path is found from here, as for [commands]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "signups.py").write_text(program, encoding="utf-8")
    path = tmp_path / "org.toml"
    path.write_text(DUO.read_text() + "\n" + metric, encoding="utf-8")
    org = load_org(path)
    await run(org, until=timedelta(hours=1))
    (recorded,) = events(tmp_path / "c.db", "metric.recorded")
    assert recorded["payload"] | {"at": None} == {"metric": "signups", "value": 42, "at": None, "day": 0,
                                                  "source": "command", "provenance": "python3 signups.py",
                                                  "path": "data.count"}
    # The commented alternative is a valid source too.
    command_line, url_line = (line for line in metric.splitlines() if "source = " in line)
    path.write_text(path.read_text().replace(command_line, url_line.removeprefix("# or: ")), encoding="utf-8")
    source = load_org(path).ventures[0].metric("signups").source  # type: ignore[union-attr]
    assert source is not None and source.url == "https://founder:PASSWORD@stats.example.com/today"


# -- conductor doctor -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "status", "words"), [
    ({"command": [sys.executable, "x.py"], "path": "data.count"}, "ok", f"runs {sys.executable}"),
    ({"command": ["no-such-program-anywhere"]}, "fail", "no-such-program-anywhere not found on PATH"),
    ({"command": ["./bin/missing.sh"]}, "fail", "./bin/missing.sh not found in this directory"),
    ({"url": "http://founder:hunter2hunter2@127.0.0.1:8080/stats", "path": "signups.today", "every": "6h"}, "ok",
     "url http://founder:[redacted]@127.0.0.1:8080/stats (every 6h, at signups.today): 127.0.0.1:8080, with a "
     "password"),
    ({"url": "http://127.0.0.1:http/stats"}, "fail", "the port is not a number"),
])
def test_doctor_says_what_each_source_is_and_whether_it_can_be_read(
        tmp_path: Path, source: dict[str, Any], status: str, words: str) -> None:
    path = tmp_path / "org.toml"
    path.write_text(org_text(**source), encoding="utf-8")
    result = CliRunner(env=ENV).invoke(
        app, ["doctor", "--org", str(path), "--db", str(tmp_path / "none.db"), "--json"])
    checks = {c.check: c for c in TypeAdapter(list[DoctorCheck]).validate_json(result.stdout)}
    check = checks["metric duo/revenue"]
    assert check.status == status and words in check.detail, check
    assert "hunter2hunter2" not in result.stdout


# -- the pure part, without a run -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "path", "value"), [
    ("42.5\n", None, 42.5),
    ("  7 ", None, 7.0),
    ('{"a": {"b": [1, {"c": 3}]}}', "a.b.1.c", 3.0),
    ('{"series": [[1, "4"], [2, "9.5"]]}', "series.-1.1", 9.5),  # a quoted number, the last point
    ('{"0": 12}', "0", 12.0),  # a key that looks like an index
])
def test_a_number_is_found_in_an_answer(text: str, path: str | None, value: float) -> None:
    assert parse_value(text, path) == value


@pytest.mark.parametrize(("text", "path", "check"), [
    ("12 apples", None, "not_a_number"),
    ("true", None, "not_a_number"),
    ("inf", None, "not_finite"),
    ('{"a": true}', "a", "not_a_number"),
    ('{"a": null}', "a", "not_a_number"),
    ('{"a": {"b": 1}}', "a", "not_a_number"),
    ('{"a": NaN}', "a", "not_finite"),
    ('{"a": 1e999}', "a", "not_finite"),
    ('{"a": [1]}', "a.x", "path_missing"),
    ('{"a": 5}', "a.b", "path_missing"),
    ("[" * 100_000, "a", "not_json"),
])
def test_a_value_that_is_not_a_believable_number_is_refused(text: str, path: str | None, check: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_value(text, path)
    assert caught.value.check == check and caught.value.raw == text


def test_pick_names_the_first_part_that_is_not_there() -> None:
    with pytest.raises(Refused, match=r"no 'c' at a\.b\.c in the answer"):
        pick({"a": {"b": {"d": 1}}}, ("a", "b", "c"))
    with pytest.raises(Refused, match=r"no item -3 at a\.-3: the list has 2"):
        pick({"a": [1, 2]}, ("a", "-3"))


def test_judge_bounds_and_jumps() -> None:
    source = MetricSource(command=["x"], min=0, max=100, max_jump=0.5)
    assert judge(50, source, 40) is None
    assert judge(50, source, None) is None  # nothing recorded yet: no jump to judge
    assert judge(50, source, 0) is None  # no scale to judge a jump from 0 by
    assert (judge(61, source, 40) or Refused("", "")).check == "jump"
    assert (judge(19, source, 40) or Refused("", "")).check == "jump"
    assert (judge(101, source, 100) or Refused("", "")).check == "above_max"
    assert (judge(-1, source, None) or Refused("", "")).check == "below_min"


def test_an_excerpt_is_printable_one_line_and_bounded() -> None:
    cut = excerpt("\x1b[2J\x1b]0;title\x07" + "line\n" * 500)
    assert len(cut) <= EXCERPT_CHARS and "\x1b" not in cut and "\n" not in cut and cut.startswith("line line")


def test_a_url_is_shown_without_its_password_or_a_token_it_carries() -> None:
    token = secrets.token_hex(10)
    org = org_with_url(f"https://me:{'s3cret-' + token}@stats.example.com/v1?token={token}&day=today")
    remember_credentials(org)
    shown = shown_url(org.ventures[0].metrics[0].source.url or "")  # type: ignore[union-attr]
    assert token not in shown
    assert shown == "https://me:[redacted]@stats.example.com/v1?token=[redacted]&day=today"
    assert shown_url(f"https://{token}@stats.example.com/v1") == "https://[redacted]@stats.example.com/v1"


def org_with_url(url: str) -> Org:
    return parse_org(tomllib.loads(org_text(url=url)))


def test_the_schedule_is_pure() -> None:
    org = org_with_url("http://127.0.0.1/x")
    declared = [Declared("duo", "revenue", org.ventures[0].metrics[0].source)]  # type: ignore[arg-type]
    start = org.start
    assert due_sources(declared, {}, start) == declared and next_due(declared, {}, start) == start
    read = {("duo", "revenue"): start}
    assert due_sources(declared, read, start + timedelta(hours=23)) == []
    assert next_due(declared, read, start + timedelta(hours=1)) == start + timedelta(days=1)
    assert due_sources(declared, read, start + timedelta(days=1)) == declared
    assert next_due([], read, start) is None


def test_a_reading_becomes_one_event() -> None:
    org = org_with_url("http://127.0.0.1/x")
    declared = Declared("duo", "revenue", org.ventures[0].metrics[0].source)  # type: ignore[arg-type]
    good = reading_event(Reading(declared, value=3.25, raw="3.25"), org.start, 0, None)
    assert good.kind == "metric.recorded" and good.venture == "duo"
    assert good.payload == {"metric": "revenue", "value": 3.25, "at": "2026-01-05T09:00:00.000000Z", "day": 0,
                            "source": "http", "provenance": "http://127.0.0.1/x"}
    bad = reading_event(Reading(declared, refusal=Refused("timeout", "no answer within 10s")), org.start, 0, None)
    assert bad.kind == "metric.refused" and bad.payload["check"] == "timeout" and bad.payload["excerpt"] == ""


def test_the_activity_pane_shows_a_refusal_as_a_problem() -> None:
    row = queries.EventRow(id=1, ts="", sim_time=None, venture="duo", agent=None, kind="metric.refused", by=None,
                           summary="", payload={"metric": "revenue", "source": "command", "reason": "x"})
    assert kind_family(row) == "problem" and ActivityFilter.parse("").matches(row)


# -- a source read through an MCP tool of the org's [[tools]] ----------------------------------------------------
CRM = REPO / "tests" / "data" / "mcp" / "crm_server.py"


def with_crm(text: str, policies: str = "{}") -> str:
    return text.replace("[platform]", f"""[[tools]]
id = "crm"
command = [{json.dumps(sys.executable)}, {json.dumps(str(CRM))}]
policies = {policies}

[platform]""")


async def test_a_tool_source_reads_the_number_a_tool_returns(tmp_path: Path, run: Run) -> None:
    text = with_crm(org_text(tool="crm.lookup", every="1d").replace('"crm.lookup"', '"crm.lookup", args = { customer = "acme" }'))
    # The CRM answers "acme: 42 seats": not a bare number, so the reading is refused with the tool named...
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    await run(load_org(path), until=timedelta(hours=1))
    (refused,) = events(tmp_path / "c.db", "metric.refused")
    assert refused["payload"]["source"] == "tool" and refused["payload"]["provenance"] == "tool crm.lookup"
    assert "acme: 42 seats" in refused["payload"]["excerpt"]
    assert not events(tmp_path / "c.db", "metric.recorded")

    # ...and a tool that answers JSON feeds the metric, with the tool as its provenance.
    path.write_text(with_crm(org_text(tool="crm.count_customers", path="customers", every="1d")), encoding="utf-8")
    await run(load_org(path), until=timedelta(hours=1), db=tmp_path / "d.db")
    (recorded,) = events(tmp_path / "d.db", "metric.recorded")
    assert recorded["payload"]["value"] == 2 and recorded["payload"]["source"] == "tool"
    assert recorded["payload"]["provenance"] == "tool crm.count_customers"


def test_a_tool_source_must_name_a_declared_allowed_tool(tmp_path: Path) -> None:
    for policies, words in (("{}", "unknown tool server 'crm'"),
                            ('{ lookup = "ask" }', "'ask' in its server's policy")):
        text = org_text(tool="crm.lookup")
        if "unknown" not in words:
            text = with_crm(text, policies)
        path = tmp_path / "org.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(OrgFileError) as caught:
            load_org(path)
        assert words in str(caught.value), str(caught.value)
