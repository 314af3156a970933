"""When each option acts: its lag and how long it lasts, estimated from the venture's own history.

A decision does not act on the day it runs and stop when its kind's effect window closes: a campaign shows
after a day or three and runs a week or two, a feature ships and then lands. Fitting every option on the
same window dilutes the options that start late or end early, so options get ranked by their timing as much
as by their effect. Measured on the simulated market with its noise switched off (so only the misfit is
left), a fixed window ranks one lever's options with a rank correlation of about 0.75 to the truth; with each
option's true timing, about 0.95.

So each option's timing, a box from `lag` to `lag + length` days after the decision, is picked from a small
grid as the one that explains the metric best, option by option with the others held fixed (two passes of
coordinate descent, each candidate scored by the Frisch-Waugh-Lovell residual sum of squares, so a pass costs
one projection per option). Options with fewer than `MIN_DECISIONS` decisions keep the kind's window: there
is nothing to estimate a timing from.

A decision is judged with timings estimated from the history before the week it executed in (`week_start`):
the days it is judged on never choose its box (sample splitting; see `pooled._timings` for what choosing on
them cost). The decisions of one week share their timings, the estimate is done once a week per metric, and
a recomputation from the events gives the same numbers. All pure functions over numbers; the memo only saves
time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

LAGS = (0, 1, 2, 3, 4)
LENGTHS = tuple(range(6, 19))
MIN_DECISIONS = 3  # decisions of an option in the history before its timing is estimated
# A timing other than the kind's window must explain the metric clearly better (a BIC-like price of
# log(days) per added parameter, two of them): on a series the window already fits, noise alone would
# otherwise pick a neighbouring box and move the estimate.
EXTRA_PARAMETERS = 2
TIMING_HISTORY = 84  # days of history a timing is estimated from
PASSES = 2
WEEK = 7
TINY = 1e-12

Timing = tuple[int, int]  # (lag, length): acts on days (day + lag, day + lag + length]
ExposureKey = tuple[str, int, int]  # (option, day executed, window)


def week_start(day: int) -> int:
    """The first day of the week `day` is in: the last day of history a timing for that week may read."""
    return day - day % WEEK


def _base(days: np.ndarray) -> np.ndarray:
    cols = [np.ones(len(days)), (days - days[-1]) / max(1.0, float(len(days)))]
    if len(days) >= 2 * WEEK:
        dow = days % WEEK
        cols += [(dow == k).astype(float) for k in range(1, WEEK)]
    return np.column_stack(cols)


def _column(days: np.ndarray, executed: np.ndarray, timing: Timing) -> np.ndarray:
    lag, length = timing
    since = days[:, None] - executed[None, :]
    return ((since > lag) & (since <= lag + length)).sum(axis=1).astype(float)


def _candidates(default: Timing) -> list[Timing]:
    grid = [(lag, length) for lag in LAGS for length in LENGTHS]
    return [default] + [t for t in grid if t != default]


def _best_timing(y: np.ndarray, others: np.ndarray, days: np.ndarray, executed: np.ndarray,
                 default: Timing) -> Timing:
    """The candidate timing with the smallest residual sum of squares given the other columns (each scored
    by projecting it and the metric off those columns), unless it beats the default by too little."""
    q, _ = np.linalg.qr(others)
    ry = y - q @ (q.T @ y)
    candidates = _candidates(default)
    cols = np.column_stack([_column(days, executed, timing) for timing in candidates])
    rx = cols - q @ (q.T @ cols)
    norms = np.einsum("ij,ij->j", rx, rx)
    usable = norms > TINY
    if not usable[0]:
        return default
    sse = float(ry @ ry) - np.where(usable, (ry @ rx) ** 2 / np.where(usable, norms, 1.0), 0.0)
    sse = np.where(usable, sse, np.inf)
    best = int(np.argmin(sse))
    n = len(y)
    if best == 0 or sse[best] <= TINY:
        return default
    if n * np.log(max(sse[0], TINY) / max(sse[best], TINY)) < EXTRA_PARAMETERS * np.log(n):
        return default
    return candidates[best]


@lru_cache(maxsize=4096)
def _timings(days: tuple[int, ...], y: tuple[float, ...], exposures: tuple[ExposureKey, ...]
             ) -> tuple[tuple[str, Timing], ...]:
    day_arr = np.array(days, dtype=float)
    y_arr = np.array(y, dtype=float)
    by_option: dict[str, list[int]] = {}
    windows: dict[str, int] = {}
    for option, day, window in exposures:
        by_option.setdefault(option, []).append(day)
        windows.setdefault(option, window)
    timing = {option: (0, windows[option]) for option in by_option}
    free = sorted(o for o, ds in by_option.items() if len(ds) >= MIN_DECISIONS and not o.startswith("~"))
    executed = {o: np.array(ds, dtype=float) for o, ds in by_option.items()}
    base = _base(day_arr)
    for _ in range(PASSES):
        for option in free:
            others = [base] + [_column(day_arr, executed[o], timing[o])[:, None]
                               for o in sorted(by_option) if o != option]
            matrix = np.hstack(others)
            keep = np.linalg.norm(matrix, axis=0) > TINY
            timing[option] = _best_timing(y_arr, matrix[:, keep], day_arr, executed[option],
                                          (0, windows[option]))
    return tuple(sorted((o, t) for o, t in timing.items() if o in free))


def estimate_timings(days: Sequence[int], y: Sequence[float], exposures: Sequence[ExposureKey]
                     ) -> Mapping[str, Timing]:
    """Option -> (lag, length) for every option with enough decisions in the history given (`y` on `days`,
    already transformed as the fit sees it); the others are absent and keep their kind's window."""
    if len(days) < 2 * WEEK:
        return {}
    return dict(_timings(tuple(int(d) for d in days), tuple(round(float(v), 12) for v in y),
                         tuple(sorted(exposures))))


__all__ = ["LAGS", "LENGTHS", "MIN_DECISIONS", "TIMING_HISTORY", "Timing", "estimate_timings", "week_start"]
