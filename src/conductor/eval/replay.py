"""Replaying a run's markets from its event log: with a decision removed, or with other options chosen.

The market is deterministic for its seeds and the sequence of executed decisions and day steps, and its noise
depends only on (seed, venture, day, metric). So the log of one run holds everything needed to ask "what if":
replay it without decision *d* and the difference on *d*'s metric over its window is *d*'s true effect (the
ground truth attribution is graded against); replay it with every option chosen at random, or chosen by an
oracle that reads the hidden parameters, and the same decisions at the same moments become the reference
policies the organization is compared with.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor.org.models import Org
from conductor.sim.market import OPTION_LEVERS, Market

# An operation of one venture's market, in log order: ("apply", lever, params, decision id) or ("step", day).
Op = tuple[Any, ...]
Chooser = Callable[[str, dict[str, Any], int, Market], dict[str, Any]]


@dataclass
class MarketLog:
    """One venture's market operations as the run executed them, and the metric values it recorded."""

    venture: str
    ops: list[Op] = field(default_factory=list)
    recorded: dict[int, dict[str, float]] = field(default_factory=dict)  # day -> metric -> value


def read_market_logs(db: Path | str) -> dict[str, MarketLog]:
    """Every venture's market operations and recorded metrics, from a run's database (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        logs: dict[str, MarketLog] = {}
        rows = conn.execute(
            "SELECT kind, venture, payload FROM events WHERE kind IN "
            "('decision.executed', 'market.stepped', 'metric.recorded') AND venture IS NOT NULL ORDER BY id")
        for kind, venture, raw in rows:
            log = logs.setdefault(venture, MarketLog(venture))
            payload = json.loads(raw)
            if kind == "decision.executed" and isinstance(payload.get("market"), dict):
                m = payload["market"]
                log.ops.append(("apply", m["lever"], m["params"], m["decision_id"]))
            elif kind == "market.stepped":
                log.ops.append(("step", int(payload["day"])))
            elif kind == "metric.recorded":
                log.recorded.setdefault(int(payload["day"]), {})[payload["metric"]] = float(payload["value"])
        return logs
    finally:
        conn.close()


def new_market(org: Org, venture_id: str) -> Market:
    """A fresh version-2 market of one venture of `org` (seeds as the engine derives them)."""
    venture = org.venture(venture_id)
    if venture is None:
        raise KeyError(venture_id)
    initial = {m.name: m.initial for m in venture.metrics if m.initial is not None}
    return Market(venture.id, org.venture_seed(venture), initial, studio_seed=org.seed)


def replay(org: Org, log: MarketLog, *, drop: frozenset[int] = frozenset(), choose: Chooser | None = None,
           applies: bool = True) -> dict[int, dict[str, float]]:
    """Day -> metrics of one venture's market replayed from `log`, without `drop`, options from `choose`.

    `applies=False` replays no decision at all: the do-nothing policy on the same days.
    """
    market = new_market(org, log.venture)
    series: dict[int, dict[str, float]] = {0: market.values()}
    for op in log.ops:
        if op[0] == "apply":
            _, lever, params, decision_id = op
            if not applies or decision_id in drop:
                continue
            if choose is not None:
                params = choose(lever, dict(params), decision_id, market)
            market.apply(lever, params, decision_id)
        else:
            series[op[1]] = market.step()
    return series


def random_chooser(seed: int) -> Chooser:
    """Options drawn uniformly at random, per decision (seeded by the run's seed and the decision id)."""

    def choose(lever: str, params: dict[str, Any], decision_id: int, market: Market) -> dict[str, Any]:
        spec = OPTION_LEVERS.get(lever)
        if spec is not None:
            params[spec.param] = random.Random(f"eval:random:{seed}:{decision_id}").choice(spec.options)
        return params

    return choose


def oracle_chooser(lever: str, params: dict[str, Any], decision_id: int, market: Market) -> dict[str, Any]:
    """The option with the best hidden effect: what a policy that knew the market would pick."""
    spec = OPTION_LEVERS.get(lever)
    if spec is not None:
        params[spec.param] = market.params.best_option(lever)
    return params


def measured_options(db: Path | str) -> dict[str, list[tuple[int, str, str, float]]]:
    """Venture -> [(day known, lever, option, effect the good way)] in log order: every outcome the run measured
    for a decision with an option, on the market day it was written (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, venture, payload FROM events WHERE kind IN "
                            "('decision.executed', 'market.stepped', 'decision.outcome') AND venture IS NOT NULL "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()
    day: dict[str, int] = {}
    options: dict[int, tuple[str, str]] = {}
    out: dict[str, list[tuple[int, str, str, float]]] = {}
    for kind, venture, raw in rows:
        payload = json.loads(raw)
        if kind == "market.stepped":
            day[venture] = int(payload["day"])
        elif kind == "decision.executed" and isinstance(payload.get("market"), dict):
            lever, params = payload["market"]["lever"], payload["market"]["params"]
            spec = OPTION_LEVERS.get(lever)
            option = str(params.get(spec.param, "")).lower() if spec is not None else ""
            if spec is not None and option in spec.options:
                options[int(payload["decision_id"])] = (lever, option)
        elif kind == "decision.outcome":
            found = options.get(int(payload.get("decision_id", -1)))
            outcome = payload.get("outcome") or {}
            effect = outcome.get("effect")
            if found is None or not isinstance(effect, int | float):
                continue
            good = float(effect) if outcome.get("good_direction", "up") == "up" else -float(effect)
            out.setdefault(venture, []).append((day.get(venture, 0), found[0], found[1], good))
    return out


def estimates_chooser(measured: dict[str, list[tuple[int, str, str, float]]], seed: int) -> Chooser:
    """What a policy that always followed the organization's own measurements would pick: an option of the
    lever not measured yet (drawn at random), else the one whose newest measured effect was best by that day.

    It uses nothing the agents could not have known (the outcomes were in their memory stream), so it bounds
    what exploiting attribution alone can earn; the measurements are the full arm's, made on its own path."""

    def choose(lever: str, params: dict[str, Any], decision_id: int, market: Market) -> dict[str, Any]:
        spec = OPTION_LEVERS.get(lever)
        if spec is None:
            return params
        latest: dict[str, float] = {}
        for known, lev, option, effect in measured.get(market.venture_id, ()):
            if known > market.day:
                break
            if lev == lever:
                latest[option] = effect
        untried = [o for o in spec.options if o not in latest]
        if untried:
            params[spec.param] = random.Random(f"eval:estimates:{seed}:{decision_id}").choice(untried)
        else:
            params[spec.param] = max(spec.options, key=lambda o: (latest[o], o))
        return params

    return choose


def true_effect(org: Org, log: MarketLog, decision_id: int, metric: str, first_day: int, last_day: int,
                baseline: dict[int, dict[str, float]] | None = None) -> float | None:
    """The decision's true relative effect on `metric`, mean over days first..last: with it vs without it.

    `baseline` is the replay with every decision (pass it to save one replay per decision).
    """
    with_it = baseline if baseline is not None else replay(org, log)
    without = replay(org, log, drop=frozenset({decision_id}))
    ratios = []
    for day in range(first_day, last_day + 1):
        a, b = with_it.get(day, {}).get(metric), without.get(day, {}).get(metric)
        if a is None or b is None:
            continue
        ratios.append((a - b) / b if abs(b) > 1e-9 else 0.0)
    return sum(ratios) / len(ratios) if ratios else None
