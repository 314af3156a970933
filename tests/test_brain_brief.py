"""Packing a brief under a token budget: pure, with token counters passed in."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from conductor.brain.brief import assemble_brief, edges, insight_lines, lesson_line, named_kinds
from conductor.brain.document import Provenance, parse_document
from conductor.brain.memory import MemoryHit, score_hits
from conductor.store import parse_iso


def words(text: str) -> int:
    """A crude token counter: one token per word and per line break."""
    return len(text.split()) + text.count("\n")


def chars(text: str) -> int:
    return len(text) // 4 + 1


BRAIN = parse_document({
    "strategy": "Grow through search; keep churn down.",
    "worked": [{"text": f"campaign.launch channel=c{i}: signups +{i}%",
                "evidence": [{"decision_id": 10 + i, "delta": 0.01 * i, "success": True}]} for i in range(10)],
    "failed": [{"text": f"discount.offer segment=s{i}: mrr -{i}%", "evidence": [40 + i]} for i in range(10)],
    "customer_facts": ["writers renew yearly"],
    "open_questions": ["does video pay back?"],
    "rules": ["Never discount more than 20%."],
})
PLATFORM = parse_document({"worked": [{"text": "content.publish channel=blog: held in ink, led",
                                       "provenance": [{"venture": "led", "version": 4, "decisions": 3,
                                                       "delta": 0.12, "metric": "signups"}]}]})


def memories(n: int, seed: int = 0) -> list[MemoryHit]:
    rng = random.Random(seed)
    return [MemoryHit(i, "ink", "ink-cmo", "2026-01-05T09:00:00Z", "outcome",
                      f"#{i} campaign.launch channel=seo: signups +{rng.uniform(0, 9):.1f}% (worked)",
                      5, 1.0, score=1.0 / (i + 1)) for i in range(n)]


def test_edges_puts_the_best_at_both_ends() -> None:
    assert edges([1, 2, 3, 4, 5, 6]) == [1, 3, 5, 6, 4, 2]
    assert edges([]) == [] and edges([1]) == [1]


def test_most_important_first_and_last() -> None:
    brief = assemble_brief(budget=5000, count_tokens=words, brain=BRAIN, header="Ink brain v3.",
                           memories=memories(6), directives=["No paid ads this month."])
    lines = brief.brief.splitlines()
    assert lines[0] == "Ink brain v3."
    assert lines[2] == "Rules the founder set:" and lines[3] == "- No paid ads this month."
    assert lines[-1].endswith(memories(6)[0].text)  # the best memory closes the brief
    assert brief.memory_ids and set(brief.memory_ids) == set(range(6))


@settings(max_examples=60, deadline=None)
@given(budget=st.integers(min_value=40, max_value=3000), n=st.integers(min_value=0, max_value=60),
       counter=st.sampled_from([words, chars]))
def test_never_over_budget(budget: int, n: int, counter) -> None:  # type: ignore[no-untyped-def]
    brief = assemble_brief(budget=budget, count_tokens=counter, brain=BRAIN, header="Ink brain v3.",
                           memories=memories(n), insights=insight_lines(PLATFORM, "ink", {"led": "Ledgerly"}, 2),
                           directives=["No paid ads."])
    exact = (counter(brief.brief) if brief.brief else 0) + (counter(brief.insights) if brief.insights else 0)
    assert exact <= budget
    assert brief.tokens >= exact  # the reported figure is an upper bound, never an undercount


def test_tokens_stay_flat_as_history_grows() -> None:
    """Retrieval keeps the top k whatever the history holds; the brief is then packed to the budget."""
    now = parse_iso("2026-02-05T09:00:00Z")
    sizes = []
    for n in (20, 200, 2000):
        top = score_hits(memories(n, seed=n), now, half_life_hours=72, k=12)
        sizes.append(assemble_brief(budget=900, count_tokens=words, brain=BRAIN, memories=top).tokens)
    assert max(sizes) <= min(sizes) * 1.10 and max(sizes) <= 900


def test_insights_carry_their_provenance_and_lessons_their_evidence() -> None:
    lines = insight_lines(PLATFORM, "ink", {"led": "Ledgerly"}, version=2)
    assert lines[0][1] == ("- content.publish channel=blog: held in ink, led (worked) "
                           "[platform v2: from Ledgerly brain v4, 3 decisions, +12% signups]")
    line = lesson_line(BRAIN.worked[3], "worked")
    assert line == ("- campaign.launch channel=c3: signups +3% (worked) — 1 of 1 moved the metric the right way, "
                    "mean +3.0%, #13")
    assert Provenance(venture="x").describe() == "from x brain"


def test_nothing_to_say_is_an_empty_brief() -> None:
    brief = assemble_brief(budget=500, count_tokens=words)
    assert (brief.brief, brief.insights, brief.tokens) == ("", "", 0)
    tiny = assemble_brief(budget=3, count_tokens=words, brain=BRAIN, header="A long header line here.")
    assert tiny.tokens <= 3


KINDS = ("campaign.launch", "content.publish", "discount.offer", "support.improve")
STANDING = parse_document({
    "strategy": "Keep doing what moved the numbers (campaign.launch channel=seo, discount.offer segment=annual).",
    "rules": ["Never run campaign.launch on ads."],
    "standings": ["campaign.launch channel on signups, best first (95% interval, decisions): seo +5.0% ±2.0 (9)",
                  "discount.offer segment on trial_conversion, best first (95% interval, decisions): "
                  "annual +4.0% ±3.0 (6)"],
    "customer_facts": ["support.improve action, what 9 readings counted: macros 40, docs 20 of 60 tickets",
                       "writers renew yearly"],
    "open_questions": ["Does discount.offer segment=new hold? One decision so far: #3 worked"],
})


def test_a_brief_leaves_out_what_names_only_kinds_its_reader_cannot_take() -> None:
    """A sales lead sees the discount segments, not the campaign channels or the support queue; the founder's
    rules, the strategy, facts that name no kind and memories are for everyone."""
    whole = assemble_brief(budget=5000, count_tokens=words, brain=STANDING, memories=memories(2),
                           insights=insight_lines(PLATFORM, "ink"), known_kinds=KINDS)
    sales = assemble_brief(budget=5000, count_tokens=words, brain=STANDING, memories=memories(2),
                           insights=insight_lines(PLATFORM, "ink"), in_view={"discount.offer"}, known_kinds=KINDS)
    text = sales.brief + sales.insights
    assert "segment on trial_conversion" in text and "Does discount.offer segment=new hold?" in text
    assert "channel on signups" not in text and "macros 40" not in text and "channel=blog" not in text
    assert "writers renew yearly" in text and "- Never run campaign.launch on ads." in text
    assert "Strategy: Keep doing what moved the numbers (campaign.launch" in text
    assert all(m.text in text for m in memories(2))  # retrieval chose them for this agent already
    assert sales.off_topic == 3 and whole.off_topic == 0 and sales.tokens < whole.tokens
    for line in ("channel on signups", "macros 40", "channel=blog"):
        assert line in whole.brief + whole.insights


def test_a_line_about_a_kind_in_view_stays_whatever_else_it_names() -> None:
    doc = parse_document({"standings": ["campaign.launch beat content.publish on signups (12 decisions)"]})
    for view in ({"campaign.launch"}, {"content.publish"}):
        brief = assemble_brief(budget=500, count_tokens=words, brain=doc, in_view=view, known_kinds=KINDS)
        assert "campaign.launch beat content.publish" in brief.brief
    brief = assemble_brief(budget=500, count_tokens=words, brain=doc, in_view={"discount.offer"}, known_kinds=KINDS)
    assert brief.brief == "" and brief.off_topic == 1


def test_kinds_are_named_as_the_org_spells_them_in_any_case() -> None:
    assert named_kinds("Campaign.Launch on seo, then discount.offer", KINDS) == {"campaign.launch", "discount.offer"}
    assert named_kinds("e.g. pricing.change or v1.2, nothing known", KINDS) == set()
    # An org's ids may have no dot or several: each is found whole, never inside a longer one.
    ids = ("campaign.launch", "campaign.launch.paid", "refund")
    assert named_kinds("campaign.launch.paid channel=ads", ids) == {"campaign.launch.paid"}
    assert named_kinds("campaign.launch, then a refund.", ids) == {"campaign.launch", "refund"}
    assert named_kinds("refunds and refund_policy", ids) == set()
