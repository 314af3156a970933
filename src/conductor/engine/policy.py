"""The escalation policy: what may run on its own, what goes to a reviewer, what needs the founder.

A pure function of the decision, who took it, the org file's policy, earned trust and the money situation.
It lives in code, not in a prompt: nothing a model writes can change its outcome except by changing the
decision itself. Text that claims a gate was already passed is itself a reason to escalate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from conductor.org.durations import format_duration
from conductor.org.models import Agent, DecisionKind, Org, ask_kind_id

Action = Literal["execute", "review", "escalate", "refuse"]

# Phrases by which a model may try to talk its way past a gate. Matching one never lifts a gate; it adds one.
_AUTHORITY_CLAIMS = re.compile(
    r"pre-?approv|already approved|approved by (the )?founder|founder (has )?(already )?(approved|signed off)|"
    r"skip(ping)? (the )?(review|escalation|approval)|bypass|override (the )?(policy|gate|escalation|budget)|"
    r"(change|raise|lift|disable|ignore) (the )?(escalation|policy|spend threshold|budget|confidence floor)|"
    r"no (founder )?approval (is )?needed|ignore (all |previous )?instructions",
    re.IGNORECASE,
)
_AUTHORITY_KEYS = {"pre_approved", "preapproved", "approved", "approved_by", "override", "bypass", "policy", "budget_override"}


@dataclass(frozen=True)
class Proposal:
    """The decision as the policy sees it: plain values, however the engine stored them."""

    kind: str
    params: dict[str, Any]
    rationale: str
    confidence: float
    review_round: int = 0
    reviewer_approved: bool = False


@dataclass(frozen=True)
class MoneyView:
    """How much of the agent's model budget is left today (it cannot decide what it could not pay to think)."""

    agent_budget_left: float = 1.0
    venture_budget_left: float = 1.0


@dataclass(frozen=True)
class Route:
    action: Action
    reason: str
    gates: tuple[str, ...] = field(default_factory=tuple)


def spend_of(org: Org, proposal: Proposal) -> float:
    """The money a decision spends, from the parameter its kind names as spend (0 when none)."""
    kind = org.kind(proposal.kind)
    if kind is None or kind.spend_param is None:
        return 0.0
    value = proposal.params.get(kind.spend_param, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0.0
    return max(0.0, float(value))


def claims_authority(proposal: Proposal) -> bool:
    """True when the decision's text or parameters claim approval or ask to change the rules."""
    if _AUTHORITY_CLAIMS.search(proposal.rationale):
        return True
    for key, value in proposal.params.items():
        if key.lower() in _AUTHORITY_KEYS:
            return True
        if isinstance(value, str) and _AUTHORITY_CLAIMS.search(value):
            return True
    return False


def route_decision(
    proposal: Proposal,
    agent: Agent,
    org: Org,
    *,
    trust: dict[tuple[str, str], float] | None = None,
    money: MoneyView | None = None,
    acting: tuple[int, ...] = (),
    repeats: tuple[int, ...] = (),
) -> Route:
    """Decide what happens to a proposal. Order matters: refusals, then review, then the founder's gates.

    `trust` maps (agent id, kind) to the spend limit of autonomy the founder granted; a grant lifts the
    "always escalate" gate for that agent and kind, and raises its spend threshold up to the limit.
    `acting` holds the other decisions of this kind in the venture still acting or on their way: a kind with
    `max_in_window` refuses one more, so that each of its decisions can be measured on its own. `repeats` holds
    the venture's decisions identical to this one executed within `[escalation] repeat_window`, judged by
    `on_repeat` (a real model proposes the same decision at every heartbeat).
    """
    policy = org.escalation
    money = money or MoneyView()
    kind = org.kind(proposal.kind)
    if kind is None:
        return Route("refuse", f"'{proposal.kind}' is not a decision kind this org knows")
    if kind.action == "tool" and kind.tool:
        tool_route = _tool_gate(kind, agent, org)
        if tool_route is not None:
            return tool_route
    if proposal.kind not in agent.decision_kinds:
        return Route("escalate", f"{agent.id} ({agent.role}) may not take '{proposal.kind}' decisions", ("not_allowed",))
    if at_limit(kind, len(acting)):
        return Route("refuse", busy_reason(kind, acting))
    if claims_authority(proposal):
        return Route(
            "escalate",
            "the decision claims approval or asks to change the rules; gates come from the org file only",
            ("authority_claim",),
        )

    reviewer = agent.reviewers.get(proposal.kind)
    if repeats and policy.on_repeat != "allow":
        what = (f"identical to {', '.join(f'#{i}' for i in repeats)}, executed within "
                f"{format_duration(policy.repeat_window)} ([escalation] on_repeat = {policy.on_repeat})")
        if policy.on_repeat == "drop":
            return Route("refuse", what)
        if policy.on_repeat == "escalate" or not reviewer:
            return Route("escalate", what, ("repeat",))
        if not proposal.reviewer_approved and proposal.review_round < org.engine.max_review_rounds:
            return Route("review", f"{what}: for {reviewer} to judge", ("review", "repeat"))
    if reviewer and not proposal.reviewer_approved:
        if proposal.review_round >= org.engine.max_review_rounds:
            return Route(
                "escalate",
                f"reviewer {reviewer} did not approve after {proposal.review_round} rounds",
                ("review_exhausted",),
            )
        return Route("review", f"{proposal.kind} decisions by {agent.id} are reviewed by {reviewer}", ("review",))

    gates: list[str] = []
    reasons: list[str] = []
    grant = (trust or {}).get((agent.id, proposal.kind))
    spend = spend_of(org, proposal)
    if proposal.kind in policy.always and grant is None:
        gates.append("always")
        reasons.append(f"{proposal.kind} always needs the founder")
    threshold = policy.spend_threshold if grant is None else max(policy.spend_threshold, min(grant, policy.trust_spend_limit))
    if spend > threshold:
        gates.append("spend")
        reasons.append(f"spends ${spend:,.2f}, above the ${threshold:,.2f} threshold")
    if proposal.confidence < policy.confidence_floor:
        gates.append("confidence")
        reasons.append(f"confidence {proposal.confidence:.2f} is below the floor {policy.confidence_floor:.2f}")
    if money.agent_budget_left <= 0 or money.venture_budget_left <= 0:
        gates.append("budget")
        reasons.append("the daily budget is exhausted")
    if gates:
        return Route("escalate", "; ".join(reasons), tuple(gates))
    via = " (earned trust)" if grant is not None and proposal.kind in policy.always else ""
    return Route("execute", f"within policy{via}")


def _tool_gate(kind: DecisionKind, agent: Agent, org: Org) -> Route | None:
    """A decision that calls a tool, by the tool's policy in the org file (never by anything the model wrote):
    `off` is refused, `ask` always goes to the founder (no trust, review or threshold lifts it)."""
    ref = kind.tool or ""
    policy = org.tool_policy(ref)
    if policy is None or policy == "off":
        return Route("refuse", f"the tool {ref} is {'off' if policy == 'off' else 'not declared'} in the org file")
    server_id = ref.partition(".")[0]
    listed = any(r in (server_id, ref) or (r.partition(".")[0] == server_id
                                          and ask_kind_id(server_id, r.partition(".")[2]) == kind.id)
                 for r in agent.tools)
    if kind.id not in agent.decision_kinds and not listed:
        return Route("refuse", f"{agent.id} may not use the tool {ref}")
    if policy == "ask":
        return Route("escalate", f"calling {ref} asks the founder first (its policy in the org file)", ("tool_ask",))
    return None


def at_limit(kind: DecisionKind, acting: int) -> bool:
    """Whether `acting` decisions of the kind still acting (or on their way) leave no room for another."""
    return kind.max_in_window is not None and acting >= kind.max_in_window


def busy_reason(kind: DecisionKind, acting: tuple[int, ...]) -> str:
    ids = ", ".join(f"#{i}" for i in acting)
    return (f"{kind.id} is still being measured ({ids} acting; at most {kind.max_in_window} at once in a venture, "
            "so that each can be told apart): propose it again when its effect window closes")


def urgency(route: Route, proposal: Proposal, reversible: bool) -> int:
    """1 (low) to 3 (high): irreversible or money-moving escalations first in the founder's inbox."""
    score = 1
    if "spend" in route.gates or "budget" in route.gates or not reversible:
        score += 1
    if "authority_claim" in route.gates or "not_allowed" in route.gates:
        score += 1
    return min(score, 3)
