"""Decision quality by brain version: did the organization's judgement get better as its brain changed?

Every decision stores the brain version it was shown, the version in force, and the arm of the concurrent
control its wake-up drew (`brain.control`). `decision_quality` groups the decisions of the "current" arm by
venture and version in force and reports, with counts so a reader can judge the noise: how many decisions,
the share executed without the founder, the share escalated, the founder's approval rate on those he decided,
how many are measured and pending, the share of measured decisions that worked (an "unclear" outcome is
measured, not worked), and the mean attributed effect normalised to the good direction with its interval.

A version compared with the one before it is a time series: the calendar, the market and the agents' own
history change too. So when control decisions exist, each version is also compared with the decisions made
*during the same period* under the control brief (`compare_to_control`, Welch's interval).

Pure over `DecisionRow`s; `load_decision_rows(conn)` is the one query (decisions with their escalation).

Public API: `DecisionRow`, `QualityRow`, `ControlComparison`, `decision_quality(rows)`, `compare_to_control`,
`welch`, `load_decision_rows(conn, venture=None)`.
"""

from __future__ import annotations

import json
import math
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
    normalized_delta: float | None = None  # the attributed effect (old logs: the raw move), + = the good way
    brief_arm: str | None = None  # current, previous or none (None: before the concurrent control existed)
    brain_in_force: int | None = None  # the version in force when it was proposed (None: see brain_version)

    @property
    def arm(self) -> str:
        return self.brief_arm or "current"

    @property
    def period(self) -> int | None:
        """The brain version in force when this decision was made, whichever brief it was shown."""
        return self.brain_in_force if self.brain_in_force is not None else self.brain_version


class ControlComparison(BaseModel):
    """Decisions shown version v against decisions shown the control while v was in force: same period."""

    model_config = ConfigDict(frozen=True)

    control: str  # the control arm: previous or none
    n_current: int
    n_control: int
    mean_current: float | None
    mean_control: float | None
    difference: float | None  # mean_current - mean_control, effect normalised to the good direction
    low: float | None  # 95 % Welch interval of the difference
    high: float | None
    evidence: bool  # the interval excludes 0 and both sides have at least MIN_SIDE decisions
    statement: str


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
    pending: int = 0  # executed, effect window not closed yet (or never measurable)
    effect_low: float | None = None  # 95 % interval of the mean effect (normal approximation)
    effect_high: float | None = None
    control: ControlComparison | None = None  # decisions under this version vs its concurrent control


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def decision_quality(rows: Iterable[DecisionRow]) -> list[QualityRow]:
    """Per venture and brain version (no version first, then ascending), the figures described above."""
    rows = list(rows)
    groups: dict[tuple[str, int | None], list[DecisionRow]] = {}
    controls: dict[tuple[str, int | None], list[DecisionRow]] = {}
    for row in rows:
        target = groups if row.arm == "current" else controls
        target.setdefault((row.venture, row.period), []).append(row)
    out = []
    for (venture, version), items in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        auto = sum(1 for d in items if d.state in EXECUTED and not d.escalated)
        escalated = sum(1 for d in items if d.escalated)
        decided = [d for d in items if d.verdict in ("approved", "rejected")]
        approved = sum(1 for d in decided if d.verdict == "approved")
        measured = [d for d in items if d.success is not None]
        succeeded = sum(1 for d in measured if d.success)
        deltas = [d.normalized_delta for d in measured if d.normalized_delta is not None]
        low, high = _mean_interval(deltas)
        control = controls.get((venture, version))
        out.append(QualityRow(
            venture=venture, brain_version=version, decisions=len(items), auto_executed=auto, escalated=escalated,
            founder_decided=len(decided), founder_approved=approved, measured=len(measured), succeeded=succeeded,
            auto_share=_share(auto, len(items)), escalated_share=_share(escalated, len(items)),
            approval_rate=_share(approved, len(decided)), success_rate=_share(succeeded, len(measured)),
            mean_normalized_delta=sum(deltas) / len(deltas) if deltas else None,
            pending=sum(1 for d in items if d.state == "executed" and d.success is None),
            effect_low=low, effect_high=high,
            control=compare_to_control(version, deltas, control) if control and version is not None else None,
        ))
    return out


MIN_SIDE = 8  # decisions on each side before a comparison may claim evidence


def _mean_var(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _mean_interval(values: list[float]) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    mean, var = _mean_var(values)
    half = _t95(len(values) - 1) * math.sqrt(var / len(values))
    return mean - half, mean + half


def _t95(dof: float) -> float:
    """Two-sided 95 % quantile of Student's t (Cornish-Fisher expansion; exact to 0.01 from 3 dof)."""
    z = 1.959964
    dof = max(dof, 1.0)
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2) + (
        3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3)


def welch(current: list[float], control: list[float]) -> tuple[float, float, float] | None:
    """(difference of means, low, high): Welch's 95 % interval; None with fewer than 2 values on a side."""
    if len(current) < 2 or len(control) < 2:
        return None
    m1, v1 = _mean_var(current)
    m2, v2 = _mean_var(control)
    a, b = v1 / len(current), v2 / len(control)
    se = math.sqrt(a + b)
    if se <= 0:
        return m1 - m2, m1 - m2, m1 - m2
    dof = (a + b) ** 2 / ((a * a / (len(current) - 1)) + (b * b / (len(control) - 1)))
    half = _t95(dof) * se
    return m1 - m2, m1 - m2 - half, m1 - m2 + half


def compare_to_control(version: int, current: list[float], control_rows: list[DecisionRow]) -> ControlComparison:
    """Version v's measured decisions (normalised effects, `current`) against the control arm's in v's period.

    The statement is plain: "v5 ahead of control by +2.1 pts (95% -0.3 to +4.5): not enough evidence" when
    the interval crosses 0 or either side has fewer than `MIN_SIDE` decisions.
    """
    arms = sorted({r.arm for r in control_rows})
    control = [r.normalized_delta for r in control_rows if r.success is not None and r.normalized_delta is not None]
    found = welch(current, control)
    mean_c = sum(current) / len(current) if current else None
    mean_k = sum(control) / len(control) if control else None
    if found is None:
        diff = (mean_c - mean_k) if mean_c is not None and mean_k is not None else None
        low = high = None
    else:
        diff, low, high = found
    evidence = (low is not None and high is not None and (low > 0 or high < 0)
                and min(len(current), len(control)) >= MIN_SIDE)
    if diff is None:
        statement = f"v{version} vs control: not enough evidence ({len(current)} vs {len(control)} measured)"
    else:
        word = "ahead of" if diff >= 0 else "behind"
        interval = f" (95% {low * 100:+.1f} to {high * 100:+.1f})" if low is not None and high is not None else ""
        statement = f"v{version} {word} control by {diff * 100:+.1f} pts{interval}" + (
            "" if evidence else ": not enough evidence")
    return ControlComparison(
        control="/".join(arms), n_current=len(current), n_control=len(control), mean_current=mean_c,
        mean_control=mean_k, difference=diff, low=low, high=high, evidence=evidence, statement=statement)


def normalized(outcome: dict) -> float | None:
    """The outcome's attributed effect (old logs: its raw move), signed so that positive is the good direction."""
    return normalized_effect(outcome)


def load_decision_rows(conn: sqlite3.Connection, venture: str | None = None) -> list[DecisionRow]:
    """Every decision (of one venture, or all) with whether it was escalated and the verdict it got."""
    sql = (
        "SELECT d.id, d.venture, d.brain_version, d.state, d.outcome, e.n, e.verdict, d.brief_arm, d.brain_in_force "
        "FROM decisions d "
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
            normalized_delta=normalized(outcome) if outcome else None, brief_arm=r[7], brain_in_force=r[8],
        ))
    return rows
