"""Retrieving the memories that matter for one wake-up: recency x importance x relevance, top k.

The memory stream itself is a projection (`store.memory_rules` decides what each event leaves); this module
only reads it. Relevance is lexical, from SQLite's FTS5 index and its `bm25()` ranking, so it works offline
and needs no extra dependency. Retrieval looks at a bounded window (the venture's newest memories that match,
its most important ones, and its very latest ones), so its cost does not grow with the length of the history:
with recency decaying exponentially, a memory far outside the window could not win anyway.

Public API: `MemoryHit`, `score_hits(...)` (pure), `fts_query(terms)` (pure), `situation_terms(...)` (pure),
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
MATCHES = 40           # best bm25 matches kept as candidates
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
    relevance: float = 0.0  # 0..1, the best bm25 match among the candidates is 1
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


def fts_query(terms: Iterable[str]) -> str:
    """An FTS5 MATCH expression: any of the terms, each quoted so no word is read as an operator."""
    quoted = [f'"{t}"' for t in dict.fromkeys(t.replace('"', "") for t in terms) if t]
    return " OR ".join(quoted)


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


# No memory id reaches this: `before` left out means every memory.
NO_BOUND = 2**62


def candidates(conn: sqlite3.Connection, venture: str, terms: list[str], *, before: int | None = None
               ) -> list[MemoryHit]:
    """Matches in the window (with relevance from bm25), important memories and the latest ones.

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
    query = fts_query(terms)
    if query:
        rows = conn.execute(
            f"SELECT {_COLUMNS}, bm25(memories_fts, 1.0, 0.5) AS rank, m.decision_id FROM memories_fts "
            "JOIN memories m ON m.id = memories_fts.rowid "
            "WHERE memories_fts MATCH ? AND memories_fts.rowid > ? AND memories_fts.rowid < ? AND m.venture = ? "
            "ORDER BY rank LIMIT ?",
            (query, floor, bound, venture, MATCHES),
        ).fetchall()
        best = max((-float(r[7]) for r in rows), default=0.0)
        for r in rows:
            found[int(r[0])] = _hit(r, (-float(r[7]) / best) if best > 0 else 0.0, r[8])
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
