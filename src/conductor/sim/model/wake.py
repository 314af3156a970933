"""A wake-up answer: revisions first, then 0 to 2 new decisions (fewer when things go well, more when the
metric slips), tasks, messages and a summary."""

from __future__ import annotations

import random
import re
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.decide import known_bad, new_decision
from conductor.sim.model.imperfect import Flags, finish, imperfect_decisions
from conductor.sim.model.revise import revise
from conductor.sim.model.situation import Wake, read_wake, trend

_TASK_IDEAS = [
    ("Report what moved {metric} this week", "Short list: what you changed, what it did. {trend}."),
    ("Propose one experiment for next week", "One decision, with the number you expect it to move. {trend}."),
    ("Check last week's spend against results", "Flag anything that did not pay back. {trend}."),
]


def _how_many(roll: float, split: tuple[float, float]) -> int:
    none, at_most_one = split
    return 0 if roll < none else 1 if roll < at_most_one else 2


def _wanted(w: Wake, word: str, revised: int, roll: float) -> int:
    """How many new decisions the situation calls for, before what the brief says of this agent's record."""
    if revised:
        return 1 if roll < B.after_revision_extra and revised < 2 else 0
    pending = bool(w.tasks or w.messages or w.revisions)
    if w.outcome_balance > 0 and not pending and word != "slipping":
        return _how_many(roll, B.when_content)
    return _how_many(roll, B.when_slipping if word == "slipping" else B.otherwise)


def _decisions(w: Wake, word: str, rng: random.Random) -> list[dict[str, Any]]:
    """Revisions first; then new decisions among the kinds the prompt does not say would be refused now."""
    normal = [k for k in w.kinds if k.id not in w.policy.always] or list(w.kinds)
    decisions = [d for rid, text in w.revisions[:2] if (d := revise(w, rid, text, rng))]
    roll = rng.random()
    wanted = _wanted(w, word, len(decisions), roll)
    normal = [k for k in normal if k.id not in w.busy]
    if not normal:
        return decisions
    # What the brief says steers which kinds and options, never how many decisions: in a market where acting is
    # worth more than holding on average, a brief that made the agent hold back would be measured as caution,
    # not judgment (docs/compounding.md). Kinds known to fail are avoided while any other is left.
    viable = [k for k in normal if not known_bad(w, k)]
    used = {d["kind"] for d in decisions}
    for _ in range(wanted):
        made = new_decision(w, rng, used, viable or normal)
        if made:
            decisions.append(made)
            used.add(made["kind"])
    return decisions


def _tasks(w: Wake, decisions: list[dict[str, Any]], trend_text: str, rng: random.Random,
           out: dict[str, Any]) -> None:
    kinds_taken = {d["kind"] for d in decisions}
    for tid, text in w.tasks[:10]:
        named = any(k in text for k in kinds_taken)
        if rng.random() < (B.complete_named_task if named else B.complete_task):
            out["completed_tasks"].append({"task_id": tid, "result": _task_result(text, decisions, rng)})
    manager = bool(w.reports) or "ceo" in w.role.lower()
    if w.reports and rng.random() < (B.delegate_manager if manager else B.delegate_other):
        title, body = rng.choice(_TASK_IDEAS)
        out["tasks"].append({"to": rng.choice(w.reports), "title": title.format(metric=w.metric or "the numbers"),
                             "body": body.format(trend=trend_text)})
    elif w.reports_to and not w.reports and rng.random() < B.ask_manager:
        out["tasks"].append({"to": w.reports_to, "title": "Decide on budget for next week's tests",
                             "body": f"{trend_text[0].upper()}{trend_text[1:]}. I need a budget call."})


def _messages(w: Wake, decisions: list[dict[str, Any]], word: str, trend_text: str, rng: random.Random,
              out: dict[str, Any]) -> None:
    asked = [m.group(1) for t in w.messages if (m := re.search(r"\bfrom ([a-z][a-z0-9_-]*)", t))]
    reply_to = next((a for a in asked if a == w.reports_to or a in w.reports), None)
    chance = B.reply_message if reply_to else B.report_slipping if word == "slipping" else B.report_otherwise
    target = reply_to or w.reports_to
    if target and rng.random() < chance:
        out["messages"].append({"to": target, "text": _message_text(decisions, trend_text)})


def wake(prompt: str, rng: random.Random, flags: Flags, imp: random.Random) -> str:
    w = read_wake(prompt)
    word, _, trend_text = trend(w)
    decisions = _decisions(w, word, rng)
    imperfect_decisions(w, decisions, flags, imp)
    out: dict[str, Any] = {"summary": "", "decisions": decisions, "tasks": [], "messages": [], "completed_tasks": []}
    _tasks(w, decisions, trend_text, rng, out)
    _messages(w, decisions, word, trend_text, rng, out)
    out["summary"] = _summary(w, decisions, trend_text)
    return finish(out, rng, flags, imp, "wake", w)


def _task_result(text: str, decisions: list[dict[str, Any]], rng: random.Random) -> str:
    if decisions:
        d = decisions[0]
        bits = " ".join(f"{k}={v}" for k, v in d["params"].items())
        return f"Done: answered with {d['kind']} {bits}."[:400]
    return rng.choice([
        f"Done: looked into '{text[:80]}'; no change needed this week.",
        f"Done: '{text[:80]}' is handled; notes are in my summary.",
    ])


def _message_text(decisions: list[dict[str, Any]], trend_text: str) -> str:
    if decisions:
        kinds = ", ".join(d["kind"] for d in decisions)
        return f"{trend_text[0].upper()}{trend_text[1:]}. Today I am taking: {kinds}."
    return f"{trend_text[0].upper()}{trend_text[1:]}. Holding steady today; nothing needs your call."


def _summary(w: Wake, decisions: list[dict[str, Any]], trend_text: str) -> str:
    parts = [f"{trend_text[0].upper()}{trend_text[1:]}."]
    if decisions:
        described = []
        for d in decisions:
            main = next((f"{k}={v}" for k, v in d["params"].items() if isinstance(v, str)), "")
            tag = f" (revises #{d['revises']})" if d.get("revises") else ""
            described.append(f"{d['kind']} {main}".strip() + tag)
        parts.append("Taking " + "; ".join(described) + ".")
    elif w.revisions or w.tasks or w.messages:
        parts.append("I handled what was waiting for me; no new decision is worth taking today.")
    elif w.outcome_balance > 0:
        parts.append("Recent results are good and nothing is pending, so no new decision today.")
    else:
        parts.append("Nothing is worth changing today; I am watching the trend.")
    for kind, found, ref in w.know.rejected[:2]:
        bits = " ".join(f"{k}={v}" for k, v in found.items())
        parts.append(f"The founder rejected {ref} ({kind} {bits}".rstrip() + "); not repeating it.")
    return " ".join(parts)
