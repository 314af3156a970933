"""Small, dependency-free statistics for paired evaluations: t intervals, p-values, rank correlation.

Pure functions over lists of floats. Student's t distribution comes from the regularized incomplete beta
function (continued fraction, as in Numerical Recipes), which is exact enough for intervals and p-values.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any


def _betacf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(c) > 1e-300 else 1e300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(c) > 1e-300 else 1e300
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom."""
    if df <= 0 or not math.isfinite(t):
        return 0.0 if math.isinf(t) else 1.0
    return _betai(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(p: float, df: int) -> float:
    """The `p` quantile (p > 0.5) of Student's t, by bisection on the two-sided p-value."""
    target = 2.0 * (1.0 - p)
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_two_sided_p(mid, df) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Paired:
    """The mean of paired differences with its 95 % interval, the two-sided p of a paired t test, and counts."""

    n: int
    mean: float
    low: float
    high: float
    p: float
    positive: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired(differences: list[float]) -> Paired:
    """Paired t statistics of `differences` (treatment − control, one per seed)."""
    n = len(differences)
    if n == 0:
        return Paired(0, math.nan, math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(differences)
    positive = sum(1 for d in differences if d > 0)
    if n < 2:
        return Paired(n, mean, math.nan, math.nan, math.nan, positive)
    sd = statistics.stdev(differences)
    se = sd / math.sqrt(n)
    if se == 0.0:
        return Paired(n, mean, mean, mean, 0.0 if mean != 0 else 1.0, positive)
    half = t_quantile(0.975, n - 1) * se
    return Paired(n, mean, mean - half, mean + half, t_two_sided_p(mean / se, n - 1), positive)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (ties get mean ranks); nan for fewer than three pairs or no spread."""
    if len(xs) != len(ys) or len(xs) < 3:
        return math.nan
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else math.nan
