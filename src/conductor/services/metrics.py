"""Real numbers into the loop: one metric point from the founder, or a CSV export from a payment processor.

Each point is a `metric.recorded` event with `"by": "founder"` and a `source`, so a scheduler running in
another process picks it up on its next poll (its working memory folds it in like a simulated point) and the
`metric_points` projection holds it under its key (venture, metric, at). Importing is idempotent: a point
already recorded with the same value writes nothing, a changed value is recorded again, so importing the same
file twice neither loses nor duplicates anything. Bad rows are reported with their line number and skipped;
every good row is kept.
"""

from __future__ import annotations

import csv
import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from conductor.errors import BadInput
from conductor.org.models import Org
from conductor.store import NewEvent, StoredEvent, commit_events, iso, parse_iso, utc_now

CHUNK = 2000  # events per transaction: short write locks beside a running scheduler
COLUMNS = ("venture", "metric", "value", "at")


@dataclass
class ImportReport:
    """What an import did; `problems` are (line number, reason) for every row that was skipped."""

    path: Path
    rows: int = 0
    recorded: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Point:
    venture: str
    metric: str
    value: float
    at: str


def _clock(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT sim_time FROM events WHERE sim_time IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _parse_value(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {text!r} is not a finite number")
    return value


def _parse_at(text: str) -> str:
    try:
        moment = parse_iso(text.strip())
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601 (e.g. 2026-01-05 or 2026-01-05T09:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)


class _Catalogue:
    """Which ventures and metric names exist: from the org file when we have it, else from the database."""

    def __init__(self, conn: sqlite3.Connection, org: Org | None) -> None:
        self.ventures = {r[0] for r in conn.execute("SELECT id FROM ventures")}
        self.metrics: dict[str, set[str]] = {}
        if org is not None:
            for venture in org.ventures:
                self.ventures.add(venture.id)
                self.metrics[venture.id] = {m.name for m in venture.metrics}
        else:
            for venture, metric in conn.execute("SELECT DISTINCT venture, metric FROM metric_points"):
                self.metrics.setdefault(venture, set()).add(metric)

    def check(self, venture: str, metric: str) -> None:
        if venture not in self.ventures:
            known = ", ".join(sorted(self.ventures)) or "none yet"
            raise ValueError(f"venture '{venture}' is not in the organization (known: {known})")
        if not metric:
            raise ValueError("the metric name is empty")
        names = self.metrics.get(venture)
        if names and metric not in names:
            raise ValueError(f"venture '{venture}' has no metric '{metric}' (has: {', '.join(sorted(names))})")


def _existing(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str, str], float]:
    found: dict[tuple[str, str, str], float] = {}
    for venture, metric in keys:
        for at, value in conn.execute("SELECT at, value FROM metric_points WHERE venture = ? AND metric = ?",
                                      (venture, metric)):
            found[(venture, metric, at)] = value
    return found


def _write(conn: sqlite3.Connection, points: list[_Point], source: str) -> list[StoredEvent]:
    clock = _clock(conn) or iso(utc_now())
    stored: list[StoredEvent] = []
    for start in range(0, len(points), CHUNK):
        events = [
            NewEvent("metric.recorded", {"metric": p.metric, "value": p.value, "at": p.at, "source": source,
                                         "by": "founder"}, venture=p.venture, sim_time=clock)
            for p in points[start : start + CHUNK]
        ]
        stored += commit_events(conn, events)
    return stored


def record_metric(
    conn: sqlite3.Connection,
    venture: str,
    metric: str,
    value: float | str,
    *,
    at: str | None = None,
    source: str = "founder",
    org: Org | None = None,
) -> StoredEvent:
    """Record one point; `at` defaults to the org clock's now. Raises BadInput naming what is wrong."""
    catalogue = _Catalogue(conn, org)
    try:
        catalogue.check(venture, metric)
        number = _parse_value(value) if isinstance(value, str) else float(value)
        if not math.isfinite(number):
            raise ValueError(f"value {value!r} is not a finite number")
        when = _parse_at(at) if at else (_clock(conn) or iso(utc_now()))
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return _write(conn, [_Point(venture, metric, number, when)], source)[0]


def import_csv(conn: sqlite3.Connection, path: Path, *, org: Org | None = None, venture: str | None = None) -> ImportReport:
    """Import `venture,metric,value,at` rows (header required, any column order, extra columns ignored).

    `venture` fills in a file without a venture column. Raises BadInput only when the file as a whole cannot
    be read (missing, no header, missing columns); bad rows land in the report's problems.
    """
    started = time.perf_counter()
    report = ImportReport(path=path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
    catalogue = _Catalogue(conn, org)
    points: dict[tuple[str, str, str], tuple[int, _Point]] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise BadInput(f"{path}: empty file; expected a header line {','.join(COLUMNS)}") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}:1: cannot read the header ({exc})") from None
        needed = [c for c in COLUMNS if c != "venture" or venture is None]
        missing = [c for c in needed if c not in header]
        if missing:
            raise BadInput(f"{path}:1: missing column(s) {', '.join(missing)}; the header must name "
                           f"{','.join(needed)} (found: {','.join(header) or 'nothing'})")
        index = {c: header.index(c) for c in COLUMNS if c in header}
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                report.problems.append((reader.line_num, f"cannot read the row ({exc})"))
                continue
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            report.rows += 1
            try:
                if len(row) < len(header):
                    raise ValueError(f"{len(row)} fields where the header has {len(header)}")
                v = row[index["venture"]].strip() if "venture" in index else (venture or "")
                if venture is not None and "venture" in index and v != venture:
                    raise ValueError(f"venture '{v}' differs from --venture {venture}")
                m = row[index["metric"]].strip()
                catalogue.check(v, m)
                point = _Point(v, m, _parse_value(row[index["value"]]), _parse_at(row[index["at"]]))
            except ValueError as exc:
                report.problems.append((line, str(exc)))
                continue
            key = (point.venture, point.metric, point.at)
            if key in points:
                report.problems.append((line, f"{point.venture} {point.metric} at {point.at} is already on line "
                                              f"{points[key][0]}; kept that one"))
                continue
            points[key] = (line, point)
    existing = _existing(conn, {(k[0], k[1]) for k in points})
    fresh = []
    for key, (_, point) in points.items():
        if existing.get(key) == point.value:
            report.unchanged += 1
        else:
            fresh.append(point)
    _write(conn, fresh, f"csv:{path.name}")
    report.recorded = len(fresh)
    report.problems.sort()
    report.seconds = time.perf_counter() - started
    return report
