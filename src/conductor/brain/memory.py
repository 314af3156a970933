"""Retrieving the memories that matter for one wake-up: recency x importance x relevance, top k.

The memory stream itself is a projection (`store.memory_rules` decides what each event leaves); this module
only reads it. Relevance is lexical, from SQLite's FTS5 index (porter stems), so it works offline and needs no
extra dependency; it is weighted by how rare each word is in the window itself (`window_relevance`), not by
`bm25()`, whose statistics cover the whole index and so would change with memories written later. Retrieval
looks at a bounded window (the venture's newest memories that match, its most important ones, and its very
latest ones), so its cost does not grow with the length of the history: with recency decaying exponentially,
a memory far outside the window could not win anyway.

Public API: `MemoryHit`, `score_hits(...)` (pure), `situation_terms(...)` (pure), `window_relevance(...)`,
`retrieve(conn, venture, terms, now, ...)`.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from conductor.store.events import parse_iso

WINDOW = 150           # newest memories of the venture that lexical matching looks at (~a week of one)
MATCHES = 40           # best lexical matches kept as candidates
IMPORTANT = 20         # most recent memories of importance >= IMPORTANT_LEVEL always considered
IMPORTANT_LEVEL = 8
LATEST = 10            # the venture's very latest memories, whatever they say
RELEVANCE_FLOOR = 0.15  # what a memory that matched no term of the query still counts for
_TERM = re.compile(r"[a-z][a-z0-9]{2,}")
_STOP = frozenset((
    "the", "and", "for", "with", "that", "this", "from", "have", "has", "was", "were", "are", "not", "but", "you",
    "your", "our", "its", "into", "over", "after", "before", "than", "then", "them", "they", "their", "there",
    "what", "when", "which", "while", "will", "would", "could", "should", "about", "been", "being", "more", "most",
    "some", "such", "only", "also", "just", "very", "each", "other", "any", "all", "can", "may", "one", "two",
    "new", "first", "run", "woken"
))


@dataclass(frozen=True)
class MemoryHit:
    id: int
    venture: str
    agent: str | None
    at: str | None
    kind: str
    text: str
    importance: int
    relevance: float = 0.0  # 0..1, the best lexical match among the candidates is 1
    score: float = 0.0
    decision_id: int | None = None


def situation_terms(*texts: str | None, limit: int = 8) -> list[str]:
    """Distinct content words of what the agent is dealing with now (its metric, kinds, tasks, messages)."""
    terms: list[str] = []
    for text in texts:
        for word in _TERM.findall((text or "").lower()):
            if word not in _STOP and word not in terms:
                terms.append(word)
    return terms[:limit]


@functools.lru_cache(maxsize=65536)
def _epoch_hours(at: str) -> float | None:
    try:
        return parse_iso(at).timestamp() / 3600
    except ValueError:
        return None


def recency(at: str | None, now: datetime, half_life_hours: float) -> float:
    """1 for a memory made now, halving every `half_life_hours` of org-clock time."""
    hours = _epoch_hours(at) if at else None
    if hours is None:
        return 0.0
    age = now.timestamp() / 3600 - hours
    return math.pow(0.5, max(0.0, age) / max(half_life_hours, 1e-6))


def score_hits(hits: Iterable[MemoryHit], now: datetime, *, half_life_hours: float, k: int) -> list[MemoryHit]:
    """The top `k` by recency x importance x relevance (relevance floored, so an important memory that
    shares no word with the situation can still surface); ties go to the newer memory."""
    scored = []
    for hit in hits:
        value = recency(hit.at, now, half_life_hours) * (hit.importance / 10) * max(hit.relevance, RELEVANCE_FLOOR)
        scored.append((-value, -hit.id, hit))
    return [replace(hit, score=-neg) for neg, _, hit in heapq.nsmallest(k, scored)]


_COLUMNS = "m.id, m.venture, m.agent, m.at, m.kind, m.text, m.importance"


def _hit(row: sqlite3.Row | tuple, relevance: float, decision_id: int | None) -> MemoryHit:
    return MemoryHit(int(row[0]), row[1], row[2], row[3], row[4], row[5], int(row[6]), relevance,
                     decision_id=decision_id)


def window_relevance(conn: sqlite3.Connection, venture: str, terms: list[str], floor: int, bound: int
                     ) -> dict[int, float]:
    """Memory id -> how well it fits the situation: for each term it holds, the term's rarity in the window
    (the venture's memories with ids strictly between `floor` and `bound`), at half weight when the term is
    only in its keywords.

    Every figure comes from the window alone. FTS5's `bm25()` takes its word statistics from the whole index:
    every venture's memories and those written after `bound`. A wake-up done again after a restart (the
    index has grown since it was first prepared) would then rank, and so order, its memories differently.
    """
    # each term is quoted in its MATCH, so no word is read as an operator (a quote inside one is dropped)
    terms = [t for t in dict.fromkeys(t.replace('"', "") for t in terms) if t]
    if not terms:
        return {}
    window = {row[0] for row in conn.execute("SELECT id FROM memories WHERE venture = ? AND id > ? AND id < ?",
                                             (venture, floor, bound))}
    weights: dict[int, float] = {}
    for term in terms:
        holders: dict[int, float] = {}
        for column, weight in (("keywords", 0.5), ("text", 1.0)):
            for (memory_id,) in conn.execute(
                    "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? AND rowid > ? AND rowid < ?",
                    (f'{column} : "{term}"', floor, bound)):
                if memory_id in window:  # the index holds every venture's memories
                    holders[memory_id] = weight
        rarity = math.log(1 + (len(window) - len(holders) + 0.5) / (len(holders) + 0.5))
        for memory_id, weight in holders.items():
            weights[memory_id] = weights.get(memory_id, 0.0) + rarity * weight
    return weights


# No memory id reaches this: `before` left out means every memory.
NO_BOUND = 2**62


def candidates(conn: sqlite3.Connection, venture: str, terms: list[str], *, before: int | None = None
               ) -> list[MemoryHit]:
    """Matches in the window (with `window_relevance`), important memories and the latest ones.

    `before` (an event id) keeps to the memories written before it: what an interrupted wake-up saw when it
    was woken, so the wake-up done again after a restart is shown the same memories (memory ids are event ids).
    """
    bound = NO_BOUND if before is None else before
    row = conn.execute(
        "SELECT id FROM memories WHERE venture = ? AND id < ? ORDER BY id DESC LIMIT 1 OFFSET ?",
        (venture, bound, WINDOW),
    ).fetchone()
    floor = int(row[0]) if row else 0
    found: dict[int, MemoryHit] = {}
    weights = window_relevance(conn, venture, terms, floor, bound)
    kept = heapq.nsmallest(MATCHES, weights, key=lambda i: (-weights[i], -i))
    best = max((weights[i] for i in kept), default=0.0)
    if kept:
        marks = ",".join("?" * len(kept))
        for r in conn.execute(f"SELECT {_COLUMNS}, m.decision_id FROM memories m WHERE m.id IN ({marks})", kept):
            found[int(r[0])] = _hit(r, weights[int(r[0])] / best if best > 0 else 0.0, r[7])
    # One index walk per importance level (newest first), so the cost does not grow with the history.
    levels = range(IMPORTANT_LEVEL, 11)
    per_level = " UNION ALL ".join(
        f"SELECT * FROM (SELECT {_COLUMNS}, m.decision_id FROM memories m WHERE m.venture = ? AND m.importance = ? "
        "AND m.id < ? ORDER BY m.id DESC LIMIT ?)" for _ in levels)
    latest = (f"SELECT * FROM (SELECT {_COLUMNS}, m.decision_id FROM memories m WHERE m.venture = ? AND m.id < ? "
              "ORDER BY m.id DESC LIMIT ?)")
    params: list[str | int] = [x for level in levels for x in (venture, level, bound, IMPORTANT)] + [venture, bound, LATEST]
    rows = conn.execute(f"{per_level} UNION ALL {latest}", params).fetchall()
    for r in rows:
        found.setdefault(int(r[0]), _hit(r, 0.0, r[7]))
    return list(found.values())


def retrieve(
    conn: sqlite3.Connection,
    venture: str,
    terms: list[str],
    now: datetime,
    *,
    k: int = 12,
    half_life_hours: float = 72.0,
    before: int | None = None,
) -> list[MemoryHit]:
    """The `k` memories of `venture` that best fit the situation `terms` describe, best first (only those
    written before event `before`, if given: see `candidates`)."""
    return score_hits(candidates(conn, venture, terms, before=before), now, half_life_hours=half_life_hours, k=k)
