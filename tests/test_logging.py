"""The run's log: a file beside the database with a line per wake-up, call, retry, verdict, state change and error.

A short simulated run of the studio writes `<db>.log` with wake-up, call and retry lines (the simulated
model's bad answers are retried); `--log-level WARNING` keeps the retries and drops the INFO lines, and the
event stream is the same whatever the level (logging never feeds into it). A run of the duo through litellm's
real HTTP client against the stub server, with a planted key that the provider echoes (in a 500, a 401 and an
answer the contract refuses by quoting it), logs the transport retry, the failed call and the refused answer,
each with the key made `[redacted]`, and no byte of the key. Read commands create no log, `conductor doctor`
names it, a crash leaves its traceback in it, and a log line never reaches the terminal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conductor.cli import logs
from conductor.cli.main import app
from stub_openai import Hit, Reply, StubOpenAI, ok, status
from test_determinism import comparable_stream

REPO = Path(__file__).resolve().parent.parent
STUDIO = REPO / "orgs" / "studio.toml"
DUO = REPO / "tests" / "orgs" / "duo.toml"
ENV = {"CONDUCTOR_DB": None, "CONDUCTOR_LOG_LEVEL": None, "COLUMNS": "200", "NO_COLOR": "1"}
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) +conductor\.[a-z_.]+: \S")


def cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner(env={**ENV, **(env or {})}).invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def log_lines(db: Path) -> list[str]:
    path = db.with_name(db.name + ".log")
    assert path.is_file(), f"no log beside {db}: {sorted(p.name for p in db.parent.iterdir())}"
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def studio_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two days of the studio, at the default level and at WARNING, each on its own database."""
    where = tmp_path_factory.mktemp("studio")
    dbs = {"default": where / "default.db", "warning": where / "warning.db"}
    code, out = cli("run", str(STUDIO), "--days", "2", "--db", str(dbs["default"]))
    assert code == 0, out
    code, out = cli("run", str(STUDIO), "--days", "2", "--db", str(dbs["warning"]), "--log-level", "WARNING")
    assert code == 0, out
    return dbs


def test_a_run_logs_wake_ups_calls_and_retries_beside_its_database(studio_runs: dict[str, Path]) -> None:
    lines = log_lines(studio_runs["default"])
    assert all(LINE.match(line) for line in lines), next(line for line in lines if not LINE.match(line))
    text = "\n".join(lines)
    assert "INFO    conductor.engine.scheduler: run started org='Northwind Studio'" in text
    assert re.search(r"wake agent=inkwell-ceo venture=inkwell at=2026-01-05T09:00Z model=sim/standard "
                     r"reason='first wake-up of this run'", text)
    assert re.search(r"call for=\S+ wake model=sim/standard tokens=\d+\+\d+ cost=\$\d+\.\d{6} seconds=\d+\.\d\d "
                     r"attempts=1", text)
    assert re.search(r"call for=\S+ review model=sim/standard", text)
    assert re.search(r"WARNING conductor\.engine\.jobs: retry for=\S+ (wake|review) model=sim/standard "
                     r"attempt=2/4 reason=.invalid output: .* backoff=0s", text)
    assert re.search(r"executed decision=#\d+ kind=\S+ agent=\S+", text)
    assert "day 1 begins at=2026-01-06T09:00Z" in text
    assert re.search(r"run stopped reason='finished: reached its end time' at=2026-01-07T09:00Z calls=\d+$", lines[-1])
    # One line per wake-up and per call: as many as the log of events holds.
    counts = {kind: sum(1 for e in comparable_stream(studio_runs["default"]) if e[4] == kind)
                   for kind in ("agent.woke", "call.recorded")}
    assert sum(" wake agent=" in line for line in lines) == counts["agent.woke"]
    assert sum(" call for=" in line for line in lines) == counts["call.recorded"]


def test_log_level_warning_drops_the_info_lines_and_keeps_the_retries(studio_runs: dict[str, Path]) -> None:
    lines = log_lines(studio_runs["warning"])
    assert lines, "the retries are warnings"
    assert not [line for line in lines if " INFO " in line or " DEBUG " in line]
    assert sum(" retry for=" in line for line in lines) == sum(" retry for=" in line
                                                               for line in log_lines(studio_runs["default"]))


def test_the_event_stream_is_the_same_whatever_the_log_level(studio_runs: dict[str, Path]) -> None:
    assert comparable_stream(studio_runs["default"]) == comparable_stream(studio_runs["warning"])


def test_the_level_comes_from_the_environment_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    code, out = cli("run", str(DUO), "--days", "1", "--db", str(db), env={"CONDUCTOR_LOG_LEVEL": "debug"})
    assert code == 0, out
    assert any(" DEBUG   conductor.engine.scheduler: idle agent=duo-lead" in line for line in log_lines(db))
    code, out = cli("run", str(DUO), "--days", "2", "--db", str(db), "--log-level", "loud")
    assert code == 2 and "--log-level" in out


def test_a_founder_verdict_and_what_it_caused_are_logged(tmp_path: Path) -> None:
    """Day 1 of the studio escalates a campaign its reviewer would not approve; the founder approves it from
    the command line while no run is going, and the next run logs the verdict and the execution."""
    db = tmp_path / "c.db"
    code, out = cli("run", str(STUDIO), "--days", "1", "--db", str(db))
    assert code == 0, out
    escalated = [line for line in log_lines(db) if " escalated decision=#" in line]
    assert escalated, "the studio's first day escalates a decision"
    decision = re.search(r"decision=#(\d+)", escalated[0]).group(1)
    code, out = cli("inbox", "list", "--json", "--db", str(db))
    (escalation,) = [e["id"] for e in json.loads(out) if str(e.get("decision_id")) == decision]
    code, out = cli("inbox", "approve", str(escalation), "--db", str(db))
    assert code == 0, out
    code, out = cli("run", str(STUDIO), "--days", "2", "--db", str(db))
    assert code == 0, out
    text = "\n".join(log_lines(db))
    assert (f"verdict escalation=#{escalation} kind=decision decision=#{decision} verdict=approved by=founder\n"
            in text)
    assert re.search(rf"by=founder\n.* INFO    conductor\.engine\.scheduler: executed decision=#{decision} ", text)


# -- a planted key, echoed by the provider, never reaches the log ----------------------------------------------
MODEL = "openai/stub-model"
MARK = f"PLANTED{secrets.token_hex(8)}"
KEY = f"sk-test-{MARK}-{secrets.token_hex(12)}"


def leaky(hits: list[Hit]) -> object:
    """duo-ops meets a 401 that quotes the key; duo-lead a 500 that echoes it (retried), then an answer the
    contract refuses by quoting its decision kind, the key (retried), then a good answer."""

    def script(hit: Hit) -> Reply:
        hits.append(hit)
        if hit.agent == "duo-ops":
            return status(401, f"Incorrect API key provided: {hit.headers.get('authorization', '')[7:]}.")
        lead = sum(h.agent == "duo-lead" for h in hits)
        if hit.agent == "duo-lead" and lead == 1:
            return status(500, f"upstream error for key {KEY}")
        if hit.agent == "duo-lead" and lead == 2:
            return ok({"summary": f"echo {KEY}", "decisions": [{
                "kind": KEY, "params": {}, "rationale": "x",
                "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})
        return ok({"summary": f"working; the proxy says key {KEY} accepted", "decisions": []})

    return script


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("leaky")
    org = work / "duo.toml"
    org.write_text(DUO.read_text() + f'\n[prices."{MODEL}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    db = work / "c.db"
    hits: list[Hit] = []
    with StubOpenAI(leaky(hits), max_seconds=200) as stub:
        env = {k: v for k, v in os.environ.items() if k not in ("CONDUCTOR_DB", "CONDUCTOR_LOG_LEVEL")}
        env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=stub.base_url, OPENAI_API_BASE=stub.base_url,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
        run = subprocess.run([sys.executable, "-m", "conductor", "run", str(org), "--db", str(db), "--days", "1",
                              "--model", MODEL], env=env, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    assert all(h.headers.get("authorization") == f"Bearer {KEY}" for h in hits) and len(hits) >= 4
    return db


def test_a_transport_retry_and_a_failed_call_are_logged(leaky_run: Path) -> None:
    text = "\n".join(log_lines(leaky_run))
    assert re.search(r"WARNING conductor\.engine\.provider: retry for=duo-lead wake model=openai/stub-model "
                     r"attempt=2/\d+ reason='InternalServerError \(500\): [^']*upstream error[^']*' backoff=\d+\.\d\ds", text), text
    assert re.search(r"ERROR   conductor\.engine\.provider: call failed for=duo-ops wake model=openai/stub-model "
                     r"attempts=1 seconds=\S+ fault=.AuthenticationError \(401\)", text), text
    assert "WARNING conductor.engine.scheduler: stuck agent=duo-ops wake: provider fault:" in text


def test_a_planted_key_is_redacted_in_every_line_that_carried_it(leaky_run: Path) -> None:
    raw = leaky_run.with_name(leaky_run.name + ".log").read_bytes()
    assert KEY.encode() not in raw and MARK.encode() not in raw
    text = raw.decode()
    # The lines that quoted it are there, with the key made harmless: the refused answer's retry reason (the
    # contract quotes the kind, unredacted until the log's formatter) and the 401's fault.
    assert re.search(r"retry for=duo-lead wake .*unknown decision kind '\[redacted\]'", text), text
    assert re.search(r"call failed for=duo-ops .*Incorrect API key provided: \[redacted\]", text), text


# -- read commands, doctor ------------------------------------------------------------------------------------
READS = [["status"], ["agents"], ["metrics"], ["spend"], ["events"], ["inbox", "list"], ["directive", "list"],
         ["brain", "log", "duo"], ["brain", "quality"], ["export", "--out", "{tmp}/export"], ["doctor"],
         ["events", "--json"]]


def test_read_commands_create_no_log(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    code, out = cli("run", str(DUO), "--days", "1", "--db", str(db))
    assert code == 0, out
    log = db.with_name(db.name + ".log")
    log.unlink()
    for argv in READS:
        args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
        code, out = cli(*args, "--db", str(db))
        assert code in (0, 1), f"{argv}: {out}"
        assert not log.exists(), f"`conductor {' '.join(argv)}` created {log.name}"
    empty = tmp_path / "empty.db"
    empty.touch()
    code, _ = cli("attach", "--db", str(empty))
    assert code != 0 and not empty.with_name("empty.db.log").exists()


def test_doctor_names_the_log_its_size_and_its_last_error(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    code, out = cli("run", str(DUO), "--days", "1", "--db", str(db))
    assert code == 0, out
    log = db.with_name(db.name + ".log")

    def check() -> dict[str, str]:
        code, out = cli("doctor", "--db", str(db), "--org", str(DUO), "--json")
        assert code == 0, out
        (row,) = [c for c in json.loads(out) if c["check"] == "log"]
        return row

    row = check()
    assert row["status"] == "ok" and row["detail"].startswith(f"{log}: ") and "KiB; no errors" in row["detail"]
    with log.open("a", encoding="utf-8") as fh:
        fh.write("2026-01-01T00:00:00.000Z ERROR   conductor.engine.scheduler: run failed: disk is full\n")
    row = check()
    assert row["status"] == "warn" and row["detail"].endswith("last error: 2026-01-01T00:00:00.000Z ERROR "
                                                              "conductor.engine.scheduler: run failed: disk is full")
    log.unlink()
    row = check()
    assert row["detail"].startswith(f"{log}: none yet") and not log.exists()


# -- errors, and nothing on the terminal ------------------------------------------------------------------------
def test_a_crash_leaves_its_traceback_and_the_error_in_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    from conductor.engine.scheduler import Engine

    async def broken(self: Engine) -> None:
        raise RuntimeError("the market model broke")

    monkeypatch.setattr(Engine, "_day_passed", broken)
    db = tmp_path / "c.db"
    result = CliRunner(env=ENV).invoke(app, ["run", str(DUO), "--days", "2", "--db", str(db)])
    assert isinstance(result.exception, RuntimeError)
    text = "\n".join(log_lines(db))
    assert "ERROR   conductor.engine.scheduler: run failed: RuntimeError: the market model broke" in text
    assert "Traceback (most recent call last):" in text and 'in broken\n    raise RuntimeError' in text
    assert "ERROR   conductor.cli.logs: stopped on an error: RuntimeError: the market model broke" in text
    assert "run stopped reason='failed: RuntimeError: the market model broke'" in text
    assert logging.getLogger("conductor").handlers == [h for h in logging.getLogger("conductor").handlers
                                                       if isinstance(h, logging.NullHandler)]


TERMINAL = """
import logging, sys
from pathlib import Path
import conductor
from conductor.cli.logs import file_logging
log = logging.getLogger("conductor.engine.scheduler")
log.warning("unconfigured: a library logs to nobody")
with file_logging(Path(sys.argv[1]), "INFO"):
    log.warning("configured: first line %s", "a\\nforged 2026-01-01T00:00:00.000Z ERROR line")
    log.error("the key %s was refused", sys.argv[2])
"""


def test_log_lines_go_to_the_file_only_on_one_line_each_and_redacted(tmp_path: Path) -> None:
    key = f"sk-proj-{secrets.token_hex(16)}"
    db = tmp_path / "c.db"
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", TERMINAL, str(db), key], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == "", "a log line reached the terminal"
    lines = log_lines(db)
    assert len(lines) == 2, lines
    assert lines[0].endswith("configured: first line a forged 2026-01-01T00:00:00.000Z ERROR line")
    assert lines[1].endswith("the key [redacted] was refused") and key not in lines[1]


def test_a_log_that_cannot_be_written_neither_stops_nor_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    db = tmp_path / "c.db"
    db.with_name("c.db.log").mkdir()  # a folder where the file should go: every write fails
    with logs.file_logging(db, "INFO"):
        logging.getLogger("conductor.engine.scheduler").error("nowhere to go")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_log_rotates_and_keeps_a_few_backups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    db = tmp_path / "c.db"
    with logs.file_logging(db, "INFO"):
        for n in range(200):
            logging.getLogger("conductor.engine.scheduler").info("wake agent=a%03d reason=%r", n, "x" * 40)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c.db.log", "c.db.log.1", "c.db.log.2", "c.db.log.3"]
    assert all((tmp_path / name).stat().st_size <= 2_000 for name in names)
    assert log_lines(db)[-1].endswith("wake agent=a199 reason='" + "x" * 40 + "'")


def test_a_full_disk_at_the_last_buffered_line_raises_nothing(tmp_path: Path) -> None:
    """Closing the log with a line still buffered on a full disk: no traceback, the command's own error stands."""
    import errno

    from conductor.cli.logs import rotating_file

    class FullDisk:
        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self.flush()

    handler = rotating_file(tmp_path / "c.db.log")
    handler.emit(logging.makeLogRecord({"msg": "a line", "levelno": logging.INFO, "levelname": "INFO"}))
    handler.stream = FullDisk()  # type: ignore[attr-defined]
    handler.flush()
    handler.close()
