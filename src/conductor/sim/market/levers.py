"""What an executed decision does to the market: model-written parameters in, lagged effects out.

Each lever reads its parameters leniently (model output drifts: "Google Ads", "$1,200", "14 days"), refuses
what it cannot use with a reason and no change, and otherwise schedules `Effect`s whose size is the option's
hidden true effect (`MarketParams.effects`) scaled by how much was put in, with diminishing returns: money and
hours through log1p, and an option already running at full strength adds less each time it is repeated.
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING

from conductor.sim.market.coerce import accept, clamp, effort, keyword, match, number, refuse, text
from conductor.sim.market.world import (
    AREAS,
    BUDGET_AREAS,
    BUDGET_DRIVERS,
    CHANNELS,
    OPTION_LEVERS,
    PUBLISH_CHANNELS,
    SEGMENTS,
    SUPPORT_ACTIONS,
)

if TYPE_CHECKING:
    from conductor.sim.market.market import Market

MAX_MONEY = 10_000_000.0
MAX_HOURS = 400.0
# The share of revenue each discount segment stands for: what a discount to it costs in ARPU while it runs.
SEGMENT_REVENUE: dict[str, float] = {"new": 0.12, "annual": 0.3, "churn_risk": 0.1, "nonprofit": 0.03}
SHOCK_DAYS = 7
STAGE_DEMAND: dict[str, float] = {"idea": 0.9, "mvp": 0.95, "launch": 1.0, "growth": 1.04, "scale": 1.08}
# Reference intensities: the size at which an option has exactly its drawn effect.
CAMPAIGN_REF, SUPPORT_REF_HOURS, DISCOUNT_REF, ALLOCATE_REF, EFFORT_REF = 500.0, 20.0, 20.0, 2000.0, 5
# Each running effect of the same option makes the next one this much weaker (1 / (1 + k * REPEAT_DECAY)).
REPEAT_DECAY = 0.05
PROMOTED_DAYS = 14  # how long a published piece is promoted (its link shared, pinned): the days it is booked for
RAMP = 2  # days from first showing to full strength
TAIL = 1.5  # half-life in days of an effect's fade once its duration is over

CHANNEL_WORDS: tuple[tuple[str, str], ...] = (
    ("seo", "seo"), ("search", "seo"), ("organic", "seo"), ("ads", "ads"), ("ad", "ads"), ("paid", "ads"),
    ("ppc", "ads"), ("sponsor", "ads"), ("partner", "partnerships"), ("affiliate", "partnerships"),
    ("referral", "partnerships"), ("community", "community"), ("forum", "community"), ("reddit", "community"),
    ("discord", "community"), ("slack", "community"), ("social", "community"), ("email", "email"),
    ("newsletter", "email"), ("lifecycle", "email"), ("content", "content"), ("blog", "content"),
    ("video", "content"), ("guide", "content"),
)
AREA_WORDS: tuple[tuple[str, str], ...] = (
    ("onboard", "onboarding"), ("signup", "onboarding"), ("first-run", "onboarding"),
    ("integration", "integrations"), ("import", "integrations"), ("api", "integrations"),
    ("webhook", "integrations"), ("report", "reporting"), ("analytic", "reporting"), ("dashboard", "reporting"),
    ("mobile", "mobile"), ("ios", "mobile"), ("android", "mobile"), ("app", "mobile"), ("core", "core"),
)
# What a contractor's skill buys: a channel, a budget area, a product area, or one of the single levers.
HIRE_WORDS: tuple[tuple[str, str], ...] = (
    ("support", "support"), ("customer success", "support"), ("docs", "support"), ("documentation", "support"),
    ("seo", "seo"), ("ads", "ads"), ("paid", "ads"), ("email", "email"), ("lifecycle", "email"),
    ("copy", "content"), ("content", "content"), ("writ", "content"), ("community", "community"),
    ("partner", "partnerships"), ("marketing", "marketing"), ("growth", "marketing"), ("sales", "sales"),
    ("account", "sales"), ("onboard", "onboarding"), ("ux", "onboarding"), ("design", "onboarding"),
    ("reliab", "reliability"), ("performance", "reliability"), ("postgres", "reliability"),
    ("database", "reliability"), ("infra", "reliability"), ("devops", "reliability"), ("sre", "reliability"),
    ("security", "reliability"), ("integration", "integrations"), ("mobile", "mobile"), ("ios", "mobile"),
    ("android", "mobile"), ("data", "reporting"), ("analytic", "reporting"),
)
SUPPORT_WORDS: tuple[tuple[str, str], ...] = (
    ("macro", "macros"), ("template", "macros"), ("doc", "docs"), ("article", "docs"), ("help", "docs"),
    ("office", "office_hours"), ("call", "office_hours"), ("triage", "triage"),
)


def _scale(amount: float, ref: float, unit: float) -> float:
    """Diminishing returns: 1 at `ref`, log-shaped around it, 0 at nothing."""
    return math.log1p(max(0.0, amount) / unit) / math.log1p(ref / unit)


def _option_effect(m: Market, lever: str, option: str, size: float, did: int, *, driver: str | None = None,
                   hold: float | None = None, extra_delay: int = 0, sign: float = 1.0) -> None:
    """The option's hidden effect, scaled by `size`, after its hidden delay, for its hidden duration
    (or `hold` days if shorter: a campaign booked for a week stops after a week)."""
    spec = OPTION_LEVERS[lever]
    value = m.params.effects[lever][option] * sign
    running = sum(1 for e in m.effects if e.option == f"{lever}:{option}" and e.profile(m.day + 1) > 0.5)
    magnitude = value * size / (1.0 + REPEAT_DECAY * running)
    duration = m.params.durations[lever][option]
    m.add(driver or spec.driver, magnitude, did, delay=m.params.delays[lever][option] + extra_delay, ramp=RAMP,
          hold=min(duration, hold) if hold is not None else duration, half_life=TAIL, option=f"{lever}:{option}")


def campaign(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    channel = match(args.get("channel"), CHANNELS, CHANNEL_WORDS)
    if channel is None:
        return refuse("campaign needs a channel: " + ", ".join(CHANNELS))
    budget = number(args.get("budget"))
    if budget is None or budget < 0:
        return refuse("campaign needs a non-negative budget in USD")
    budget = min(budget, MAX_MONEY)
    days = effort(args.get("days"), 14, 90)
    _option_effect(m, "campaign", channel, _scale(budget, CAMPAIGN_REF, 200.0), did, hold=days)
    m.book(f"campaign:{channel}", days)
    return accept(f"campaign on {channel} scheduled for {days} days at ${budget:,.0f}")


def content(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    raw = text(args.get("channel"))
    channel = match(raw, PUBLISH_CHANNELS, (("mail", "newsletter"), ("post", "blog"), ("youtube", "video"),
                                             ("twitter", "social"), ("linkedin", "social"))) or "blog"
    _option_effect(m, "content", channel, 1.0, did)
    m.book(f"content:{channel}", PROMOTED_DAYS)
    topic = text(args.get("topic"))[:40] or "a new piece"
    return accept(f"published {topic} on the {channel}")


def feature(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    area = match(args.get("area"), AREAS, AREA_WORDS) or keyword(text(args.get("feature")), AREA_WORDS) or "core"
    work = effort(args.get("effort_days"), 5, 60)
    _option_effect(m, "feature", area, _scale(work, EFFORT_REF, 2.0), did, extra_delay=min(3, work // 4))
    return accept(f"feature in {area} ships in about {work} days")


def discount(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    percent = number(args.get("percent"))
    if percent is None or percent < 0:
        return refuse("discount needs a percent between 0 and 90")
    percent = min(percent, 90.0)
    segment = match(args.get("segment"), SEGMENTS, (("risk", "churn_risk"), ("year", "annual"))) or "new"
    if percent == 0:
        return accept(f"no discount for {segment} customers")
    _option_effect(m, "discount", segment, _scale(percent, DISCOUNT_REF, 10.0), did)
    # The price of a discount: the segment's customers pay less while it runs (a newer offer replaces it).
    days = m.params.delays["discount"][segment] + RAMP + m.params.durations["discount"][segment]
    m.offers[segment] = (percent, m.day + 1, m.day + 1 + days)
    return accept(f"{percent:g}% discount offered to {segment} customers for {days} days")


def support(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    action = match(args.get("action"), SUPPORT_ACTIONS, SUPPORT_WORDS) or "triage"
    hours = number(args.get("hours"))
    if hours is not None and hours < 0:
        return refuse("support hours must be a non-negative number")
    hours = min(hours if hours is not None else 4.0, MAX_HOURS)
    _option_effect(m, "support", action, _scale(hours, SUPPORT_REF_HOURS, 5.0), did)
    return accept(f"{hours:g} support hours into {action.replace('_', ' ')}")


def _single(m: Market, lever: str, work: int, did: int, *, scale: float = 1.0, extra_delay: int = 0) -> None:
    driver = "activation" if lever == "onboarding" else "churn"
    m.add(driver, m.params.single[lever] * _scale(work, EFFORT_REF, 2.0) * scale, did,
          delay=m.params.delays[lever][""] + min(3, work // 4) + extra_delay, ramp=RAMP,
          hold=m.params.durations[lever][""], half_life=TAIL)


def onboarding(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    work = effort(args.get("effort_days"), 3, 40)
    _single(m, "onboarding", work, did)
    return accept(f"onboarding change in progress; lands over about {work} days")


def reliability(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    work = effort(args.get("effort_days"), 3, 40)
    _single(m, "reliability", work, did)
    area = text(args.get("area"))[:40] or "the product"
    return accept(f"reliability work on {area}; improvements land over about {work} days")


def pricing(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    price = number(args.get("price"))
    if price is None or price <= 0:
        return refuse("pricing needs a positive price in USD per month")
    lo, hi = max(1.0, 0.2 * m.price0), max(5.0, 5.0 * m.price0)
    new = clamp(price, lo, hi)
    old = m.list_price
    m.list_price = new
    if new > old > 0:
        # Some existing customers leave rather than pay more; the more elastic the market, the more.
        lost = 1.0 - (new / old) ** (-0.5 * m.params.price_elasticity)
        m.add("shock", -math.log(max(1e-9, 1.0 - lost)) / SHOCK_DAYS, did, hold=SHOCK_DAYS, half_life=0.3)
    plan = text(args.get("plan"))[:40] or "the plan"
    note = f"{plan} list price set to ${new:,.2f}; existing customers move to it at renewal"
    return accept(note + (f" (clamped from {price:g})" if new != price else ""))


def commitment(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    value = number(args.get("value"))
    value = clamp(value, 0.0, MAX_MONEY) if value is not None else 0.0
    customer = text(args.get("customer"))[:40] or "the customer"
    # Whether the promise wins the contract is fixed per (seed, decision), never by call order.
    roll = zlib.crc32(f"{m.seed}:commitment:{did}:{customer}".encode()) / 2**32
    if value > 0 and roll < 0.55:
        seats = min(value / (12.0 * max(m.list_price, 1.0)), max(3.0, 0.1 * m.paying()))
        m.contracts.append((m.day + 5, seats))
    weight = math.log1p(value / 5000.0)
    m.add("load", 0.03 * weight, did, hold=14, half_life=5.0)
    return accept(f"commitment to {customer} recorded; the contract decision comes within a week")


def stage(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    chosen = match(args.get("stage"), tuple(STAGE_DEMAND), ())
    if chosen is None:
        return refuse(f"stage must be one of {', '.join(STAGE_DEMAND)}")
    m.stage = chosen
    m.stage_target = STAGE_DEMAND[chosen]
    return accept(f"venture moved to {chosen}")


def _budget(m: Market, target: str, amount: float, did: int, *, extra_delay: int = 0) -> None:
    """Money into a target: a budget area, a channel, a product area, onboarding or reliability."""
    size = _scale(amount, ALLOCATE_REF, 800.0)
    if target in BUDGET_AREAS:
        sign = -1.0 if BUDGET_DRIVERS[target] == "load" else 1.0
        _option_effect(m, "allocate", target, size, did, driver=BUDGET_DRIVERS[target], extra_delay=extra_delay,
                       sign=sign)
    elif target in CHANNELS:
        _option_effect(m, "campaign", target, size, did, extra_delay=extra_delay)
    elif target in AREAS:
        _option_effect(m, "feature", target, size, did, extra_delay=extra_delay)
    else:  # onboarding or reliability
        _single(m, target, EFFORT_REF, did, scale=size, extra_delay=extra_delay)


def allocate(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    area = match(args.get("area"), BUDGET_AREAS, (("market", "marketing"), ("growth", "marketing"),
                                                   ("engineer", "product"), ("custom", "support")))
    if area is None:
        return refuse("allocate needs an area: marketing, product, support or sales")
    amount = number(args.get("amount"))
    if amount is None or amount < 0:
        return refuse("allocate needs a non-negative amount in USD")
    _budget(m, area, min(amount, MAX_MONEY), did)
    return accept(f"${min(amount, MAX_MONEY):,.0f} allocated to {area}")


def hire(m: Market, args: dict[str, object], did: int) -> dict[str, object]:
    weekly = number(args.get("weekly_cost"))
    if weekly is None or weekly < 0:
        return refuse("hire needs a non-negative weekly_cost in USD")
    weekly = min(weekly, MAX_MONEY)
    skill = text(args.get("skill"))
    target = keyword(skill, HIRE_WORDS) or "product"
    # A contractor is engaged for four weeks and needs a couple of days to become useful.
    _budget(m, target, weekly * 4.0, did, extra_delay=2)
    return accept(f"contractor for {skill[:40] or 'general work'} engaged for 4 weeks ({target})")


LEVER_HANDLERS = {
    "campaign": campaign, "content": content, "feature": feature, "reliability": reliability, "pricing": pricing,
    "discount": discount, "commitment": commitment, "support": support, "onboarding": onboarding, "stage": stage,
    "allocate": allocate, "hire": hire,
}
LEVERS: tuple[str, ...] = tuple(LEVER_HANDLERS)
