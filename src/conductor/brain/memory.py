"""Retrieving the memories that matter for one wake-up: recency x importance x relevance, top k.

The memory stream itself is a projection (`store.memory_rules` decides what each event leaves); this module
only reads it. Relevance is lexical, from SQLite's FTS5 index (porter stems), so it works offline and needs no
extra dependency; it is weighted by how rare each word is in the window itself (`window_relevance`), not by
`bm25()`, whose statistics cover the whole index and so would change with memories written later. Retrieval
looks at a bounded window (the venture's newest memories that match, its most important ones, and its very
latest ones), so its cost does not grow with the length of the history: with recency decaying exponentially,
a memory far outside the window could not win anyway.

Public API: `MemoryHit`, `score_hits(...)` (pure), `situation_terms(...)` (pure), `window_relevance(...)`,
`retrieve(conn, venture, terms, now, ...)`, and `retrieve_plan(...)`, the same read as a `store.reads` plan for
the async reader of a running engine.
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
from typing import Any

from conductor.store.events import parse_iso
from conductor.store.reads import Plan, Query, one, run_plan

WINDOW = 150           # newest memories of the venture that lexical matching looks at (~a week of one)
MATCHES = 40           # best lexical matches kept as candidates
IMPORTANT = 20         # most recent memories of importance >= IMPORTANT_LEVEL always considered
IMPORTANT_LEVEL = 8
LATEST = 10            # the venture's very latest memories, whatever they say
RELEVANCE_FLOOR = 0.15  # what a memory that matched no term of the query still counts for
_PER_STATEMENT = 200    # term matches asked in one statement (SQLite allows 500 SELECTs in a compound)
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


_FIELDS = (("keywords", 0.5), ("text", 1.0))  # where a term may match, and what a match there weighs


def _asks(terms: list[str]) -> list[str]:
    """The MATCH expression of each (term, field), terms first: each term quoted, so no word is read as an
    operator (a quote inside one is dropped)."""
    return [f'{field} : "{term}"' for term in _unique(terms) for field, _ in _FIELDS]


def _unique(terms: list[str]) -> list[str]:
    return [t for t in dict.fromkeys(t.replace('"', "") for t in terms) if t]


def _relevance(asks: int, window: set[int], matches: dict[int, list[int]]) -> dict[int, float]:
    """Memory id -> relevance, from each ask's matching ids (`matches`, by position in `_asks`): for each term a
    memory holds, the term's rarity in the window, at half weight when it is only in the keywords."""
    weights: dict[int, float] = {}
    for t in range(asks // len(_FIELDS)):
        holders: dict[int, float] = {}
        for f, (_, weight) in enumerate(_FIELDS):
            for memory_id in matches.get(t * len(_FIELDS) + f, ()):
                if memory_id in window:  # the index holds every venture's memories
                    holders[memory_id] = weight
        rarity = math.log(1 + (len(window) - len(holders) + 0.5) / (len(holders) + 0.5))
        for memory_id, weight in holders.items():
            weights[memory_id] = weights.get(memory_id, 0.0) + rarity * weight
    return weights


def window_relevance_plan(venture: str, terms: list[str], floor: int, bound: int) -> Plan[dict[int, float]]:
    """Memory id -> how well it fits the situation: for each term it holds, the term's rarity in the window
    (the venture's memories with ids strictly between `floor` and `bound`), at half weight when the term is
    only in its keywords.

    Every figure comes from the window alone. FTS5's `bm25()` takes its word statistics from the whole index:
    every venture's memories and those written after `bound`. A wake-up done again after a restart (the
    index has grown since it was first prepared) would then rank, and so order, its memories differently.
    """
    asks = _asks(terms)
    if not asks:
        return {}
    window = {row[0] for row in (yield Query("SELECT id FROM memories WHERE venture = ? AND id > ? AND id < ?",
                                              (venture, floor, bound)))}
    matches: dict[int, list[int]] = {}
    yield from _matches_plan(asks, 0, floor, bound, matches)
    return _relevance(len(asks), window, matches)


def _matches_plan(asks: list[str], start: int, floor: int, bound: int, matches: dict[int, list[int]]) -> Plan[None]:
    """Each ask's matching ids between `floor` and `bound`, from the `start`-th ask on, into `matches` (by the
    ask's position): one statement per `_PER_STATEMENT` asks, one row per ask (`_MATCHING`)."""
    for first in range(start, len(asks), _PER_STATEMENT):
        chunk = asks[first:first + _PER_STATEMENT]
        sql = " UNION ALL ".join(f"SELECT ? AS ask, group_concat(rowid) {_MATCHING.format(floor='?')}"
                                 for _ in chunk)
        for ask, ids in (yield Query(sql, [x for n, match in enumerate(chunk, first)
                                          for x in (n, match, floor, bound)])):
            matches[ask] = _ids(ids)


# An ask's matches between a floor (`floor` is SQL) and a bound; each ask is read as one row, its ids joined by
# commas with `group_concat` (a row per match costs more to build).
_MATCHING = "FROM memories_fts WHERE memories_fts MATCH ? AND rowid > {floor} AND rowid < ?"


def _ids(joined: str | None) -> list[int]:
    return [int(i) for i in joined.split(",")] if joined else []


def window_relevance(conn: sqlite3.Connection, venture: str, terms: list[str], floor: int, bound: int
                     ) -> dict[int, float]:
    """`window_relevance_plan` on a synchronous connection."""
    return run_plan(conn, window_relevance_plan(venture, terms, floor, bound))


# No memory id reaches this: `before` left out means every memory.
NO_BOUND = 2**62

_MEMORY = f"{_COLUMNS}, m.decision_id FROM memories m WHERE m.venture = ?"
_FLOOR = "coalesce((SELECT id FROM memories WHERE venture = ? AND id < ? ORDER BY id DESC LIMIT 1 OFFSET ?), 0)"
_NO_MEMORY = ", NULL" * 7


def candidates_plan(venture: str, terms: list[str], *, before: int | None = None) -> Plan[list[MemoryHit]]:
    """Matches in the window (see `window_relevance_plan`), important memories and the latest ones.

    `before` (an event id) keeps to the memories written before it: what an interrupted wake-up saw when it
    was woken, so the wake-up done again after a restart is shown the same memories (memory ids are event ids).

    One statement, as a read from async code is a thread hop per statement: the window's rows (the venture's
    newest memories, which hold the latest ones and every match), the important ones (one index walk per
    importance level, newest first, so the cost does not grow with the history), and each term's matches
    between the window's floor and `bound`. Each row says which part it answers.
    """
    bound = NO_BOUND if before is None else before
    asks = _asks(terms)
    levels = range(IMPORTANT_LEVEL, 11)
    parts = [f"SELECT * FROM (SELECT 0 AS part, NULL AS ask, {_MEMORY} AND m.id < ? ORDER BY m.id DESC LIMIT ?)"]
    params: list[Any] = [venture, bound, WINDOW]
    for level in levels:
        parts.append(f"SELECT * FROM (SELECT 1 AS part, NULL AS ask, {_MEMORY} AND m.importance = ? AND m.id < ? "
                     "ORDER BY m.id DESC LIMIT ?)")
        params += [venture, level, bound, IMPORTANT]
    for n, match in enumerate(asks):
        if n and n % _PER_STATEMENT == 0:  # a compound holds at most 500 parts: the rest in further statements
            break
        parts.append(f"SELECT 2 AS part, ? AS ask, group_concat(rowid){_NO_MEMORY} "
                     f"{_MATCHING.format(floor='(SELECT f FROM floor)')}")
        params += [n, match, bound]
    newest: list[Any] = []
    important: list[Any] = []
    matches: dict[int, list[int]] = {}
    # the window's floor (the newest memory just below it), computed once for every term's match
    floor_cte = f"WITH floor(f) AS MATERIALIZED (SELECT {_FLOOR}) "
    for r in (yield Query(floor_cte + " UNION ALL ".join(parts), [venture, bound, WINDOW, *params])):
        if r[0] == 2:
            matches[r[1]] = _ids(r[2])
        else:
            (important if r[0] else newest).append(tuple(r)[2:])
    if len(asks) > _PER_STATEMENT:  # the asks the first statement had no room for
        floor = one((yield Query(f"SELECT {_FLOOR}", (venture, bound, WINDOW))))[0]
        yield from _matches_plan(asks, _PER_STATEMENT, floor, bound, matches)
    newest.sort(key=lambda r: -int(r[0]))  # a compound's order is not promised: newest first, by id
    window = {int(r[0]): r for r in newest}
    weights = _relevance(len(asks), set(window), matches)
    kept = heapq.nsmallest(MATCHES, weights, key=lambda i: (-weights[i], -i))
    best = max((weights[i] for i in kept), default=0.0)
    found: dict[int, MemoryHit] = {}
    for memory_id in sorted(kept):  # every match is in the window, whose rows are already here
        r = window[memory_id]
        found[memory_id] = _hit(r, weights[memory_id] / best if best > 0 else 0.0, r[7])
    for r in important + newest[:LATEST]:
        found.setdefault(int(r[0]), _hit(r, 0.0, r[7]))
    return list(found.values())


def retrieve_plan(venture: str, terms: list[str], now: datetime, *, k: int = 12, half_life_hours: float = 72.0,
                  before: int | None = None) -> Plan[list[MemoryHit]]:
    """The `k` memories of `venture` that best fit the situation `terms` describe, best first (only those
    written before event `before`, if given: see `candidates_plan`)."""
    found = yield from candidates_plan(venture, terms, before=before)
    return score_hits(found, now, half_life_hours=half_life_hours, k=k)


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
    """`retrieve_plan` on a synchronous connection (a command's, a test's)."""
    return run_plan(conn, retrieve_plan(venture, terms, now, k=k, half_life_hours=half_life_hours, before=before))
