"""Lagged effects and the noise of a day: the two ingredients that make one observation mislead.

An executed decision becomes one or more `Effect`s: nothing before its delay, a ramp, a hold, a decaying tail.
The drivers a day reads are the sums of those effects, saturated (`saturate`), so a thousand decisions bend
a metric without exploding it.

Noise is common across arms of an evaluation: the shock to metric *m* on day *d* of venture *v* is drawn from
a generator seeded by (seed, venture, day, metric) alone, never from a stream the decisions advance, so two
runs of one seed that decide differently see the same luck and differ only by what they decided.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

# Bounds of each driver's saturated sum (log or logit units): (most negative, most positive).
DRIVER_CAPS: dict[str, tuple[float, float]] = {
    "demand": (-0.9, 1.6),
    "activation": (-1.5, 2.0),
    "conversion": (-1.0, 1.2),
    "churn": (-1.0, 1.0),
    "load": (-2.0, 2.0),
    "arpu": (-0.5, 0.5),
    "shock": (0.0, 0.5),
}
NOISE_CLIP = 3.5


@dataclass
class Effect:
    """One lagged push on one driver: zero before `start`, ramps in, holds, then halves every `half_life`."""

    driver: str
    magnitude: float
    start: int  # first day the effect can be nonzero
    ramp: int  # days to reach full strength
    hold: float  # days at full strength after the ramp (math.inf: never decays)
    half_life: float  # days for the tail to halve
    source: int  # the decision id, for inspection and replay
    option: str = ""  # "lever:option", for diminishing returns on repeats

    def profile(self, day: int) -> float:
        """Strength in [0, 1] on `day`."""
        t = day - self.start
        if t < 0:
            return 0.0
        if t < self.ramp:
            return (t + 1) / (self.ramp + 1)
        u = t - self.ramp
        if u < self.hold:
            return 1.0
        return 0.5 ** ((u - self.hold + 1) / max(self.half_life, 0.1))

    def expired(self, day: int) -> bool:
        """Faded for good and safe to drop, which keeps long runs cheap."""
        return day - self.start > self.ramp + self.hold and self.profile(day) < 0.003

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if math.isinf(self.hold):
            data["hold"] = None
        return data


def saturate(driver: str, total: float) -> float:
    """A driver's summed effects bent into its bounds: linear near zero, flat near the caps."""
    lo, hi = DRIVER_CAPS.get(driver, (-1.0, 1.0))
    if total >= 0:
        return hi * math.tanh(total / hi) if hi > 0 else 0.0
    return lo * math.tanh(total / lo) if lo < 0 else 0.0


def shock(seed: int, venture_id: str, day: int, metric: str) -> float:
    """The standard-normal noise of one metric on one day of one venture (clipped to ±3.5)."""
    z = random.Random(f"conductor.sim.market.v2:noise:{seed}:{venture_id}:{day}:{metric}").gauss(0.0, 1.0)
    return max(-NOISE_CLIP, min(NOISE_CLIP, z))


__all__ = ["DRIVER_CAPS", "Effect", "saturate", "shock"]
