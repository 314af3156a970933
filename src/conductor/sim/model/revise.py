"""Answering a reviewer: a decision that replaces the one returned, changed the way the feedback asks."""

from __future__ import annotations

import random
import re
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.decide import clamp, decision, make_params, pick_choice, round_to
from conductor.sim.model.prompt import KIND_ID, NUMBER, Kind, Param, num, pairs
from conductor.sim.model.situation import Wake

_CUT = re.compile(r"\b(cut|lower|reduce|smaller|too (?:high|much|big|expensive)|halve|trim|cap|less)\b", re.I)
_SPEND_WORDS = ["budget", "spend", "cost", "amount"]


def coerce(param: Param, raw: Any) -> Any:
    """A value as the parameter's type, or None when it cannot be one."""
    if raw is None:
        return None
    text = str(raw)
    if param.type in ("number", "integer"):
        value = num(text)
        if value is None:
            return None
        if (param.lo is not None and value < param.lo) or (param.hi is not None and value > param.hi):
            return clamp(param, value)
        if param.type == "integer":
            return round(value)
        return int(value) if value.is_integer() else value
    if param.type == "boolean":
        return {"true": True, "false": False}.get(text.lower())
    if param.choices is not None:
        return {c.lower(): c for c in param.choices}.get(text.lower())
    return text


def _split(text: str) -> tuple[str, str]:
    """(the returned decision, the reviewer's feedback) of a revision line."""
    jm = re.search(r"\{[^{}]*\}", text)
    if jm:
        head, feedback = text[: jm.end()], text[jm.end() :]
    elif ": " in text:
        head, feedback = text.split(": ", 1)
    else:
        head, feedback = text, text
    return head, feedback.strip().lstrip(":;,.- ").strip()


def _numbers(kind: Kind, params: dict[str, Any], feedback: str) -> None:
    """A number the feedback names for a parameter ("cut budget to 300"), or a cut when it only says "lower"."""
    for param in kind.params:
        if param.type not in ("number", "integer"):
            continue
        names = [param.name, param.name.replace("_", " ")] + (_SPEND_WORDS if param.name == kind.spend else [])
        hit = next((n for n in names if re.search(rf"\b{re.escape(n)}\b", feedback, re.I)), None)
        if hit is None:
            continue
        m = re.search(
            rf"\b{re.escape(hit)}\b[^.;]{{0,40}}?\b(?:to|at|under|below|of|max(?:imum)?)\s*\$?({NUMBER.pattern})",
            feedback, re.I,
        )
        target = num(m.group(1)) if m else None
        if target is not None:
            params[param.name] = clamp(param, target)
        elif _CUT.search(feedback) or param.name == kind.spend:
            current = float(params[param.name])
            params[param.name] = clamp(param, round_to(current * 0.6, 10 if current < 500 else 50))


def _choices(kind: Kind, params: dict[str, Any], feedback: str, explicit: dict[str, str]) -> None:
    """An option the feedback names, other than the current one; one it points to ("try seo") first."""
    for param in kind.params:
        if not param.choices or param.name in explicit:
            continue
        named = [c for c in param.choices if c != params[param.name]
                 and re.search(rf"\b{re.escape(c)}\b", feedback, re.I)]
        pointed = [c for c in named
                   if re.search(rf"\b(?:to|use|try|prefer|with|on)\s+(?:the\s+)?{re.escape(c)}\b", feedback, re.I)]
        if named:
            params[param.name] = (pointed or named)[0]


# Feedback that turns a decision away from its option: "the venture brief says channel=ads failed before; pick
# an option that has worked", "try another option".
_AWAY = re.compile(r"\bfailed\b|\b(?:pick|choose|try|use)\s+(?:an?|another|a different|some other)\s+option\b",
                   re.I)


def _away_from_option(kind: Kind, choice: Param, params: dict[str, Any], feedback: str, w: Wake,
                      rng: random.Random) -> None:
    """Feedback that says the chosen option (of `choice`) failed, naming it, or asks for another option: another
    option, picked as a wake-up picks one (the best-known most of the time), instead of a smaller bet on the
    same."""
    if not choice.choices or not _AWAY.search(feedback):
        return
    current = str(params[choice.name])
    if not re.search(rf"\b{re.escape(current)}\b", feedback, re.I) and not re.search(r"\boption\b", feedback, re.I):
        return
    others = [c for c in choice.choices if c.lower() != current.lower()]
    if others:
        params[choice.name] = pick_choice(others, w.know.scores(kind.id, choice.name), rng)


def sensible_change(kind: Kind, params: dict[str, Any], w: Wake, rng: random.Random) -> dict[str, Any]:
    """Feedback named nothing concrete: make the bet smaller, or try another option."""
    params = dict(params)
    spend = next((p for p in kind.params if p.name == kind.spend), None)
    if spend is not None and float(params[spend.name]) > (spend.lo or 0) + 10:
        params[spend.name] = clamp(spend, round_to(float(params[spend.name]) * 0.7, 10))
        return params
    ints = [p for p in kind.params if p.type == "integer" and float(params[p.name]) > (p.lo or 0) + 1]
    if ints:
        p = ints[0]
        params[p.name] = clamp(p, max((p.lo or 1), round(float(params[p.name]) * 0.7)))
        return params
    choice = next((p for p in kind.params if p.choices and len(p.choices) > 1), None)
    if choice is not None:
        others = [c for c in choice.choices or [] if c != params[choice.name]]
        params[choice.name] = pick_choice(others, w.know.scores(kind.id, choice.name), rng)
        return params
    text = next((p for p in kind.params if p.type == "string"), None)
    if text is not None:
        params[text.name] = f"{params[text.name]} (scoped down)"
    return params


def revise(w: Wake, rid: int, text: str, rng: random.Random) -> dict[str, Any] | None:
    """A decision that replaces #rid, adjusted per the reviewer's feedback."""
    mentioned = [k for k in re.findall(KIND_ID, text) if w.kind(k)]
    kind = w.kind(mentioned[0]) if mentioned else None
    if kind is None:
        kind = next((k for k in w.kinds if k.id not in w.policy.always), w.kinds[0] if w.kinds else None)
    if kind is None:
        return None
    head, feedback = _split(text)
    original = pairs(head)
    fresh = make_params(kind, w, rng)
    params: dict[str, Any] = {}
    for param in kind.params:
        value = coerce(param, original.get(param.name))
        params[param.name] = fresh[param.name] if value is None else value
    before = dict(params)
    explicit = pairs(feedback)
    for param in kind.params:  # explicit key=value in the feedback wins
        value = coerce(param, explicit.get(param.name))
        if value is not None:
            params[param.name] = value
    _numbers(kind, params, feedback)
    _choices(kind, params, feedback, explicit)
    choice = kind.choice_param()
    if choice is not None and params[choice.name] == before[choice.name]:  # "channel=ads failed" names it, too
        _away_from_option(kind, choice, params, feedback, w, rng)
    if params == before:
        params = sensible_change(kind, params, w, rng)
    for param in kind.params:
        if param.name == kind.spend and float(params[param.name]) > w.policy.threshold:
            params[param.name] = clamp(param, round_to(w.policy.threshold * 0.6, 50))
    made = decision(kind, params, w, rng, f"revised per the review of #{rid}: {feedback.strip()[:160]}")
    made["revises"] = rid
    made["confidence"] = round(min(B.confidence_cap, made["confidence"] + B.revision_bonus), 2)
    return made
