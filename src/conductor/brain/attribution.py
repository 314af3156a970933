"""Judging a decision by what its metric did afterwards: a pure function over numbers.

The outcome of an executed decision is the movement of its metric (the one its expected effect names, or the
owner's metric) from the day it executed to the end of the outcome window, judged against the metric's good
direction. Noise is real, so the judgement carries the size of the move, and readers see counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    metric: str
    before: float
    after: float
    delta: float
    delta_pct: float
    good_direction: str
    expected_direction: str | None
    success: bool
    window_days: int

    def summary(self, kind: str, params_text: str) -> str:
        verdict = "worked" if self.success else "failed"
        return (
            f"{kind} {params_text}: {self.metric} {self.delta_pct:+.1%} over {self.window_days} days "
            f"({self.before:,.4g} -> {self.after:,.4g}) ({verdict})"
        )

    def as_payload(self) -> dict:
        return {
            "metric": self.metric, "before": self.before, "after": self.after, "delta": self.delta,
            "delta_pct": self.delta_pct, "good_direction": self.good_direction,
            "expected_direction": self.expected_direction, "success": self.success, "window_days": self.window_days,
        }


def judge_outcome(
    metric: str,
    before: float,
    after: float,
    good_direction: str,
    expected_direction: str | None,
    window_days: int,
    min_move: float = 0.005,
) -> Outcome:
    """A decision worked when its metric moved the good way by more than `min_move` (relative)."""
    delta = after - before
    base = abs(before) if abs(before) > 1e-9 else 1.0
    delta_pct = delta / base
    signed = delta_pct if good_direction == "up" else -delta_pct
    return Outcome(
        metric=metric, before=before, after=after, delta=delta, delta_pct=delta_pct,
        good_direction=good_direction, expected_direction=expected_direction,
        success=signed > min_move, window_days=window_days,
    )


def params_text(params: dict) -> str:
    """`channel=ads budget=400`: the form briefs and outcome lines use, which models can read back."""
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()) if not isinstance(v, dict | list))
