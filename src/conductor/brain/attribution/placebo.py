"""How wide a decision's interval must be on its own series: the same fit, run on decisions that never happened.

The pooled fit's interval assumes that its model of the metric (a level, a trend, weekday factors and what was
running) leaves noise it has accounted for. Real series break that in ways no residual correction sees: a
trend that bends, a competitor's week, effects that last longer than their window. Measured on a 90-day run of
the studio, the intervals were about 1.8 times too narrow: 13 of the 28 decisions of a kind that does nothing
to the market got a verdict other than "unclear", where a 95 % interval promises 5 %.

A placebo test measures how far off they are on the series at hand. A fake decision of the target's window is
placed one to `PLACEBO_WEEKS` weeks before it (whole weeks, so the weekday pattern is the same) and measured
exactly as a real one would have been then: only the days up to its close and the decisions executed before
it, with an option of its own that nothing else shares. Nothing happened at those times because of the fake
decision, so its z-score should be standard normal. The root mean square of the placebos' z-scores is the
factor the target's interval is widened by; it is never narrowed (few placebos can look calm by chance).
With fewer than `MIN_PLACEBOS` usable placebos the series is too young to say how wide the interval is, and
the caller calls the verdict "unclear".

Everything here is a function of the series and the decisions before each placebo's close, so the engine and a
recomputation from the events get the same factor. Placebo fits are memoised: the decisions of one metric
measured a week apart share five of their six placebos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from conductor.brain.attribution.pooled import MAX_SPAN, Exposure, pooled_fit
from conductor.brain.attribution.timing import TIMING_HISTORY

PLACEBO_WEEKS = 6
MIN_PLACEBOS = 2
PLACEBO_OPTION = "(placebo)"  # an option no decision has: the placebo shares its column with nothing
_PLACEBO_ID = -1
# How far before a measured decision's own day a measurement reads other decisions, less their windows: its
# placebos' weeks, the week its timings start from, and their history (a week to spare). `reach_days` adds the
# windows: a decision that executed longer ago than that before a measurement never enters it.
REACH_DAYS = 7 * PLACEBO_WEEKS + 7 + TIMING_HISTORY + 7


def reach_days(longest_window: int) -> int:
    """Days before a measurement beyond which no decision is read, when no kind's window exceeds
    `longest_window`: the measured decision's own window, then the reach, then the longest span another
    decision can act over (its window, or the longest box a timing estimate can take)."""
    return longest_window + REACH_DAYS + max(longest_window, MAX_SPAN)


def placebo_scale(series: Mapping[int, float], target: Exposure, exposures: Sequence[Exposure],
                  stock: bool = False) -> float | None:
    """The factor (>= 1) the target's interval must be widened by on this series; None when fewer than
    `MIN_PLACEBOS` placebos could be measured."""
    points = sorted((d, float(v)) for d, v in series.items())
    others = [e for e in exposures if e.id != target.id]
    zs = []
    for weeks in range(1, PLACEBO_WEEKS + 1):
        day = target.day - 7 * weeks
        close = day + target.window
        seen = tuple(point for point in points if point[0] <= close)
        before = tuple(e for e in others if e.day < close)
        z = _placebo_z(seen, day, target.window, before, stock)
        if z is not None:
            zs.append(z)
    if len(zs) < MIN_PLACEBOS:
        return None
    return max(1.0, math.sqrt(sum(z * z for z in zs) / len(zs)))


@lru_cache(maxsize=8192)
def _placebo_z(seen: tuple[tuple[int, float], ...], day: int, window: int, before: tuple[Exposure, ...],
               stock: bool) -> float | None:
    """The z-score a fake decision executed on `day` would have got; None when it could not be judged."""
    placebo = Exposure(_PLACEBO_ID, PLACEBO_OPTION, day, window)
    fit = pooled_fit(dict(seen), placebo, before, stock=stock)
    if fit is None or not fit.enough_history:
        return None
    return fit.z


__all__ = ["MIN_PLACEBOS", "PLACEBO_WEEKS", "REACH_DAYS", "placebo_scale", "reach_days"]
