"""Judging a decision by what its metric did against a forecast, over the decision kind's effect window.

A raw before/after move is decided by trend, weekday and floors, not by the decision. Here the metric's own
history gives a baseline forecast (`forecast`), the excess over it is shared among overlapping decisions by a
joint fit (`effects`), and the result becomes the `decision.outcome` payload and summary (`outcome`).
All pure functions over numbers and frozen dataclasses; the engine and `services.attribution` do the I/O.
"""

from __future__ import annotations

from conductor.brain.attribution.effects import Attribution, Span, attribute, verdict
from conductor.brain.attribution.forecast import Baseline, fit_baseline
from conductor.brain.attribution.outcome import (
    METHOD,
    DecisionLike,
    Measurable,
    Outcome,
    measurable,
    measure,
    measure_decision,
    normalized_effect,
    outcome_effect,
    outcome_verdict,
    params_text,
    peers_by_metric,
)

__all__ = [
    "METHOD", "Attribution", "Baseline", "DecisionLike", "Measurable", "Outcome", "Span", "attribute",
    "fit_baseline", "measurable", "measure", "measure_decision", "normalized_effect", "outcome_effect",
    "outcome_verdict", "params_text", "peers_by_metric", "verdict",
]
