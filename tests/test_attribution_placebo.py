"""Placebo-calibrated intervals: a fit whose model of the series is wrong gets intervals as wide as its own
fake decisions show they must be, and a series the fit models well keeps its intervals."""

from __future__ import annotations

import math
import random
import statistics

from conductor.brain.attribution import Exposure, Measurable, measure, pooled_fit, pooled_verdict
from conductor.brain.attribution.placebo import placebo_scale

WEEKDAY = (1.0, 1.04, 1.02, 0.97, 1.01, 0.92, 0.90)


def wandering(days: int, rng: random.Random) -> dict[int, float]:
    """A level that wanders for weeks at a time (AR(1), phi 0.9): what a linear trend cannot forecast."""
    out, drift = {}, 0.0
    for d in range(days):
        drift = 0.9 * drift + rng.gauss(0, 0.02)
        out[d] = 1000 * WEEKDAY[d % 7] * math.exp(drift) * (1 + rng.gauss(0, 0.01))
    return out


def steady(days: int, rng: random.Random, step: float = 0.0) -> dict[int, float]:
    return {d: 1000 * WEEKDAY[d % 7] * (1 + rng.gauss(0, 0.02)) * (1 + (step if 56 < d <= 70 else 0.0))
            for d in range(days)}


def test_on_a_wandering_series_placebos_cut_false_verdicts_on_decisions_that_did_nothing() -> None:
    target = Exposure(1, "a", 56, 14)
    plain = calibrated = 0
    for seed in range(100):
        series = wandering(70, random.Random(seed))
        fit = pooled_fit(series, target, [])
        assert fit is not None
        plain += pooled_verdict(fit, "up") != "unclear"
        scale = placebo_scale(series, target, [])
        assert scale is not None and scale >= 1.0
        widened = pooled_fit(series, target, [], widen=scale)
        assert widened is not None and widened.z == fit.z and widened.effect == fit.effect
        calibrated += pooled_verdict(widened, "up") != "unclear"
    assert plain >= 20  # the fit's own interval: far more than the 5 % it promises
    assert calibrated <= 15


def test_on_a_series_the_fit_models_well_the_interval_keeps_its_width_and_a_real_step_is_found() -> None:
    scales = [placebo_scale(steady(70, random.Random(seed)), Exposure(1, "a", 56, 14), []) or 0.0
              for seed in range(50)]
    assert statistics.median(scales) <= 1.2
    series = steady(71, random.Random(7), step=0.2)
    target = Measurable(1, "v", "a", "mrr", "up", "up", 56, 14, option="a")
    outcome = measure(target, [target], series)
    assert outcome is not None and outcome.verdict == "worked"
    assert outcome.effect_low > 0.1


def test_a_decision_too_early_for_two_placebos_is_unclear_however_large_its_move() -> None:
    series = steady(30, random.Random(1))
    for d in range(13, 27):
        series[d] *= 1.5
    target = Measurable(1, "v", "a", "mrr", "up", "up", 12, 14, option="a")
    assert placebo_scale(series, Exposure(1, "a", 12, 14), []) is None
    outcome = measure(target, [target], series)
    assert outcome is not None and outcome.verdict == "unclear"
