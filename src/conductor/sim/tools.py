"""The simulated market's instruments: an in-process MCP server (`builtin = "market"` in the org file).

A real business looks things up while it decides: which channel brought the sign-ups, what customers ask
for, what fills the support queue. The simulator offers the same through the official MCP SDK, so the demo
exercises the whole tool path (listing, calling, limits, events) with no key, and looking things up is worth
its tokens: each tool answers with something no prompt holds.

* `analytics(venture, lever, days)`: for a channel lever (campaign and content channels), the sign-ups tagged
  with each channel per day it was booked, as tracking records them (last touch, counting noise); for every
  other lever (feature areas, discount segments, support actions, budget areas), how its metric changed from
  the week before each of its decisions to the week after, computed only from the metrics the business
  recorded and the days it took its decisions: a dashboard's before-and-after, with everything else of those
  weeks in it. Only options that ran have numbers: an analytics tool measures what was done, and never reads
  the market's hidden effects.
* `feedback(venture, days)`: what customers asked for lately, a small sample of comments drawn toward the
  product areas that would help them most.
* `support_queue(venture)`: the open tickets by the kind of support work that would answer them.

Answers are deterministic for a market's seed, the day and the arguments (a seeded `random.Random`, never
shared state), and read only days the market has already stepped, so a decision executed in the same instant
changes no answer: runs replay alike. Nothing here is visible to an agent except through a tool result the
engine puts in its prompt.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any, Literal

from conductor.sim.market.market import TAGGED_LEVERS
from conductor.sim.market.world import OPTION_LEVERS

LEVERS = ("campaign", "content", "feature", "discount", "support", "allocate")
# The metric a lift is read on, per driver.
METRIC_OF_DRIVER = {"demand": "signups", "activation": "activation_rate", "conversion": "trial_conversion",
                    "load": "support_backlog"}
ALLOCATE_DRIVERS = {"marketing": "demand", "product": "activation", "support": "load", "sales": "conversion"}
WEEK = 7  # days on each side of a decision that the analytics compare
FEEDBACK_COMMENTS = 8
QUEUE_TICKETS = 40
TEMPERATURE = 0.35  # how closely comments and tickets follow the true effects (smaller: closer; a hint, not an oracle)


def _rng(market: Any, *parts: object) -> random.Random:
    return random.Random(":".join(["conductor.sim.tools", str(market.seed), market.venture_id, str(market.day),
                                   *map(str, parts)]))


def _no_market(venture: str, markets: dict[str, Any]) -> str | None:
    market = markets.get(venture)
    if market is None:
        known = ", ".join(sorted(markets)) or "none"
        return f"no venture {venture!r} here (ventures: {known})"
    if not hasattr(market, "observed"):
        return f"{venture}'s market keeps no analytics (a run recorded before them)"
    return None


def _week_change(observed: dict[int, dict[str, float]], metric: str, day: int) -> float | None:
    """log(mean of the week after `day` / mean of the week up to it), or None where a week is not recorded.
    Two whole weeks, so the weekday swing cancels; the rest of the noise, and everything else that happened
    in those weeks, stays in."""
    before = [observed[d].get(metric) for d in range(day - WEEK + 1, day + 1) if d in observed]
    after = [observed[d].get(metric) for d in range(day + 1, day + WEEK + 1) if d in observed]
    if len(before) < WEEK or len(after) < WEEK or None in before or None in after:
        return None
    low, high = sum(before) / WEEK, sum(after) / WEEK  # type: ignore[arg-type]
    if low <= 0.0 or high <= 0.0:
        return None
    return math.log(high / low)


def _sources_text(market: Any, lever: str, days: int, kind: str) -> str:
    """Sign-ups by source for a channel lever: what the tracking credited each channel with per day it was
    booked (ads up, a post promoted), against the window's average day of sign-ups. Last touch credits a
    channel with some who would have come anyway, so every channel that ran shows a little, even one that kept
    people away."""
    spec = OPTION_LEVERS[lever]
    since = market.day - days + 1
    window = [market.observed[d]["signups"] for d in range(since, market.day + 1) if d in market.observed]
    per_day = max(1.0, sum(window) / len(window)) if window else 1.0
    lines = [f"{kind} by {spec.param}, {market.venture_id}, days {max(since, 1)}-{market.day}: sign-ups tagged "
             f"with each {spec.param} per day it was booked, against an average day of {per_day:.0f} sign-ups (last "
             f"touch; +/- is the noise of counting):"]
    for option in spec.options:
        key = f"{lever}:{option}"
        count, running = 0, 0.0
        for day in range(since, market.day + 1):
            tags, ran = market.tagged.get(day, {}).get(key, (0, 0.0))
            count, running = count + tags, running + ran
        if running < 1.0:
            lines.append(f"- {kind} {spec.param}={option}: no data (not booked in these days)")
            continue
        share = count / running / per_day
        band = math.sqrt(count + 1.0) / running / per_day
        lines.append(f"- {kind} {spec.param}={option}: {100 * share:+.1f}% signups (+/- {100 * band:.1f}%, "
                     f"{running:.0f} booked days, {count} sign-ups tagged)")
    return "\n".join(lines)


def _spread(observed: dict[int, dict[str, float]], metric: str, since: int, until: int) -> float:
    """The standard deviation of the week-on-week change over every day of the window: what it does alone."""
    changes = [c for day in range(since, until + 1) if (c := _week_change(observed, metric, day)) is not None]
    if len(changes) < 2:
        return 0.1
    mean = sum(changes) / len(changes)
    return max(0.01, math.sqrt(sum((c - mean) ** 2 for c in changes) / (len(changes) - 1)))


def analytics_text(market: Any, lever: str, days: int, kind: str = "") -> str:
    """The per-option report of one lever for the decisions taken in the last `days` days whose following week
    has been recorded; `kind` names the org's decision kind that pulls the lever (the lever's name if none).

    Computed only from what the business records: each day's metrics and the day each decision was taken.
    Per option, the mean change of its metric from the week before each decision to the week after; the band
    is how much that change moves on its own (its spread over every day of the window) over the square root of
    the number of weeks with such decisions (decisions of one week share their before and after). Confounded
    as a real dashboard is: the trend, the other decisions of those weeks and an effect that shows after the
    week all land in it."""
    spec = OPTION_LEVERS[lever]
    kind = kind or lever
    days = max(7, min(56, int(days)))
    if lever in TAGGED_LEVERS:
        return _sources_text(market, lever, days, kind)
    days = max(days, 2 * WEEK)  # a decision needs its week after: a shorter window would hold none
    since, until = market.day - days + 1, market.day - WEEK
    observed = market.observed
    lines = [f"{kind} by {spec.param}, {market.venture_id}, decisions of days {max(since, 1)}-{max(until, 0)} "
             f"(the metric's mean in the week after each decision against the week before; +/- is how much "
             f"such a change moves on its own, over the root of the number of weeks with such decisions):"]
    bands: dict[str, float] = {}
    for option in spec.options:
        driver = ALLOCATE_DRIVERS[option] if lever == "allocate" else spec.driver
        metric = METRIC_OF_DRIVER[driver]
        starts = market.started.get(f"{lever}:{option}", {})
        changes = [c for start in sorted(starts.values()) if since <= start <= until
                   and (c := _week_change(observed, metric, start)) is not None]
        if not changes:
            lines.append(f"- {kind} {spec.param}={option}: no data (no decision with a recorded week after it)")
            continue
        if metric not in bands:
            bands[metric] = _spread(observed, metric, since, until)
        # Decisions of one week share their weeks before and after: they are one observation, not several.
        weeks = len({start // WEEK for start in starts.values() if since <= start <= until})
        band = bands[metric] / math.sqrt(max(1, weeks))
        lift = sum(changes) / len(changes)
        lines.append(f"- {kind} {spec.param}={option}: {100 * (math.exp(lift) - 1):+.1f}% {metric} "
                     f"(+/- {100 * band:.1f}%, {len(changes)} decision{'s' if len(changes) != 1 else ''} "
                     f"in {weeks} week{'s' if weeks != 1 else ''})")
    return "\n".join(lines)


def _draw(market: Any, lever: str, count: int, label: str) -> dict[str, int]:
    """`count` customers (or tickets) spread over a lever's options, toward the ones that would help most."""
    spec = OPTION_LEVERS[lever]
    good = {o: market.params.goodness(lever, o) for o in spec.options}
    top = max(good.values())
    weights = {o: math.exp((g - top) / TEMPERATURE) for o, g in good.items()}
    total = sum(weights.values())
    rng = _rng(market, label)
    counts = dict.fromkeys(spec.options, 0)
    for _ in range(count):
        roll, acc = rng.random() * total, 0.0
        for option in spec.options:
            acc += weights[option]
            if roll <= acc:
                counts[option] += 1
                break
    return counts


def feedback_text(market: Any, kind: str = "feature") -> str:
    counts = _draw(market, "feature", FEEDBACK_COMMENTS, "feedback")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"Recent customer feedback, {market.venture_id} ({FEEDBACK_COMMENTS} comments), by the product area "
             "they ask about:"]
    lines += [f"- {kind} area={area}: asked for in {n} of {FEEDBACK_COMMENTS} comments" for area, n in ranked]
    return "\n".join(lines)


def support_queue_text(market: Any, kind: str = "support") -> str:
    counts = _draw(market, "support", QUEUE_TICKETS, "queue")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"Open support tickets, {market.venture_id} (a sample of {QUEUE_TICKETS}), by the work that would "
             "answer them:"]
    lines += [f"- {kind} action={action}: would answer {n} of {QUEUE_TICKETS} tickets"
              for action, n in ranked]
    return "\n".join(lines)


def market_server(markets: dict[str, Any], kinds: dict[str, str] | None = None) -> Any:
    """An in-process MCP server over the run's markets (venture id -> market), built with the official SDK.
    `kinds` maps a lever to the org's decision kind that pulls it, so reports name what an agent can take."""
    from mcp.server.mcpserver import MCPServer

    kinds = kinds or {}

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        server = MCPServer("market", instructions="The simulated market's analytics, feedback and support queue.")
    finally:
        # The SDK's server configures the root logger (`logging.basicConfig` with a console handler at INFO) when
        # none is set, which would print every log line of a run (an evaluation worker's) to the terminal.
        root.handlers[:] = handlers
        root.setLevel(level)

    @server.tool()
    def analytics(venture: str, lever: Literal["campaign", "content", "feature", "discount", "support",
                                               "allocate"], days: int = 28) -> str:
        """Results per option of one lever (campaign or content channels, feature areas, discount segments,
        support actions, budget areas): how its metric changed from the week before each decision to the week
        after."""
        problem = _no_market(venture, markets)
        return problem or analytics_text(markets[venture], lever, days, kinds.get(lever, ""))

    @server.tool()
    def feedback(venture: str) -> str:
        """What customers asked for lately, by product area."""
        problem = _no_market(venture, markets)
        return problem or feedback_text(markets[venture], kinds.get("feature", "feature"))

    @server.tool()
    def support_queue(venture: str) -> str:
        """The open support tickets, by the kind of support work that would answer them."""
        problem = _no_market(venture, markets)
        return problem or support_queue_text(markets[venture], kinds.get("support", "support"))

    return server


__all__ = ["LEVERS", "analytics_text", "feedback_text", "market_server", "support_queue_text"]
