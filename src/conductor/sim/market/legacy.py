"""The first simulated market (runs recorded before market version 2 replay through it; see `conductor.sim.market`).

A deterministic simulated market for one venture, so an organization can run offline and reproducibly.

Without an API key conductor still needs a world that answers back: decisions must move numbers, good
decisions must look different from bad ones, and what works in one venture must not automatically work in
another, or the agents (and the platform analyst that looks across ventures) have nothing to learn.

The market is a small stock-and-flow model. Hidden parameters (`MarketParams`) are drawn from the venture's
seed; the agents never see them and can only infer them from how the seven metrics respond:

* signups      = baseline demand x stage x word of mouth + per-channel response to spend, where a channel's
                 response is ``effectiveness x (b0 / cost_per_signup) x log1p(spend_per_day / b0)``:
                 proportional to money at first, with diminishing returns, saturating across campaigns.
* activation   = ceiling - (ceiling - initial) x prod(1 - lift_i): every improvement closes part of the
                 remaining gap, so gains shrink as activation rises; a long support backlog drags it down.
* conversions  = recent activated signups x trial conversion x (price / starting price)^-elasticity.
* churn        = base churn x price pressure x backlog pressure x exp(sum of churn effects), per cohort
                 (discount-acquired customers churn more by `discount_churn`, annual and contract customers
                 less); raising the price also makes a share of existing customers leave over the next week.
* arpu         = the price existing customers pay (it migrates to a new list price at renewals) x the
                 cohort's discount multiplier x upsell; mrr = paying_customers x arpu.
* support      = tickets flow in with customers x `support_load`; a team of fixed capacity clears them with
                 a saturating service rate, so the backlog sits at its initial level until demand or
                 capacity changes, and the support lever adds capacity or removes tickets at the source.
* money        = campaign budget, allocate amount and a contractor's weekly cost all buy their lever through
                 log1p(amount / reference), so twice the money never buys twice the effect; `stage` only
                 nudges baseline demand (idea 0.9x ... scale 1.08x).

Every decision becomes one or more lagged `Effect`s (ramp in, hold, decay), and every day's noise comes from
``random.Random(f"...:{seed}:{day}")``, so noise depends only on (seed, day): replaying the executed decisions
on the same days after a restart reproduces the exact same numbers, and a treatment run and a control run
with the same seed share their noise, which is what makes one decision's effect measurable.

This module is pure: it imports nothing from conductor, uses no global random state, no clock and no
``hash()`` of strings (PYTHONHASHSEED varies between processes).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from conductor.sim.market.coerce import METRICS
from conductor.sim.market.coerce import accept as _accept
from conductor.sim.market.coerce import as_seed as _as_seed
from conductor.sim.market.coerce import clamp as _clamp
from conductor.sim.market.coerce import effort as _effort
from conductor.sim.market.coerce import keyword as _keyword
from conductor.sim.market.coerce import match as _match
from conductor.sim.market.coerce import number as _number
from conductor.sim.market.coerce import refuse as _refuse
from conductor.sim.market.coerce import sanitize_initial as _sanitize_initial
from conductor.sim.market.coerce import text as _text
from conductor.sim.market.effects import Effect

CHANNELS: tuple[str, ...] = ("seo", "content", "ads", "partnerships", "community", "email")
AREAS: tuple[str, ...] = ("onboarding", "core", "integrations", "reporting", "mobile")
LEVERS: tuple[str, ...] = (
    "campaign",
    "content",
    "feature",
    "reliability",
    "pricing",
    "discount",
    "commitment",
    "support",
    "onboarding",
    "stage",
    "allocate",
    "hire",
)
SEGMENTS: tuple[str, ...] = ("new", "annual", "churn_risk", "nonprofit")
STAGE_DEMAND: dict[str, float] = {"idea": 0.9, "mvp": 0.95, "launch": 1.0, "growth": 1.04, "scale": 1.08}


# Hard caps on what a single decision can move, so absurd model output (budget 1e12) stays absurd-but-finite.
MAX_MONEY = 10_000_000.0
MAX_DAYS = 90
MAX_HOURS = 400.0
TICKETS_PER_HOUR = 4.0
OFFER_DAYS = 30
SHOCK_DAYS = 7
TRIAL_WINDOW = 7

# Archetypes make cross-venture differences structural rather than luck: each archetype fixes the range a
# parameter is drawn from, so "raise the price" or "buy ads" reliably helps in one kind of market and hurts
# (or does nothing) in another. Which archetype a venture gets is itself drawn from the seed.
ARCHETYPES: tuple[str, ...] = ("loyal", "technical", "bargain")
_ARCHETYPE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    # Customers who chose the product on quality: price-insensitive, found through search and word of mouth.
    "loyal": {
        "price_elasticity": (0.3, 0.8),
        "seo": (1.1, 1.6),
        "content": (1.0, 1.5),
        "ads": (0.04, 0.2),
        "partnerships": (0.6, 1.1),
        "community": (0.9, 1.4),
        "email": (0.7, 1.2),
        "onboarding": (0.6, 1.2),
        "core": (0.8, 1.4),
        "integrations": (0.3, 0.8),
        "reporting": (0.9, 1.5),
        "mobile": (0.1, 0.5),
        "reliability_sensitivity": (0.7, 1.2),
        "support_sensitivity": (0.4, 0.9),
        "discount_churn": (0.1, 0.5),
    },
    # Teams that buy on trust and fit: moderately price-sensitive, reached through communities and
    # partners, and quick to leave when the product is unreliable.
    "technical": {
        "price_elasticity": (1.0, 1.5),
        "seo": (0.7, 1.1),
        "content": (0.8, 1.2),
        "ads": (0.4, 0.8),
        "partnerships": (1.2, 1.8),
        "community": (1.3, 1.9),
        "email": (0.5, 0.9),
        "onboarding": (0.9, 1.5),
        "core": (0.6, 1.1),
        "integrations": (1.0, 1.6),
        "reporting": (0.3, 0.8),
        "mobile": (0.1, 0.4),
        "reliability_sensitivity": (1.3, 1.9),
        "support_sensitivity": (0.8, 1.3),
        "discount_churn": (0.5, 1.0),
    },
    # A crowded, price-driven market: paid ads convert, price rises drive customers away, and customers
    # bought with a discount leave as soon as it ends.
    "bargain": {
        "price_elasticity": (2.3, 3.0),
        "seo": (0.6, 1.0),
        "content": (0.4, 0.8),
        "ads": (1.4, 2.0),
        "partnerships": (0.3, 0.7),
        "community": (0.3, 0.7),
        "email": (0.9, 1.4),
        "onboarding": (1.0, 1.5),
        "core": (0.4, 0.9),
        "integrations": (0.5, 1.0),
        "reporting": (0.2, 0.6),
        "mobile": (0.8, 1.4),
        "reliability_sensitivity": (0.5, 1.0),
        "support_sensitivity": (0.5, 1.0),
        "discount_churn": (1.5, 2.5),
    },
}

# How a channel's audience responds over time: (ramp days to full effect, half-life of the tail in days).
_CHANNEL_TIMING: dict[str, tuple[int, float]] = {
    "seo": (7, 14.0),
    "content": (4, 10.0),
    "ads": (2, 1.5),
    "partnerships": (5, 7.0),
    "community": (3, 5.0),
    "email": (1, 2.0),
}
# Where agents' free-text channel and area names land; the org file offers choices but model output drifts.
_CHANNEL_WORDS: tuple[tuple[str, str], ...] = (
    ("seo", "seo"),
    ("search", "seo"),
    ("organic", "seo"),
    ("ads", "ads"),
    ("ad", "ads"),
    ("paid", "ads"),
    ("ppc", "ads"),
    ("sponsor", "ads"),
    ("partner", "partnerships"),
    ("affiliate", "partnerships"),
    ("referral", "partnerships"),
    ("community", "community"),
    ("forum", "community"),
    ("reddit", "community"),
    ("discord", "community"),
    ("slack", "community"),
    ("social", "community"),
    ("email", "email"),
    ("newsletter", "email"),
    ("lifecycle", "email"),
    ("content", "content"),
    ("blog", "content"),
    ("video", "content"),
    ("guide", "content"),
)
_PUBLISH_CHANNELS: dict[str, str] = {
    "blog": "content",
    "newsletter": "email",
    "social": "community",
    "video": "content",
}
_AREA_WORDS: tuple[tuple[str, str], ...] = (
    ("onboard", "onboarding"),
    ("signup", "onboarding"),
    ("first-run", "onboarding"),
    ("integration", "integrations"),
    ("import", "integrations"),
    ("api", "integrations"),
    ("webhook", "integrations"),
    ("report", "reporting"),
    ("analytic", "reporting"),
    ("dashboard", "reporting"),
    ("mobile", "mobile"),
    ("ios", "mobile"),
    ("android", "mobile"),
    ("app", "mobile"),
    ("core", "core"),
)
_HIRE_WORDS: tuple[tuple[str, str], ...] = (
    ("support", "support"),
    ("customer success", "support"),
    ("docs", "support"),
    ("documentation", "support"),
    ("seo", "seo"),
    ("ads", "ads"),
    ("paid", "ads"),
    ("email", "email"),
    ("lifecycle", "email"),
    ("copy", "content"),
    ("content", "content"),
    ("writ", "content"),
    ("community", "community"),
    ("partner", "partnerships"),
    ("marketing", "marketing"),
    ("growth", "marketing"),
    ("sales", "sales"),
    ("account", "sales"),
    ("onboard", "onboarding"),
    ("ux", "onboarding"),
    ("design", "onboarding"),
    ("reliab", "reliability"),
    ("performance", "reliability"),
    ("postgres", "reliability"),
    ("database", "reliability"),
    ("infra", "reliability"),
    ("devops", "reliability"),
    ("sre", "reliability"),
    ("security", "reliability"),
    ("integration", "integrations"),
    ("mobile", "mobile"),
    ("ios", "mobile"),
    ("android", "mobile"),
    ("data", "reporting"),
    ("analytic", "reporting"),
)

# Bounds on summed effects per driver (log-space unless noted), so a thousand decisions saturate, not explode.
_DRIVER_BOUNDS: dict[str, tuple[float, float]] = {
    "demand": (-1.0, 1.0),
    "conversion": (-2.0, 1.5),
    "churn": (-1.4, 1.6),
    "load": (-1.6, 1.6),
    "arpu": (-0.7, 0.7),
    "shock": (0.0, 0.5),
    "capacity": (0.0, 1e7),
}


# --- hidden parameters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnDrivers:
    """How strongly churn answers to reliability work, the support backlog and discount-bought customers."""

    reliability_sensitivity: float
    support_sensitivity: float
    discount_churn: float


@dataclass(frozen=True)
class MarketParams:
    """The hidden truth of one venture's market, drawn from its seed; agents only see its consequences."""

    venture_id: str
    seed: int
    archetype: str
    price_elasticity: float
    channel_effectiveness: dict[str, float]
    feature_appetite: dict[str, float]
    churn_drivers: ChurnDrivers
    support_load: float  # tickets per paying customer per month
    support_slack: float  # support capacity / ticket inflow at the start
    cost_per_signup: float  # USD per signup on a channel of effectiveness 1, before saturation
    trial_momentum: float  # new customers / churned customers at the start, minus 1
    organic_growth: float  # daily drift of baseline demand
    activation_ceiling: float  # percent no onboarding work can push activation beyond
    noise: float  # relative day-to-day noise

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy, for `Market.state()` and for inspection in tests."""
        return asdict(self)


def draw_params(venture_id: str, seed: int) -> MarketParams:
    """Draw a venture's hidden market from its seed alone, so the same seed always means the same market.

    The archetype comes first, from its own stream, and sets the ranges; every other draw comes from a second
    stream in a fixed order. `venture_id` only labels the result: two ventures sharing a seed share a market.
    """
    seed = _as_seed(seed)
    archetype = ARCHETYPES[random.Random(f"market-archetype:{seed}").randrange(len(ARCHETYPES))]
    ranges = _ARCHETYPE_RANGES[archetype]
    rng = random.Random(f"conductor.sim.market:params:{seed}")

    def draw(name: str) -> float:
        lo, hi = ranges[name]
        return round(rng.uniform(lo, hi), 4)

    elasticity = draw("price_elasticity")
    channels = {c: draw(c) for c in CHANNELS}
    appetite = {a: draw(a) for a in AREAS}
    churn = ChurnDrivers(
        reliability_sensitivity=draw("reliability_sensitivity"),
        support_sensitivity=draw("support_sensitivity"),
        discount_churn=draw("discount_churn"),
    )
    return MarketParams(
        venture_id=str(venture_id),
        seed=seed,
        archetype=archetype,
        price_elasticity=elasticity,
        channel_effectiveness=channels,
        feature_appetite=appetite,
        churn_drivers=churn,
        support_load=round(rng.uniform(0.4, 1.0), 4),
        support_slack=round(rng.uniform(1.15, 1.45), 4),
        cost_per_signup=round(rng.uniform(6.0, 10.0), 4),
        trial_momentum=round(rng.uniform(0.2, 0.9), 4),
        organic_growth=round(rng.uniform(-0.0005, 0.002), 6),
        activation_ceiling=round(rng.uniform(72.0, 88.0), 3),
        noise=round(rng.uniform(0.025, 0.045), 4),
    )


# --- lagged effects ---------------------------------------------------------------------------------------


@dataclass
class _Offer:
    """A discount on offer to one segment, for a fixed number of days."""

    percent: float
    start: int
    end: int


@dataclass
class _Cohort:
    """Paying customers sharing a price multiplier and a churn multiplier (list, discounted, annual, ...)."""

    count: float
    price_mult: float
    churn_mult: float

    def add(self, n: float, price_mult: float) -> None:
        """Add customers, keeping the price multiplier the count-weighted mean, so cohorts stay few."""
        if n <= 0:
            return
        total = self.count + n
        self.price_mult = (self.count * self.price_mult + n * price_mult) / total
        self.count = total


class _Timing(TypedDict):
    """When a feature's or reliability work's effects arrive: the keywords `Market._add` takes for them."""

    delay: int
    ramp: int
    half_life: float


# --- the market -------------------------------------------------------------------------------------------


class Market:
    """One venture's simulated market: executed decisions go in through `apply`, daily metrics out of `step`.

    Determinism contract: the same (venture_id, seed, initial, start_day) and the same sequence of `apply` and
    `step` calls give identical outputs, and the noise on day N is the same whatever happened before it.
    """

    def __init__(self, venture_id: str, seed: int, initial: dict[str, float], start_day: int = 0) -> None:
        self.venture_id = str(venture_id)
        self.seed = _as_seed(seed)
        self.params: MarketParams = draw_params(self.venture_id, self.seed)
        self.day: int = int(start_day) if isinstance(start_day, int) else 0
        self.start_day: int = self.day
        p = self.params
        init = _sanitize_initial(initial if isinstance(initial, dict) else {})
        self._initial = init

        # Reference points the hidden economics are calibrated against.
        self._signups0 = init["signups"]
        self._activation0 = init["activation_rate"]
        self._paying0 = init["paying_customers"]
        self._price0 = init["arpu"]
        self._churn0 = init["churn_rate"]
        self._backlog0 = init["support_backlog"]
        self._ceiling = min(99.0, max(p.activation_ceiling, self._activation0 + 5.0))
        # Signups at which a channel's spend starts to saturate grows with the venture's audience.
        self._b0 = 20.0 + 2.0 * self._signups0

        # Trial conversion is calibrated so that, at the start, new customers exceed churned ones by the
        # drawn momentum: a venture neither collapses nor explodes without decisions.
        activated0 = self._signups0 * self._activation0 / 100.0
        churned0 = self._paying0 * self._churn0 / 100.0 / 30.0
        calibrated = activated0 > 1e-6 and churned0 > 1e-6
        conv0 = churned0 * (1.0 + p.trial_momentum) / activated0 if calibrated else 0.04
        self._conv0 = _clamp(conv0, 0.003, 0.6)

        # Support capacity and the service curve are calibrated so the initial backlog is the equilibrium.
        self._inflow0 = self._ticket_inflow(self._paying0, self._signups0, 0.0)
        self._capacity0 = max(self._inflow0 * p.support_slack, 0.2)
        x0 = self._backlog0 + self._inflow0
        self._service_k = max(0.5, x0 * (self._capacity0 - self._inflow0) / max(self._inflow0, 1e-6))

        # State that evolves.
        self._cohorts: dict[str, _Cohort] = {
            "list": _Cohort(self._paying0, 1.0, 1.0),
            "discounted": _Cohort(0.0, 1.0, 1.0 + p.churn_drivers.discount_churn),
            "nonprofit": _Cohort(0.0, 1.0, 0.9),
            "annual": _Cohort(0.0, 1.0, 0.3),
            "contract": _Cohort(0.0, 1.0, 0.5),
        }
        self._list_price = self._price0
        self._paid_price = self._price0
        self._backlog = self._backlog0
        self._pipeline: list[float] = [activated0] * TRIAL_WINDOW
        self._stage_target = 1.0
        self._stage_factor = 1.0
        self._stage: str | None = None
        self._effects: list[Effect] = []
        self._offers: dict[str, _Offer] = {}
        self._pending_contracts: list[tuple[int, float]] = []
        self._applied: set[int] = set()
        self._decisions = 0
        self._values: dict[str, float] = dict(init)

    # --- public API ---------------------------------------------------------------------------------------

    def apply(self, lever: str, params: dict[str, object], decision_id: int) -> dict[str, object]:
        """Record an executed decision; its effect lands over the next days with lag.

        Returns a small receipt the agent may see. Unknown levers and unusable params are refused with
        ``accepted: False`` and change nothing; nothing here raises, because params are model output.
        """
        try:
            name = _text(lever)
            if name not in LEVERS:
                return _refuse(f"unknown lever {str(lever)[:40]!r}")
            if isinstance(decision_id, int) and not isinstance(decision_id, bool):
                if decision_id in self._applied:
                    return _refuse(f"decision {decision_id} was already applied")
                did = decision_id
            else:
                did = -1
            args = params if isinstance(params, dict) else {}
            receipt = getattr(self, f"_lever_{name}")(args, did)
        except Exception as exc:  # pragma: no cover - a bug here must not take the engine down
            return _refuse(f"could not apply: {type(exc).__name__}")
        if receipt.get("accepted"):
            if did >= 0:
                self._applied.add(did)
            self._decisions += 1
        return receipt

    def step(self) -> dict[str, float]:
        """Advance one simulated day and return that day's values of the seven metrics."""
        self.day += 1
        d = self.day
        p = self.params
        cd = p.churn_drivers
        rng = random.Random(f"conductor.sim.market:noise:{self.seed}:{d}")
        z = [_clamp(rng.gauss(0.0, 1.0), -3.5, 3.5) for _ in range(6)]

        drivers = self._drivers(d)
        self._effects = [e for e in self._effects if not e.expired(d)]
        self._stage_factor += 0.25 * (self._stage_target - self._stage_factor)

        # Contracts won from commitments land as customers once signed.
        landed = [seats for due, seats in self._pending_contracts if due <= d]
        self._pending_contracts = [(due, s) for due, s in self._pending_contracts if due > d]
        for seats in landed:
            self._cohorts["contract"].add(seats, 1.0)

        paying = self._paying()
        backlog_ratio = (self._backlog + 5.0) / (self._backlog0 + 5.0)

        # Signups: baseline demand plus the saturating response to spend on each channel.
        word_of_mouth = ((paying + 10.0) / (self._paying0 + 10.0)) ** 0.2
        baseline = (
            self._signups0
            * _clamp(math.exp(p.organic_growth * min(d - self.start_day, 3650)), 0.5, 3.0)
            * self._stage_factor
            * math.exp(drivers["demand"])
            * word_of_mouth
        )
        boost = 0.0
        scale = self._b0 / p.cost_per_signup
        for channel in CHANNELS:
            spend = drivers.get(f"spend:{channel}", 0.0)
            if spend > 0:
                boost += p.channel_effectiveness[channel] * scale * math.log1p(spend / self._b0)
        cap = 3.0 * baseline + 30.0
        expected_signups = baseline + cap * math.tanh(boost / cap)
        sd = 0.5 * math.sqrt(expected_signups) + p.noise * expected_signups
        signups = max(0.0, expected_signups + sd * z[0])

        # Activation: each improvement closes part of the remaining gap to the ceiling.
        gap = (self._ceiling - self._activation0) * drivers["activation_gap"]
        activation = (self._ceiling - gap) * _clamp(backlog_ratio ** (-0.04 * cd.support_sensitivity), 0.8, 1.1)
        cohort_size = max(signups, 1.0) * 14.0
        act_sd = _clamp(50.0 * math.sqrt(activation / 100 * (1 - activation / 100) / cohort_size), 0.2, 2.0)
        activation = _clamp(activation + act_sd * z[1], 0.5, 99.0)

        # Conversions: the recent pipeline of activated signups, priced through the elasticity.
        self._pipeline = [*self._pipeline[1:], signups * activation / 100.0]
        pipeline = sum(self._pipeline) / len(self._pipeline)
        conv = self._conv0 * math.exp(drivers["conversion"]) * (1.0 + 0.08 * z[2])
        for cohort_name, share, segment in (("discounted", 0.92, "new"), ("nonprofit", 0.08, "nonprofit")):
            offer = self._active_offer(segment, d)
            discount = offer.percent / 100.0 if offer else 0.0
            rate = min(0.9, conv * self._price_factor(self._list_price * (1.0 - discount)))
            new = max(0.0, pipeline * share * rate)
            if offer is None:
                self._cohorts["list"].add(new, 1.0)
            else:
                self._cohorts[cohort_name].add(new, 1.0 - discount)

        # Annual offers move existing list customers onto discounted, sticky annual plans while they run.
        annual = self._active_offer("annual", d)
        if annual is not None:
            take_up = 0.5 * (1.0 - math.exp(-annual.percent / 25.0))
            moved = self._cohorts["list"].count * (1.0 - (1.0 - take_up) ** (1.0 / OFFER_DAYS))
            self._cohorts["list"].count -= moved
            self._cohorts["annual"].add(moved, 1.0 - annual.percent / 100.0)

        # Churn: per cohort, under price pressure, backlog pressure and the summed churn effects.
        price_pressure = _clamp((self._paid_price / self._price0) ** (0.3 * p.price_elasticity), 0.5, 3.0)
        support_pressure = _clamp(backlog_ratio ** (0.25 * cd.support_sensitivity), 0.7, 2.5)
        base_rate = self._churn0 * price_pressure * support_pressure * math.exp(drivers["churn"])
        base_rate *= 1.0 + _clamp(p.noise + 0.15 / math.sqrt(1.0 + paying * self._churn0 / 100.0), 0, 0.4) * z[3]
        base_rate = max(0.0, base_rate)
        shock = 1.0 - math.exp(-drivers["shock"])  # share lost today to a price rise
        lost = 0.0
        for cohort_name, cohort in self._cohorts.items():
            daily = min(1.0, base_rate * cohort.churn_mult / 3000.0)
            if cohort_name != "contract":
                daily = 1.0 - (1.0 - daily) * (1.0 - shock)
            gone = cohort.count * daily
            cohort.count = max(0.0, cohort.count - gone)
            lost += gone
        paying_after = self._paying()
        if paying > 1e-9:
            churn_rate = lost / paying * 3000.0
        else:
            weights = sum(c.churn_mult for c in self._cohorts.values()) / len(self._cohorts)
            churn_rate = base_rate * weights
        churn_rate = _clamp(churn_rate, 0.0, 100.0)

        # ARPU: existing customers move to a new list price at renewal, about a tenth of the way a day.
        self._paid_price += 0.1 * (self._list_price - self._paid_price)
        if paying_after > 1e-9:
            mix = sum(c.count * c.price_mult for c in self._cohorts.values()) / paying_after
        else:
            mix = 1.0
        arpu = self._paid_price * mix * math.exp(drivers["arpu"]) * (1.0 + 0.003 * z[5])
        arpu = _clamp(arpu, 0.0, 1e6)

        # Support: tickets in from customers and new signups; a saturating service rate clears them.
        inflow = self._ticket_inflow(paying_after, signups, drivers["load"]) * max(0.0, 1.0 + 0.1 * z[4])
        capacity = self._capacity0 + drivers["capacity"]
        queue = self._backlog + inflow
        cleared = min(queue, capacity * queue / (queue + self._service_k))
        self._backlog = _clamp(queue - cleared, 0.0, 1e9)

        paying_shown = float(round(paying_after))
        arpu_shown = round(arpu, 2)
        self._values = {
            "signups": float(round(signups)),
            "activation_rate": round(activation, 2),
            "paying_customers": paying_shown,
            "mrr": round(paying_shown * arpu_shown, 2),
            "arpu": arpu_shown,
            "churn_rate": round(churn_rate, 2),
            "support_backlog": float(round(self._backlog)),
        }
        return dict(self._values)

    def values(self) -> dict[str, float]:
        """The current values of the seven metrics (the initial ones before the first step)."""
        return dict(self._values)

    def state(self) -> dict[str, Any]:
        """Everything the market holds, JSON-ready, for inspection and tests (resuming is done by replay)."""
        return {
            "venture_id": self.venture_id,
            "seed": self.seed,
            "day": self.day,
            "start_day": self.start_day,
            "params": self.params.to_dict(),
            "initial": dict(self._initial),
            "values": dict(self._values),
            "paying": round(self._paying(), 6),
            "cohorts": {k: {"count": c.count, "price_mult": c.price_mult} for k, c in self._cohorts.items()},
            "list_price": self._list_price,
            "paid_price": self._paid_price,
            "backlog": self._backlog,
            "pipeline": list(self._pipeline),
            "stage": self._stage,
            "stage_factor": self._stage_factor,
            "offers": {k: asdict(o) for k, o in sorted(self._offers.items())},
            "pending_contracts": [list(x) for x in self._pending_contracts],
            "effects": [e.to_dict() for e in self._effects],
            "decisions_applied": self._decisions,
            "applied_ids": sorted(self._applied),
        }

    # --- internals ----------------------------------------------------------------------------------------

    def _paying(self) -> float:
        return sum(c.count for c in self._cohorts.values())

    def _ticket_inflow(self, paying: float, signups: float, load_log: float) -> float:
        """Tickets per day: paying customers at `support_load` a month, plus a few from brand-new accounts."""
        return self.params.support_load * (paying / 30.0 + 0.08 * signups) * math.exp(load_log)

    def _price_factor(self, price: float) -> float:
        """How a price relative to the starting one scales trial conversion: the demand curve."""
        ratio = _clamp(price / self._price0, 0.05, 20.0) if self._price0 > 0 else 1.0
        return _clamp(ratio ** (-self.params.price_elasticity), 0.02, 8.0)

    def _active_offer(self, segment: str, day: int) -> _Offer | None:
        offer = self._offers.get(segment)
        if offer is None or not (offer.start <= day < offer.end) or offer.percent <= 0:
            return None
        return offer

    def _drivers(self, day: int) -> dict[str, float]:
        """Sum today's strength of every effect into the drivers the equations read."""
        sums: dict[str, float] = {k: 0.0 for k in _DRIVER_BOUNDS}
        gap = 1.0
        for effect in self._effects:
            strength = effect.profile(day)
            if strength <= 0.0:
                continue
            if effect.driver == "activation":
                gap *= 1.0 - _clamp(effect.magnitude, 0.0, 0.6) * strength
            else:
                sums[effect.driver] = sums.get(effect.driver, 0.0) + effect.magnitude * strength
        for key, (lo, hi) in _DRIVER_BOUNDS.items():
            sums[key] = _clamp(sums[key], lo, hi)
        for key in list(sums):
            if key.startswith("spend:"):
                sums[key] = _clamp(sums[key], 0.0, MAX_MONEY)
        sums["activation_gap"] = _clamp(gap, 0.0, 1.0)
        return sums

    def _add(
        self,
        driver: str,
        magnitude: float,
        source: int,
        *,
        delay: int = 0,
        ramp: int = 0,
        hold: float = math.inf,
        half_life: float = 30.0,
    ) -> None:
        if not math.isfinite(magnitude) or magnitude == 0.0:
            return
        self._effects.append(
            Effect(driver, magnitude, self.day + 1 + max(0, delay), max(0, ramp), hold, half_life, source)
        )

    def _spend(self, channel: str, per_day: float, days: int, source: int, ramp: int | None = None) -> None:
        """Schedule spend on one channel; the signup response to it is computed daily, summed per channel."""
        default_ramp, half_life = _CHANNEL_TIMING[channel]
        r = default_ramp if ramp is None else ramp
        self._add(f"spend:{channel}", per_day, source, ramp=r, hold=max(0, days - r), half_life=half_life)

    # --- levers: each validates, coerces, schedules effects and says what it did ----------------------------

    def _lever_campaign(self, args: dict[str, object], did: int) -> dict[str, object]:
        channel = _match(args.get("channel"), CHANNELS, _CHANNEL_WORDS)
        if channel is None:
            return _refuse(f"campaign needs a channel, one of {', '.join(CHANNELS)}")
        budget = _number(args.get("budget"))
        if budget is None or budget < 0:
            return _refuse("campaign needs a budget: a non-negative number of USD")
        days = _number(args.get("days"))
        days_i = int(_clamp(round(days), 1, MAX_DAYS)) if days is not None else 14
        budget = min(budget, MAX_MONEY)
        if budget > 0:
            self._spend(channel, budget / days_i, days_i, did)
        return _accept(f"campaign on {channel} scheduled for {days_i} days at ${budget:,.0f}")

    def _lever_content(self, args: dict[str, object], did: int) -> dict[str, object]:
        raw = _text(args.get("channel"))
        channel = _PUBLISH_CHANNELS.get(raw) or _match(raw, CHANNELS, _CHANNEL_WORDS) or "content"
        topic = _text(args.get("topic"))
        # How well a topic lands is fixed per (seed, topic): some pieces resonate, some do not.
        relevance = 0.5 + (zlib.crc32(f"{self.seed}:topic:{topic}".encode()) % 1000) / 1000.0
        self._spend(channel, 40.0 * relevance, 10, did, ramp=2)
        return _accept(f"{raw or 'blog'} piece published; reach builds over the next days")

    def _lever_feature(self, args: dict[str, object], did: int) -> dict[str, object]:
        area = _match(args.get("area"), AREAS, _AREA_WORDS) or _match(args.get("feature"), AREAS, _AREA_WORDS)
        area = area or "core"
        effort = _effort(args.get("effort_days"), 5, 60)
        self._feature(area, effort, did, delay=0)
        return _accept(f"{area} feature in build; lands over about {effort} days")

    def _feature(self, area: str, effort: int, did: int, *, delay: int, scale: float = 1.0) -> None:
        """A shipped feature: what it moves depends on the area, how much on the market's appetite for it."""
        a = self.params.feature_appetite[area] * scale
        e = math.log1p(effort)
        timing: _Timing = {"delay": delay, "ramp": effort + 1, "half_life": 150.0}
        if area == "onboarding":
            self._add("activation", 0.05 * a * e, did, **timing)
        elif area == "core":
            self._add("churn", -0.06 * a * e, did, **timing)
            self._add("activation", 0.012 * a * e, did, **timing)
        elif area == "integrations":
            self._add("conversion", 0.06 * a * e, did, **timing)
            self._add("churn", -0.03 * a * e, did, **timing)
        elif area == "reporting":
            self._add("arpu", 0.02 * a * e, did, **timing)
            self._add("churn", -0.025 * a * e, did, **timing)
        else:  # mobile
            self._add("demand", 0.03 * a * e, did, **timing)
            self._add("activation", 0.012 * a * e, did, **timing)
        # Every new feature brings a wave of questions.
        self._add("load", 0.03 * e * scale, did, delay=delay + effort, ramp=1, hold=3, half_life=5.0)

    def _lever_reliability(self, args: dict[str, object], did: int) -> dict[str, object]:
        effort = _effort(args.get("effort_days"), 3, 60)
        self._reliability(effort, did, delay=0)
        area = _text(args.get("area"))[:40] or "the product"
        return _accept(f"reliability work on {area}; improvements land over about {effort} days")

    def _reliability(self, effort: int, did: int, *, delay: int, scale: float = 1.0) -> None:
        rs = self.params.churn_drivers.reliability_sensitivity * scale
        e = math.log1p(effort)
        timing: _Timing = {"delay": delay, "ramp": effort + 1, "half_life": 150.0}
        self._add("churn", -0.05 * rs * e, did, **timing)
        self._add("load", -0.04 * e * scale, did, **timing)
        self._add("activation", 0.012 * rs * e, did, **timing)

    def _lever_pricing(self, args: dict[str, object], did: int) -> dict[str, object]:
        price = _number(args.get("price"))
        if price is None or price <= 0:
            return _refuse("pricing needs a positive price in USD per month")
        lo, hi = max(1.0, 0.2 * self._price0), max(5.0, 5.0 * self._price0)
        new = _clamp(price, lo, hi)
        old = self._list_price
        self._list_price = new
        if new > old > 0:
            # Some existing customers leave rather than pay more; the more elastic the market, the more.
            lost = 1.0 - (new / old) ** (-0.6 * self.params.price_elasticity)
            self._add("shock", -math.log(max(1e-9, 1.0 - lost)) / SHOCK_DAYS, did, hold=SHOCK_DAYS, half_life=0.3)
        plan = _text(args.get("plan"))[:40] or "the plan"
        note = f"{plan} list price set to ${new:,.2f}; existing customers move to it at renewal"
        if new != price:
            note += f" (clamped from {price:g})"
        return _accept(note)

    def _lever_discount(self, args: dict[str, object], did: int) -> dict[str, object]:
        percent = _number(args.get("percent"))
        if percent is None or percent < 0:
            return _refuse("discount needs a percent between 0 and 90")
        percent = min(percent, 90.0)
        segment = _match(args.get("segment"), SEGMENTS, (("risk", "churn_risk"), ("year", "annual"))) or "new"
        if segment == "churn_risk":
            if percent > 0:
                # Price-sensitive at-risk customers stay for a discount; the rest keep paying list.
                eps = self.params.price_elasticity
                retain = min(0.6, 1.0 - (1.0 - percent / 100.0) ** (0.8 * eps)) * 0.6
                at_risk = min(0.3, 3.0 * self._churn0 / 100.0)
                self._add("churn", math.log(1.0 - retain), did, ramp=1, hold=OFFER_DAYS, half_life=3.0)
                self._add("arpu", math.log(1.0 - at_risk * percent / 100.0), did, hold=90, half_life=10.0)
            return _accept(f"{percent:g}% retention discount offered to at-risk customers for {OFFER_DAYS} days")
        if percent == 0:
            self._offers.pop(segment, None)
            return _accept(f"discount for {segment} customers withdrawn")
        self._offers[segment] = _Offer(percent, self.day + 1, self.day + 1 + OFFER_DAYS)
        return _accept(f"{percent:g}% discount offered to {segment} customers for {OFFER_DAYS} days")

    def _lever_commitment(self, args: dict[str, object], did: int) -> dict[str, object]:
        value = _number(args.get("value"))
        value = _clamp(value, 0.0, MAX_MONEY) if value is not None else 0.0
        customer = _text(args.get("customer"))[:40] or "the customer"
        # Whether the promise wins the contract is fixed per (seed, decision), never by call order.
        roll = zlib.crc32(f"{self.seed}:commitment:{did}:{customer}".encode()) / 2**32
        if value > 0 and roll < 0.55:
            seats = min(value / (12.0 * max(self._list_price, 1.0)), max(3.0, 0.1 * self._paying()))
            self._pending_contracts.append((self.day + 5, seats))
        # A promise pulls engineering and support time away from everyone else for a while.
        weight = math.log1p(value / 5000.0)
        self._add("churn", 0.01 * weight, did, hold=21, half_life=5.0)
        self._add("load", 0.03 * weight, did, hold=14, half_life=5.0)
        return _accept(f"commitment to {customer} recorded; the contract decision comes within a week")

    def _lever_support(self, args: dict[str, object], did: int) -> dict[str, object]:
        action = (
            _match(
                args.get("action"),
                ("macros", "docs", "triage", "office_hours"),
                (
                    ("macro", "macros"),
                    ("template", "macros"),
                    ("doc", "docs"),
                    ("article", "docs"),
                    ("help", "docs"),
                    ("office", "office_hours"),
                    ("call", "office_hours"),
                    ("triage", "triage"),
                ),
            )
            or "triage"
        )
        hours = _number(args.get("hours"))
        if hours is not None and hours < 0:
            return _refuse("support hours must be a non-negative number")
        hours = min(hours if hours is not None else 4.0, MAX_HOURS)
        self._support(action, hours, did, delay=0)
        return _accept(f"{hours:g} support hours into {action.replace('_', ' ')}")

    def _support(self, action: str, hours: float, did: int, *, delay: int) -> None:
        h = math.log1p(hours / 5.0)
        if action == "triage":
            self._add("capacity", hours * TICKETS_PER_HOUR / 7.0, did, delay=delay, hold=7, half_life=1.0)
        elif action == "macros":
            self._add("capacity", self._capacity0 * 0.06 * h, did, delay=delay, ramp=3, half_life=90.0)
        elif action == "docs":
            self._add("load", -0.07 * h, did, delay=delay, ramp=4, half_life=120.0)
        else:  # office hours: fewer confused customers, a few tickets answered live
            self._add("churn", -0.03 * h, did, delay=delay, ramp=2, hold=14, half_life=7.0)
            self._add("activation", 0.01 * h, did, delay=delay, ramp=2, hold=14, half_life=7.0)
            self._add("capacity", hours * TICKETS_PER_HOUR / 28.0, did, delay=delay, hold=7, half_life=2.0)

    def _lever_onboarding(self, args: dict[str, object], did: int) -> dict[str, object]:
        effort = _effort(args.get("effort_days"), 3, 40)
        self._onboarding(effort, did, delay=0)
        return _accept(f"onboarding change in progress; lands over about {effort} days")

    def _onboarding(self, effort: int, did: int, *, delay: int, scale: float = 1.0) -> None:
        e = math.log1p(effort)
        a = self.params.feature_appetite["onboarding"] * scale
        self._add("activation", 0.06 * a * e, did, delay=delay, ramp=effort + 1, half_life=150.0)
        self._add("load", -0.02 * e * scale, did, delay=delay, ramp=effort + 1, half_life=150.0)

    def _lever_stage(self, args: dict[str, object], did: int) -> dict[str, object]:
        stage = _match(args.get("stage"), tuple(STAGE_DEMAND), ())
        if stage is None:
            return _refuse(f"stage must be one of {', '.join(STAGE_DEMAND)}")
        self._stage = stage
        self._stage_target = STAGE_DEMAND[stage]
        return _accept(f"venture moved to {stage}")

    def _lever_allocate(self, args: dict[str, object], did: int) -> dict[str, object]:
        area = _match(
            args.get("area"),
            ("marketing", "product", "support", "sales"),
            (
                ("market", "marketing"),
                ("growth", "marketing"),
                ("engineer", "product"),
                ("custom", "support"),
            ),
        )
        if area is None:
            return _refuse("allocate needs an area: marketing, product, support or sales")
        amount = _number(args.get("amount"))
        if amount is None or amount < 0:
            return _refuse("allocate needs a non-negative amount in USD")
        amount = min(amount, MAX_MONEY)
        self._money(area, amount, 30, did)
        return _accept(f"${amount:,.0f} allocated to {area} over the next 30 days")

    def _lever_hire(self, args: dict[str, object], did: int) -> dict[str, object]:
        weekly = _number(args.get("weekly_cost"))
        if weekly is None or weekly < 0:
            return _refuse("hire needs a non-negative weekly_cost in USD")
        weekly = min(weekly, MAX_MONEY)
        skill = _text(args.get("skill"))
        target = _keyword(skill, _HIRE_WORDS) or "product"
        # A contractor is engaged for four weeks and needs about a week to become useful.
        self._money(target, weekly * 4.0, 28, did, delay=5)
        return _accept(f"contractor for {skill[:40] or 'general work'} engaged for 4 weeks ({target})")

    def _money(self, target: str, amount: float, days: int, did: int, *, delay: int = 0) -> None:
        """Turn money into the lever it buys, with diminishing returns: log1p(amount / reference)."""
        if amount <= 0:
            return
        if target in CHANNELS:
            r, hl = _CHANNEL_TIMING[target]
            self._add(f"spend:{target}", amount / days, did, delay=delay, ramp=r, hold=days, half_life=hl)
        elif target == "marketing":
            for channel in CHANNELS:
                r, hl = _CHANNEL_TIMING[channel]
                per_day = amount / days / len(CHANNELS)
                self._add(f"spend:{channel}", per_day, did, delay=delay, ramp=r, hold=days, half_life=hl)
        elif target == "support":
            hours = 200.0 * math.log1p(amount / (40.0 * 200.0))
            self._add(
                "capacity",
                hours * TICKETS_PER_HOUR / days,
                did,
                delay=delay,
                ramp=2,
                hold=days,
                half_life=3.0,
            )
        elif target == "sales":
            self._add(
                "conversion",
                0.12 * math.log1p(amount / 1000.0),
                did,
                delay=delay,
                ramp=5,
                hold=days,
                half_life=10.0,
            )
        elif target == "reliability":
            self._reliability(5, did, delay=delay, scale=math.log1p(amount / 2000.0))
        elif target == "onboarding":
            self._onboarding(5, did, delay=delay, scale=math.log1p(amount / 2000.0))
        elif target in AREAS:
            self._feature(target, 5, did, delay=delay, scale=math.log1p(amount / 2000.0))
        else:  # product: spread across the product, weighted by what this market wants
            s = math.log1p(amount / 2000.0)
            appetite = sum(self.params.feature_appetite.values()) / len(AREAS)
            self._add("activation", 0.04 * appetite * s, did, delay=delay, ramp=14, half_life=120.0)
            self._add("churn", -0.04 * appetite * s, did, delay=delay, ramp=14, half_life=120.0)


__all__ = ["LEVERS", "METRICS", "ChurnDrivers", "Effect", "Market", "MarketParams", "draw_params"]
