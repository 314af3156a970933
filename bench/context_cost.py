"""Context cost: tokens per wake-up and retrieval + assembly time as the memory stream grows.

Builds one database with 100, then 1,000, 10,000 and 100,000 memories (real events through the store, so the
memories table and its FTS5 index are the projections a run would have), and at each size assembles the briefs
of wake-ups for every role of the studio example, exactly as the engine does: retrieve (recency x importance x
lexical relevance weighted by word rarity in the window, top k), then pack brain version + memories + platform insights + directives under the org's
context budget, counted with litellm's token counter. It reports the brief's tokens and the whole wake-up
prompt's tokens (both must stay flat as history grows and never pass the budget) and the median time of
retrieval plus assembly (must stay under 50 ms at 100,000 memories).

    python bench/context_cost.py            # full sizes
    python bench/context_cost.py --quick    # 100 and 1,000 only
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import median, percentile  # sets up sys.path for a checkout

SIZES = (100, 1_000, 10_000, 100_000)
PER_DAY = 60  # memories per simulated day across the ventures, about what the studio example produces
SAMPLES = 40  # wake-ups assembled per size


def _studio():
    from conductor.cli.main import example_org_path
    from conductor.org import load_org

    return load_org(example_org_path())


def _event(rng: random.Random, org: Any, n: int, at: str) -> Any:
    """One memory-bearing event, in the shapes the engine writes."""
    from conductor.store import NewEvent

    venture = org.ventures[n % len(org.ventures)]
    agent = venture.agents[rng.randrange(len(venture.agents))]
    kinds = [org.kind(k) for k in agent.decision_kinds if org.kind(k)]
    kind = rng.choice(kinds) if kinds else org.decision_kinds[0]
    params = {name: (rng.choice(spec.choices) if spec.choices else rng.randint(1, 900) if spec.type != "string"
                     else rng.choice(["onboarding emails", "a pricing guide", "sync worker", "Slack alerts"]))
              for name, spec in kind.params.items()}
    text = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
    roll = rng.random()
    if roll < 0.3:
        delta = rng.uniform(-0.12, 0.15)
        summary = (f"{kind.id} {text}: {agent.owns_metric} {delta:+.1%} over 3 days (100 -> {100 * (1 + delta):.4g}) "
                   f"({'worked' if delta > 0.005 else 'failed'})")
        outcome = {"metric": agent.owns_metric, "delta_pct": delta, "success": delta > 0.005, "good_direction": "up"}
        return NewEvent("decision.outcome", {"decision_id": max(1, n - 5), "outcome": outcome, "summary": summary},
                        venture=venture.id, agent=agent.id, sim_time=at)
    if roll < 0.6:
        return NewEvent("agent.concluded", {"summary": f"`{agent.owns_metric}` is moving; taking {kind.id} {text}.",
                                            "decisions": 1, "tasks": 0, "next_wake": at},
                        venture=venture.id, agent=agent.id, sim_time=at)
    if roll < 0.85:
        return NewEvent("decision.proposed", {"kind": kind.id, "params": params, "rationale": f"try {text}",
                                              "expected": {}, "confidence": 0.7},
                        venture=venture.id, agent=agent.id, sim_time=at)
    if roll < 0.97:
        return NewEvent("review.answered", {"decision_id": max(1, n - 2), "verdict": rng.choice(["approve", "revise"]),
                                            "feedback": f"cut the {kind.id} spend by a third"},
                        venture=venture.id, agent=agent.id, sim_time=at)
    return NewEvent("escalation.resolved", {"escalation_id": n, "verdict": "rejected", "decision_id": max(1, n - 3),
                                            "note": "too expensive for this stage", "by": "founder"},
                    venture=venture.id, agent=agent.id, sim_time=at)


def _brain(org: Any, rng: random.Random) -> Any:
    """A typical brain version (what a synthesis writes after a few weeks): lessons with evidence, facts, rules."""
    from conductor.brain.document import parse_document

    def lesson(i: int, good: bool) -> dict:
        kind = org.decision_kinds[i % len(org.decision_kinds)]
        choice = next((f"{n}={s.choices[i % len(s.choices)]}" for n, s in kind.params.items() if s.choices), "")
        ids = [rng.randint(1, 10_000) for _ in range(6)]
        return {"text": f"{kind.id} {choice}: signups {'+' if good else '-'}{rng.uniform(1, 9):.1f}% over 6 decisions",
                "evidence": [{"decision_id": x, "metric": "signups", "delta": rng.uniform(-0.1, 0.1),
                              "success": good} for x in ids]}

    return parse_document({
        "strategy": "Keep doing what moved the numbers (SEO guides, annual discounts); stop paid ads on the Pro plan.",
        "worked": [lesson(i, True) for i in range(6)],
        "failed": [lesson(i + 3, False) for i in range(6)],
        "customer_facts": [f"customers in segment {i} renew at {60 + i}%" for i in range(3)],
        "open_questions": [f"does channel {i} pay back within a month?" for i in range(4)],
        "rules": ["Never discount more than 20%.", "Ask before any spend over $800."],
    })


def _context(org: Any, venture: Any, agent: Any) -> Any:
    """The fixed part of a wake-up's context (role, metric, kinds), so only the brief varies across sizes."""
    from conductor.engine.prompts import WakeContext, policy_line

    return WakeContext(
        org_name=org.name, agent_id=agent.id, role=agent.role, mission=agent.mission, venture_id=venture.id,
        venture_name=venture.name, stage=venture.stage, goal=venture.goal, reports_to=agent.reports_to, reports=[],
        owned_metric=agent.owns_metric, metric_unit="", metric_direction="up", metric_values=[100.0 + i for i in range(7)],
        other_metrics={m.name: 1.0 for m in venture.metrics if m.name != agent.owns_metric},
        kinds=[k for k in org.decision_kinds if k.id in agent.decision_kinds], policy_line=policy_line(org),
        now="2030-01-01T09:00:00Z", reason="your heartbeat",
    )


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    from conductor.brain.brief import assemble_brief, insight_lines
    from conductor.brain.memory import retrieve, situation_terms
    from conductor.engine.prompts import wake_messages
    from conductor.engine.provider import load_litellm
    from conductor.store import commit_events, iso, open_database

    litellm = load_litellm()
    org = _studio()
    settings = org.brain
    sizes = sizes or ((100, 1_000) if quick else SIZES)
    rng = random.Random(7)
    brain = _brain(org, rng)
    platform = _brain(org, random.Random(8))
    directives = ["Keep churn under 3% before any new campaign."]
    cache: dict[str, int] = {}

    def count(text: str) -> int:
        n = cache.get(text)
        if n is None:
            n = cache[text] = int(litellm.token_counter(model=org.model, text=text))
        return n

    tmp = Path(tempfile.mkdtemp(prefix="conductor-context-"))
    conn = open_database(tmp / "bench.db")
    written = 0
    rows: list[dict[str, Any]] = []
    roles = [(v, a) for v, a in org.agents()]
    for size in sorted(sizes):
        build = time.perf_counter()
        while written < size:
            batch = []
            for _ in range(min(2000, size - written)):
                at = iso(org.start + timedelta(days=written / PER_DAY))
                batch.append(_event(rng, org, written, at))
                written += 1
            commit_events(conn, batch)
        build_s = time.perf_counter() - build
        now = org.start + timedelta(days=written / PER_DAY)
        times, brief_tokens, prompt_tokens, included = [], [], [], []
        for i in range(SAMPLES):
            venture, agent = roles[i % len(roles)]
            t0 = time.perf_counter()
            terms = situation_terms(agent.owns_metric, " ".join(k.split(".")[0] for k in agent.decision_kinds))
            hits = retrieve(conn, venture.id, terms, now, k=settings.retrieval_k,
                            half_life_hours=settings.recency_half_life.total_seconds() / 3600)
            brief = assemble_brief(budget=settings.context_tokens, count_tokens=count, brain=brain,
                                   header=f"{venture.name} brain v12: what this venture has learned.",
                                   memories=hits, insights=insight_lines(platform, venture.id, version=5),
                                   directives=directives)
            times.append((time.perf_counter() - t0) * 1000)
            included.append(len(brief.memory_ids))
            exact = sum(int(litellm.token_counter(model=org.model, text=t)) for t in (brief.brief, brief.insights) if t)
            brief_tokens.append(exact)
            ctx = _context(org, venture, agent)
            ctx.venture_brief, ctx.platform_insights = brief.brief, brief.insights
            prompt_tokens.append(int(litellm.token_counter(model=org.model, messages=wake_messages(ctx))))
        rows.append({
            "memories": written, "brief_tokens_mean": sum(brief_tokens) / len(brief_tokens),
            "brief_tokens_max": max(brief_tokens), "prompt_tokens_mean": sum(prompt_tokens) / len(prompt_tokens),
            "memories_in_brief": sum(included) / len(included), "median_ms": median(times), "p95_ms": percentile(times, 95), "build_s": build_s,
        })
    conn.close()
    smallest = min(r["brief_tokens_mean"] for r in rows)
    largest = max(r["brief_tokens_mean"] for r in rows)
    p_small = min(r["prompt_tokens_mean"] for r in rows)
    p_large = max(r["prompt_tokens_mean"] for r in rows)
    at_largest = rows[-1]
    return {
        "budget": settings.context_tokens, "retrieval_k": settings.retrieval_k, "samples": SAMPLES, "rows": rows,
        "brief_spread": largest / smallest - 1 if smallest else 0.0,
        "prompt_spread": p_large / p_small - 1 if p_small else 0.0,
        "never_over_budget": all(r["brief_tokens_max"] <= settings.context_tokens for r in rows),
        "flat_within_10pct": largest <= smallest * 1.10,
        "median_ms_at_largest": at_largest["median_ms"],
        "under_50ms": at_largest["median_ms"] < 50.0,
    }


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    result = run(quick="--quick" in sys.argv)
    table = Table(title=f"Context cost per wake-up (budget {result['budget']} tokens, top {result['retrieval_k']} "
                        f"memories, {result['samples']} wake-ups per size)", title_justify="left")
    for column in ("memories", "in brief", "brief tokens (mean)", "brief tokens (max)", "prompt tokens (mean)",
                   "retrieve+assemble median", "p95", "build"):
        table.add_column(column, justify="right")
    for r in result["rows"]:
        table.add_row(f"{r['memories']:,}", f"{r['memories_in_brief']:.1f}", f"{r['brief_tokens_mean']:,.0f}", f"{r['brief_tokens_max']:,}",
                      f"{r['prompt_tokens_mean']:,.0f}", f"{r['median_ms']:.1f} ms", f"{r['p95_ms']:.1f} ms",
                      f"{r['build_s']:.1f} s")
    console = Console()
    console.print(table)
    console.print(f"brief tokens: largest within {result['brief_spread']:.1%} of smallest "
                  f"({'ok' if result['flat_within_10pct'] else 'NOT within 10%'}); whole prompt within "
                  f"{result['prompt_spread']:.1%}; never over budget: {'yes' if result['never_over_budget'] else 'NO'}; "
                  f"median at the largest size {result['median_ms_at_largest']:.1f} ms "
                  f"({'under' if result['under_50ms'] else 'NOT under'} 50 ms)")


if __name__ == "__main__":
    main()
