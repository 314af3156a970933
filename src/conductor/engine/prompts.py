"""Prompts, written for real models: plain sections a person could read, built from plain context data.

`WakeContext` is everything one wake-up may see, already bounded (recent values, the last few outcomes, the
newest tasks); `wake_messages` turns it into chat messages. Pure functions: no store, no clock, no model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conductor.engine.contract import AgentOutput, ReviewOutput, schema_text
from conductor.org.models import DecisionKind, Org

MAX_LIST = 8


@dataclass
class Item:
    """A line of context: a task, a message, a verdict, an outcome, a revision request."""

    id: int | None
    text: str


@dataclass
class WakeContext:
    org_name: str
    agent_id: str
    role: str
    mission: str
    venture_id: str
    venture_name: str
    stage: str
    goal: str
    reports_to: str | None
    reports: list[str]
    owned_metric: str
    metric_unit: str
    metric_direction: str
    metric_values: list[float]
    other_metrics: dict[str, float]
    kinds: list[DecisionKind]
    policy_line: str
    now: str
    reason: str
    directives: list[str] = field(default_factory=list)
    venture_brief: str = ""
    platform_insights: str = ""
    tasks: list[Item] = field(default_factory=list)
    messages: list[Item] = field(default_factory=list)
    outcomes: list[Item] = field(default_factory=list)
    verdicts: list[Item] = field(default_factory=list)
    revisions: list[Item] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # kinds still being measured: `context.busy_kinds`
    org_kinds: list[DecisionKind] = field(default_factory=list)  # every kind of the org: the shared system block
    company: str = ""  # `company_text(org)`: the shared system block's who-is-who
    recent: str = ""  # `context.recent_executions`: what an identical decision would meet ([escalation] on_repeat)


def _fmt(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"


def describe_kind(kind: DecisionKind) -> str:
    params = []
    for name, spec in kind.params.items():
        bits: list[str] = [spec.type]
        if spec.choices:
            bits.append("one of " + "/".join(spec.choices))
        if spec.min is not None or spec.max is not None:
            lo = "" if spec.min is None else f"{spec.min:g}"
            hi = "" if spec.max is None else f"{spec.max:g}"
            bits.append(f"{lo}..{hi}")
        params.append(f"{name} ({', '.join(bits)})")
    spend = f" Spends: {kind.spend_param}." if kind.spend_param else ""
    return f"- {kind.id}: {kind.description} Params: {', '.join(params) or 'none'}.{spend}"


def policy_line(org: Org) -> str:
    p = org.escalation
    return (
        f"The founder must approve: kinds {', '.join(p.always) or 'none'}; any decision spending over "
        f"${p.spend_threshold:,.0f}; any decision with confidence below {p.confidence_floor:.2f}. "
        "Everything else runs on its own."
    )


def _busy_line(busy: list[str]) -> str:
    if not busy:
        return ""
    return ("\nStill being measured, so a new decision of these kinds would be refused (one at a time lets each be "
            "measured): " + "; ".join(busy) + ".")


def _section(title: str, lines: list[str], empty: str) -> str:
    body = "\n".join(lines[-MAX_LIST:]) if lines else empty
    return f"# {title}\n{body}"


ANSWER_CONTRACT = (
    "One JSON object with these keys: summary (what you concluded, in one or two sentences); decisions (a list; "
    "each has kind, params, rationale, expected_effect with metric, direction up or down and size, a relative "
    "change such as 0.05 for +5 %, then confidence from 0 to 1, reversible true or false, and revises: the id of "
    "a decision returned to you for revision, or null); tasks (each: to, an agent id or role; title; body); "
    "messages (each: to, an agent id; text); completed_tasks (each: task_id; result). Every key but summary may be "
    "left out. Take at most two decisions, and only of the kinds the user message says are yours; none when "
    "nothing is worth doing: the founder prefers fewer, better decisions. The user message shows an answer in "
    "this shape, with example values."
)


def example_answer(kinds: list[DecisionKind], metric: str, direction: str) -> str:
    """A complete, valid answer for an agent with these kinds, as one line of JSON: a model imitates the shape of
    what it is shown, and a concrete answer of its own kinds is a better shape to imitate than a description
    (small models copied a pseudo-JSON description literally). Values are placeholders to replace."""
    kind = next((k for k in kinds if k.params), kinds[0] if kinds else None)
    answer: dict[str, Any] = {"summary": "What you concluded, in one or two sentences."}
    if kind is not None:
        params: dict[str, Any] = {}
        for name, spec in kind.params.items():
            if spec.choices:
                params[name] = spec.choices[0]
            elif spec.type in ("number", "integer"):
                lo = spec.min if spec.min is not None else 0.0
                hi = spec.max if spec.max is not None else lo + 100.0
                value = lo + (hi - lo) / 4
                params[name] = int(value) if spec.type == "integer" else round(value, 2)
            elif spec.type == "boolean":
                params[name] = True
            else:
                params[name] = f"the {name}"
        answer["decisions"] = [{
            "kind": kind.id, "params": params, "rationale": "Why this, now, in a sentence or two.",
            "expected_effect": {"metric": metric, "direction": direction, "size": 0.05}, "confidence": 0.7,
            "reversible": True}]
    return json.dumps(answer)

# The heading where a wake-up's volatile part begins: everything above it changes only with the org file, a
# brain version or the agent's own set-up, so a provider's prompt cache can reuse it (`cache_breakpoints`).
VOLATILE_HEADING = "# Now"


_MEMO: dict[tuple[Any, ...], tuple[object, str]] = {}


def _memo(owner: object, key: tuple[Any, ...], build: Callable[[], str]) -> str:
    """`build()` once per `owner` object and `key`: the org-wide texts are the same for every wake-up of a run.
    The owner is kept with its text, so its id cannot be reused by another object while the entry lives."""
    slot = (id(owner), *key)
    entry = _MEMO.get(slot)
    if entry is None or entry[0] is not owner:
        if len(_MEMO) >= 64:  # runs in one process (tests, evaluations) each bring their own org
            _MEMO.clear()
        entry = _MEMO[slot] = (owner, build())
    return entry[1]


def company_text(org: Org) -> str:
    """The company as every agent may know it: its description, each venture's goal, and who is who (agent
    id, role, owned metric, to whom it reports), so a task or message can be addressed to the right colleague.
    Only what the org file fixes: a venture's stage and the metrics' values change, and are in the user message."""
    return _memo(org, ("company",), lambda: _company_text(org))


def _company_text(org: Org) -> str:
    lines = [" ".join(org.description.split())] if org.description.strip() else []
    for venture in org.ventures:
        lines.append(f"- {venture.name} ({venture.id}): {venture.goal}")
        for agent in venture.agents:
            boss = agent.reports_to or "the founder"
            lines.append(f"  - {agent.id}: {agent.role}, owns `{agent.owns_metric}`, reports to {boss}")
    platform = org.platform
    lines.append(f"- Across ventures: {platform.id}, {platform.role}, reports to the founder")
    return "\n".join(lines)


def org_system_block(org_name: str, company: str, kinds: list[DecisionKind], policy: str, *,
                     with_schema: bool = True) -> str:
    """The system message every wake-up of the org shares byte for byte: who the company is, every decision
    kind of the org, the escalation policy and the answer contract (with its schema).

    Identical across agents on purpose: a provider caches the longest prefix it has seen (OpenAI by itself,
    Anthropic at a marked breakpoint), so one block of about 1,500 tokens is paid in full once per cache
    lifetime for the whole organisation, not once per agent. Which of these kinds an agent may take is said
    in the user message. Built once per org and kept: it is the same for every wake-up of a run."""
    return _memo(kinds, (org_name, company, policy, with_schema),
                 lambda: _org_system_block(org_name, company, kinds, policy, with_schema))


def _org_system_block(org_name: str, company: str, kinds: list[DecisionKind], policy: str, with_schema: bool
                      ) -> str:
    parts = [
        f"You are one of the agents of {org_name}, a company run by autonomous agents and one human founder. "
        "Each agent owns one metric of one venture and acts through decisions, tasks and messages; the user "
        "message says which agent you are, what you know and what is new. Answer with one JSON object and "
        "nothing else.",
        f"# Company\n{company}" if company else "",
        "# Decision kinds\n" + "\n".join(describe_kind(k) for k in kinds) + f"\n{policy}",
        f"# What to answer\n{ANSWER_CONTRACT}",
    ]
    if with_schema:
        parts.append(f"JSON schema of the answer: {schema_text(AgentOutput)}")
    return "\n\n".join(p for p in parts if p)


def wake_messages(ctx: WakeContext, *, with_schema: bool = True) -> list[dict[str, str]]:
    """The system and user messages of one wake-up, ordered from what changes least to what changes most.

    The system message is the org-wide block (`org_system_block`). The user message starts with what is
    fixed for this agent (role, reporting lines, its kinds), then what changes with a platform or brain version
    (insights, directives, the venture brief, whose most relevant memories come last), and only from
    `VOLATILE_HEADING` on what is new at this wake-up: the clock and reason, kinds still being measured, the
    metric, tasks, messages, outcomes, verdicts and revisions. Consecutive wake-ups of one agent so share most
    of their prompt as a byte-identical prefix.
    """
    direction = "higher is better" if ctx.metric_direction == "up" else "lower is better"
    values = ", ".join(_fmt(v) for v in ctx.metric_values[-7:]) or "no data yet"
    others = ", ".join(f"{k} {_fmt(v)}" for k, v in ctx.other_metrics.items()) or "no data yet"
    reports = ", ".join(ctx.reports) or "none"
    yours = ", ".join(k.id for k in ctx.kinds)
    parts = [
        "# Your role\n"
        f"Role: {ctx.role}\nAgent id: {ctx.agent_id}\nVenture: {ctx.venture_name} ({ctx.venture_id}), stage: {ctx.stage}\n"
        f"Venture goal: {ctx.goal}\nMission: {ctx.mission}\n"
        f"You report to: {ctx.reports_to or 'the founder'}\nReporting to you: {reports}",
        "# Decisions you may take\n"
        + (f"Yours, described under Decision kinds: {yours}." if yours else "None: you advise, the others decide.")
        + "\nAn answer looks like this (example values; leave decisions out when none is worth taking):\n"
        + example_answer(ctx.kinds, ctx.owned_metric, ctx.metric_direction),
        f"# Platform insights\n{ctx.platform_insights.strip() or 'None yet.'}",
        _section("Founder directives", [f"- {d}" for d in ctx.directives], "None."),
        f"# Venture brief\n{ctx.venture_brief.strip() or 'No brief yet: this venture has no learned lessons so far.'}",
        f"{VOLATILE_HEADING}\nNow: {ctx.now}. You were woken by: {ctx.reason}." + _busy_line(ctx.busy)
        + (f"\n{ctx.recent}" if ctx.recent else ""),
        f"# Your metric\nYou own `{ctx.owned_metric}` ({ctx.metric_unit}; {direction}).\n"
        f"Recent daily values, oldest first: {values}\nOther metrics of the venture today: {others}",
        _section("Tasks for you", [f"- task #{t.id}: {t.text}" for t in ctx.tasks], "None."),
        _section("Messages for you", [f"- {m.text}" for m in ctx.messages], "None."),
        _section("Outcomes of your recent decisions", [f"- #{o.id} {o.text}" for o in ctx.outcomes], "None measured yet."),
        _section("Founder verdicts on your escalations", [f"- #{v.id} {v.text}" for v in ctx.verdicts], "None."),
        _section(
            "Returned for revision",
            [f"- decision #{r.id} {r.text} Answer with a revised decision that sets \"revises\": {r.id}." for r in ctx.revisions],
            "None.",
        ),
    ]
    system = org_system_block(ctx.org_name, ctx.company, ctx.org_kinds or ctx.kinds, ctx.policy_line,
                              with_schema=with_schema)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def with_cache_breakpoints(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with Anthropic-style cache breakpoints, for providers that cache only where told to.

    Two breakpoints: the end of the system message (the org-wide block, shared by every agent) and, in the first
    user message, the end of the stable part (just before `VOLATILE_HEADING`: what this agent and its venture's
    brain version fix). A message is written as OpenAI-style content parts, the part before a breakpoint marked
    `cache_control`, which litellm passes on. Messages without such a part are left as they are."""
    out: list[dict[str, Any]] = []
    marked_user = False
    mark = {"type": "ephemeral"}
    for message in messages:
        text = message.get("content")
        if not isinstance(text, str) or not text:
            out.append(message)
        elif message.get("role") == "system":
            out.append({**message, "content": [{"type": "text", "text": text, "cache_control": mark}]})
        elif message.get("role") == "user" and not marked_user and f"\n\n{VOLATILE_HEADING}\n" in text:
            stable, volatile = text.split(f"\n\n{VOLATILE_HEADING}\n", 1)
            out.append({**message, "content": [{"type": "text", "text": stable + "\n\n", "cache_control": mark},
                                               {"type": "text", "text": f"{VOLATILE_HEADING}\n{volatile}"}]})
            marked_user = True
        else:
            out.append(message)
    return out


@dataclass
class ReviewContext:
    org_name: str
    reviewer_id: str
    reviewer_role: str
    reviewer_mission: str
    venture_name: str
    author_id: str
    author_role: str
    decision_id: int
    kind: DecisionKind
    params: dict[str, Any]
    rationale: str
    expected: dict[str, Any]
    confidence: float
    round: int
    max_rounds: int
    history: list[str]
    venture_brief: str = ""


def review_messages(ctx: ReviewContext, *, with_schema: bool = True) -> list[dict[str, str]]:
    system = (
        f"You are the {ctx.reviewer_role} of {ctx.venture_name} ({ctx.org_name}). The org file makes you the "
        "reviewer of this kind of decision. Answer with one JSON object and nothing else."
    )
    history = "\n".join(f"- {h}" for h in ctx.history) or "None."
    parts = [
        f"# Review request\nReviewer: {ctx.reviewer_id} ({ctx.reviewer_role})\nYour mission: {ctx.reviewer_mission}\n"
        f"Author: {ctx.author_id} ({ctx.author_role})\nRound {ctx.round} of {ctx.max_rounds}.",
        f"# Decision #{ctx.decision_id}\nKind: {ctx.kind.id} ({ctx.kind.description})\n"
        f"Params: {json.dumps(ctx.params, sort_keys=True)}\nRationale: {ctx.rationale}\n"
        f"Expected effect: {json.dumps(ctx.expected, sort_keys=True)}\nConfidence: {ctx.confidence:.2f}",
        f"# Earlier rounds\n{history}",
        f"# Venture brief\n{ctx.venture_brief.strip() or 'No brief yet.'}",
        "# What to answer\n{\"verdict\": \"approve\" or \"revise\", \"feedback\": what must change, concretely, "
        "when you ask for a revision}",
    ]
    if with_schema:
        parts.append(f"JSON schema of the answer: {schema_text(ReviewOutput)}")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]
