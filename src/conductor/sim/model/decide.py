"""Making one decision: a kind weighted by what the prompt says of it, parameters that repeat what worked and
avoid what failed, and revisions that follow a reviewer's feedback."""

from __future__ import annotations

import random
import re
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.prompt import Kind, Param, num
from conductor.sim.model.situation import Wake, trend

DEFAULT_RANGES = {
    "budget": (150, 600),
    "amount": (200, 700),
    "weekly_cost": (250, 700),
    "percent": (5, 30),
    "hours": (4, 30),
    "price": (9, 59),
    "value": (2000, 24000),
    "effort_days": (2, 10),
    "days": (7, 30),
}
TEXTS = {
    "topic": ["a step-by-step setup guide", "a customer case study", "this month's changelog", "a pricing explainer",
              "migration checklist", "how our best customers use us", "a comparison with the free tools"],
    "feature": ["one-click import", "guided setup checklist", "Slack alerts", "CSV export", "team workspaces",
                "weekly digest email", "saved filters", "bulk edit"],
    "area": ["background jobs", "page load times", "email delivery", "API error rate", "sync worker", "login flow"],
    "version": [],
    "plan": ["Pro", "Studio", "Team", "Starter"],
    "customer": ["Northfield Collective", "Brightline Partners", "Harbor & Co", "Maple Street Studio"],
    "commitment": ["priority support with a 4-hour first reply", "an export API by next quarter",
                   "a dedicated onboarding call"],
    "change": ["a shorter signup form", "a sample project on first run", "an inline setup checklist",
               "a welcome email with the first three steps", "clearer empty states"],
    "name": ["sentry-sdk", "postmark", "stripe-python", "tenacity"],
    "purpose": ["replaces a hand-rolled retry loop", "error reporting we do not have today",
                "transactional email with better deliverability"],
    "skill": ["lifecycle email copy", "Postgres performance", "SEO content writing", "mobile QA"],
}
IRREVERSIBLE = {"stage.change", "customer.commitment", "security.change"}
STAGES = ["idea", "mvp", "launch", "growth", "scale"]
_SECURITY_CHANGES = ["enforce 2FA for admin accounts", "rotate API signing keys", "tighten session expiry"]


def round_to(value: float, step: float) -> float:
    return round(value / step) * step


def clamp(param: Param, value: float) -> float | int:
    if param.lo is not None:
        value = max(param.lo, value)
    if param.hi is not None:
        value = min(param.hi, value)
    if param.type == "integer":
        ivalue = round(value)
        if param.lo is not None and ivalue < param.lo:
            ivalue += 1
        if param.hi is not None and ivalue > param.hi:
            ivalue -= 1
        return int(ivalue)
    number = round(float(value), 2)
    return int(number) if number.is_integer() else number


def _range(param: Param, kind: Kind, w: Wake) -> tuple[float, float]:
    default = DEFAULT_RANGES.get(param.name)
    lo_spec = param.lo if param.lo is not None else 0.0
    if default is not None:
        lo, hi = float(default[0]), float(default[1])
    else:
        lo = lo_spec
        hi = lo_spec + (param.hi - lo_spec) * 0.4 if param.hi is not None else lo_spec + 100
    if param.name == kind.spend:
        hi = min(hi, w.policy.threshold * B.spend_cap)
        lo = min(lo, hi * 0.5)
    return lo, hi


def numeric(param: Param, kind: Kind, w: Wake, rng: random.Random, scores: dict[str, float]) -> float | int:
    lo, hi = _range(param, kind, w)
    good = [(s, num(v)) for v, s in scores.items() if s > 0 and num(v) is not None]
    if good and rng.random() < B.exploit_number:
        value = (max(good)[1] or 0.0) * rng.uniform(1 - B.number_jitter, 1 + B.number_jitter)
        if param.name == kind.spend:
            value = min(value, w.policy.threshold * B.spend_cap)
    else:
        value = rng.uniform(lo, hi)
    if param.name == kind.spend or param.name in ("value", "amount"):
        value = round_to(value, 50 if value >= 200 else 10)
    elif hi - lo >= 10:
        value = round(value)
    return clamp(param, value)


def pick_choice(choices: list[str], scores: dict[str, float], rng: random.Random) -> str:
    """The best-known option most of the time; otherwise, mostly, one nothing has been said of yet (the best
    option may be one nobody tried), else any option not known to fail."""
    lowered = {c.lower(): c for c in choices}
    pos = {lowered[v]: s for v, s in scores.items() if s > 0 and v in lowered}
    neg = {lowered[v] for v, s in scores.items() if s < 0 and v in lowered}
    if pos and rng.random() < B.exploit_best:
        best = max(pos.values())
        return rng.choice(sorted(c for c, s in pos.items() if s == best))
    untried = [c for c in choices if c not in pos and c not in neg]
    if untried and rng.random() < B.explore_untried:
        return rng.choice(untried)
    allowed = [c for c in choices if c not in neg] or list(choices)
    return rng.choice(allowed)


def _text_value(param: Param, kind: Kind, rng: random.Random, scores: dict[str, float]) -> str:
    good = [v for v, s in scores.items() if s > 0]
    if good and rng.random() < B.exploit_text:
        return rng.choice(sorted(good))
    if param.name == "version":
        return f"v{rng.randint(1, 3)}.{rng.randint(0, 24)}.{rng.randint(0, 9)}"
    if kind.id == "security.change" and param.name == "change":
        return rng.choice(_SECURITY_CHANGES)
    if param.name == "area" and kind.id == "reliability.fix":
        return rng.choice(TEXTS["area"])
    options = TEXTS.get(param.name) or [f"{kind.id.split('.')[0]} improvement #{rng.randint(1, 99)}"]
    return rng.choice(options)


def _next_stage(param: Param, w: Wake, rng: random.Random) -> str:
    choices = list(param.choices or [])
    i = STAGES.index(w.stage) if w.stage in STAGES else -1
    nxt = STAGES[i + 1] if 0 <= i < len(STAGES) - 1 and STAGES[i + 1] in choices else None
    return nxt or rng.choice([c for c in choices if c != w.stage])


def make_params(kind: Kind, w: Wake, rng: random.Random) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for param in kind.params:
        scores = w.know.scores(kind.id, param.name)
        if param.choices:
            if param.name == "stage" and w.stage in param.choices and len(param.choices) > 1:
                params[param.name] = _next_stage(param, w, rng)
            else:
                params[param.name] = pick_choice(list(param.choices), scores, rng)
        elif param.type in ("number", "integer"):
            params[param.name] = numeric(param, kind, w, rng, scores)
        elif param.type == "boolean":
            params[param.name] = rng.random() < 0.5
        else:
            params[param.name] = _text_value(param, kind, rng, scores)
    return params


def is_rejected(w: Wake, kind: str, params: dict[str, Any]) -> str | None:
    for rkind, found, ref in w.know.rejected:
        if rkind and rkind != kind:
            continue
        named = [k for k in found if k in params]
        if found and named and all(str(params[k]).lower() == found[k] for k in named):
            return ref
        if not found and rkind == kind:
            return ref
    return None


def known_bad(w: Wake, kind: Kind) -> bool:
    """The prompt says this kind fails: its own score is negative, or most options of its choice parameter did."""
    if w.know.kinds.get(kind.id, 0.0) < 0:
        return True
    choice = kind.choice_param()
    if choice is None or not choice.choices:
        return False
    scores = w.know.scores(kind.id, choice.name)
    known = [scores[c.lower()] for c in choice.choices if c.lower() in scores]
    return bool(known) and max(known) < 0 and len(known) * 2 >= len(choice.choices)


def kind_weights(w: Wake, kinds: list[Kind]) -> list[float]:
    weights = []
    for kind in kinds:
        score = w.know.kinds.get(kind.id, 0.0)
        weights.append(1.0 + B.kind_gain * score if score > 0 else max(B.kind_floor, 1.0 + B.kind_penalty * score))
    return weights


def _learned_note(w: Wake, kind: Kind, params: dict[str, Any]) -> str:
    best: tuple[float, str] | None = None
    for key, value in params.items():
        for (k, name, v), score in w.know.params.items():
            if name == key and k in (kind.id, None) and v == str(value).lower() and score > 0:
                note = w.know.notes.get((k, name, v), "")
                if note and (best is None or score > best[0]):
                    best = (score, note)
    if best:
        return best[1].rstrip(".") + ", so I am repeating what worked"
    choice = kind.choice_param()
    if choice is not None and not w.know.scores(kind.id, choice.name):
        return f"nothing in the brief covers {choice.name}={params.get(choice.name)} yet, so this is a measured test"
    return "it is the most direct lever I have on it"


_GENERIC = {"rate", "per", "day"}


def _metric_word(name: str) -> str:
    """The word a description would use for a metric: `support_backlog` -> backlog, `activation_rate` ->
    activation."""
    words = [w for w in name.lower().split("_") if w not in _GENERIC] or [name.lower()]
    return words[-1]


def aimed_metric(kind: Kind, params: dict[str, Any], w: Wake) -> tuple[str, bool]:
    """The metric this decision aims at, as its kind's description tells it (read as a person would: "marketing
    buys signups" means an allocation to marketing is for sign-ups); the agent's own metric otherwise."""
    choice = kind.choice_param()
    value = str(params.get(choice.name, "")).lower() if choice is not None else ""
    clauses = [c for c in re.split(r"[;:.]|, and |\bso\b", kind.description.lower()) if c.strip()]
    if value:
        clauses = [c for c in clauses if re.search(rf"\b{re.escape(value)}\b", c)] or clauses
    best: tuple[int, str] | None = None
    for clause in clauses:
        for name in w.metrics:
            for hit in re.finditer(rf"\b{re.escape(_metric_word(name))}", clause):
                if best is None or hit.start() > best[0]:
                    best = (hit.start(), name)
        if best is not None:
            return best[1], w.metrics[best[1]]
    return w.metric or "overall", w.up


def decision(kind: Kind, params: dict[str, Any], w: Wake, rng: random.Random, why: str) -> dict[str, Any]:
    _, good, described = trend(w)
    size = rng.uniform(*(B.size_when_weak if good <= B.strong_trend else B.size_when_strong))
    metric, up = aimed_metric(kind, params, w)
    return {
        "kind": kind.id,
        "params": params,
        "rationale": f"{described[0].upper()}{described[1:]}; {why.strip().rstrip('.')}.",
        "expected_effect": {"metric": metric, "direction": "up" if up else "down", "size": round(size, 3)},
        "confidence": round(rng.uniform(*B.confidence), 2),
        "reversible": kind.id not in IRREVERSIBLE,
        "revises": None,
    }


def new_decision(w: Wake, rng: random.Random, avoid: set[str], pool: list[Kind]) -> dict[str, Any] | None:
    candidates = [k for k in pool if k.id not in avoid] or pool
    if not candidates:
        return None
    kind = rng.choices(candidates, weights=kind_weights(w, candidates))[0]
    params = make_params(kind, w, rng)
    for _ in range(4):
        if not is_rejected(w, kind.id, params):
            break
        params = make_params(kind, w, rng)
    made = decision(kind, params, w, rng, _learned_note(w, kind, params))
    if w.know.kinds.get(kind.id, 0) > 0 or "repeating what worked" in made["rationale"]:
        made["confidence"] = round(min(B.confidence_cap, made["confidence"] + B.confidence_bonus), 2)
    return made
