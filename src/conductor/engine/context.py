"""Assembling what one wake-up or review may see, from the engine's working memory.

Everything is bounded (the last week of values, the last five outcomes and verdicts, the newest tasks), so
a prompt does not grow with the history of the run. The brain fills the two named slots (venture brief and
platform insights); with the documented ablation flag they stay empty. Building a context is async only
because the brief reads the store through the run's async reader; nothing else here waits, and nothing
awaited changes the engine's state, so what a wake-up sees still depends only on the commits before it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from conductor.brain.attribution import params_text
from conductor.brain.control import BriefChoice
from conductor.engine.policy import at_limit
from conductor.engine.prompts import MAX_LIST, Item, ReviewContext, WakeContext, company_text, policy_line
from conductor.org.durations import format_duration
from conductor.org.models import Agent, DecisionKind

if TYPE_CHECKING:
    from conductor.engine.scheduler import Engine
    from conductor.engine.state import DecisionRuntime, EngineState

from conductor.store.events import iso


async def _review_briefs(engine: Engine, d: DecisionRuntime, reviewer: str, before: int | None) -> tuple[str, str, int | None]:
    if engine.opts.ablate_brief or engine.brief_source is None:
        return "", "", engine.state.brain_versions.get(d.venture)
    subject = " ".join([d.kind, *(f"{name} {value}" for name, value in d.params.items())])
    brief, insights, version = await engine.brief_source(d.venture, reviewer, before=before, subject=subject,
                                                         judged=d.kind)
    return (*engine.shown_briefs(brief, insights), version)


async def _wake_briefs(engine: Engine, venture: str, agent_id: str) -> tuple[str, str, BriefChoice]:
    """A wake-up's briefs and which arm of the brain's concurrent control it drew (reviews always see current)."""
    if engine.opts.ablate_brief:
        return "", "", engine.brain.control_choice(venture, agent_id)
    if engine.brief_source is None:
        version = engine.state.brain_versions.get(venture)
        return "", "", BriefChoice("current", version, version)
    brief, insights, choice = await engine.brain.wake_brief(venture, agent_id)
    return (*engine.shown_briefs(brief, insights), choice)


def busy_kinds(state: EngineState, venture: str, kinds: list[DecisionKind]) -> list[str]:
    """The agent's kinds that a new decision may not take now (`max_in_window` reached), each with what acts and
    until when, so that the agent proposes something else instead of a decision the policy would refuse."""
    lines = []
    for kind in kinds:
        if kind.max_in_window is None:
            continue
        acting = state.acting(venture, kind.id)
        if not at_limit(kind, len(acting)):
            continue
        window = state.org.effect_window_days(kind.id)
        ends = [d.executed_day + window for d in acting if d.state == "executed" and d.executed_day is not None]
        pending = len(acting) - len(ends)
        until = (f"until {(state.origin + timedelta(days=min(ends))).date().isoformat()}" if not pending
                 else "until its pending decision is settled and measured")
        ids = ", ".join(f"#{d.id}" for d in acting)
        lines.append(f"{kind.id} {until} ({ids})")
    return lines


_ON_REPEAT = {"drop": "would be dropped", "escalate": "would go to the founder",
              "review": "would be reviewed before it runs"}


def recent_executions(state: EngineState, venture: str, kinds: list[DecisionKind]) -> str:
    """With `[escalation] on_repeat` set, the venture's decisions of these kinds executed within the repeat
    window, so that the agent does not propose one of them again unchanged (and knows what that would meet)."""
    policy = state.org.escalation
    if policy.on_repeat == "allow":
        return ""
    done = state.executed_recently(venture, (k.id for k in kinds))[-MAX_LIST:]
    if not done:
        return ""
    items = "; ".join(f"{d.kind} {params_text(d.params)} (#{d.id})".replace(" ()", "") for d in done)
    return (f"Executed within {format_duration(policy.repeat_window)}: {items}. An identical decision "
            f"{_ON_REPEAT[policy.on_repeat]}.")


async def build_wake_context(engine: Engine, agent_id: str, reason: str) -> tuple[WakeContext, BriefChoice]:
    org, state = engine.org, engine.state
    rt = state.agents[agent_id]
    found = org.agent(agent_id)
    if found is None:  # the platform agent sees every venture at a glance
        platform = org.platform
        summary = {
            f"{v.id}.{name}": value
            for v in org.ventures
            for name, value in state.latest_metrics(v.id).items()
            if name in ("mrr", "signups", "churn_rate")
        }
        ctx = WakeContext(
            org_name=org.name, agent_id=agent_id, role=platform.role, mission=platform.mission,
            venture_id="platform", venture_name="all ventures", stage="-", goal="Learn what holds across ventures.",
            reports_to=None, reports=[f"{v.id}-ceo" for v in org.ventures if org.agent(f"{v.id}-ceo")],
            owned_metric="none", metric_unit="-", metric_direction="up", metric_values=[], other_metrics=summary,
            kinds=[], org_kinds=org.decision_kinds, company=company_text(org), policy_line=policy_line(org), now=iso(state.now), reason=reason,
            messages=[Item(i, t) for i, t in rt.mailbox.messages],
            tasks=[Item(i, t) for i, t in rt.shown_tasks().items()],
        )
        brief, insights, choice = await _wake_briefs(engine, "platform", agent_id)
        ctx.venture_brief, ctx.platform_insights = brief, insights
        return ctx, choice
    venture, agent = found
    metric = venture.metric(agent.owns_metric)
    latest = state.latest_metrics(venture.id)
    brief, insights, choice = await _wake_briefs(engine, venture.id, agent_id)
    revisions = []
    for decision_id, note in sorted(rt.mailbox.revisions.items()):
        d = state.decisions.get(decision_id)
        if d is not None:
            revisions.append(Item(decision_id, f"{d.kind} {d.params}: {note}."))
    ctx = WakeContext(
        org_name=org.name, agent_id=agent.id, role=agent.role, mission=agent.mission,
        venture_id=venture.id, venture_name=venture.name, stage=state.stage.get(venture.id, venture.stage),
        goal=venture.goal, reports_to=agent.reports_to,
        reports=[a.id for a in venture.agents if a.reports_to == agent.id],
        owned_metric=agent.owns_metric, metric_unit=metric.unit if metric else "",
        metric_direction=metric.direction if metric else "up",
        metric_values=state.metric_values(venture.id, agent.owns_metric),
        other_metrics={k: v for k, v in sorted(latest.items()) if k != agent.owns_metric},
        kinds=(kinds := [k for k in org.decision_kinds if k.id in agent.decision_kinds]),
        busy=busy_kinds(state, venture.id, kinds), org_kinds=org.decision_kinds, company=company_text(org),
        recent=recent_executions(state, venture.id, kinds),
        policy_line=policy_line(org), now=iso(state.now), reason=reason,
        directives=[t for _, t in state.directives.get(venture.id, [])][-5:],
        venture_brief=brief, platform_insights=insights,
        tasks=[Item(i, t) for i, t in sorted(rt.shown_tasks().items())][-5:],
        messages=[Item(i, t) for i, t in rt.mailbox.messages][-5:],
        outcomes=[Item(i, t) for i, t in rt.recent_outcomes],
        verdicts=[Item(i, t) for i, t in rt.recent_verdicts],
        revisions=revisions,
    )
    return ctx, choice


async def build_review_context(engine: Engine, d: DecisionRuntime, reviewer: Agent, *,
                         before: int | None = None) -> ReviewContext:
    """What a reviewer sees of one decision. `before` (a review done again after a restart: its first
    `review.requested`) keeps the memories to those the interrupted review was shown."""
    org = engine.org
    author = org.agent(d.agent)
    kind = org.kind(d.kind)
    assert kind is not None
    venture = org.venture(d.venture)
    brief, _, _ = await _review_briefs(engine, d, reviewer.id, before)
    return ReviewContext(
        org_name=org.name, reviewer_id=reviewer.id, reviewer_role=reviewer.role, reviewer_mission=reviewer.mission,
        venture_name=venture.name if venture else d.venture, author_id=d.agent,
        author_role=author[1].role if author else "", decision_id=d.id, kind=kind, params=d.params,
        rationale=d.rationale, expected=d.expected, confidence=d.confidence, round=d.review_round,
        max_rounds=org.engine.max_review_rounds, history=d.history[-6:], venture_brief=brief,
    )
