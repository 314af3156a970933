"""Synthesis: the previous brain version plus only the new memories, through a model, into the next version.

The prompt and the validation are pure. Validation trusts the model for wording and judgement but never for
facts: evidence must name decisions that exist (in this venture, for a venture brain), else that evidence is
dropped, and the metric movement attached to each piece of evidence is the one measured, not the one claimed.
An answer that is not a document, or that would empty a brain that had content, is invalid: the caller keeps
the previous version and records the failure.

Public API: `DecisionFact`, `load_facts(conn, ids)` (and `facts_plan(ids)`, the same read for the async
reader), `SynthesisInvalid`, `synthesis_messages(...)`, `validate_document(...)`,
`call_synthesis(...)` (the async function: model calls with the bad-output retry loop, through the
`brain.port.BrainHost` the engine implements, so this module never imports the engine).
"""

from __future__ import annotations

import json
import logging
import random
import re
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from conductor.brain.attribution.outcome import outcome_effect, outcome_verdict
from conductor.brain.document import BrainDocument, DocumentError, Evidence, Lesson, Provenance, parse_document
from conductor.brain.memory import MemoryHit
from conductor.brain.port import ModelCallFailed, ModelReply, retry_message
from conductor.store.calls import CallRecord
from conductor.store.events import iso, parse_iso
from conductor.store.reads import Plan, Query, one, run_plan

logger = logging.getLogger(__name__)

SYNTHESIS_HEADING = "# Synthesis request"
MAX_COMPLETION_TOKENS = 2500


class SynthesisInvalid(ValueError):
    """The model's answer cannot become a brain version (the previous one stays in force)."""


@dataclass(frozen=True)
class DecisionFact:
    """What the database knows about a decision a lesson cites: its venture and its measured outcome."""

    id: int
    venture: str
    kind: str = ""
    metric: str | None = None
    delta: float | None = None
    success: bool | None = None
    side_metric: str | None = None  # the venture's main metric, when the decision was judged on another one
    side_delta: float | None = None  # its relative move over the same window

    def side_text(self) -> str:
        """' (meanwhile mrr -3.1%)': what the venture's main metric did while this decision was judged."""
        if self.side_metric is None or self.side_delta is None:
            return ""
        return f" (meanwhile {self.side_metric} {self.side_delta * 100:+.1f}%)"


def memory_prompt_line(m: MemoryHit, facts: dict[int, DecisionFact] | None = None) -> str:
    """A memory as the synthesis prompt shows it; an outcome also says what the main metric did meanwhile."""
    line = f"- [{(m.at or '')[:10]} {m.agent or m.venture} {m.kind}] {m.text}"
    if m.kind == "outcome" and facts:
        ident = re.match(r"#(\d+)", m.text)
        fact = facts.get(int(ident.group(1))) if ident else None
        if fact is not None:
            line += fact.side_text()
    return line


def synthesis_messages(
    *,
    org_name: str,
    venture_id: str,
    venture_name: str,
    goal: str,
    metrics: Sequence[tuple[str, str]],
    previous: BrainDocument | None,
    previous_version: int | None,
    memories: Sequence[MemoryHit],
    main_metric: str | None = None,
    facts: dict[int, DecisionFact] | None = None,
) -> list[dict[str, str]]:
    """The chat that asks for the next brain version of one venture.

    `main_metric` is the venture's main metric; `facts` (decisions by id) let outcome lines say what it did
    while each decision was judged on its own metric, so a lesson that wins locally and costs the venture
    can be seen for what it is.
    """
    system = (
        f"You keep the institutional memory of {venture_name}, a venture of {org_name} run by autonomous agents "
        "and one founder. You turn what happened into lessons the team can act on, each backed by the decisions "
        "that show it. Answer with one JSON object and nothing else."
    )
    next_version = (previous_version or 0) + 1
    prev_text = json.dumps(previous.to_payload(), ensure_ascii=False, indent=1) if previous else "{}"
    metric_text = ", ".join(f"{name} ({'higher' if d == 'up' else 'lower'} is better)" for name, d in metrics)
    parts = [
        f"{SYNTHESIS_HEADING}\nScope: venture\nVenture: {venture_name} ({venture_id})\nGoal: {goal}\n"
        f"Metrics: {metric_text}\n" + (f"Main metric: {main_metric}\n" if main_metric else "")
        + f"Brain version to write: {next_version}"
        + (f" (previous: {previous_version})" if previous_version else " (the first)"),
        f"## Previous version{f' (v{previous_version})' if previous_version else ''}\n{prev_text}",
        f"## New memories since then ({len(memories)}, oldest first)\n"
        + ("\n".join(memory_prompt_line(m, facts) for m in memories) or "None."),
        "## What to answer\n"
        "One JSON object: {\"strategy\": two or three sentences, \"worked\": [{\"lesson\": \"<decision kind> "
        "<key=value of the options that mattered>: what moved and by how much\", \"evidence\": [decision ids]}], "
        "\"failed\": [same shape], \"standings\": [per lever, its options side by side: \"<decision kind> "
        "<parameter> on <metric>, best first (95% interval, decisions): <option> +x% ±y (n); ...\", each option's "
        "newest effect against forecast, since it pools the earlier ones; for a lever whose options are judged on "
        "different metrics (budget areas, each on the metric it buys), also one line with all of them: \"<decision "
        "kind> <parameter> on each option's own metric (percent, better for the business counted as up), best "
        "first (95% interval, decisions): ...\"], \"customer_facts\": [short facts], \"open_questions\": [short questions], "
        "\"rules\": [rules the founder set, from directives and verdict notes]}. Keep the lessons of the previous "
        "version that still hold and add the new evidence to them; move a lesson to failed when the evidence turned "
        "against it or when it cost the main metric; drop what no longer matters. Cite only decision ids (#n) that appear above. At most 12 "
        "lessons per list.",
    ]
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def _measured(lesson: Lesson, facts: dict[int, DecisionFact], venture: str | None) -> tuple[Lesson, int]:
    kept: list[Evidence] = []
    dropped = 0
    for e in lesson.evidence:
        fact = facts.get(e.decision_id)
        if fact is None or (venture is not None and fact.venture != venture):
            dropped += 1
            continue
        kept.append(Evidence(decision_id=fact.id, metric=fact.metric, delta=fact.delta, success=fact.success,
                             side_metric=fact.side_metric, side_delta=fact.side_delta))
    return lesson.model_copy(update={"evidence": tuple(kept)}), dropped


def provenance_of(lesson: Lesson, facts: dict[int, DecisionFact], versions: dict[str, int]) -> tuple[Provenance, ...]:
    """Per venture the lesson's evidence comes from: its brain version, how many decisions, the mean move."""
    by_venture: dict[str, list[DecisionFact]] = {}
    for e in lesson.evidence:
        fact = facts.get(e.decision_id)
        if fact is not None:
            by_venture.setdefault(fact.venture, []).append(fact)
    out = []
    for venture, items in sorted(by_venture.items()):
        deltas = [f.delta for f in items if f.delta is not None]
        metrics = [f.metric for f in items if f.metric]
        out.append(Provenance(
            venture=venture, version=versions.get(venture), decisions=len(items),
            delta=round(sum(deltas) / len(deltas), 4) if deltas else None,
            metric=max(sorted(set(metrics)), key=metrics.count) if metrics else None,
        ))
    return tuple(out)


@dataclass
class Validated:
    document: BrainDocument
    dropped_evidence: int = 0
    notes: list[str] = field(default_factory=list)


def validate_document(
    answer: str | dict[str, Any] | BrainDocument,
    facts: dict[int, DecisionFact],
    *,
    venture: str | None,
    previous: BrainDocument | None,
    versions: dict[str, int] | None = None,
) -> Validated:
    """The answer as a document fit to store, or SynthesisInvalid.

    `venture` None means a platform document: evidence may come from any venture and each lesson gets its
    provenance (`versions`: each venture's brain version in force) computed from the evidence it kept.
    """
    try:
        doc = parse_document(answer)
    except DocumentError as exc:
        raise SynthesisInvalid(str(exc)) from None
    dropped = 0
    sections: dict[str, list[Lesson]] = {}
    for name in ("worked", "failed"):
        kept = []
        for lesson in getattr(doc, name):
            if not lesson.text.strip():
                continue
            lesson, n = _measured(lesson, facts, venture)
            dropped += n
            if venture is None:
                lesson = lesson.model_copy(update={"provenance": provenance_of(lesson, facts, versions or {})})
            kept.append(lesson)
        sections[name] = kept
    doc = doc.model_copy(update={"worked": tuple(sections["worked"]), "failed": tuple(sections["failed"])})
    if doc.is_empty() and previous is not None and not previous.is_empty():
        raise SynthesisInvalid("the answer is an empty document; it would erase the previous version")
    notes = [f"dropped {dropped} evidence item(s) naming unknown decisions"] if dropped else []
    return Validated(doc, dropped, notes)


def main_metrics_plan() -> Plan[dict[str, str]]:
    """Each venture's main metric: the one its first-listed agent owns (the org file lists the head first)."""
    out: dict[str, str] = {}
    for venture, metric in (yield Query(
            "SELECT venture, owns_metric FROM agents WHERE venture IS NOT NULL AND owns_metric IS NOT NULL "
            "ORDER BY rowid")):
        out.setdefault(venture, metric)
    return out


def _move(venture: str, metric: str, executed: str, window_days: int) -> Plan[float | None]:
    """The relative move of a metric from the day a decision executed to the end of its outcome window."""
    row = one((yield Query("SELECT at, value FROM metric_points WHERE venture = ? AND metric = ? AND at <= ? "
                           "ORDER BY at DESC LIMIT 1", (venture, metric, executed))))
    if row is None:
        return None
    after_at = iso(parse_iso(row[0]) + timedelta(days=window_days))
    after = one((yield Query("SELECT value FROM metric_points WHERE venture = ? AND metric = ? AND at = ?",
                             (venture, metric, after_at))))
    if after is None:
        return None
    base = abs(float(row[1])) if abs(float(row[1])) > 1e-9 else 1.0
    return round((float(after[0]) - float(row[1])) / base, 4)


def facts_plan(ids: set[int], main: dict[str, str] | None = None) -> Plan[dict[int, DecisionFact]]:
    """The decisions a document cites, with their measured outcomes (if measured yet) and, for decisions
    judged on another metric in logs from before attribution, what the venture's main metric did meanwhile
    (`main`: venture -> metric)."""
    main = (yield from main_metrics_plan()) if main is None else main
    facts: dict[int, DecisionFact] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = yield Query(f"SELECT id, venture, kind, outcome, executed FROM decisions WHERE id IN ({marks})", chunk)
        for row in rows:
            outcome = json.loads(row[3]) if row[3] else {}
            side_metric, side_delta = main.get(row[1]), None
            # Only for outcomes from before attribution: beside an effect measured against a forecast, another
            # metric's raw move over the same days says more about the calendar than about the decision.
            raw = outcome and "effect" not in outcome
            if raw and row[4] and side_metric and side_metric != outcome.get("metric"):
                side_delta = yield from _move(row[1], side_metric, row[4], int(outcome.get("window_days") or 1))
            facts[row[0]] = DecisionFact(
                id=row[0], venture=row[1], kind=row[2], metric=outcome.get("metric"),
                delta=round(effect, 4) if (effect := outcome_effect(outcome)) is not None else None,
                success={"worked": True, "failed": False}.get(outcome_verdict(outcome) or "") if outcome else None,
                side_metric=side_metric if side_delta is not None else None, side_delta=side_delta,
            )
    return facts


def load_facts(conn: sqlite3.Connection, ids: set[int], main: dict[str, str] | None = None) -> dict[int, DecisionFact]:
    """`facts_plan` on a synchronous connection (a founder's command checking an edit)."""
    return run_plan(conn, facts_plan(ids, main))


@dataclass
class SynthesisResult:
    validated: Validated | None
    calls: list[CallRecord]
    failure: str | None = None

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens for c in self.calls)

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.calls)


ModelCall = Callable[..., Awaitable[ModelReply]]


async def call_synthesis(
    call_model: ModelCall,
    model: str,
    messages: list[dict[str, str]],
    validate: Callable[[str], Awaitable[Validated]],
    *,
    rng: random.Random,
    max_attempts: int,
    label: str = "brain",
) -> SynthesisResult:
    """Call the model through the host's provider path (`BrainHost.call_model`, so its timeout, retries and
    call options apply); on an invalid answer, ask again quoting why, a few times. `label` names the
    synthesis in the log lines of its calls and retries. `validate` is awaited: it reads the decisions an
    answer cites (through the host's async reader) and raises SynthesisInvalid for an answer to ask again."""
    calls: list[CallRecord] = []
    for attempt in range(max(1, max_attempts)):
        try:
            result = await call_model(model, messages, rng=rng, max_tokens=MAX_COMPLETION_TOKENS, label=label)
        except ModelCallFailed as fault:
            calls.append(CallRecord(model, "synthesis", ok=False, error=str(fault)[:300]))
            return SynthesisResult(None, calls, f"provider fault: {fault}")
        call = CallRecord(model, "synthesis", result.prompt_tokens, result.completion_tokens, result.cost,
                          result.latency_ms, cached_tokens=result.cached_tokens, cache_saved=result.cache_saved)
        calls.append(call)
        try:
            return SynthesisResult(await validate(result.text), calls)
        except SynthesisInvalid as exc:
            call.ok, call.error = False, f"invalid synthesis: {exc}"[:300]
            if attempt + 1 >= max_attempts:
                return SynthesisResult(None, calls, f"invalid answer after {attempt + 1} attempt(s): {exc}")
            logger.warning("retry for=%s model=%s attempt=%d/%d reason=%r backoff=0s", label, model, attempt + 2,
                           max_attempts, call.error)
            messages = [*messages, {"role": "assistant", "content": result.text[:4000]}, retry_message(str(exc))]
    return SynthesisResult(None, calls, "no attempt made")  # pragma: no cover
