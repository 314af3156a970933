"""CLI arguments, fuzzed: metric values, ids, targets, notes and CSV rows.

Every command either succeeds or fails cleanly: exit code 1 or 2, `error: ...` lines on stderr (or, for an
argument the parser itself rejects, its usage message), never a traceback, and a failed command leaves the
event log exactly as it was. A CSV import writes exactly the rows it reports as recorded, and importing the
same file again writes nothing. (`metric import` keeps the good rows of a file with bad ones, by design;
the bad ones are each named FILE:LINE on stderr and the command exits 2.)
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conductor.cli.main import app

DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"
# CI tries a fixed, modest set; FUZZ_EXAMPLES=1000 searches longer with fresh random inputs.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
NUMBERISH = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str), TEXT,
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e309", "-0", "1_000", "١٢٣", "0x10", "1,5", "3.", ".5e-3",
                     "12abc", "\x00", "9" * 400]),
)
IDS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), TEXT,
                st.sampled_from(["0", "-1", "1", "1.5", "", "9223372036854775807", "9223372036854775808"]))
TARGETS = st.one_of(TEXT, st.sampled_from(["duo", "duo-lead", "duo-ops", "platform", "", "DUO", "duo-lead "]))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "c.db"
    result = CliRunner().invoke(app, ["run", str(DUO), "--db", str(path), "--days", "3"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def invoke_clean(runner: CliRunner, db: Path, args: list[str], *, skips_rows: bool = False) -> tuple[Any, int]:
    """Run a command; check it failed cleanly if it failed; return (result, events it added).

    `skips_rows`: `metric import` reports bad rows (exit 2) and keeps the good ones, by design; the caller
    then checks that what it wrote is exactly what it reported.
    """
    before = events(db)
    result = runner.invoke(app, args)
    added = events(db) - before
    text = result.output + result.stderr
    assert "Traceback" not in text, f"{args}: {text}"
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{args}: {result.exception!r}"
    if result.exit_code != 0:
        assert result.exit_code in (1, 2), f"{args}: exit {result.exit_code}"
        lines = result.stderr.splitlines()
        usage = result.exit_code == 2 and "Usage:" in result.stderr  # rejected by the argument parser
        assert usage or (lines and all(line.startswith("error: ") for line in lines)), f"{args}: {result.stderr!r}"
        assert added == 0 or skips_rows, f"{args} failed and still wrote {added} events"
    return result, added


@FUZZ
@given(venture=TARGETS, metric=st.one_of(st.sampled_from(["revenue", "mrr", ""]), TEXT), value=NUMBERISH,
       at=st.one_of(st.none(), TEXT, st.sampled_from(["2026-01-05", "2026-01-05T09:00:00Z", "2026-13-45",
                                                      "9999-12-31T23:59:59+14:00", "0001-01-01", "yesterday"])))
def test_metric_record(venture: str, metric: str, value: str, at: str | None, runner: CliRunner, db: Path) -> None:
    args = ["metric", "record", "--db", str(db), *(["--at", at] if at is not None else []), "--", venture, metric, value]
    result, added = invoke_clean(runner, db, args)
    assert added == (1 if result.exit_code == 0 else 0)


@FUZZ
@given(command=st.sampled_from(["show", "approve", "reject"]), escalation=IDS, note=TEXT,
       sets=st.lists(st.one_of(TEXT, st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["vendor", "budget", "x"]),
                                               NUMBERISH)), max_size=2))
def test_inbox_ids_notes_and_amendments(command: str, escalation: str, note: str, sets: list[str],
                                        runner: CliRunner, db: Path) -> None:
    args = ["inbox", command, "--db", str(db)]
    if command == "reject":
        args += ["--note", note]
    if command == "approve":
        for item in sets:
            args += ["--set", item]
    result, added = invoke_clean(runner, db, [*args, "--", escalation])
    assert added == (1 if result.exit_code == 0 and command != "show" else 0)


@FUZZ
@given(command=st.sampled_from(["wake", "pause", "resume", "directive"]), target=TARGETS, text=TEXT)
def test_control_targets(command: str, target: str, text: str, runner: CliRunner, db: Path) -> None:
    args = ["directive", "add", "--db", str(db), "--", target, text] if command == "directive" else \
        [command, "--db", str(db), "--", target]
    invoke_clean(runner, db, args)


CELL = st.one_of(TEXT, NUMBERISH, st.sampled_from(["duo", "revenue", "2026-01-06", "2026-01-07T00:00:00Z", '"',
                                                   '""', "a,b", "\n", "\r\n"]))
HEADERS = st.sampled_from(["venture,metric,value,at", "metric,value,at", "at,value,metric,venture,extra",
                           "\ufeffventure,metric,value,at", "venture,metric,value", "", "VENTURE, Metric ,value,AT"])


@FUZZ
@given(header=HEADERS, rows=st.lists(st.lists(CELL, min_size=0, max_size=5), max_size=6),
       good=st.lists(st.tuples(st.floats(-1e9, 1e9), st.integers(6, 28)), max_size=4),
       junk=st.one_of(st.none(), st.binary(max_size=8)))
def test_metric_import_csv(header: str, rows: list[list[str]], good: list[tuple[float, int]], junk: bytes | None,
                           runner: CliRunner, db: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    lines = [header]
    lines += [",".join(cells) for cells in rows]
    lines += [f"duo,revenue,{value!r},2026-01-{day:02d}" for value, day in good]
    raw = "\n".join(lines).encode("utf-8", "surrogatepass") + (junk or b"")
    path = tmp_path_factory.mktemp("csv") / "points.csv"
    path.write_bytes(raw)
    result, added = invoke_clean(runner, db, ["metric", "import", "--db", str(db), "--", str(path)],
                                 skips_rows=True)
    reported = re.search(r"(\d+) recorded", result.output)
    assert added == (int(reported.group(1)) if reported else 0), (result.output, added)
    _, added_again = invoke_clean(runner, db, ["metric", "import", "--db", str(db), "--", str(path)],
                                      skips_rows=True)
    assert added_again == 0, "importing the same file twice wrote again"
