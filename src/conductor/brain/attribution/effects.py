"""A decision's effect on its metric: the excess over the baseline forecast, shared among overlapping decisions.

For a target decision executed on day `e` with an effect window of `w` days, measured when the window closes
(day `T = e + w`, using only what was observed up to then):

1. Its *group* is every decision on the same venture and metric whose window overlaps the target's; `s0` is
   the earliest execution day among them. The baseline (`forecast.fit_baseline`) is fitted on the history up
   to `s0`, so no decision of the group leaks into the counterfactual.
2. Over the days `(s0, T]`, the relative excess `r_t = (y_t - f_t) / f_t` is regressed jointly on one
   indicator per decision whose window overlaps that period (`x_i(t) = 1` on `(e_i, e_i + w_i]`), with a small
   ridge term toward 0. `beta_i` is decision i's effect: two decisions in the same stretch share the excess
   instead of each claiming all of it. Decisions with identical indicators (the same agent, or any agents, on
   the same day with the same window) cannot be told apart by any fit: they are one observation, share one
   effect and split its credit.
3. The noise comes from the residuals (before `s0` and of the joint fit), inflated for lag-1 autocorrelation,
   plus the uncertainty of the extrapolated level and trend averaged over the target's window. The 95 %
   interval is `beta +/- 1.96 se`.

Without a week of history before `s0` the baseline cannot be trusted: the verdict is then "unclear" whatever
the numbers say. Pure functions; the indicator design is intervals, so the normal equations are built from
overlap counts and prefix sums rather than a day-by-decision matrix.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conductor.brain.attribution.forecast import fit_baseline

RIDGE = 0.25  # in day units (a lone 14-day window is shrunk by under 2 %)
MIN_HISTORY = 7  # days of history before a verdict other than "unclear" is given
NOISE_FLOOR = 0.001  # relative: no series is trusted to be less noisy than 0.1 %
Z95 = 1.96


@dataclass(frozen=True)
class Span:
    """One executed decision on one metric: its id, author, execution day and effect window (days)."""

    id: int
    agent: str
    day: int
    window: int

    @property
    def end(self) -> int:
        return self.day + self.window


@dataclass(frozen=True)
class Attribution:
    """The target decision's attributed relative effect (raw sign) with its 95 % interval."""

    effect: float
    low: float
    high: float
    se: float
    baseline: float  # forecast mean over the window, in the metric's units
    credit: float  # share of the group's fitted excess (|beta| x days) attributed to this decision
    history_days: int
    group: tuple[int, ...]  # ids of the decisions fitted jointly with it (itself included)

    @property
    def enough_history(self) -> bool:
        return self.history_days >= MIN_HISTORY


def _inverse(a: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan inverse of a small symmetric positive-definite matrix (ridge keeps it invertible)."""
    n = len(a)
    m = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        p = m[col][col]
        if abs(p) < 1e-12:
            p = 1e-12
        inv = 1.0 / p
        m[col] = [v * inv for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0.0:
                f = m[r][col]
                row_c = m[col]
                m[r] = [v - f * c for v, c in zip(m[r], row_c, strict=True)]
    return [row[n:] for row in m]


def _group(target: Span, peers: Sequence[Span]) -> tuple[int, list[Span]]:
    """(s0, regressors): the earliest start among decisions overlapping the target, and every decision whose
    window overlaps the period (s0, T], the target first."""
    close = target.end
    candidates = [p for p in peers if p.id != target.id and p.day < close]
    overlapping = [p for p in candidates if p.end > target.day]
    s0 = min([target.day, *(p.day for p in overlapping)])
    regressors = [target, *sorted((p for p in candidates if p.end > s0), key=lambda p: (p.day, p.id))]
    return s0, regressors


def attribute(series: Mapping[int, float], target: Span, peers: Sequence[Span] = (),
              ridge: float = RIDGE) -> Attribution | None:
    """The target's effect from the series observed up to its window's end; None without usable data."""
    close = target.end
    s0, regressors = _group(target, peers)
    base = fit_baseline(series, s0)
    if base is None:
        return None
    days = sorted(d for d in series if s0 < d <= close)
    if not days or not any(target.day < d <= close for d in days):
        return None
    r = [(float(series[d]) - base.value(d)) / base.scale(d) for d in days]
    prefix = [0.0]
    for v in r:
        prefix.append(prefix[-1] + v)
    # Units: regressors with the same indicator over the period are one column.
    units: dict[tuple[int, int], list[Span]] = {}
    for p in regressors:
        lo = bisect.bisect_right(days, max(p.day, s0))
        hi = bisect.bisect_right(days, min(p.end, close))
        if hi > lo:
            units.setdefault((lo, hi), []).append(p)
    keys = list(units)
    target_key = next(k for k, members in units.items() if target in members)
    k = len(keys)
    xtx = [[float(max(0, min(a[1], b[1]) - max(a[0], b[0]))) for b in keys] for a in keys]
    xtr = [prefix[hi] - prefix[lo] for lo, hi in keys]
    a_inv = _inverse([[xtx[i][j] + (ridge if i == j else 0.0) for j in range(k)] for i in range(k)])
    beta = [sum(a_inv[i][j] * xtr[j] for j in range(k)) for i in range(k)]
    rss_post = (sum(v * v for v in r) - 2 * sum(b * x for b, x in zip(beta, xtr, strict=True))
                + sum(beta[i] * xtx[i][j] * beta[j] for i in range(k) for j in range(k)))
    rss_pre = sum(v * v for v in base.residuals)
    dof = (len(base.residuals) - base.params) + (len(days) - k)
    sigma = math.sqrt(max(rss_pre + max(rss_post, 0.0), 0.0) / dof) if dof >= 1 else 1.0
    sigma = max(sigma, NOISE_FLOOR)
    rho = base.rho()
    inflation = (1 + rho) / (1 - rho)
    t = keys.index(target_key)
    # Var(beta_t) = sigma^2 * [A^-1 X'X A^-1]_tt
    row = a_inv[t]
    tmp = [sum(row[i] * xtx[i][j] for i in range(k)) for j in range(k)]
    var_beta = sigma * sigma * inflation * sum(tmp[j] * row[j] for j in range(k))
    window_days = [d for d in days if target.day < d <= close]
    var_trend = base.mean_forecast_var(window_days, sigma) * inflation
    se = math.sqrt(max(var_beta, 0.0) + var_trend)
    effect = beta[t]
    weights = [abs(beta[i]) * xtx[i][i] for i in range(k)]
    members = len(units[target_key])
    if len(regressors) == 1:
        credit = 1.0
    elif sum(weights) > 1e-12:
        credit = weights[t] / sum(weights) / members
    else:
        credit = 1.0 / len(regressors)
    baseline = sum(base.value(d) for d in window_days) / len(window_days)
    return Attribution(effect=effect, low=effect - Z95 * se, high=effect + Z95 * se, se=se, baseline=baseline,
                       credit=min(1.0, max(0.0, credit)), history_days=base.n,
                       group=tuple(p.id for p in regressors))


def verdict(attribution: Attribution, good_direction: str) -> str:
    """"worked" / "failed" when the 95 % interval lies wholly on the good / bad side of 0, else "unclear"."""
    if not attribution.enough_history:
        return "unclear"
    up = good_direction != "down"
    if (attribution.low > 0 and up) or (attribution.high < 0 and not up):
        return "worked"
    if (attribution.high < 0 and up) or (attribution.low > 0 and not up):
        return "failed"
    return "unclear"
