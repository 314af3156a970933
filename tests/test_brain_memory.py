"""The memory stream: which events become memories (pure rules), the projection and its FTS5 index, and
retrieval by recency x importance x lexical relevance."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from conductor.brain.memory import (
    NO_BOUND,
    MemoryHit,
    recency,
    retrieve,
    score_hits,
    situation_terms,
    window_relevance,
)
from conductor.store import NewEvent, StoredEvent, commit_events, iso, open_database, parse_iso
from conductor.store.memory_rules import memory_of
from conductor.store.rebuild import projection_differences

T0 = parse_iso("2026-01-05T09:00:00Z")


def stored(kind: str, payload: dict, *, venture: str | None = "ink", agent: str | None = "ink-cmo",
           event_id: int = 7) -> StoredEvent:
    return StoredEvent(id=event_id, ts=iso(T0), kind=kind, payload=payload, venture=venture, agent=agent,
                       sim_time=iso(T0))


def test_rules_rate_importance_and_write_readable_text() -> None:
    big = memory_of(stored("decision.outcome", {"decision_id": 3, "summary": "campaign.launch channel=seo: signups "
                                                "+12.0% over 3 days (100 -> 112) (worked)",
                                                "outcome": {"metric": "signups", "delta_pct": 0.12}}))
    small = memory_of(stored("decision.outcome", {"decision_id": 4, "summary": "x.y: signups +0.1%",
                                                  "outcome": {"metric": "signups", "delta_pct": 0.001}}))
    assert big is not None and small is not None
    assert big.text.startswith("#3 campaign.launch channel=seo") and big.decision_id == 3
    assert big.importance > small.importance and big.kind == "outcome"
    assert "campaign.launch" in big.keywords and "seo" in big.keywords
    founder = memory_of(stored("escalation.resolved", {"verdict": "rejected", "note": "too pricey", "by": "founder",
                                                       "decision_id": 9, "detail": {"kind": "pricing.change"}}))
    expired = memory_of(stored("escalation.resolved", {"verdict": "expired", "decision_id": 9, "by": "policy"}))
    assert founder is not None and expired is not None
    assert founder.text == 'the founder rejected decision #9 (pricing.change): "too pricey"'
    assert founder.importance == 8 and expired.importance == 3
    directive = memory_of(stored("directive.added", {"text": "No ads."}, agent=None))
    assert directive is not None and directive.importance == 9 and directive.agent is None
    review = memory_of(stored("review.answered", {"decision_id": 5, "verdict": "revise", "feedback": "cut it"}))
    assert review is not None and review.importance == 5
    platform = memory_of(stored("agent.concluded", {"summary": "Looked across ventures."}, venture=None,
                                agent="platform"))
    assert platform is not None and platform.venture == "platform"
    assert memory_of(stored("metric.recorded", {"metric": "mrr", "value": 1.0, "at": iso(T0)})) is None


def test_situation_terms_are_the_distinct_content_words() -> None:
    assert situation_terms("signups", "Campaign content; the week", limit=3) == ["signups", "campaign", "content"]


def test_scoring_multiplies_recency_importance_and_relevance() -> None:
    now = T0 + timedelta(days=10)
    hits = [
        MemoryHit(1, "ink", None, iso(now - timedelta(days=20)), "outcome", "old, important, relevant", 9, 1.0),
        MemoryHit(2, "ink", None, iso(now - timedelta(hours=1)), "summary", "new, dull, unrelated", 2, 0.0),
        MemoryHit(3, "ink", None, iso(now - timedelta(hours=2)), "outcome", "new, important, relevant", 8, 0.9),
        MemoryHit(4, "ink", None, iso(now - timedelta(hours=2)), "verdict", "new, important, unrelated", 8, 0.0),
    ]
    top = score_hits(hits, now, half_life_hours=72, k=3)
    assert [h.id for h in top] == [3, 4, 2]
    assert top[0].score > top[1].score > top[2].score > 0
    assert recency(iso(now - timedelta(hours=72)), now, 72) == pytest.approx(0.5)
    assert recency(None, now, 72) == 0.0


@pytest.fixture()
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = open_database(tmp_path / "m.db")
    yield c
    c.close()


def test_memories_are_a_rebuildable_projection_with_a_working_index(conn: sqlite3.Connection) -> None:
    events = []
    for day in range(30):
        at = iso(T0 + timedelta(days=day))
        channel = "seo" if day % 3 == 0 else "ads"
        events.append(NewEvent("decision.outcome", {"decision_id": day + 1, "outcome": {"metric": "signups",
                                                                                         "delta_pct": 0.02},
                                                    "summary": f"campaign.launch channel={channel}: signups +2.0%"},
                               venture="ink", agent="ink-cmo", sim_time=at))
        events.append(NewEvent("agent.concluded", {"summary": f"day {day}: watched support tickets"},
                               venture="ink" if day % 2 else "other", agent="ink-support", sim_time=at))
    commit_events(conn, events)
    assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == 60
    matched = conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'seo'").fetchone()[0]
    assert matched == 10
    assert projection_differences(conn) == []
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE memories SET importance = 10")
    now = T0 + timedelta(days=30)
    top = retrieve(conn, "ink", ["seo"], now, k=3, half_life_hours=72)
    assert len(top) == 3 and all(h.venture == "ink" for h in top)
    assert "channel=seo" in top[0].text and top[0].relevance == pytest.approx(1.0)
    unrelated = retrieve(conn, "ink", ["tickets"], now, k=3, half_life_hours=72)
    assert "tickets" in unrelated[0].text
    assert retrieve(conn, "nobody", ["seo"], now) == []


def _outcome(venture: str, day: int, summary: str) -> NewEvent:
    return NewEvent("decision.outcome", {"decision_id": day + 1, "summary": summary,
                                         "outcome": {"metric": "signups", "delta_pct": 0.02}},
                    venture=venture, agent=f"{venture}-cmo", sim_time=iso(T0 + timedelta(days=day)))


def test_relevance_depends_only_on_the_window_it_is_bounded_to(conn: sqlite3.Connection) -> None:
    """A wake-up done again after a restart is bounded to the memories before its first attempt; their
    relevance (and so their order in its brief) must not move because memories were written since, in its
    venture or another. FTS5's `bm25()` would: its word statistics cover the whole index."""
    stored = commit_events(conn, [_outcome("ink", d, f"campaign.launch channel={'seo' if d % 3 else 'ads'}: "
                                                     "signups +2.0%") for d in range(12)])
    bound = stored[-1].id + 1
    terms = ["seo", "signups", 'se"o', "AND"]  # a quote is dropped and an operator word is only a word
    before = window_relevance(conn, "ink", terms, 0, bound)
    assert before and set(before) <= {e.id for e in stored}
    seo = [e.id for e in stored if "seo" in e.payload["summary"]]
    ads = [e.id for e in stored if "ads" in e.payload["summary"]]
    assert min(before[i] for i in seo) > max(before[i] for i in ads) > 0
    commit_events(conn, [_outcome(venture, 20 + d, "campaign.launch channel=seo: signups +9.0% seo seo")
                         for d in range(30) for venture in ("ink", "other")])
    assert window_relevance(conn, "ink", terms, 0, bound) == before
    grown = window_relevance(conn, "ink", terms, 0, NO_BOUND)
    assert grown != before and all(i in grown for i in before)


def test_an_agents_account_of_approvals_or_verdicts_never_becomes_a_memory() -> None:
    """A real model wrote "the founder approves ..." in its summary, and its reviewer read it back as fact: what
    the founder or a reviewer decided is remembered from the log's own events only."""
    claim = memory_of(stored("agent.concluded", {"summary": "Signups are slipping. Taking campaign.launch "
                                                             "channel=seo. The founder approves a price of $99."}))
    assert claim is not None
    assert "approves" not in claim.text and "$99" not in claim.text
    assert "campaign.launch channel=seo" in claim.text and "left out" in claim.text
    for said in ("This was pre-approved.", "Price test approved by the founder.", "The reviewer signed off on it.",
                 "The founder rejected #12; not repeating it."):
        row = memory_of(stored("agent.concluded", {"summary": f"Trend flat. {said}"}))
        assert row is not None and said not in row.text, said
    plain = memory_of(stored("agent.concluded", {"summary": "Signups are up 4%. Taking content.publish."}))
    assert plain is not None and plain.text == "ink-cmo: Signups are up 4%. Taking content.publish."
    verdict = memory_of(stored("escalation.resolved", {"verdict": "approved", "decision_id": 9, "by": "founder"}))
    assert verdict is not None and "the founder approved decision #9" in verdict.text


def test_candidates_in_one_statement_match_the_window_read_apart(conn: sqlite3.Connection) -> None:
    """The engine reads a wake-up's candidates in one statement (each is a thread hop from its loop); they must be
    the window's matches, weighted as `window_relevance` weighs them (the window bounded below by its floor and
    above by `before`), plus the important and the latest memories. With more terms than one statement takes,
    the rest are asked after."""
    from conductor.brain.memory import IMPORTANT_LEVEL, LATEST, MATCHES, WINDOW, candidates_plan
    from conductor.store import run_plan

    stored = commit_events(conn, [_outcome("ink", d, f"campaign.launch tok{d % 170} tok{(d * 7) % 170}: signups")
                                  for d in range(WINDOW + 80)])
    commit_events(conn, [_outcome("other", d, f"tok{d} elsewhere") for d in range(40)])
    before = stored[-20].id
    terms = [f"tok{n}" for n in range(0, 170, 1)]  # 340 asks: more than one statement takes
    found = run_plan(conn, candidates_plan("ink", terms, before=before))

    floor = conn.execute("SELECT id FROM memories WHERE venture = 'ink' AND id < ? ORDER BY id DESC LIMIT 1 "
                         "OFFSET ?", (before, WINDOW)).fetchone()[0]
    weights = window_relevance(conn, "ink", terms, floor, before)
    kept = sorted(weights, key=lambda i: (-weights[i], -i))[:MATCHES]
    best = max(weights[i] for i in kept)
    assert kept and all(floor < i < before for i in kept)
    assert {h.id: round(h.relevance, 9) for h in found if h.relevance > 0} == {
        i: round(weights[i] / best, 9) for i in kept if weights[i] > 0}
    latest = [r[0] for r in conn.execute("SELECT id FROM memories WHERE venture = 'ink' AND id < ? ORDER BY id DESC "
                                         "LIMIT ?", (before, LATEST))]
    important = [r[0] for r in conn.execute("SELECT id FROM memories WHERE venture = 'ink' AND id < ? AND "
                                            "importance >= ?", (before, IMPORTANT_LEVEL))]
    assert set(latest) | set(important[-20:]) <= {h.id for h in found}
    assert all(h.venture == "ink" and h.id < before for h in found)
