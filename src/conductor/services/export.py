"""Exports for spreadsheets and audits: decisions, escalations, brain versions, metrics and spend.

One file per table, JSON (an array of objects) or CSV (nested values as JSON text in their cell), written
beside each other into one directory. Each file is written to a temporary name and renamed, so a reader never
sees half a file. Rows come from the same read models as the CLI, so field names match `--json` output.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from conductor.errors import BadInput
from conductor.services import queries

Format = Literal["json", "csv"]
TABLES = ("decisions", "escalations", "brain_versions", "metrics", "spend")


@dataclass(frozen=True)
class ExportedFile:
    table: str
    path: Path
    rows: int


def _brain_versions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every brain version; JSON columns (document, memory_ids) are parsed back into values."""
    out = []
    for row in conn.execute("SELECT * FROM brain_versions ORDER BY venture, version"):
        item = dict(row)
        for key in ("document", "memory_ids"):
            if isinstance(item.get(key), str):
                with contextlib.suppress(ValueError):
                    item[key] = json.loads(item[key])
        out.append(item)
    return out


def _escalations(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    ids = [r[0] for r in conn.execute("SELECT id FROM escalations ORDER BY id")]
    return [queries.escalation(conn, i).model_dump(mode="json", exclude={"detail", "transcript"}) for i in ids]


def _metric_points(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT venture, metric, at, value, source, event_id FROM metric_points ORDER BY venture, metric, at")]


def collect(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every exported table as a list of plain dicts."""
    return {
        "decisions": [d.model_dump(mode="json") for d in queries.decisions(conn)],
        "escalations": _escalations(conn),
        "brain_versions": _brain_versions(conn),
        "metrics": _metric_points(conn),
        "spend": [s.model_dump(mode="json") for s in queries.spend(conn, by="agent")],
    }


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        write(fh)
    os.replace(tmp, path)


def export(conn: sqlite3.Connection, out_dir: Path, fmt: Format = "json") -> list[ExportedFile]:
    """Write every table into `out_dir` (created if needed) as `<table>.<fmt>`; returns what was written."""
    if fmt not in ("json", "csv"):
        raise BadInput(f"--format {fmt}: use json or csv")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"{out_dir}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{out_dir}: cannot create the directory ({exc.strerror})") from None
    written = []
    for table, rows in collect(conn).items():
        path = out_dir / f"{table}.{fmt}"
        if fmt == "json":
            def write(fh: Any, rows: list[dict[str, Any]] = rows) -> None:
                json.dump(rows, fh, ensure_ascii=False, indent=1)
                fh.write("\n")
        else:
            def write(fh: Any, rows: list[dict[str, Any]] = rows) -> None:
                columns: list[str] = []
                for row in rows:
                    columns += [k for k in row if k not in columns]
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: _cell(v) for k, v in row.items()})
        try:
            _write_atomic(path, write)
        except OSError as exc:
            raise BadInput(f"{path}: cannot write ({exc.strerror})") from None
        written.append(ExportedFile(table, path, len(rows)))
    return written
