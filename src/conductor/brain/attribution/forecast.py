"""What a metric would have done without the decisions: a baseline forecast from its own history.

A raw before/after move is mostly trend, weekday and floor effects. The counterfactual here is the metric's
own recent past carried forward: level and linear trend fitted on the last `HISTORY_DAYS` days up to (and
including) the day the first decision of a group executed, with weekday factors once there are two weeks of
history. Positive metrics are fitted in log space (growth is multiplicative, and the forecast stays positive);
a metric that touches zero is fitted on its raw values.

Besides the forecast, the fit reports what the attribution needs to judge noise: the residuals of the fit
(relative to the forecast), their lag-1 autocorrelation, and the variance of the forecast's mean over any
later stretch of days (how uncertain the extrapolated trend is).

Pure functions over numbers; no numpy (the engine does not depend on it, and the systems are tiny).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

HISTORY_DAYS = 28  # days of history the baseline is fitted on
WEEKDAY_MIN_DAYS = 14  # weekday factors need two weeks of history
TREND_MIN_DAYS = 5  # fewer points than this: level only
TINY = 1e-9


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: `value(day)` is the forecast; the rest describes how far to trust it."""

    anchor: int  # the last day of history (t = 0 in the fit)
    level: float  # fitted value at the anchor (log if `log_space`)
    slope: float  # per day (log units if `log_space`)
    weekday: tuple[float, ...]  # 7 additive factors by day % 7 (log units if `log_space`), zeros if not fitted
    log_space: bool
    n: int  # days of history used
    mean_t: float  # mean of t over the history (t = day - anchor)
    sxx: float  # sum of (t - mean_t)^2 over the history; 0 when no trend was fitted
    residuals: tuple[float, ...]  # relative residuals of the history, (y - f) / scale, in day order
    params: int  # parameters fitted (level, trend, weekday)
    scale_floor: float  # denominator floor for relative residuals: mean |value| of the history

    def value(self, day: int) -> float:
        t = day - self.anchor
        z = self.level + self.slope * t + self.weekday[day % 7]
        return math.exp(min(z, 700.0)) if self.log_space else z

    def scale(self, day: int) -> float:
        """The denominator of a relative move on `day`: the forecast, floored so a metric at 0 divides safely."""
        return max(abs(self.value(day)), self.scale_floor, TINY)

    def sigma(self) -> float:
        """Standard deviation of the relative residuals (with degrees of freedom for the parameters)."""
        dof = len(self.residuals) - self.params
        if dof < 1:
            return 0.0
        return math.sqrt(sum(r * r for r in self.residuals) / dof)

    def rho(self) -> float:
        """Lag-1 autocorrelation of the residuals, clipped to [0, 0.8]: a crude inflation of the noise."""
        r = self.residuals
        if len(r) < 8:
            return 0.0
        num = sum(a * b for a, b in itertools.pairwise(r))
        den = sum(a * a for a in r)
        return min(0.8, max(0.0, num / den)) if den > TINY else 0.0

    def mean_forecast_var(self, days: Sequence[int], sigma: float) -> float:
        """Variance (relative units) of the fitted level and trend, averaged over `days`: extrapolation risk."""
        if not days or self.n == 0:
            return 0.0
        var = sigma * sigma / self.n
        if self.sxx > 0:
            h = sum(d - self.anchor for d in days) / len(days)
            var += sigma * sigma * (h - self.mean_t) ** 2 / self.sxx
        return var


def _linear(ts: Sequence[float], zs: Sequence[float], trend: bool) -> tuple[float, float, float, float]:
    """(intercept at t = 0, slope, mean t, Sxx) of a least-squares line (slope 0 when `trend` is False)."""
    n = len(ts)
    mt = sum(ts) / n
    mz = sum(zs) / n
    if not trend:
        return mz, 0.0, mt, 0.0
    sxx = sum((t - mt) ** 2 for t in ts)
    if sxx <= TINY:
        return mz, 0.0, mt, 0.0
    slope = sum((t - mt) * (z - mz) for t, z in zip(ts, zs, strict=True)) / sxx
    return mz - slope * mt, slope, mt, sxx


def fit_baseline(series: Mapping[int, float], anchor: int, history: int = HISTORY_DAYS) -> Baseline | None:
    """The baseline from the series' days in [anchor - history + 1, anchor]; None without a value at all."""
    days = sorted(d for d in series if anchor - history < d <= anchor)
    if not days:
        return None
    values = [float(series[d]) for d in days]
    log_space = all(v > 0 for v in values)
    zs = [math.log(v) for v in values] if log_space else values
    ts = [float(d - anchor) for d in days]
    trend = len(days) >= TREND_MIN_DAYS
    weekday = [0.0] * 7
    level, slope, mean_t, sxx = _linear(ts, zs, trend)
    params = 2 if trend else 1
    if len(days) >= WEEKDAY_MIN_DAYS:
        # Weekday factors from the detrended history (centred), then the line refitted on the deseasoned values.
        groups: dict[int, list[float]] = {}
        for d, t, z in zip(days, ts, zs, strict=True):
            groups.setdefault(d % 7, []).append(z - level - slope * t)
        means = {k: sum(v) / len(v) for k, v in groups.items()}
        centre = sum(means.values()) / len(means)
        weekday = [means.get(k, centre) - centre for k in range(7)]
        level, slope, mean_t, sxx = _linear(ts, [z - weekday[d % 7] for d, z in zip(days, zs, strict=True)], trend)
        params += len(means) - 1
    floor = sum(abs(v) for v in values) / len(values)
    base = Baseline(anchor=anchor, level=level, slope=slope, weekday=tuple(weekday), log_space=log_space,
                    n=len(days), mean_t=mean_t, sxx=sxx, residuals=(), params=params, scale_floor=floor)
    residuals = tuple((v - base.value(d)) / base.scale(d) for d, v in zip(days, values, strict=True))
    return Baseline(anchor=anchor, level=level, slope=slope, weekday=tuple(weekday), log_space=log_space,
                    n=len(days), mean_t=mean_t, sxx=sxx, residuals=residuals, params=params, scale_floor=floor)
