"""Which events become memories, with what text, importance and keywords: pure rules over one event.

The memory stream is a projection, so a rebuild from the events alone must recreate it exactly; that is why
these rules live with the projections rather than in `conductor.brain` (the store imports nothing upward).
The brain reads the `memories` table and its FTS5 index; it never writes them.

Importance is rated by rule at creation, 1 (routine) to 10 (the founder said so): directives and founder
verdicts with a note rank highest, measured outcomes rank by the size of the move, reviews that asked for a
change outrank approvals, and wake-up summaries rank lowest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conductor.store.events import StoredEvent

MAX_TEXT = 600
_WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
_KIND = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\b")
_STOP = frozenset((
    "the", "and", "for", "with", "that", "this", "from", "have", "has", "was", "were", "are", "not", "but", "you",
    "your", "our", "its", "into", "over", "after", "before", "than", "then", "them", "they", "their", "there",
    "what", "when", "which", "while", "will", "would", "could", "should", "about", "been", "being", "more", "most",
    "some", "such", "only", "also", "just", "very", "each", "other", "any", "all", "can", "may", "one", "two",
    "days", "day", "today"
))


@dataclass(frozen=True)
class MemoryRow:
    id: int
    venture: str
    agent: str | None
    at: str | None
    kind: str
    text: str
    importance: int
    keywords: str
    decision_id: int | None


def params_text(params: Any) -> str:
    """`channel=seo budget=400 topic="a setup guide"`, the form outcome summaries and briefs use, so models can
    read values back: a value with spaces is quoted, so its first word is never taken for the whole of it."""
    if not isinstance(params, dict):
        return ""
    return " ".join(f"{k}={_value_text(v)}" for k, v in sorted(params.items()) if not isinstance(v, dict | list))


def _value_text(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if isinstance(value, str) and (not text or any(
        c.isspace() or c in "\"=:" for c in text)) else text


def keywords(text: str, *extra: str) -> str:
    """Decision kinds, parameter values and content words, deduplicated, for the lexical index."""
    lowered = text.lower()
    found = list(extra) + _KIND.findall(lowered) + [w for w in _WORD.findall(lowered) if w not in _STOP]
    return " ".join(dict.fromkeys(x for x in found if x))[:400]


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _row(e: StoredEvent, kind: str, text: str, importance: int, *extra: str, decision_id: int | None = None) -> MemoryRow:
    text = _clip(text)
    return MemoryRow(
        id=e.id, venture=e.venture or "platform", agent=e.agent, at=e.sim_time or e.ts, kind=kind, text=text,
        importance=max(1, min(10, importance)), keywords=keywords(text, kind, *extra), decision_id=decision_id,
    )


# A sentence of an agent's own summary that speaks of approvals or verdicts: what the founder or a reviewer
# decided is remembered from the log (`escalation.resolved`, `review.answered`), never from an agent's account
# of it, which a model may invent ("the founder approves ...") and a reviewer would then read as fact.
_VERDICT_CLAIM = re.compile(
    r"\b(founder|reviewer|ceo|board|management)\b[^.!?]*\b(approv|reject|verdict|sign(s|ed)? off|authori[sz]|agree)"
    r"|\b(pre-?approv|already approved|approved by|has approved|was approved|were approved|is approved)",
    re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
LEFT_OUT = "[what it said of approvals or verdicts is left out: the log's own verdicts are remembered]"


def without_verdict_claims(summary: str) -> str:
    """An agent's summary without the sentences that claim an approval or a verdict, marked where they were."""
    sentences = _SENTENCE.split(summary.strip())
    kept = [s for s in sentences if not _VERDICT_CLAIM.search(s)]
    if len(kept) == len(sentences):
        return summary
    return " ".join([*kept, LEFT_OUT])


def memory_of(e: StoredEvent) -> MemoryRow | None:
    """The memory an event leaves, or None for events that are bookkeeping rather than experience."""
    p = e.payload
    if e.kind == "agent.concluded" and p.get("summary"):
        busy = bool(p.get("decisions") or p.get("tasks"))
        return _row(e, "summary", f"{e.agent}: {without_verdict_claims(str(p['summary']))}", 3 if busy else 2)
    if e.kind == "decision.proposed":
        text = f"#{e.id} {e.agent} proposed {p.get('kind', '')} {params_text(p.get('params'))}: {p.get('rationale', '')}"
        return _row(e, "decision", text, 3, p.get("kind", ""), decision_id=e.id)
    if e.kind == "decision.outcome":
        outcome = p.get("outcome") or {}
        move = abs(float(outcome.get("delta_pct") or 0.0))
        summary = p.get("summary") or f"decision #{p.get('decision_id')} measured"
        text = f"#{p.get('decision_id')} {summary}"
        return _row(e, "outcome", text, 4 + round(min(5.0, move * 50)), str(outcome.get("metric") or ""),
                    decision_id=p.get("decision_id"))
    if e.kind == "review.answered":
        verdict = p.get("verdict", "")
        feedback = f" — {p['feedback']}" if p.get("feedback") else ""
        text = f"review of #{p.get('decision_id')} by {e.agent}: {verdict}{feedback}"
        return _row(e, "review", text, 5 if verdict == "revise" else 2, decision_id=p.get("decision_id"))
    if e.kind == "escalation.resolved":
        verdict, note = p.get("verdict", ""), (p.get("note") or "").strip()
        what = p.get("escalation_kind") or "escalation"
        decision = p.get("decision_id")
        subject = f"decision #{decision}" if decision is not None else what
        kind_id = (p.get("detail") or {}).get("kind") if isinstance(p.get("detail"), dict) else None
        if kind_id and decision is not None:
            subject += f" ({kind_id})"
        if p.get("by") == "founder":
            text = f"the founder {verdict} {subject}" + (f": \"{note}\"" if note else "")
            importance = 8 if note else 6
        else:
            text = f"{subject} {verdict}" + (f": {note}" if note else "")
            importance = 3
        return _row(e, "verdict", text, importance, verdict, decision_id=decision)
    if e.kind == "tool.called" and p.get("policy") != "ask":
        # What was looked up stays in the stream in summary, so syntheses can learn which lookups paid.
        what = f"{p.get('server')}.{p.get('tool')}({p.get('arguments') or ''})"
        told = f": {p.get('result') or ''}" if p.get("ok", True) else f" failed: {p.get('error') or ''}"
        return _row(e, "lookup", f"{e.agent} looked up {what}{told}", 2, str(p.get("tool") or ""))
    if e.kind == "directive.added" and p.get("text"):
        return _row(e, "directive", f"founder directive: {p['text']}", 9)
    return None


def memory_statement(e: StoredEvent) -> tuple[str, tuple[Any, ...]] | None:
    row = memory_of(e)
    if row is None:
        return None
    return (
        "INSERT INTO memories(id, venture, agent, at, kind, text, importance, keywords, decision_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.id, row.venture, row.agent, row.at, row.kind, row.text, row.importance, row.keywords, row.decision_id),
    )
