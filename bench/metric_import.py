"""How long `conductor metric import` takes for a large CSV file, and a second import of the same file.

The speed figure that `tests/test_cli_metrics.py` used to assert (10,000 rows under 5 s) lives here: a test
checks what an import writes, a benchmark how fast, so a loaded machine never turns the test suite red.

    python -m bench.metric_import --rows 10000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT

STUDIO = ROOT / "orgs" / "studio.toml"


def write_csv(path: Path, rows: int) -> None:
    """`rows` hourly points spread over the studio's ventures and two of their metrics."""
    lines = ["venture,metric,value,at"]
    pairs = [(v, m) for v in ("inkwell", "ledgerly", "tidepool") for m in ("mrr", "signups")]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(rows):
        venture, metric = pairs[n % len(pairs)]
        at = (start + timedelta(hours=n // len(pairs))).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{venture},{metric},{1000 + n * 1.5:.2f},{at}")
    path.write_text("\n".join(lines) + "\n")


def run(rows: int = 10_000) -> dict[str, Any]:
    from conductor.org import load_org
    from conductor.services.metrics import import_csv
    from conductor.services.setup import record_org
    from conductor.store import open_database

    org = load_org(STUDIO)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        db, csv_file = Path(tmp) / "m.db", Path(tmp) / "export.csv"
        write_csv(csv_file, rows)
        conn = open_database(db)
        try:
            record_org(conn, org, STUDIO)
            started = time.perf_counter()
            first = import_csv(conn, csv_file, org=org)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            again = import_csv(conn, csv_file, org=org)
            again_s = time.perf_counter() - started
        finally:
            conn.close()
    return {"rows": rows, "recorded": first.recorded, "import_s": round(first_s, 3),
            "rows_per_s": round(rows / first_s) if first_s else None,
            "second_import_recorded": again.recorded, "second_import_s": round(again_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metric_import", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    print(json.dumps(run(parser.parse_args().rows), indent=2))


if __name__ == "__main__":
    main()
