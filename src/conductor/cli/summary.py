"""The end-of-run summary: per venture, metrics from first to last day, decisions, escalations and spend."""

from __future__ import annotations

import sqlite3

from rich import box
from rich.table import Table


def compact(value: float) -> str:
    """3 significant figures with k/M suffixes: a metric cell must fit an 80-column terminal."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def run_summary(conn: sqlite3.Connection) -> list[Table]:
    ventures = [r[0] for r in conn.execute("SELECT id FROM ventures ORDER BY id")]
    overview = Table(title="Per venture", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("venture", "stage", "wakes", "idle", "calls", "decid", "exec", "revised", "escal", "open", "spend"):
        overview.add_column(col, justify="left" if col in ("venture", "stage") else "right")

    def one(sql: str, *args: object) -> float:
        return conn.execute(sql, args).fetchone()[0] or 0

    for v in ventures:
        stage = conn.execute("SELECT stage FROM ventures WHERE id = ?", (v,)).fetchone()[0]
        overview.add_row(
            v, stage,
            str(int(one("SELECT wakes FROM (SELECT sum(wakes) AS wakes FROM agents WHERE venture = ?)", v))),
            str(int(one("SELECT sum(idle_ticks) FROM agents WHERE venture = ?", v))),
            str(int(one("SELECT count(*) FROM calls WHERE venture = ?", v))),
            str(int(one("SELECT count(*) FROM decisions WHERE venture = ?", v))),
            str(int(one("SELECT count(*) FROM decisions WHERE venture = ? AND state = 'executed'", v))),
            str(int(one("SELECT count(*) FROM events WHERE venture = ? AND kind = 'review.answered' "
                        "AND json_extract(payload, '$.verdict') = 'revise'", v))),
            str(int(one("SELECT count(*) FROM escalations WHERE venture = ?", v))),
            str(int(one("SELECT count(*) FROM escalations WHERE venture = ? AND state = 'pending'", v))),
            f"${one('SELECT sum(cost) FROM calls WHERE venture = ?', v):,.2f}",
        )
    metrics = Table(title="Metrics, first day → last day", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    metrics.add_column("venture")
    names = [r[0] for r in conn.execute("SELECT DISTINCT metric FROM metric_points ORDER BY metric")]
    short = {"activation_rate": "activ %", "churn_rate": "churn %", "paying_customers": "paying",
             "support_backlog": "backlog"}
    for name in names:
        metrics.add_column(short.get(name, name), justify="right")
    for v in ventures:
        cells = []
        for name in names:
            rows = conn.execute(
                "SELECT value FROM metric_points WHERE venture = ? AND metric = ? ORDER BY at", (v, name)
            ).fetchall()
            cells.append(f"{compact(rows[0][0])}→{compact(rows[-1][0])}" if rows else "-")
        metrics.add_row(v, *cells)
    kinds = Table(title="Escalations by kind and state", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("kind", "pending", "approved", "rejected", "expired"):
        kinds.add_column(col, justify="left" if col == "kind" else "right")
    for (kind,) in conn.execute("SELECT DISTINCT CASE WHEN kind = 'decision' THEN "
                                "'decision: ' || json_extract(detail, '$.kind') ELSE kind END FROM escalations ORDER BY 1"):
        counts = dict(conn.execute(
            "SELECT state, count(*) FROM escalations WHERE (CASE WHEN kind = 'decision' THEN "
            "'decision: ' || json_extract(detail, '$.kind') ELSE kind END) = ? GROUP BY state", (kind,)).fetchall())
        kinds.add_row(kind, *(str(counts.get(s, 0)) for s in ("pending", "approved", "rejected", "expired")))
    return [overview, metrics, kinds]
