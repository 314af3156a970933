"""Judging a decision by what its metric did against a forecast, over the decision kind's effect window.

A raw before/after move is decided by trend, weekday and floors, not by the decision. Here the metric's own
recent history is fitted jointly on a level, a trend, weekday factors and what was running each day, pooled
by option (`pooled`), and the result becomes the `decision.outcome` payload and summary (`outcome`).
All pure functions over numbers and frozen dataclasses; the engine and `engine.recompute` do the I/O.
"""

from __future__ import annotations

from conductor.brain.attribution.outcome import (
    METHOD,
    DecisionLike,
    Measurable,
    Outcome,
    measurable,
    measure,
    measure_decision,
    normalized_effect,
    option_key,
    outcome_effect,
    outcome_verdict,
    peers_by_venture,
)
from conductor.brain.attribution.placebo import reach_days
from conductor.brain.attribution.pooled import Exposure, PooledFit, pooled_fit, pooled_verdict
from conductor.store.memory_rules import params_text

__all__ = [
    "METHOD", "DecisionLike", "Exposure", "Measurable", "Outcome", "PooledFit", "measurable", "measure",
    "measure_decision", "normalized_effect", "option_key", "outcome_effect", "outcome_verdict", "params_text",
    "peers_by_venture", "pooled_fit", "pooled_verdict", "reach_days",
]
