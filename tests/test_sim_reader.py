"""The simulated model reads a brief the way a person would: by meaning, in any wording.

The reader on varied phrasings; the paraphrase renderer keeps facts and drops templates; the benefit of a brief
survives its paraphrase; synthesis reads the attribution's outcome lines (new and old formats) and never
counts an "unclear" outcome as a win.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from conductor.brain.brief import assemble_brief
from conductor.brain.document import BrainDocument, Evidence, Lesson
from conductor.brain.memory import MemoryHit
from conductor.brain.synthesis import synthesis_messages
from conductor.engine.contract import parse_agent_output
from conductor.engine.prompts import WakeContext, describe_kind, policy_line, wake_messages
from conductor.eval.paraphrase import paraphrase_brief
from conductor.org import Org, load_org
from conductor.sim.model import PROFILES, respond
from conductor.sim.model.prompt import parse_kind
from conductor.sim.model.reader import Knowledge, Vocabulary, read

ROOT = Path(__file__).resolve().parents[1]
ORG: Org = load_org(ROOT / "orgs" / "studio.toml")
PERFECT = PROFILES["perfect"]
KINDS = ["campaign.launch", "content.publish", "discount.offer", "onboarding.improve", "feature.ship",
         "customer.commitment"]


def vocab() -> Vocabulary:
    kinds = [parse_kind(describe_kind(ORG.kind(k))) for k in KINDS]  # type: ignore[arg-type]
    return Vocabulary.build([k for k in kinds if k], {"signups": True, "churn_rate": False}, "signups")


def said(text: str) -> set[tuple[str | None, str, str, int]]:
    return {(e.kind, e.param, e.value, e.polarity) for e in read(text, vocab(), Knowledge())}


# --- the reader on varied phrasings ------------------------------------------------------------------------

SEO = ("campaign.launch", "channel", "seo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- campaign.launch channel=seo: signups +11.0% over 4 decisions (worked)", {(*SEO, 1)}),
        ("- campaign.launch channel: seo failed twice", {(*SEO, -1)}),
        ("- Running campaigns through SEO lifted signups", {(*SEO, 1)}),
        ("- The seo channel for campaign launches did not help signups", {(*SEO, -1)}),
        ("- Campaign launches on SEO backfired", {(*SEO, -1)}),
        ("- Launching campaigns via seo: signups up 4.2 percent", {(*SEO, 1)}),
        ("- Launching campaigns via seo: signups down 4 percent", {(*SEO, -1)}),
        ("- Campaigns on seo: churn_rate fell 3 percent", {(*SEO, 1)}),  # churn down is good
        ("- Campaigns on seo: churn_rate +3%", {(*SEO, -1)}),
        ("- Campaigns on seo beat the forecast", {(*SEO, 1)}),
        ("- Campaigns on seo: no lift at all", {(*SEO, -1)}),
        ("- Don't run seo campaigns again", {(*SEO, -1)}),
        ("What worked:\n- campaign launches on the seo channel", {(*SEO, 1)}),
        ("Lessons that held up:\n- campaigns through seo", {(*SEO, 1)}),
        ("What to avoid:\n- campaigns through seo", {(*SEO, -1)}),
        ("Did not pay off:\n- campaigns through seo", {(*SEO, -1)}),
        ("- Discounts for the churn risk segment paid off", {("discount.offer", "segment", "churn_risk", 1)}),
    ],
)
def test_reader_finds_the_option_and_the_direction(text: str, expected: set) -> None:
    found = {s for s in said(text) if s[1]}
    assert found == expected, found


@pytest.mark.parametrize(
    "text",
    [
        "- campaign launches on seo: no clear effect",
        "- campaigns through seo were inconclusive",
        "- campaigns through seo: signups +0.2%, within noise",
        "- campaign.launch channel=seo: signups +3.1% against forecast over 14 days (95% -2.0% to +8.2%) (unclear)",
        "Open questions:\n- Does campaign.launch channel=seo hold? One decision so far: #12 worked",
        "- Should we try campaigns through seo?",
    ],
)
def test_unclear_and_questions_are_no_evidence(text: str) -> None:
    assert said(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "- [02-13 ink-cmo] #15211 ink-cmo proposed campaign.launch budget=200 channel=seo: `signups` is slipping "
        "(6.21 → 3.81 over 7 days, -38.6%); it is the most direct lever I have on it.",
        "- [02-13 ink-cmo] #15104 ink-cmo proposed campaign launches on the seo channel: `signups` is improving "
        "(+19.9%); the brief ranks channel=seo at +5.8% signups, so I am repeating what worked.",
        "- [02-13 ink-cmo] ink-cmo: `signups` is slipping (6.21 → 3.81 over 7 days, -38.6%). Taking "
        "campaign.launch channel=seo.",
    ],
)
def test_a_decision_being_proposed_says_nothing_of_its_option(text: str) -> None:
    """The metric's movement when a decision was proposed is the situation it answered, not its effect; a brief
    its rationale quotes was read already."""
    assert said(text) == set()


def test_options_attach_to_the_nearest_kind_of_their_clause() -> None:
    text = "- Keep leaning on discount offers for the annual segment and content publishing on video; " \
           "drop campaign launches through email."
    found = {s for s in said(text) if s[1]}
    assert found == {("discount.offer", "segment", "annual", 1), ("content.publish", "channel", "video", 1),
                     ("campaign.launch", "channel", "email", -1)}


def test_kind_words_alone_are_evidence_about_the_kind() -> None:
    assert ("onboarding.improve", "", "", -1) in said("What to avoid:\n- onboarding improvements, 7 times")
    assert ("content.publish", "", "", 1) in said("- Publishing content paid off")


def test_counts_and_effect_sizes_make_a_lesson_stronger() -> None:
    def strength(text: str) -> float:
        return sum(e.strength for e in read(text, vocab(), Knowledge()) if e.param)

    one = strength("- campaigns through seo paid off")
    many = strength("- campaigns through seo paid off over 8 decisions")
    ratio = strength("- campaigns through seo paid off in 6 of 8 tries")
    big = strength("- campaigns through seo paid off, signups up 20 percent")
    assert many > 2 * one and ratio > 2 * one and big > one


def test_a_lesson_backed_by_many_decisions_outweighs_one_outcome() -> None:
    know = Knowledge()
    v = vocab()
    read("- Campaigns through seo lifted signups over 8 decisions", v, know)
    read("- campaign.launch channel=seo: signups -3.0% over 3 days (100 -> 97) (failed)", v, know)
    assert know.scores("campaign.launch", "channel")["seo"] > 0


# --- the paraphrase renderer ---------------------------------------------------------------------------------


def brain(kind: str, param: str, best: str, worst: str, metric: str, n: int = 6) -> BrainDocument:
    good = [Evidence(decision_id=100 + i, metric=metric, delta=0.08, success=True) for i in range(n)]
    bad = [Evidence(decision_id=200 + i, metric=metric, delta=-0.04, success=False) for i in range(n // 2)]
    return BrainDocument(
        strategy=f"Keep doing what moved the numbers ({kind} {param}={best}). Stop what did not ({kind} "
                 f"{param}={worst}).",
        worked=(Lesson(text=f"{kind} {param}={best}: {metric} +8.0% over {n} decisions", evidence=tuple(good)),),
        failed=(Lesson(text=f"{kind} {param}={worst}: {metric} -4.0% over {n // 2} decisions",
                       evidence=tuple(bad)),),
        customer_facts=(f"{metric} moved the right way after {n} of {n + n // 2} measured decisions",),
        open_questions=(f"Does {kind} {param}=x hold? One decision so far: #7 worked",),
    )


def render(doc: BrainDocument, venture: str = "Tidepool", memories: tuple[MemoryHit, ...] = ()) -> str:
    return assemble_brief(budget=3000, count_tokens=lambda t: len(t) // 4 + 1, brain=doc, memories=memories,
                          header=f"{venture} brain v3: what this venture has learned, with the decisions behind it."
                          ).brief


def test_paraphrase_keeps_the_facts_and_drops_the_templates() -> None:
    memory = MemoryHit(1, "tidepool", "tidepool-cmo", "2026-02-03T09:00:00Z", "outcome",
                       "#88 campaign.launch budget=300 channel=email days=14: signups +9.0% over 3 days (100 -> 109) "
                       "(worked)", 3, score=1.0)
    original = render(brain("campaign.launch", "channel", "seo", "ads", "signups"), memories=(memory,))
    for seed in range(6):
        text = paraphrase_brief(original, seed=seed)
        lessons = [line for line in original.splitlines() if line.startswith("- ")]
        assert lessons and not any(line in text.splitlines() for line in lessons)
        assert not re.search(r"\b\w+=\S", text), text
        assert not re.search(r"\b(?:worked|failed)\b", text, re.I), text
        for heading in ("What worked:", "What failed:", "Strategy:", "Open questions:", "Customer facts:"):
            assert heading not in text
        lowered = text.lower()
        assert "seo" in lowered and "ads" in lowered and "email" in lowered  # the options stay
        assert "6" in text and "3" in text  # and the counts
    assert paraphrase_brief(original, seed=1) != paraphrase_brief(original, seed=2)
    assert paraphrase_brief(original, seed=3) == paraphrase_brief(original, seed=3)


# --- the benefit survives the paraphrase ---------------------------------------------------------------------

AGENTS = ["tidepool-cmo", "inkwell-cmo", "ledgerly-cmo", "inkwell-sales", "tidepool-sales", "inkwell-cto",
          "ledgerly-cto"]


def wake(agent_id: str, brief: str, i: int) -> list[dict[str, str]]:
    venture, agent = ORG.agent(agent_id)  # type: ignore[misc]
    metric = venture.metric(agent.owns_metric)
    assert metric is not None
    start = metric.initial or 10.0
    rng = random.Random(i)
    fields: dict[str, Any] = {
        "org_name": ORG.name, "agent_id": agent.id, "role": agent.role, "mission": agent.mission,
        "venture_id": venture.id, "venture_name": venture.name, "stage": venture.stage, "goal": venture.goal,
        "reports_to": agent.reports_to, "reports": [a.id for a in venture.agents if a.reports_to == agent.id],
        "owned_metric": metric.name, "metric_unit": metric.unit, "metric_direction": metric.direction,
        "metric_values": [round(start * rng.uniform(0.9, 1.1), 1) for _ in range(5)],
        "other_metrics": {m.name: m.initial or 0.0 for m in venture.metrics if m.name != metric.name},
        "kinds": [ORG.kind(k) for k in agent.decision_kinds], "policy_line": policy_line(ORG),
        "now": f"2026-02-{i % 28 + 1:02d} {i % 24:02d}:00", "reason": "heartbeat", "venture_brief": brief,
    }
    return wake_messages(WakeContext(**fields))


def best_option_shares(trials: int = 140) -> dict[str, float]:
    """Share of the lesson kind's decisions that take the hidden best option, per way of showing the brief."""
    rng = random.Random(5)
    hits = {"original": 0, "paraphrased": 0, "none": 0}
    totals = dict.fromkeys(hits, 0)
    for i in range(trials):
        agent_id = AGENTS[i % len(AGENTS)]
        venture, agent = ORG.agent(agent_id)  # type: ignore[misc]
        kinds = [ORG.kind(k) for k in agent.decision_kinds]
        kind = rng.choice([k for k in kinds if k and k.id not in ORG.escalation.always
                           and any(p.choices for p in k.params.values())])
        param = next(name for name, p in kind.params.items() if p.choices)
        choices = list(kind.params[param].choices or [])
        best, worst = rng.sample(choices, 2)
        original = render(brain(kind.id, param, best, worst, agent.owns_metric or "signups",
                                n=rng.randint(3, 8)), venture=venture.name)
        briefs = {"original": original, "paraphrased": paraphrase_brief(original, seed=i), "none": ""}
        for arm, brief in briefs.items():
            output = parse_agent_output(respond(wake(agent_id, brief, i), PERFECT).text, ORG)
            for d in output.decisions:
                if d.kind == kind.id:
                    totals[arm] += 1
                    hits[arm] += d.params.get(param) == best
    assert min(totals.values()) >= 40, totals
    return {arm: hits[arm] / totals[arm] for arm in hits}


def test_the_benefit_of_the_brief_survives_a_paraphrase() -> None:
    shares = best_option_shares()
    a, b, c = shares["original"], shares["paraphrased"], shares["none"]
    assert a - c >= 0.3, shares  # the brief clearly helps
    assert b - c >= 0.5 * (a - c), shares  # and most of the help survives other words


# --- synthesis reads the attribution's outcome lines ------------------------------------------------------


def synthesis_prompt(lines: list[str], metrics: list[tuple[str, str]]) -> list[dict[str, str]]:
    hits = [MemoryHit(i, "inkwell", "inkwell-cmo", f"2026-02-{i + 1:02d}T09:00:00Z", "outcome", text, 3)
            for i, text in enumerate(lines)]
    return synthesis_messages(org_name="Studio", venture_id="inkwell", venture_name="Inkwell", goal="grow",
                              metrics=metrics, previous=None, previous_version=None, memories=hits,
                              main_metric=metrics[0][0])


def answer(messages: list[dict[str, str]]) -> dict[str, Any]:
    text = respond(messages, PERFECT).text.strip()
    return json.loads(text.removeprefix("```json").removesuffix("```"))


def test_synthesis_reads_the_new_outcome_format_and_never_counts_unclear_as_a_win() -> None:
    new = "{kind} budget=400 channel={ch} days=14: signups {e:+.1%} against forecast over 14 days " \
          "(95% {lo:+.1%} to {hi:+.1%}) ({verdict})"
    lines = [
        "#1 " + new.format(kind="campaign.launch", ch="seo", e=0.123, lo=0.041, hi=0.205, verdict="worked"),
        "#2 " + new.format(kind="campaign.launch", ch="seo", e=0.097, lo=0.02, hi=0.17, verdict="worked"),
        "#3 " + new.format(kind="campaign.launch", ch="ads", e=0.04, lo=-0.03, hi=0.11, verdict="unclear"),
        "#4 " + new.format(kind="campaign.launch", ch="ads", e=0.03, lo=-0.04, hi=0.10, verdict="unclear"),
        "#5 campaign.launch budget=300 channel=email days=14: signups -5.0% over 3 days (100 -> 95) (failed)",
        "#6 campaign.launch budget=300 channel=email days=14: signups -2.0% over 3 days (100 -> 98) (failed)",
    ]
    doc = answer(synthesis_prompt(lines, [("signups", "up")]))
    worked = {item["key"]: item for item in doc["worked"]}
    failed = {item["key"]: item for item in doc["failed"]}
    assert worked["campaign.launch channel=seo"]["lesson"].startswith(
        "campaign.launch channel=seo: signups +11.0% over 2 decisions")
    assert worked["campaign.launch channel=seo"]["evidence"] == [1, 2]
    assert "campaign.launch channel=email" in failed
    assert "campaign.launch channel=ads" not in worked  # unclear outcomes are never a win


def test_synthesis_judges_by_the_metrics_good_direction() -> None:
    lines = [f"#{i} support.improve action=macros: churn_rate -4.0% against forecast over 14 days "
             f"(95% -7.0% to -1.0%) (worked)" for i in (1, 2, 3)]
    doc = answer(synthesis_prompt(lines, [("churn_rate", "down")]))
    assert [item["key"] for item in doc["worked"]] == ["support.improve action=macros"]
