"""A review: approve, or ask for a concrete revision the way the reviewer's role would (finance cuts spend,
anyone sends back an option the brief says failed)."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.decide import round_to
from conductor.sim.model.imperfect import Flags, finish
from conductor.sim.model.prompt import KIND_ID, Kind, Param, num, pairs, sections
from conductor.sim.model.reader import Knowledge, Vocabulary, read

_SPEND_NAMES = ("budget", "amount", "weekly_cost", "cost", "spend")
_APPROVALS = ["Looks reasonable; go ahead.", "Fits the plan and the budget.",
              "Approved: measure it against the expected effect."]


def _decision(sec: dict[str, str]) -> tuple[str, dict[str, Any], float | None]:
    body = next((v for k, v in sec.items() if k.startswith("Decision #")), "")
    km = re.search(rf"^Kind: ({KIND_ID})", body, re.MULTILINE)
    params: dict[str, Any] = {}
    pm = re.search(r"^Params: (.*)$", body, re.MULTILINE)
    if pm:
        try:
            loaded = json.loads(pm.group(1))
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = dict(pairs(pm.group(1)))
    cm = re.search(r"^Confidence: ([\d.]+)", body, re.MULTILINE)
    return (km.group(1) if km else ""), params, (num(cm.group(1)) if cm else None)


def _failed_options(brief: str, kind: str, params: dict[str, Any]) -> list[str]:
    """Options of this decision that the brief says clearly failed (read the way a wake-up reads it, with at
    least `review_against` of evidence against them)."""
    choices = [Param(k, choices=[v]) for k, v in params.items() if isinstance(v, str) and v.strip()]
    know = Knowledge()
    read(brief, Vocabulary.build([Kind(kind, "", choices, None)]), know)
    return [f"{k}={v}" for k, v in params.items()
            if know.scores(kind, k).get(str(v).lower(), 0) <= -B.review_against]


def _first_round(role: str, kind: str, params: dict[str, Any], confidence: float | None, failed: list[str],
                 rng: random.Random) -> str:
    """The feedback of a first-round review, or "" to approve."""
    finance = any(w in role for w in ("finance", "cfo", "controller"))
    spend_name = next((n for n in _SPEND_NAMES if isinstance(params.get(n), int | float)), None)
    spend = float(params[spend_name]) if spend_name else None
    percent = params.get("percent")
    if failed:
        return f"The venture brief says {', '.join(failed)} failed before; pick an option that has worked."
    if finance and spend is not None and spend > B.finance_spend_limit:
        target = max(100.0, round_to(min(300.0, spend * 0.5), 50))
        return (f"Cut {spend_name} to {target:g}: {spend:g} is more than we can pay back at current "
                "conversion. Run it smaller first and scale what works.")
    if finance and isinstance(percent, int | float) and percent > B.finance_percent_limit:
        return f"Cut percent to 15: {percent:g}% gives away too much margin."
    if kind == "feature.ship" and rng.random() < B.revise_feature:
        effort = params.get("effort_days")
        if isinstance(effort, int | float) and effort > 3:
            return f"Scope it down: cut effort_days to {max(1, int(effort) // 2)} and ship the core first."
        return "Focus on the onboarding area first; that is where new customers stall."
    if confidence is not None and confidence < 0.6 and rng.random() < B.revise_low_confidence:
        return "Confidence is low: reduce the size of the bet and say what result would change your mind."
    if kind != "feature.ship" and rng.random() < B.revise_any:
        return _generic_feedback(params, spend_name, rng)
    return ""


def review(prompt: str, rng: random.Random, flags: Flags, imp: random.Random) -> str:
    sec = sections(prompt)
    head = sec.get("Review request", "")
    rm = re.search(r"^Reviewer: (\S+) \((.*)\)\s*$", head, re.MULTILINE)
    role = (rm.group(2) if rm else "").lower()
    rnd = re.search(r"Round (\d+) of (\d+)", head)
    round_no, max_rounds = (int(rnd.group(1)), int(rnd.group(2))) if rnd else (1, 2)
    kind, params, confidence = _decision(sec)
    if round_no <= 1:
        failed = _failed_options(sec.get("Venture brief", ""), kind, params)
        feedback = _first_round(role, kind, params, confidence, failed, rng)
    elif rng.random() < B.revise_later_round:
        spend_name = next((n for n in _SPEND_NAMES if isinstance(params.get(n), int | float)), None)
        feedback = f"Still not convinced after round {round_no} of {max_rounds}: " + _generic_feedback(
            params, spend_name, rng)
    else:
        feedback = ""
    out = {"verdict": "revise", "feedback": feedback} if feedback else {
        "verdict": "approve", "feedback": rng.choice(_APPROVALS)}
    return finish(out, rng, flags, imp, "review")


def _generic_feedback(params: dict[str, Any], spend_name: str | None, rng: random.Random) -> str:
    if spend_name:
        return f"Lower the {spend_name} by a third and report back after the first week."
    effort = params.get("effort_days") or params.get("days")
    if isinstance(effort, int | float) and effort > 2:
        return f"Cut effort_days to {max(1, int(effort) - 2)}: a smaller first version is enough."
    return rng.choice([
        "Narrow the scope to one segment and state the expected result in numbers.",
        "Make the change smaller and easier to roll back.",
    ])
