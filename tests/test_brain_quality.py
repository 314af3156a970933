"""Decision quality by brain version: the pure function, and the figures recomputed by hand from the tables."""

from __future__ import annotations

import sqlite3

import pytest

from brain_support import run_lab
from conductor.brain.quality import DecisionRow, decision_quality, load_decision_rows


def test_the_figures_of_one_group() -> None:
    rows = [
        DecisionRow(id=1, venture="ink", brain_version=2, state="executed", success=True, normalized_delta=0.1),
        DecisionRow(id=2, venture="ink", brain_version=2, state="executed", escalated=True, verdict="approved",
                    success=False, normalized_delta=-0.02),
        DecisionRow(id=3, venture="ink", brain_version=2, state="rejected", escalated=True, verdict="rejected"),
        DecisionRow(id=4, venture="ink", brain_version=2, state="expired", escalated=True, verdict="expired"),
        DecisionRow(id=5, venture="ink", brain_version=None, state="proposed"),
    ]
    none, v2 = decision_quality(rows)
    assert (none.brain_version, none.decisions, none.success_rate) == (None, 1, None)
    assert (v2.decisions, v2.auto_executed, v2.escalated, v2.founder_decided, v2.founder_approved) == (4, 1, 3, 2, 1)
    assert v2.auto_share == 0.25 and v2.escalated_share == 0.75 and v2.approval_rate == 0.5
    assert (v2.measured, v2.succeeded, v2.success_rate) == (2, 1, 0.5)
    assert v2.mean_normalized_delta == pytest.approx(0.04)


HAND = """
SELECT d.venture, d.brain_version, count(*),
       sum(CASE WHEN d.state IN ('executed', 'failed') AND NOT EXISTS (
           SELECT 1 FROM escalations e WHERE e.decision_id = d.id AND e.kind = 'decision') THEN 1 ELSE 0 END),
       sum(CASE WHEN EXISTS (SELECT 1 FROM escalations e WHERE e.decision_id = d.id AND e.kind = 'decision')
           THEN 1 ELSE 0 END),
       sum(CASE WHEN (SELECT max(e.verdict) FROM escalations e WHERE e.decision_id = d.id AND e.kind = 'decision'
                      AND e.state != 'pending') IN ('approved', 'rejected') THEN 1 ELSE 0 END),
       sum(CASE WHEN (SELECT max(e.verdict) FROM escalations e WHERE e.decision_id = d.id AND e.kind = 'decision'
                      AND e.state != 'pending') = 'approved' THEN 1 ELSE 0 END),
       count(d.outcome),
       sum(CASE WHEN json_extract(d.outcome, '$.success') THEN 1 ELSE 0 END),
       avg(CASE json_extract(d.outcome, '$.good_direction') WHEN 'up' THEN json_extract(d.outcome, '$.delta_pct')
           ELSE -json_extract(d.outcome, '$.delta_pct') END)
FROM decisions d
GROUP BY d.venture, d.brain_version
ORDER BY d.venture, coalesce(d.brain_version, 0)
"""


def test_the_table_can_be_recomputed_by_hand_from_the_decisions_table() -> None:
    conn = sqlite3.connect(run_lab(16))
    computed = decision_quality(load_decision_rows(conn))
    by_hand = conn.execute(HAND).fetchall()
    conn.close()
    assert len(computed) == len(by_hand) >= 3
    for row, (venture, version, n, auto, escalated, decided, approved, measured, succeeded, mean) in zip(
            computed, by_hand, strict=True):
        assert (row.venture, row.brain_version, row.decisions) == (venture, version, n)
        assert (row.auto_executed, row.escalated, row.founder_decided, row.founder_approved) == (
            auto, escalated, decided, approved)
        assert (row.measured, row.succeeded) == (measured, succeeded)
        if measured:
            assert row.success_rate == pytest.approx(succeeded / measured)
            assert row.mean_normalized_delta == pytest.approx(mean)
        assert row.escalated_share == pytest.approx(escalated / n)
    assert sum(r.decisions for r in computed if r.brain_version is not None) > 0
