"""The platform layer: every venture's latest brain and outcome table, synthesized into platform insights.

The outcome table is computed here from decision rows (pure), so the platform model reads measured numbers
grouped the way lessons are phrased ("campaign.launch channel=seo: 5 decisions, 4 moved the metric the right
way"), and the insights it writes (patterns that held in more than one venture, warnings where one venture's
lesson failed in another) are validated like a venture brain, with provenance computed from their evidence.

Public API: `OutcomeRow`, `outcome_table(decisions, categorical)`, `option_key(kind, params, categorical)`,
`platform_messages(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from conductor.brain.document import BrainDocument, format_delta
from conductor.brain.synthesis import SYNTHESIS_HEADING


@dataclass(frozen=True)
class OutcomeRow:
    """Decisions of one kind with the same categorical options, in one venture, and how they turned out."""

    venture: str
    key: str
    decisions: int
    successes: int
    mean_delta: float | None
    metric: str | None
    ids: tuple[int, ...]
    worked_ids: tuple[int, ...] = ()
    unclear_ids: tuple[int, ...] = ()  # measured, but the effect was within noise (neither worked nor failed)

    def line(self) -> str:
        """`mean_delta` is the mean attributed effect against the forecast (the raw move for old outcomes)."""
        moved = f", {self.metric or 'metric'} {format_delta(self.mean_delta)} mean" if self.mean_delta is not None else ""
        worked = [i for i in self.ids if i in set(self.worked_ids)][-4:]
        unclear = [i for i in self.ids if i in set(self.unclear_ids)][-4:]
        failed = [i for i in self.ids if i not in set(self.worked_ids) | set(self.unclear_ids)][-4:]
        ids = "; ".join(f"{label} " + " ".join(f"#{i}" for i in group)
                        for label, group in (("worked", worked), ("failed", failed), ("unclear", unclear)) if group)
        return (f"- {self.key}: {self.decisions} decision{'s' if self.decisions != 1 else ''}, {self.successes} moved "
                f"the metric the right way{moved}; {ids}")


def option_key(kind: str, params: Mapping[str, object], categorical: Iterable[str]) -> str:
    """`campaign.launch channel=seo`: the kind and the options that name a choice (not amounts or free text)."""
    names = set(categorical)
    opts = " ".join(f"{k}={params[k]}" for k in sorted(params) if k in names and isinstance(params[k], str))
    return f"{kind} {opts}".strip()


@dataclass(frozen=True)
class DecisionOutcome:
    """The fields of a decision row the outcome table needs."""

    id: int
    venture: str
    kind: str
    params: Mapping[str, object]
    metric: str | None
    delta: float | None
    success: bool | None
    verdict: str | None = None  # worked / failed / unclear (None: an old outcome, judged by `success` alone)


def outcome_table(decisions: Iterable[DecisionOutcome], categorical: Mapping[str, Sequence[str]]) -> list[OutcomeRow]:
    """Measured decisions grouped per venture and option key, most decisions first.

    `delta` is the relative move of the metric (signed as measured); `categorical` maps a decision kind to the
    parameters of it that take a choice.
    """
    groups: dict[tuple[str, str], list[DecisionOutcome]] = {}
    for d in decisions:
        if d.success is None:
            continue
        key = option_key(d.kind, d.params, categorical.get(d.kind, ()))
        groups.setdefault((d.venture, key), []).append(d)
    rows = []
    for (venture, key), items in groups.items():
        items.sort(key=lambda d: d.id)
        deltas = [d.delta for d in items if d.delta is not None]
        metrics = [d.metric for d in items if d.metric]
        rows.append(OutcomeRow(
            venture=venture, key=key, decisions=len(items), successes=sum(1 for d in items if d.success),
            mean_delta=round(sum(deltas) / len(deltas), 4) if deltas else None,
            metric=max(sorted(set(metrics)), key=metrics.count) if metrics else None,
            ids=tuple(d.id for d in items), worked_ids=tuple(d.id for d in items if d.success),
            unclear_ids=tuple(d.id for d in items if d.verdict == "unclear"),
        ))
    rows.sort(key=lambda r: (r.venture, -r.decisions, r.key))
    return rows


def platform_messages(
    *,
    org_name: str,
    ventures: Sequence[tuple[str, str, int | None, BrainDocument | None]],
    table: Sequence[OutcomeRow],
    previous: BrainDocument | None,
    previous_version: int | None,
    rows_per_venture: int = 14,
) -> list[dict[str, str]]:
    """The chat that asks the platform analyst for the next version of the platform insights.

    `ventures`: (id, name, brain version, brain document) for each venture.
    """
    system = (
        f"You are the platform analyst of {org_name}: you see every venture's brain and measured outcomes and "
        "distil what holds across them. Answer with one JSON object and nothing else."
    )
    blocks = []
    for venture_id, name, version, doc in ventures:
        lines = [f"### {name} ({venture_id}), brain {'v' + str(version) if version else 'none yet'}"]
        if doc is not None:
            lines += [f"Worked: {lesson.text}" for lesson in doc.worked[:6]]
            lines += [f"Failed: {lesson.text}" for lesson in doc.failed[:6]]
            lines += [f"Stands: {line}" for line in doc.standings[:6]]
            lines += [f"Fact: {fact}" for fact in doc.customer_facts[:6]]
        rows = [r for r in table if r.venture == venture_id][:rows_per_venture]
        lines.append("Outcome table:" if rows else "Outcome table: no measured decisions yet.")
        lines += [r.line() for r in rows]
        blocks.append("\n".join(lines))
    next_version = (previous_version or 0) + 1
    prev_text = json.dumps(previous.to_payload(), ensure_ascii=False, indent=1) if previous else "{}"
    parts = [
        f"{SYNTHESIS_HEADING}\nScope: platform\nVentures: {len(ventures)}\nInsights version to write: {next_version}"
        + (f" (previous: {previous_version})" if previous_version else " (the first)"),
        f"## Previous version{f' (v{previous_version})' if previous_version else ''}\n{prev_text}",
        "## Venture brains and outcome tables\n" + "\n\n".join(blocks),
        "## What to answer\n"
        "One JSON object: {\"strategy\": one or two sentences on what holds across ventures, \"worked\": [{\"lesson\": "
        "\"<decision kind> <key=value>: held in which ventures\", \"evidence\": [decision ids from more than one "
        "venture]}], \"failed\": [warnings: {\"lesson\": \"<decision kind> <key=value>: worked in one venture, failed "
        "in another\", \"evidence\": [ids]}], \"standings\": [\"in <venture id>, <a Stands line of that venture>\": "
        "the option standings other ventures should see], \"customer_facts\": [\"in <venture id>, <a Fact line>\": "
        "what that venture's customers asked for], \"open_questions\": [], \"rules\": []}. Lessons only for "
        "patterns seen in more than one venture; cite only decision ids (#n) that appear above.",
    ]
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]
