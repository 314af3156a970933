"""Decision quality by brain version: did the organization's judgement get better as its brain changed?

Every decision stores the brain version in force when it was proposed. `decision_quality` groups decisions by
venture and version and reports, with counts so a reader can judge the noise: how many decisions, the share
executed without the founder, the share escalated, the founder's approval rate on those he decided, the share
of measured decisions whose metric moved the good way, and the mean move normalised to the good direction.

Pure over `DecisionRow`s; `load_decision_rows(conn)` is the one query (decisions with their escalation).

Public API: `DecisionRow`, `QualityRow`, `decision_quality(rows)`, `load_decision_rows(conn, venture=None)`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from conductor.brain.attribution.outcome import normalized_effect, outcome_verdict

EXECUTED = ("executed", "failed")


class DecisionRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    venture: str
    brain_version: int | None
    state: str
    escalated: bool = False
    verdict: str | None = None  # the verdict on its escalation: approved, rejected, expired
    success: bool | None = None
    normalized_delta: float | None = None  # the metric's relative move, positive = the good way


class QualityRow(BaseModel):
    """One venture and brain version (None: decisions taken before the first version)."""

    model_config = ConfigDict(frozen=True)

    venture: str
    brain_version: int | None
    decisions: int
    auto_executed: int
    escalated: int
    founder_decided: int
    founder_approved: int
    measured: int
    succeeded: int
    auto_share: float | None
    escalated_share: float | None
    approval_rate: float | None
    success_rate: float | None
    mean_normalized_delta: float | None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def decision_quality(rows: Iterable[DecisionRow]) -> list[QualityRow]:
    """Per venture and brain version (no version first, then ascending), the figures described above."""
    groups: dict[tuple[str, int | None], list[DecisionRow]] = {}
    for row in rows:
        groups.setdefault((row.venture, row.brain_version), []).append(row)
    out = []
    for (venture, version), items in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        auto = sum(1 for d in items if d.state in EXECUTED and not d.escalated)
        escalated = sum(1 for d in items if d.escalated)
        decided = [d for d in items if d.verdict in ("approved", "rejected")]
        approved = sum(1 for d in decided if d.verdict == "approved")
        measured = [d for d in items if d.success is not None]
        succeeded = sum(1 for d in measured if d.success)
        deltas = [d.normalized_delta for d in measured if d.normalized_delta is not None]
        out.append(QualityRow(
            venture=venture, brain_version=version, decisions=len(items), auto_executed=auto, escalated=escalated,
            founder_decided=len(decided), founder_approved=approved, measured=len(measured), succeeded=succeeded,
            auto_share=_share(auto, len(items)), escalated_share=_share(escalated, len(items)),
            approval_rate=_share(approved, len(decided)), success_rate=_share(succeeded, len(measured)),
            mean_normalized_delta=sum(deltas) / len(deltas) if deltas else None,
        ))
    return out


def normalized(outcome: dict) -> float | None:
    """The outcome's attributed effect (old logs: its raw move), signed so that positive is the good direction."""
    return normalized_effect(outcome)


def load_decision_rows(conn: sqlite3.Connection, venture: str | None = None) -> list[DecisionRow]:
    """Every decision (of one venture, or all) with whether it was escalated and the verdict it got."""
    sql = (
        "SELECT d.id, d.venture, d.brain_version, d.state, d.outcome, e.n, e.verdict FROM decisions d "
        "LEFT JOIN (SELECT decision_id, count(*) AS n, max(CASE WHEN state != 'pending' THEN verdict END) AS verdict "
        "FROM escalations WHERE kind = 'decision' AND decision_id IS NOT NULL GROUP BY decision_id) e "
        "ON e.decision_id = d.id"
    )
    params: tuple = ()
    if venture is not None:
        sql += " WHERE d.venture = ?"
        params = (venture,)
    rows = []
    for r in conn.execute(sql + " ORDER BY d.id", params):
        outcome = json.loads(r[4]) if r[4] else {}
        rows.append(DecisionRow(
            id=r[0], venture=r[1], brain_version=r[2], state=r[3], escalated=bool(r[5]), verdict=r[6],
            success=(verdict == "worked") if (verdict := outcome_verdict(outcome)) is not None else None,
            normalized_delta=normalized(outcome) if outcome else None,
        ))
    return rows
