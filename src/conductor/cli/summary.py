"""The end-of-run summary: per venture, metrics from first to last day, decisions, escalations and spend, and
what escalations that expired unjudged cost (with how to give the founder time)."""

from __future__ import annotations

import sqlite3

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from conductor.text import compact_number as compact


def run_summary(conn: sqlite3.Connection) -> list[RenderableType]:
    """Ventures as columns (there are few), measures as rows, so every figure fits an 80-column terminal."""
    ventures = [r[0] for r in conn.execute("SELECT id FROM ventures ORDER BY id")]

    def one(sql: str, *args: object) -> float:
        return conn.execute(sql, args).fetchone()[0] or 0

    overview = Table(title="Per venture", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    overview.add_column("")
    for v in ventures:
        overview.add_column(v, justify="right")
    overview.add_column("all", justify="right")
    measures: list[tuple[str, str]] = [
        ("wake-ups", "SELECT sum(wakes) FROM agents WHERE {v}"),
        ("idle heartbeats", "SELECT sum(idle_ticks) FROM agents WHERE {v}"),
        ("model calls", "SELECT count(*) FROM calls WHERE {v}"),
        ("decisions", "SELECT count(*) FROM decisions WHERE {v}"),
        ("executed", "SELECT count(*) FROM decisions WHERE {v} AND state = 'executed'"),
        ("sent back by review", "SELECT count(*) FROM events WHERE {v} AND kind = 'review.answered' "
                                "AND json_extract(payload, '$.verdict') = 'revise'"),
        ("escalations", "SELECT count(*) FROM escalations WHERE {v}"),
        ("open escalations", "SELECT count(*) FROM escalations WHERE {v} AND state = 'pending'"),
    ]
    stages = [conn.execute("SELECT stage FROM ventures WHERE id = ?", (v,)).fetchone()[0] for v in ventures]
    overview.add_row("stage", *stages, "")
    for label, sql in measures:
        cells = [str(int(one(sql.format(v="venture = ?"), v))) for v in ventures]
        overview.add_row(label, *cells, str(int(one(sql.format(v="1")))))
    spend = [one("SELECT sum(cost) FROM calls WHERE venture = ?", v) for v in ventures]
    overview.add_row("model spend", *(f"${x:,.2f}" for x in spend), f"${one('SELECT sum(cost) FROM calls'):,.2f}")

    metrics = Table(title="Metrics, first day → last day", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    metrics.add_column("metric")
    for v in ventures:
        metrics.add_column(v, justify="right")
    names = [r[0] for r in conn.execute("SELECT DISTINCT metric FROM metric_points ORDER BY metric")]
    for name in names:
        cells = []
        for v in ventures:
            rows = conn.execute(
                "SELECT value FROM metric_points WHERE venture = ? AND metric = ? ORDER BY at", (v, name)
            ).fetchall()
            cells.append(f"{compact(rows[0][0])} → {compact(rows[-1][0])}" if rows else "-")
        metrics.add_row(name, *cells)
    kinds = Table(title="Escalations by kind and state", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("kind", "pending", "approved", "rejected", "expired"):
        kinds.add_column(col, justify="left" if col == "kind" else "right")
    for (kind,) in conn.execute("SELECT DISTINCT CASE WHEN kind = 'decision' THEN "
                                "'decision: ' || json_extract(detail, '$.kind') ELSE kind END FROM escalations ORDER BY 1"):
        counts = dict(conn.execute(
            "SELECT state, count(*) FROM escalations WHERE (CASE WHEN kind = 'decision' THEN "
            "'decision: ' || json_extract(detail, '$.kind') ELSE kind END) = ? GROUP BY state", (kind,)).fetchall())
        kinds.add_row(kind, *(str(counts.get(s, 0)) for s in ("pending", "approved", "rejected", "expired")))
    tables: list[RenderableType] = [overview, metrics, kinds]
    expired = conn.execute(
        "SELECT json_extract(detail, '$.kind'), count(*) FROM escalations WHERE kind = 'decision' AND state = 'expired' "
        "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    if expired:
        total = sum(n for _, n in expired)
        lost = Table(title="What expiry cost", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        lost.add_column("decision kind")
        lost.add_column("expired", justify="right")
        for kind, n in expired:
            lost.add_row(str(kind), str(n))
        tables += [lost, Text(f"{total} decision{'s were' if total != 1 else ' was'} not taken: nobody judged "
                              f"{'them' if total != 1 else 'it'} before {'they' if total != 1 else 'it'} expired. "
                              "With the control room open (`conductor tui ORG`, or `conductor attach --db FILE` to a "
                              "running `conductor run`) the clock waits for you at each expiry; `--pace 60` gives "
                              "you a minute of real time per simulated day.")]
    return tables
