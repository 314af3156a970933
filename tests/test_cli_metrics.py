"""`conductor metric record | import`: idempotent, bad rows named by line, and seen by the engine's fold."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conductor.cli.main import app
from conductor.engine.state import EngineState
from conductor.org import load_org
from conductor.services.metrics import import_csv
from conductor.services.setup import record_org
from conductor.store import StoredEvent, open_database
from conductor.store.rebuild import projection_differences

STUDIO = Path(__file__).resolve().parent.parent / "orgs" / "studio.toml"
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "CONDUCTOR_DB": None}
VENTURES = ("inkwell", "ledgerly", "tidepool")
METRICS = ("mrr", "signups")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    conn = open_database(path)
    record_org(conn, load_org(STUDIO), STUDIO)
    conn.close()
    return path


def write_csv(path: Path, rows: int, *, bad_line: int | None = None) -> list[tuple[str, str, str, float]]:
    """`rows` good rows (3 ventures x 2 metrics x hourly points), and one malformed row inserted at `bad_line`."""
    good: list[tuple[str, str, str, float]] = []
    lines = ["venture,metric,value,at"]
    n = 0
    while len(good) < rows:
        for venture in VENTURES:
            for metric in METRICS:
                if len(good) == rows:
                    break
                # hourly points; the very first written with an offset instead of Z, as some exports do
                stamp = f"2025-{1 + n // (24 * 28):02d}-{1 + (n // 24) % 28:02d}T{n % 24:02d}:00:00Z"
                if n == 0:
                    stamp = "2025-01-01T00:00:00+00:00"
                value = round(1000 + n * 1.5, 2)
                good.append((venture, metric, stamp, value))
                lines.append(f"{venture},{metric},{value},{stamp}")
        n += 1
    if bad_line is not None:
        lines.insert(bad_line - 1, "inkwell,mrr,twelve,2025-03-03T00:00:00Z")
    path.write_text("\n".join(lines) + "\n")
    return good


def count(db: Path, sql: str, *args: object) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def test_ten_thousand_rows_import_and_a_second_import_changes_nothing(db: Path, tmp_path: Path) -> None:
    """What the import writes; how fast it does is `python -m bench.metric_import` (no test asserts a duration)."""
    csv_file = tmp_path / "export.csv"
    good = write_csv(csv_file, 10_000, bad_line=5002)
    runner = CliRunner(env=ENV)
    first = runner.invoke(app, ["metric", "import", str(csv_file), "--db", str(db)])
    assert first.exit_code == 2, first.output  # one row was bad: reported, the rest recorded
    assert first.stderr.splitlines() == [f"error: {csv_file}:5002: value 'twelve' is not a number"]
    assert "10001 rows: 10000 recorded, 0 already recorded, 1 skipped" in first.stdout
    points = count(db, "SELECT count(*) FROM metric_points WHERE source = ?", f"csv:{csv_file.name}")
    assert points == len(good) == 10_000
    events = count(db, "SELECT count(*) FROM events WHERE kind = 'metric.recorded'")
    assert events == 10_000
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    stored = {(r["venture"], r["metric"], r["at"]): r["value"] for r in conn.execute("SELECT * FROM metric_points")}
    conn.close()
    from conductor.store import iso, parse_iso

    for venture, metric, at, value in good:
        assert stored[(venture, metric, iso(parse_iso(at)))] == value

    second = runner.invoke(app, ["metric", "import", str(csv_file), "--db", str(db)])
    assert second.exit_code == 2
    assert "0 recorded, 10000 already recorded, 1 skipped" in second.stdout
    assert count(db, "SELECT count(*) FROM metric_points") == 10_000
    assert count(db, "SELECT count(*) FROM events WHERE kind = 'metric.recorded'") == 10_000
    conn = open_database(db)
    assert projection_differences(conn) == []
    conn.close()


def test_a_changed_value_is_recorded_again_and_duplicates_in_a_file_are_named(db: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("at,metric,venture,value,note\n"
                        "2026-01-05,mrr,inkwell,100,first\n"
                        "2026-01-06,mrr,inkwell,110,\n"
                        "2026-01-06,mrr,inkwell,111,same key again\n"
                        "2026-01-07,nope,inkwell,1,\n"
                        "2026-01-07,mrr,atlantis,1,\n"
                        "not a time,mrr,inkwell,1,\n"
                        "2026-01-08,mrr\n"
                        "2026-01-09,mrr,inkwell,inf,\n")
    conn = open_database(db)
    try:
        report = import_csv(conn, csv_file, org=load_org(STUDIO))
    finally:
        conn.close()
    assert report.recorded == 2 and report.rows == 8
    assert [line for line, _ in report.problems] == [4, 5, 6, 7, 8, 9]
    reasons = dict(report.problems)
    assert "already on line 3" in reasons[4]
    assert "no metric 'nope'" in reasons[5] and "venture 'atlantis'" in reasons[6]
    assert "not ISO 8601" in reasons[7] and "2 fields" in reasons[8] and "not a finite number" in reasons[9]
    csv_file.write_text("venture,metric,value,at\ninkwell,mrr,100,2026-01-05\ninkwell,mrr,120,2026-01-06\n")
    conn = open_database(db)
    try:
        again = import_csv(conn, csv_file, org=load_org(STUDIO))
        assert (again.recorded, again.unchanged) == (1, 1)
        value = conn.execute("SELECT value FROM metric_points WHERE at = '2026-01-06T00:00:00.000000Z'").fetchone()[0]
        assert value == 120
    finally:
        conn.close()


def test_a_file_that_cannot_be_imported_at_all_is_exit_2(db: Path, tmp_path: Path) -> None:
    runner = CliRunner(env=ENV)
    no_header = tmp_path / "h.csv"
    no_header.write_text("inkwell,mrr,1,2026-01-05\n")
    result = runner.invoke(app, ["metric", "import", str(no_header), "--db", str(db)])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {no_header}:1: missing column(s)")
    missing = runner.invoke(app, ["metric", "import", str(tmp_path / "gone.csv"), "--db", str(db)])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    assert count(db, "SELECT count(*) FROM events WHERE kind = 'metric.recorded'") == 0


def test_venture_option_fills_a_file_without_a_venture_column(db: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "stripe.csv"
    csv_file.write_text("metric,value,at\nmrr,31250.5,2026-02-01T00:00:00Z\n")
    result = CliRunner(env=ENV).invoke(app, ["metric", "import", str(csv_file), "--venture", "ledgerly", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert count(db, "SELECT count(*) FROM metric_points WHERE venture = 'ledgerly' AND value = 31250.5") == 1


def test_record_writes_a_founder_event_the_engine_state_folds_in(db: Path) -> None:
    result = CliRunner(env=ENV).invoke(app, ["metric", "record", "tidepool", "mrr", "4321.5", "--at",
                                             "2026-01-06T09:00:00Z", "--db", str(db)])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM events WHERE kind = 'metric.recorded'").fetchone()
    conn.close()
    payload = json.loads(row["payload"])
    assert payload == {"metric": "mrr", "value": 4321.5, "at": "2026-01-06T09:00:00.000000Z",
                       "source": "founder", "by": "founder"}
    org = load_org(STUDIO)
    state = EngineState(org, org.start)
    state.observe(StoredEvent.from_row(row))
    assert state.metrics["tidepool"]["mrr"] == [(1, 4321.5)]
    assert state.day_index(org.start + timedelta(days=1)) == 1


def test_record_rejects_unknown_names_and_bad_values_with_exit_2(db: Path) -> None:
    runner = CliRunner(env=ENV)
    for args, message in ((["inkwell", "nope", "1"], "venture 'inkwell' has no metric 'nope'"),
                          (["atlantis", "mrr", "1"], "venture 'atlantis' is not in the organization"),
                          (["inkwell", "mrr", "nan"], "not a finite number"),
                          (["inkwell", "mrr", "1", "--at", "monday"], "time 'monday' is not ISO 8601")):
        result = runner.invoke(app, ["metric", "record", *args, "--db", str(db)])
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ") and message in result.stderr
    assert count(db, "SELECT count(*) FROM events WHERE kind = 'metric.recorded'") == 0
