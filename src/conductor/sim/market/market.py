"""One venture's simulated market (version 2): executed decisions in through `apply`, a day's metrics out of `step`.

The day is a small funnel whose every stage a lever can move:

* signups     = baseline x organic drift x stage x word of mouth x weekday x exp(demand) x noise
                (the weekday swing and the noise are large: one day, or a three-day rise, says little);
* activation  = logistic(logit(initial) + activation effects), observed with the noise of a cohort that size;
* conversions = a week of activated sign-ups x trial conversion x exp(conversion) x (price / start)^-elasticity,
                so acquisition converts worse while activation is weak;
* churn       = base churn x exp(churn effects) x backlog pressure x noise, plus customers lost to a price rise;
* support     = the backlog drifts toward an equilibrium set by customers, sign-ups and exp(ticket load):
                multiplicative, so no lever pushes it against a floor of zero without that showing;
* arpu        = the list price existing customers migrate to, x exp(arpu effects); mrr = customers x arpu.

Determinism: the same (venture, seeds, initial values, start day) and the same `apply`/`step` sequence give
the same numbers, and the noise of metric *m* on day *d* is the same whatever was decided before (see
`effects.shock`), so an evaluator can replay a run with one decision removed and read off its true effect.

Pure: imports nothing from conductor outside this package, no global random state, no clock, no `hash()`.
"""

from __future__ import annotations

import math
import random
from typing import Any

from conductor.sim.market import levers
from conductor.sim.market.coerce import METRICS, as_seed, clamp, refuse, sanitize_initial, text
from conductor.sim.market.effects import Effect, saturate, shock
from conductor.sim.market.world import MarketParams, draw_params

TRIAL_WINDOW = 7
OBSERVED_DAYS = 64  # days of recorded metrics and decision starts the market keeps for its analytics (56 + a week)
VERSION = 2
TAGGED_LEVERS = ("campaign", "content")  # levers whose sign-ups carry their source, as UTM tags record it
LAST_TOUCH = 0.03  # share of a day's sign-ups a running booking is credited with by last touch, whatever it brought
# Version 2 also reports trial conversion: the share of the week's activated trials that start paying each day.
# A stock (paying customers) moves too slowly for one decision to show over its window, and the flow into it
# carries every sign-up and activation change; the conversion rate answers to what sales does.
METRICS_V2: tuple[str, ...] = (*METRICS, "trial_conversion")


def _logit(p: float) -> float:
    p = clamp(p, 0.005, 0.995)
    return math.log(p / (1.0 - p))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-clamp(x, -30.0, 30.0)))


class Market:
    """One venture's market: hidden parameters from its seeds, state that evolves one day per `step`."""

    version = VERSION

    def __init__(self, venture_id: str, seed: int, initial: dict[str, float], start_day: int = 0,
                 studio_seed: int = 0) -> None:
        self.venture_id = str(venture_id)
        self.seed = as_seed(seed)
        self.params: MarketParams = draw_params(self.venture_id, self.seed, studio_seed)
        self.day: int = int(start_day) if isinstance(start_day, int) else 0
        self.start_day = self.day
        init = sanitize_initial(initial if isinstance(initial, dict) else {})
        self._initial = init
        self.signups0 = max(init["signups"], 0.5)
        self.activation0 = init["activation_rate"]
        self.paying0 = init["paying_customers"]
        self.price0 = init["arpu"]
        self.churn0 = init["churn_rate"]
        self.backlog0 = max(init["support_backlog"], 0.5)
        activated0 = self.signups0 * self.activation0 / 100.0
        churned0 = self.paying0 * self.churn0 / 100.0 / 30.0
        calibrated = activated0 > 1e-6 and churned0 > 1e-6
        conv0 = churned0 * (1.0 + self.params.trial_momentum) / activated0 if calibrated else 0.04
        self.conv0 = clamp(conv0, 0.002, 0.8)
        self.list_price = self.price0
        self.paid_price = self.price0
        self.customers = self.paying0
        self.backlog = self.backlog0
        self.pipeline: list[float] = [activated0] * TRIAL_WINDOW
        self.stage: str | None = None
        self.stage_target = 1.0
        self.stage_factor = 1.0
        self.effects: list[Effect] = []
        self.contracts: list[tuple[int, float]] = []
        self.offers: dict[str, tuple[float, int, int]] = {}  # segment -> (percent, first day, end day)
        self.applied: set[int] = set()
        self.decisions = 0
        # What the business itself records, for the analytics tool (`conductor.sim.tools`): each stepped day's
        # metrics, and the day each executed decision of an option was taken. Nothing hidden, nothing causal.
        self.observed: dict[int, dict[str, float]] = {}
        self.started: dict[str, dict[int, int]] = {}  # "lever:option" -> decision id -> day it was taken
        # day -> option -> (sign-ups tagged, bookings running)
        self.tagged: dict[int, dict[str, tuple[int, float]]] = {}
        self.booked: list[tuple[str, int, int]] = []  # (channel option, first day, last day) as the business booked it
        self._values: dict[str, float] = {**init, "trial_conversion": round(100.0 * self.conv0, 3)}

    # --- public API ---------------------------------------------------------------------------------------

    def apply(self, lever: str, params: dict[str, object], decision_id: int) -> dict[str, object]:
        """Record an executed decision; its effect lands over the next days. Never raises: params are model output."""
        try:
            name = text(lever)
            handler = levers.LEVER_HANDLERS.get(name)
            if handler is None:
                return refuse(f"unknown lever {str(lever)[:40]!r}")
            did = decision_id if isinstance(decision_id, int) and not isinstance(decision_id, bool) else -1
            if did >= 0 and did in self.applied:
                return refuse(f"decision {did} was already applied")
            receipt = handler(self, params if isinstance(params, dict) else {}, did)
        except Exception as exc:  # pragma: no cover - a bug here must not take the engine down
            return refuse(f"could not apply: {type(exc).__name__}")
        if receipt.get("accepted"):
            if did >= 0:
                self.applied.add(did)
            self.decisions += 1
        return receipt

    def add(self, driver: str, magnitude: float, did: int, *, delay: int = 0, ramp: int = 2, hold: float = 14.0,
            half_life: float = 5.0, option: str = "") -> None:
        """Schedule an effect starting `delay` days after tomorrow (the first day a decision can show)."""
        if not math.isfinite(magnitude) or magnitude == 0.0:
            return
        self.effects.append(Effect(driver, magnitude, self.day + 1 + max(0, delay), max(0, ramp), hold,
                                   half_life, did, option))
        if option:
            starts = self.started.setdefault(option, {})
            starts[did if did >= 0 else -2 - len(starts)] = self.day  # a decision without an id is still one

    def book(self, option: str, days: int) -> None:
        """A channel booked from tomorrow for `days` days: what the business knows it is running (its ads are
        up, its post is promoted), whatever the effect does and whenever it shows."""
        self.booked.append((option, self.day + 1, self.day + max(1, int(days))))

    def paying(self) -> float:
        return self.customers

    def drivers(self, day: int) -> dict[str, float]:
        """Today's saturated sum of every effect, per driver."""
        sums: dict[str, float] = {}
        for effect in self.effects:
            strength = effect.profile(day)
            if strength > 0.0:
                sums[effect.driver] = sums.get(effect.driver, 0.0) + effect.magnitude * strength
        return {name: saturate(name, sums.get(name, 0.0)) for name in
                ("demand", "activation", "conversion", "churn", "load", "arpu", "shock")}

    def step(self) -> dict[str, float]:
        """Advance one simulated day and return that day's values of the eight metrics."""
        self.day += 1
        d, p = self.day, self.params
        drv = self.drivers(d)
        self.effects = [e for e in self.effects if not e.expired(d)]
        self.stage_factor += 0.25 * (self.stage_target - self.stage_factor)

        def z(metric: str) -> float:
            return shock(self.seed, self.venture_id, d, metric)

        landed = sum(seats for due, seats in self.contracts if due <= d)
        self.contracts = [(due, s) for due, s in self.contracts if due > d]
        self.customers += landed

        # Sign-ups: demand, weekday, and noise large enough that one day misleads.
        word_of_mouth = ((self.customers + 10.0) / (self.paying0 + 10.0)) ** 0.2
        expected = (self.signups0 * math.exp(clamp(p.organic_growth * (d - self.start_day), -1.0, 1.0))
                    * self.stage_factor * word_of_mouth * p.weekday[d % 7] * math.exp(drv["demand"]))
        signups = expected * math.exp(p.signup_noise * z("signups") - p.signup_noise**2 / 2)
        self._tag(d, signups, drv["demand"])

        # Activation: logit-additive effects, observed with the sampling noise of two weeks of sign-ups.
        true_activation = _logistic(_logit(self.activation0 / 100.0) + drv["activation"])
        cohort = max(signups, 0.5) * 14.0
        act_sd = clamp(1.0 / math.sqrt(cohort * true_activation * (1.0 - true_activation) + 1e-9), 0.03, 0.5)
        activation = _logistic(_logit(true_activation) + act_sd * z("activation_rate"))

        # Conversions from a week of activated sign-ups, through the price.
        self.pipeline = [*self.pipeline[1:], signups * true_activation]
        pipeline = sum(self.pipeline) / len(self.pipeline)
        ratio = clamp(self.list_price / self.price0, 0.05, 20.0) if self.price0 > 0 else 1.0
        price_factor = clamp(ratio ** (-p.price_elasticity), 0.02, 8.0)
        conv_noise = math.exp(0.1 * z("paying_customers") - 0.005)
        new = pipeline * min(0.9, self.conv0 * math.exp(drv["conversion"]) * price_factor) * conv_noise

        # Churn: base rate under backlog and price pressure, plus a price rise's shock.
        backlog_pressure = clamp((self.backlog / self.backlog0) ** p.support_sensitivity, 0.6, 2.5)
        price_pressure = clamp((self.paid_price / self.price0) ** (0.25 * p.price_elasticity), 0.5, 3.0)
        rate = self.churn0 * math.exp(drv["churn"]) * backlog_pressure * price_pressure
        rate *= math.exp(p.churn_noise * z("churn_rate") - p.churn_noise**2 / 2)
        lost = self.customers * (min(1.0, rate / 3000.0) + (1.0 - math.exp(-drv["shock"])))
        self.customers = clamp(self.customers + new - lost, 0.0, 1e9)

        # ARPU: existing customers move a tenth of the way to the list price a day.
        self.paid_price += 0.1 * (self.list_price - self.paid_price)
        discounted = sum(levers.SEGMENT_REVENUE.get(seg, 0.0) * pct / 100.0
                         for seg, (pct, start, end) in sorted(self.offers.items()) if start <= d < end)
        arpu = self.paid_price * math.exp(drv["arpu"]) * max(0.1, 1.0 - discounted) * (1.0 + 0.003 * z("arpu"))
        arpu = clamp(arpu, 0.0, 1e6)

        # Support backlog drifts toward an equilibrium that customers, sign-ups and ticket load set.
        equilibrium = (self.backlog0 * ((self.customers + 10.0) / (self.paying0 + 10.0)) ** 0.7
                       * (signups / self.signups0) ** 0.15 * math.exp(drv["load"]))
        self.backlog += 0.35 * (equilibrium - self.backlog)
        backlog = self.backlog * math.exp(0.08 * z("support_backlog"))

        paying = float(round(self.customers))
        arpu_shown = round(arpu, 2)
        self._values = {
            "signups": float(round(signups)),
            "activation_rate": round(100.0 * activation, 2),
            "paying_customers": paying,
            "mrr": round(paying * arpu_shown, 2),
            "arpu": arpu_shown,
            "churn_rate": round(clamp(rate, 0.0, 100.0), 2),
            "support_backlog": round(clamp(backlog, 0.0, 1e9), 1),
            "trial_conversion": round(100.0 * new / pipeline, 3) if pipeline > 1e-9 else 0.0,
        }
        self._observe(d)
        return dict(self._values)

    def _tag(self, day: int, signups: float, demand: float) -> None:
        """The day's sign-ups by source, as a business's tracking records them: the people each channel
        brought (its share of the sign-ups that demand added today, whenever they arrive), plus, by last touch,
        a share of those who would have come anyway for each of its bookings running today. A channel that
        drives people away brings none and is still credited some, as tags do. Counts have the noise of
        counting (their own generator, so nothing the market does moves)."""
        running: dict[str, float] = {}
        for option, first, last in self.booked:
            if first <= day <= last:
                running[option] = running.get(option, 0.0) + 1.0
        contributions: dict[str, float] = {}
        positive = 0.0
        for effect in self.effects:
            strength = effect.profile(day) if effect.driver == "demand" else 0.0
            if strength <= 0.0:
                continue
            positive += max(0.0, effect.magnitude * strength)
            if effect.option.split(":")[0] in TAGGED_LEVERS:
                contributions[effect.option] = contributions.get(effect.option, 0.0) + effect.magnitude * strength
        brought = signups * (1.0 - math.exp(-max(0.0, demand)))
        today: dict[str, tuple[int, float]] = {}
        for option in sorted(set(running) | set(contributions)):
            added = max(0.0, contributions.get(option, 0.0))
            mean = ((brought * added / positive if positive > 0.0 else 0.0)
                    + LAST_TOUCH * running.get(option, 0.0) * signups)
            rng = random.Random(f"conductor.sim.market.v2:tags:{self.seed}:{self.venture_id}:{day}:{option}")
            today[option] = (max(0, round(mean + math.sqrt(mean) * rng.gauss(0.0, 1.0))), running.get(option, 0.0))
        self.tagged[day] = today

    def _observe(self, day: int) -> None:
        """Keep the day's metrics and forget what the analytics can no longer look at."""
        self.observed[day] = dict(self._values)
        self.observed.pop(day - OBSERVED_DAYS, None)
        self.tagged.pop(day - OBSERVED_DAYS, None)
        self.booked = [b for b in self.booked if b[2] > day - OBSERVED_DAYS]
        for starts in self.started.values():
            for did in [did for did, start in starts.items() if start <= day - OBSERVED_DAYS]:
                del starts[did]

    def values(self) -> dict[str, float]:
        """The current values of the eight metrics (the initial ones before the first step)."""
        return dict(self._values)

    def state(self) -> dict[str, Any]:
        """Everything the market holds, JSON-ready, for inspection and tests (resuming is done by replay)."""
        return {
            "version": VERSION, "venture_id": self.venture_id, "seed": self.seed, "day": self.day,
            "start_day": self.start_day, "params": self.params.to_dict(), "initial": dict(self._initial),
            "values": dict(self._values), "customers": round(self.customers, 6), "list_price": self.list_price,
            "paid_price": self.paid_price, "backlog": self.backlog, "pipeline": list(self.pipeline),
            "stage": self.stage, "stage_factor": self.stage_factor,
            "contracts": [list(x) for x in self.contracts],
            "offers": {k: list(v) for k, v in sorted(self.offers.items())}, "effects": [e.to_dict() for e in self.effects],
            "decisions_applied": self.decisions, "applied_ids": sorted(self.applied),
        }


__all__ = ["METRICS", "METRICS_V2", "VERSION", "Market"]
