"""The simulated market's instruments: an in-process MCP server (`builtin = "market"` in the org file).

A real business looks things up while it decides: which channel brought the sign-ups, what customers ask
for, what fills the support queue. The simulator offers the same through the official MCP SDK, so the demo
exercises the whole tool path (listing, calling, limits, events) with no key, and looking things up is worth
its tokens: each tool answers with something no prompt holds.

* `analytics(venture, lever, days)`: for each option of a lever (campaign channels, content channels, feature
  areas, discount segments, support actions, budget areas), how much its metric moved per decision-day while
  that option was running, from the market's attribution ledger, with noise that shrinks as the option was
  run more. Only options that ran have numbers: an analytics tool measures what was done.
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

from conductor.sim.market.world import OPTION_LEVERS

LEVERS = ("campaign", "content", "feature", "discount", "support", "allocate")
# The metric a lift is read on, per driver.
METRIC_OF_DRIVER = {"demand": "signups", "activation": "activation_rate", "conversion": "trial_conversion",
                    "load": "support_backlog"}
ALLOCATE_DRIVERS = {"marketing": "demand", "product": "activation", "support": "load", "sales": "conversion"}
NOISE = 0.25  # log units of noise on one decision-day's lift; a week of running halves it about 2.6 times
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
    if not hasattr(market, "ledger"):
        return f"{venture}'s market keeps no analytics (a run recorded before them)"
    return None


def analytics_text(market: Any, lever: str, days: int, kind: str = "") -> str:
    """The per-option report of one lever over the last `days` stepped days; `kind` names the org's decision
    kind that pulls the lever (the lever's own name when the org has none)."""
    spec = OPTION_LEVERS[lever]
    kind = kind or lever
    days = max(7, min(56, int(days)))
    since = market.day - days + 1
    lines = [f"{kind} by {spec.param}, {market.venture_id}, days {max(since, 1)}-{market.day} "
             f"(lift of the metric per decision-day while the option ran; +/- is the noise of so few days):"]
    for option in spec.options:
        key = f"{lever}:{option}"
        added = running = 0.0
        for day, entries in market.ledger.items():
            if day >= since and key in entries:
                added += entries[key][0]
                running += entries[key][1]
        driver = ALLOCATE_DRIVERS[option] if lever == "allocate" else spec.driver
        metric = METRIC_OF_DRIVER[driver]
        if running < 1.0:
            lines.append(f"- {kind} {spec.param}={option}: no data (not run in these days)")
            continue
        sd = NOISE / math.sqrt(running)
        lift = added / running + _rng(market, "analytics", key).gauss(0.0, sd)
        lines.append(f"- {kind} {spec.param}={option}: {100 * (math.exp(lift) - 1):+.1f}% {metric} "
                     f"(+/- {100 * sd:.0f}%, {running:.0f} decision-days)")
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
        """Attributed results per option of one lever (campaign or content channels, feature areas, discount
        segments, support actions, budget areas): how its metric moved per decision-day while each ran."""
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
