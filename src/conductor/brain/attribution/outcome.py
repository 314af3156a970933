"""The `decision.outcome` payload and summary: a contract other code (and the simulated model) reads.

`measure(target, peers, series)` is what the engine calls when a decision's effect window has closed, and what
`engine.recompute` calls to recompute every stored outcome from the events: it only looks at the series up
to the window's end and at decisions executed before it, so both give the same answer.

Payload keys (event `decision.outcome`, key `outcome`): the historical `metric, before, after, delta,
delta_pct, good_direction, expected_direction, success, window_days` (`delta_pct` is now the attributed
effect, `before`/`after` the observed values on the execution day and at the window's end) and `effect,
effect_low, effect_high, baseline, verdict, credit, method`. Old logs lack the new keys: readers use
`outcome_effect` / `outcome_verdict` below, which fall back to the old ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from conductor.brain.attribution.placebo import placebo_scale
from conductor.brain.attribution.pooled import Exposure, pooled_fit, pooled_verdict

if TYPE_CHECKING:
    from conductor.org.models import Org

# pooled-v2: intervals widened by the series' own placebos (`placebo`); pooled-v1 outcomes in older logs were not.
METHOD = "pooled-v2"


@dataclass(frozen=True)
class Outcome:
    metric: str
    before: float
    after: float
    delta: float
    delta_pct: float
    good_direction: str
    expected_direction: str | None
    success: bool
    window_days: int
    effect: float
    effect_low: float
    effect_high: float
    baseline: float
    verdict: str
    credit: float
    pooled: int = 1  # decisions of the same option whose evidence the estimate pooled
    method: str = METHOD

    def summary(self, kind: str, params_text: str) -> str:
        """The line agents read back (a simulated model parses it with a regex: keep the format exact)."""
        return (f"{kind} {params_text}: {self.metric} {self.effect:+.1%} against forecast over {self.window_days} "
                f"days (95% {self.effect_low:+.1%} to {self.effect_high:+.1%}) ({self.verdict})")

    def as_payload(self) -> dict:
        return {
            "metric": self.metric, "before": self.before, "after": self.after, "delta": self.delta,
            "delta_pct": self.delta_pct, "good_direction": self.good_direction,
            "expected_direction": self.expected_direction, "success": self.success, "window_days": self.window_days,
            "effect": self.effect, "effect_low": self.effect_low, "effect_high": self.effect_high,
            "baseline": self.baseline, "verdict": self.verdict, "credit": self.credit, "pooled": self.pooled,
            "method": self.method,
        }


@dataclass(frozen=True)
class Measurable:
    """An executed decision as attribution sees it: which metric it is judged on, and over how many days."""

    id: int
    venture: str
    agent: str
    metric: str
    good_direction: str
    expected_direction: str | None
    day: int
    window: int
    option: str = ""  # the kind with its choice parameters: decisions of one option pool their evidence
    stock: bool = False  # the metric is a level that accumulates (org `stock = true`): fitted on its daily change

    @property
    def exposure(self) -> Exposure:
        return Exposure(self.id, self.option or f"#{self.id}", self.day, self.window)

    @property
    def closes(self) -> int:
        return self.day + self.window


def _r(x: float) -> float:
    return round(float(x), 6)


def measure(target: Measurable, peers: Sequence[Measurable], series: Mapping[int, float]) -> Outcome | None:
    """The target's outcome once its window has closed; None if the series lacks the days it needs.

    `peers` may hold any decisions: only those on the same venture and metric executed before the window's end
    count, and only the series up to the window's end is read.
    """
    close = target.closes
    seen = {d: v for d, v in series.items() if d <= close}
    before, after = seen.get(target.day), seen.get(close)
    if before is None or after is None:
        return None
    exposures = [p.exposure for p in peers
                 if p.venture == target.venture and p.metric == target.metric and p.day < close]
    scale = placebo_scale(seen, target.exposure, exposures, stock=target.stock)
    found = pooled_fit(seen, target.exposure, exposures, stock=target.stock, widen=scale or 1.0)
    if found is None:
        return None
    # Without placebos to say how wide the interval is, nothing is called beyond noise.
    judged = pooled_verdict(found, target.good_direction) if scale is not None else "unclear"
    return Outcome(
        metric=target.metric, before=before, after=after, delta=_r(after - before), delta_pct=_r(found.effect),
        good_direction=target.good_direction, expected_direction=target.expected_direction,
        success=judged == "worked", window_days=target.window, effect=_r(found.effect), effect_low=_r(found.low),
        effect_high=_r(found.high), baseline=_r(found.baseline), verdict=judged, credit=round(found.credit, 4),
        pooled=found.pooled,
    )


class DecisionLike(Protocol):
    """The fields of an executed decision attribution reads (the engine's `DecisionRuntime` has them)."""

    id: int
    venture: str
    agent: str
    kind: str
    params: dict[str, Any]
    expected: dict[str, Any]
    state: str
    executed_day: int | None


def measurable(org: Org, d: DecisionLike) -> Measurable | None:
    """The decision as attribution sees it: judged on its expected metric if the venture has it, else on its
    author's metric, over its kind's effect window. None if it has not executed (or names nothing known)."""
    venture = org.venture(d.venture)
    found = org.agent(d.agent)
    if venture is None or found is None or d.executed_day is None or d.state != "executed":
        return None
    expected = str(d.expected.get("metric", ""))
    metric = venture.metric(expected) or venture.metric(found[1].owns_metric)
    if metric is None:
        return None
    return Measurable(d.id, d.venture, d.agent, metric.name, metric.direction, d.expected.get("direction"),
                      d.executed_day, org.effect_window_days(d.kind), option_key(org, d.kind, d.params),
                      stock=metric.stock)


def option_key(org: Org, kind_id: str, params: Mapping[str, Any]) -> str:
    """`campaign.launch channel=seo`: the kind and the values of its choice parameters (what repeats)."""
    kind = org.kind(kind_id)
    choices = sorted(name for name, spec in kind.params.items() if spec.choices) if kind is not None else []
    values = [f"{name}={str(params.get(name, '')).strip().lower()}" for name in choices]
    return " ".join([kind_id, *values])


def peers_by_venture(org: Org, decisions: Iterable[DecisionLike],
                     memo: dict[tuple[int, str, int | None], Measurable | None] | None = None
                     ) -> dict[str, list[Measurable]]:
    """Executed decisions grouped by venture: what may share the credit for any of its metrics' moves.

    `memo`, kept by a caller that asks every day, holds each decision's `measurable` by (id, state, executed
    day): an executed decision's answer never changes, and recomputing it for the whole history each day
    made measuring grow with the square of the run's length."""
    out: dict[str, list[Measurable]] = {}
    for d in decisions:
        if memo is None:
            m = measurable(org, d)
        else:
            key = (d.id, d.state, d.executed_day)
            if key not in memo:
                memo[key] = measurable(org, d)
            m = memo[key]
        if m is not None:
            out.setdefault(m.venture, []).append(m)
    return out


def measure_decision(org: Org, d: DecisionLike, peers: Mapping[str, Sequence[Measurable]],
                     metrics: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]) -> Outcome | None:
    """The outcome of one executed decision from the metric series (venture -> metric -> [(day, value)])."""
    target = measurable(org, d)
    if target is None:
        return None
    series = dict(metrics.get(target.venture, {}).get(target.metric, ()))
    return measure(target, peers.get(target.venture, ()), series)


def outcome_effect(outcome: Mapping) -> float | None:
    """The attributed effect (raw sign), or the old raw move for outcomes stored before attribution."""
    value = outcome.get("effect", outcome.get("delta_pct"))
    return None if value is None else float(value)


def outcome_verdict(outcome: Mapping) -> str | None:
    """worked / failed / unclear; old outcomes (no verdict) were worked or failed by their `success`."""
    if not outcome:
        return None
    if outcome.get("verdict"):
        return str(outcome["verdict"])
    if "success" in outcome:
        return "worked" if outcome["success"] else "failed"
    return None


def normalized_effect(outcome: Mapping) -> float | None:
    """The effect signed so that positive is the metric's good direction."""
    value = outcome_effect(outcome)
    if value is None:
        return None
    return value if outcome.get("good_direction", "up") == "up" else -value
