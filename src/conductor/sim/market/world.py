"""The hidden truth of a venture's market: what each option of each lever really does, drawn from seeds.

Judgment can only matter if options differ, so every lever with a choice (a campaign's channel, a feature's
area, a discount's segment, a support investment, where money is allocated) has a true effect per option,
drawn per venture: a few options help a lot, some do little, some hurt. What an option does is the sum of a
**studio-wide latent trait** (drawn from the studio's seed and shared by every venture the seed puts on that
trait: ventures of a similar kind, whose customers answer the same way) and the venture's own part, so a
lesson learned in one venture transfers to the ventures that share its trait and misleads in the others. Each
option also has its own delay before it shows and how long it lasts: every decision is a temporary push on a
flow (sign-ups, activation, conversion, churn, tickets), and what lasts is what the flows add up to in the
stocks (paying customers, and so MRR).

Nothing here is ever shown to an agent, a synthesis, a brief or the control room: only the market reads it,
and the evaluation (`conductor.eval`) reads it to play the oracle and to replay decisions for ground truth.
All draws come from string-seeded `random.Random` instances (never `hash()`, which varies per process).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from conductor.sim.market.coerce import as_seed

CHANNELS: tuple[str, ...] = ("seo", "content", "ads", "partnerships", "community", "email")
PUBLISH_CHANNELS: tuple[str, ...] = ("blog", "newsletter", "social", "video")
AREAS: tuple[str, ...] = ("onboarding", "core", "integrations", "reporting", "mobile")
SEGMENTS: tuple[str, ...] = ("new", "annual", "churn_risk", "nonprofit")
SUPPORT_ACTIONS: tuple[str, ...] = ("macros", "docs", "triage", "office_hours")
BUDGET_AREAS: tuple[str, ...] = ("marketing", "product", "support", "sales")

# How many latent customer traits a studio has. Each venture sits on one of them; with two traits and three
# ventures at least two ventures always share one, which is what cross-venture insights must discover.
TRAITS = 2
# How much of an option's effect is the shared trait and how much the venture's own: the squares add to 1,
# so every effect has the same spread whatever the mix.
TRAIT_WEIGHT = 0.8
OWN_WEIGHT = 0.6


@dataclass(frozen=True)
class LeverSpec:
    """How a lever with options acts: the driver it pushes, and the spread of its options' true effects.

    `center` and `spread` are in the driver's units (log of demand, logit of activation, log of ticket load,
    log of conversion) at the lever's reference intensity; effects are clipped to [`lo`, `hi`]. Delays are
    drawn per option in [`delay_lo`, `delay_hi`] days,
    and how long an effect holds in [`dur_lo`, `dur_hi`] days. `good_sign` is +1 when pushing the driver up helps the
    business and -1 when pushing it down does (ticket load).
    """

    param: str
    options: tuple[str, ...]
    driver: str
    center: float
    spread: float
    lo: float
    hi: float
    delay_lo: int
    delay_hi: int
    dur_lo: int
    dur_hi: int
    good_sign: int = 1


OPTION_LEVERS: dict[str, LeverSpec] = {
    # Campaign at $500: from a channel whose audience ignores the product (and crowds out word of mouth)
    # to one that lifts sign-ups by half.
    "campaign": LeverSpec("channel", CHANNELS, "demand", 0.05, 0.35, -0.40, 0.80, 0, 3, 7, 11),
    "content": LeverSpec("channel", PUBLISH_CHANNELS, "demand", 0.03, 0.2, -0.25, 0.45, 0, 3, 7, 11),
    # A feature of 5 days' effort, in logit points of activation: the area customers stall in, or one they
    # never touch (and whose complexity gets in the way of the rest).
    "feature": LeverSpec("area", AREAS, "activation", 0.05, 0.35, -0.45, 0.80, 1, 4, 12, 16),
    # A 20 % discount, on conversion: the segment it wins over, or one it cheapens the product for.
    "discount": LeverSpec("segment", SEGMENTS, "conversion", 0.02, 0.3, -0.40, 0.60, 0, 3, 12, 16),
    # 20 support hours, on the log of ticket load (down is good).
    "support": LeverSpec("action", SUPPORT_ACTIONS, "load", -0.08, 0.35, -0.80, 0.40, 0, 3, 7, 11,
                         good_sign=-1),
    # $5,000 allocated: each area pushes its own driver through the same scale.
    "allocate": LeverSpec("area", BUDGET_AREAS, "mixed", 0.05, 0.25, -0.30, 0.60, 0, 3, 12, 16),
}
# Levers whose effect is one number per venture (no option to choose): the work itself helps or not.
SINGLE_LEVERS: dict[str, tuple[str, float, float, float, float]] = {
    # lever: (driver, center, spread, lo, hi)
    "onboarding": ("activation", 0.12, 0.2, -0.20, 0.60),
    "reliability": ("churn", -0.10, 0.15, -0.50, 0.15),
}
SINGLE_DELAY = (1, 4)
SINGLE_DURATION = (12, 16)
# Which driver each budget area pushes (allocate, and contractors hired for that kind of work).
BUDGET_DRIVERS: dict[str, str] = {
    "marketing": "demand", "product": "activation", "support": "load", "sales": "conversion"}


@dataclass(frozen=True)
class Traits:
    """The studio's latent traits: for each trait, a standard-normal score per (lever, option)."""

    studio_seed: int
    scores: tuple[dict[str, float], ...]  # per trait: "lever:option" -> z
    elasticity: tuple[float, ...]  # per trait: price elasticity of demand


def draw_traits(studio_seed: int) -> Traits:
    """The studio's traits from its seed alone: every venture of the studio sees the same ones."""
    seed = as_seed(studio_seed)
    scores = []
    elasticity = []
    for t in range(TRAITS):
        rng = random.Random(f"conductor.sim.market.v2:trait:{seed}:{t}")
        scores.append({f"{lever}:{o}": rng.gauss(0.0, 1.0) for lever, spec in OPTION_LEVERS.items()
                       for o in spec.options})
        elasticity.append(round(rng.uniform(0.4, 2.6), 4))
    return Traits(seed, tuple(scores), tuple(elasticity))


@dataclass(frozen=True)
class MarketParams:
    """One venture's hidden market. `effects[lever][option]` is the option's true effect at reference size."""

    venture_id: str
    seed: int
    studio_seed: int
    trait: int
    effects: dict[str, dict[str, float]]
    delays: dict[str, dict[str, int]]
    durations: dict[str, dict[str, int]]  # days an effect holds at full strength before it fades
    single: dict[str, float]  # onboarding / reliability effect
    price_elasticity: float
    trial_momentum: float  # new customers / churned customers at the start, minus 1
    organic_growth: float  # daily drift of baseline demand (log)
    weekday: tuple[float, ...]  # sign-up multiplier per weekday of the simulated calendar, mean 1
    signup_noise: float  # daily log noise of sign-ups
    churn_noise: float
    support_sensitivity: float  # how much a longer backlog raises churn

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for `Market.state()` and for inspection in tests and the evaluation."""
        return asdict(self)

    def best_option(self, lever: str) -> str | None:
        """The option whose true effect helps most (the oracle's choice); None for a lever without options."""
        spec = OPTION_LEVERS.get(lever)
        if spec is None:
            return None
        values = self.effects[lever]
        return max(spec.options, key=lambda o: (spec.good_sign * values[o], o))

    def goodness(self, lever: str, option: str) -> float:
        """The option's true effect signed so that larger is better for the business."""
        spec = OPTION_LEVERS[lever]
        return spec.good_sign * self.effects[lever][option]


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def draw_params(venture_id: str, seed: int, studio_seed: int = 0) -> MarketParams:
    """Draw a venture's hidden market from its own seed and its studio's: the same seeds, the same market."""
    seed = as_seed(seed)
    traits = draw_traits(studio_seed)
    rng = random.Random(f"conductor.sim.market.v2:venture:{seed}")
    trait = rng.randrange(TRAITS)
    effects: dict[str, dict[str, float]] = {}
    delays: dict[str, dict[str, int]] = {}
    durations: dict[str, dict[str, int]] = {}
    for lever, spec in OPTION_LEVERS.items():
        effects[lever], delays[lever], durations[lever] = {}, {}, {}
        for option in spec.options:
            z = TRAIT_WEIGHT * traits.scores[trait][f"{lever}:{option}"] + OWN_WEIGHT * rng.gauss(0.0, 1.0)
            effects[lever][option] = round(_clip(spec.center + spec.spread * z, spec.lo, spec.hi), 4)
            delays[lever][option] = rng.randint(spec.delay_lo, spec.delay_hi)
            durations[lever][option] = rng.randint(spec.dur_lo, spec.dur_hi)
    single = {lever: round(_clip(center + spread * rng.gauss(0.0, 1.0), lo, hi), 4)
              for lever, (_, center, spread, lo, hi) in SINGLE_LEVERS.items()}
    for lever in SINGLE_LEVERS:
        delays[lever] = {"": rng.randint(*SINGLE_DELAY)}
        durations[lever] = {"": rng.randint(*SINGLE_DURATION)}
    raw_weekday = [1.12, 1.1, 1.06, 1.02, 0.95, 0.72, 0.78]
    jitter = [w * rng.uniform(0.92, 1.08) for w in raw_weekday]
    mean = sum(jitter) / len(jitter)
    elasticity = _clip(traits.elasticity[trait] * rng.uniform(0.8, 1.2), 0.2, 3.2)
    return MarketParams(
        venture_id=str(venture_id), seed=seed, studio_seed=traits.studio_seed, trait=trait,
        effects=effects, delays=delays, durations=durations, single=single, price_elasticity=round(elasticity, 4),
        trial_momentum=round(rng.uniform(0.15, 0.5), 4),
        organic_growth=round(rng.uniform(-0.0008, 0.0015), 6),
        weekday=tuple(round(w / mean, 4) for w in jitter),
        signup_noise=round(rng.uniform(0.06, 0.1), 4),
        churn_noise=round(rng.uniform(0.05, 0.09), 4),
        support_sensitivity=round(rng.uniform(0.1, 0.3), 4),
    )


__all__ = [
    "AREAS", "BUDGET_AREAS", "BUDGET_DRIVERS", "CHANNELS", "OPTION_LEVERS", "PUBLISH_CHANNELS", "SEGMENTS",
    "SINGLE_LEVERS", "SUPPORT_ACTIONS", "LeverSpec", "MarketParams", "Traits", "draw_params", "draw_traits",
]
