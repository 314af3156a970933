"""The imperfections of a first attempt, at the profile's rates: invalid JSON, schema violations, low
confidence, risky kinds that always need the founder, spending over the founder's threshold. A retry (the
prompt ends with the engine's "could not be used" message) is always clean."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.decide import clamp, decision, make_params, new_decision, round_to
from conductor.sim.model.profiles import Profile
from conductor.sim.model.situation import Wake


@dataclass
class Flags:
    invalid_json: bool = False
    schema_violation: bool = False
    low_confidence: bool = False
    risky: bool = False
    over_budget: bool = False

    @classmethod
    def draw(cls, imp: random.Random, profile: Profile, *, enabled: bool) -> Flags:
        draws = [imp.random() for _ in range(4)]  # always drawn, so the rates stay independent
        if not enabled:
            return cls()
        fault = draws[0]
        return cls(
            invalid_json=fault < profile.invalid_json,
            schema_violation=profile.invalid_json <= fault < profile.invalid_json + profile.schema_violation,
            low_confidence=draws[1] < profile.low_confidence,
            risky=draws[2] < profile.risky,
            over_budget=draws[3] < profile.over_budget,
        )


class _Placer:
    """Puts a misbehaving decision in: over a fresh decision not yet replaced, else beside, else over the last."""

    def __init__(self, decisions: list[dict[str, Any]]) -> None:
        self.decisions = decisions
        self.touched: set[int] = set()

    def place(self, made: dict[str, Any]) -> None:
        fresh = [i for i, d in enumerate(self.decisions) if not d.get("revises")]
        untouched = [i for i in fresh if i not in self.touched]
        if untouched:
            i = untouched[-1]
            self.decisions[i] = made
        elif len(self.decisions) < 2:
            self.decisions.append(made)
            i = len(self.decisions) - 1
        elif fresh:
            i = fresh[-1]
            self.decisions[i] = made
        else:
            return
        self.touched.add(i)


def _over_budget(w: Wake, imp: random.Random) -> dict[str, Any] | None:
    free = [k for k in w.kinds if k.id not in w.busy]  # what the prompt says would be refused, even a bold model skips
    spenders = [k for k in free if k.spend and k.id not in w.policy.always] or [k for k in free if k.spend]
    if not spenders:
        return None
    kind = imp.choice(spenders)
    params = make_params(kind, w, imp)
    spec = next((p for p in kind.params if p.name == kind.spend), None)
    if spec is None:
        return None
    params[spec.name] = clamp(spec, round_to(w.policy.threshold * imp.uniform(*B.over_budget), 50))
    return decision(kind, params, w, imp, "going bigger this time so the result is large enough to read")


def _unsure(w: Wake, decisions: list[dict[str, Any]], imp: random.Random) -> None:
    normal = [k for k in w.kinds if k.id not in w.policy.always] or list(w.kinds)
    normal = [k for k in normal if k.id not in w.busy]
    fresh = [i for i, d in enumerate(decisions) if not d.get("revises")]
    if not fresh and len(decisions) < 2 and normal:
        made = new_decision(w, imp, set(), normal)
        if made:
            decisions.append(made)
            fresh = [len(decisions) - 1]
    if fresh:
        i = fresh[-1]
        decisions[i]["confidence"] = round(imp.uniform(*B.low_confidence), 2)
        decisions[i]["rationale"] += " I am unsure this is the right call."


def imperfect_decisions(w: Wake, decisions: list[dict[str, Any]], flags: Flags, imp: random.Random) -> None:
    """Low confidence, risky kinds and overspending, as a real model sometimes does."""
    placer = _Placer(decisions)
    if flags.risky:
        risky = [k for k in w.kinds if k.id in w.policy.always and k.id not in w.busy]
        if risky:
            kind = imp.choice(risky)
            why = "a bolder move than usual, because small steps have not been enough"
            placer.place(decision(kind, make_params(kind, w, imp), w, imp, why))
    if flags.over_budget:
        made = _over_budget(w, imp)
        if made:
            placer.place(made)
    if flags.low_confidence:
        _unsure(w, decisions, imp)


def finish(out: dict[str, Any], rng: random.Random, flags: Flags, imp: random.Random, what: str,
           w: Wake | None = None) -> str:
    """The answer as text: broken at the profile's rates, sometimes fenced, otherwise plain JSON."""
    if flags.schema_violation and what != "synthesis":
        out = _violate(out, imp, what, w)
    text = json.dumps(out, ensure_ascii=False)
    if flags.invalid_json:
        return _garble(text, out, imp)
    if rng.random() < B.fenced_json:
        return f"```json\n{json.dumps(out, ensure_ascii=False, indent=2)}\n```"
    return text


def _violate_review(out: dict[str, Any], imp: random.Random) -> dict[str, Any]:
    return imp.choice([
        {"feedback": out.get("feedback", "")},
        {**out, "verdict": "approved"},
        {**out, "verdict": "revise", "notes": "extra field"},
    ])


def _bad_params(d: dict[str, Any], imp: random.Random, w: Wake | None) -> None:
    kind = w.kind(d["kind"]) if w else None
    choice = kind.choice_param() if kind else None
    bounded = next((p for p in kind.params if p.hi is not None), None) if kind else None
    if choice is not None:
        d["params"][choice.name] = imp.choice(["tiktok", "billboards", "everything"])
    elif bounded is not None and bounded.hi is not None:
        d["params"][bounded.name] = bounded.hi * 10 + 1
    else:
        d["confidence"] = 1.7


def _violate(out: dict[str, Any], imp: random.Random, what: str, w: Wake | None) -> dict[str, Any]:
    out = json.loads(json.dumps(out))
    if what == "review":
        return _violate_review(out, imp)
    decisions = out.get("decisions") or []
    variant = imp.randrange(5)
    if variant == 0:
        out.pop("summary", None)
        return out
    if not decisions:
        decisions.append({
            "kind": w.kinds[0].id if w and w.kinds else "campaign.launch",
            "params": {},
            "rationale": "Trying something.",
            "confidence": 0.7,
            "expected_effect": {"metric": (w.metric if w else "") or "overall", "direction": "up"},
        })
        out["decisions"] = decisions
    d = decisions[0]
    if variant == 1:
        d["confidence"] = 1.7
    elif variant == 2:
        d["kind"] = imp.choice(["growth.hack", "marketing.blitz", "campaign"])
    elif variant == 3:
        _bad_params(d, imp, w)
    else:
        d.pop("rationale", None)
    return out


def _garble(text: str, out: dict[str, Any], imp: random.Random) -> str:
    variant = imp.randrange(3)
    if variant == 0:  # cut off mid-answer, as when the output limit is hit
        return text[: max(1, int(len(text) * imp.uniform(0.3, 0.85)))]
    if variant == 1:  # prose instead of JSON
        summary = str(out.get("summary") or out.get("feedback") or out.get("strategy") or "")
        return f"Here is my thinking. {summary} I would move carefully and measure the result."
    return repr(out)  # a Python dict: single quotes, True/None
