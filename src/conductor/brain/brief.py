"""Packing a wake-up brief under a token budget: the brain version, memories, platform insights, directives.

`assemble_brief` is pure: it gets everything it may use, already ranked, and a token counter (the engine passes
litellm's), and returns the brief and the insights text, together never over the budget. Items are chosen by
priority, and within the brief the most important things sit at the edges (the founder's rules, strategy and
lessons first, the most relevant memories last), not buried in the middle where models read least carefully.
The amount of text is bounded by the budget, not by the history, so tokens per wake-up stay flat.

A brief is also *for someone*: given the decision kinds in view (the agent's own, or the one a review judges),
a lesson, standing, fact, question or insight that names only other kinds is left out. A support lead gains
nothing from the campaign channels' standings, and every token of them is paid for at every wake-up: with the
whole venture's tables in every prompt, the studio's agents ran out of their daily budgets three times as often
as without a brief, and executed a tenth fewer decisions. The founder's rules, the strategy and the memories
(retrieved for the agent already) are never left out.

Public API: `Brief`, `assemble_brief(...)`, `edges(items)`, `lesson_line(lesson, section)`,
`memory_line(hit)`, `insight_lines(platform_doc, venture, names, version)`, `named_kinds(text, known)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from conductor.brain.document import BrainDocument, Lesson, format_delta
from conductor.brain.memory import MemoryHit

T = TypeVar("T")
TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Brief:
    brief: str
    insights: str
    tokens: int
    memory_ids: tuple[int, ...] = ()
    dropped: int = 0
    budget: int = 0
    off_topic: int = 0


@dataclass(frozen=True)
class _Item:
    slot: str
    priority: float
    text: str
    ref: int | None = None


def edges(items: Sequence[T]) -> list[T]:
    """Items ranked best first, rearranged so the best sit at both ends: 1, 3, 5, ..., 6, 4, 2."""
    front = list(items[0::2])
    back = list(items[1::2])
    return front + back[::-1]


def lesson_line(lesson: Lesson, section: str) -> str:
    """`- campaign.launch channel=seo: signups +12% (worked) — 4 of 5 moved the metric the right way, #12 #40`."""
    tag = "(worked)" if section == "worked" else "(failed)"
    stats = ""
    measured = [e for e in lesson.evidence if e.success is not None]
    if measured:
        mean = lesson.mean_delta
        stats = f" — {sum(1 for e in measured if e.success)} of {len(measured)} moved the metric the right way"
        if mean is not None:
            stats += f", mean {format_delta(mean)}"
    ids = " ".join(f"#{i}" for i in lesson.decision_ids[-3:])
    return f"- {lesson.text} {tag}{stats}" + (f", {ids}" if ids else "")


_Matcher = tuple[re.Pattern[str], dict[str, str]]


@lru_cache(maxsize=32)
def _kind_matcher(known: frozenset[str]) -> _Matcher | None:
    """One pattern for every id of `known`, longest first, bounded so that `campaign.launch` is not found
    inside `campaign.launch.paid` nor `refund` inside `refunds`; and each id by its lower case."""
    if not known:
        return None
    ids = "|".join(re.escape(k) for k in sorted(known, key=lambda k: (-len(k), k)))
    return re.compile(rf"(?<![\w.])({ids})(?![\w]|\.\w)", re.IGNORECASE), {k.lower(): k for k in known}


def _kinds_in(text: str, matcher: _Matcher | None) -> set[str]:
    if matcher is None:
        return set()
    pattern, by_lower = matcher
    return {by_lower[m.lower()] for m in pattern.findall(text)}


def named_kinds(text: str, known: Collection[str]) -> set[str]:
    """The decision kinds of `known` that `text` names, in any letter case (as the org spells them)."""
    return _kinds_in(text, _kind_matcher(frozenset(known)))


# Slots whose lines are about one lever or another, and may be left out for an agent that cannot pull it.
_TOPICAL = frozenset({"worked", "failed", "standings", "facts", "questions", "insights"})


def _off_topic(item: _Item, in_view: frozenset[str], matcher: _Matcher | None) -> bool:
    if item.slot not in _TOPICAL:
        return False
    named = _kinds_in(item.text, matcher)
    return bool(named) and not (named & in_view)


def memory_line(hit: MemoryHit) -> str:
    day = (hit.at or "")[5:10]
    who = hit.agent or hit.venture
    return f"- [{day} {who}] {hit.text}"


def insight_lines(platform: BrainDocument | None, venture: str, names: dict[str, str] | None = None,
                  version: int | None = None) -> list[tuple[float, str]]:
    """Platform insights for one venture, with provenance, ranked: patterns and warnings from other ventures."""
    if platform is None:
        return []
    out: list[tuple[float, str]] = []
    stamp = f"platform v{version}" if version is not None else "platform"
    for section, base in (("failed", 70.0), ("worked", 65.0)):
        for rank, lesson in enumerate(getattr(platform, section)):
            sources = [p for p in lesson.provenance if p.venture != venture] or list(lesson.provenance)
            where = "; ".join(p.describe(names) for p in sources[:3])
            tag = "(worked)" if section == "worked" else "(failed)"
            text = f"- {lesson.text} {tag}" + (f" [{stamp}: {where}]" if where else f" [{stamp}]")
            out.append((base - rank, text))
    if platform.strategy:
        out.append((40.0, f"- Across ventures: {platform.strategy}"))
    # Another venture's standings and facts, as the analyst relayed them ("in <venture id>, ..."); a venture's
    # own are in its brief already.
    own = f"in {venture},"
    relayed = [t for t in (*platform.standings, *platform.customer_facts) if not t.lower().startswith(own)]
    out += [(55.0 - 0.5 * rank, f"- {text} [{stamp}]") for rank, text in enumerate(relayed)]
    return out


def _doc_items(doc: BrainDocument | None, directives: Sequence[str]) -> list[_Item]:
    items: list[_Item] = []
    rules = list(dict.fromkeys([*directives, *(doc.rules if doc else ())]))
    items += [_Item("rules", 100 - i * 0.1, f"- {r}") for i, r in enumerate(rules)]
    if doc is None:
        return items
    if doc.strategy:
        items.append(_Item("strategy", 95, doc.strategy))
    for section, base in (("worked", 80.0), ("failed", 78.0)):
        for rank, lesson in enumerate(getattr(doc, section)):
            items.append(_Item(section, base - 2 * rank, lesson_line(lesson, section)))
    items += [_Item("standings", 76 - i, f"- {t}") for i, t in enumerate(doc.standings)]
    items += [_Item("facts", 60 - i, f"- {t}") for i, t in enumerate(doc.customer_facts)]
    items += [_Item("questions", 25 - i, f"- {t}") for i, t in enumerate(doc.open_questions)]
    return items


_HEADINGS = {
    "rules": "Rules the founder set:",
    "strategy": "Strategy:",
    "worked": "What worked:",
    "failed": "What failed:",
    "standings": "Where each option stands (newest estimate against forecast, best first):",
    "facts": "Customer facts:",
    "questions": "Open questions:",
    "memories": "Memories most relevant to you now (newest and most important kept):",
}
_BRIEF_ORDER = ("rules", "strategy", "worked", "failed", "standings", "facts", "questions", "memories")


def _render(header: str, chosen: dict[str, list[_Item]]) -> str:
    parts = [header] if header else []
    for slot in _BRIEF_ORDER:
        items = chosen.get(slot) or []
        if not items:
            continue
        if slot == "memories":
            lines = [i.text for i in edges(sorted(items, key=lambda i: -i.priority))[::-1]]
        else:
            lines = [i.text for i in sorted(items, key=lambda i: -i.priority)]
        if slot == "strategy":
            parts.append(f"{_HEADINGS[slot]} {lines[0]}")
        else:
            parts.append("\n".join([_HEADINGS[slot], *lines]))
    return "\n\n".join(parts)


def assemble_brief(
    *,
    budget: int,
    count_tokens: TokenCounter,
    brain: BrainDocument | None = None,
    header: str = "",
    memories: Sequence[MemoryHit] = (),
    insights: Sequence[tuple[float, str]] = (),
    directives: Sequence[str] = (),
    in_view: Collection[str] | None = None,
    known_kinds: Collection[str] = (),
) -> Brief:
    """The brief and platform-insights texts for one wake-up, together at most `budget` tokens.

    With `in_view` (decision kinds), a line naming kinds of `known_kinds` but none in view is left out
    (counted in `off_topic`); `None` keeps every line (the platform's analyst, an agent without kinds).
    Candidates are taken by priority while they fit (founder rules, strategy, lessons, then insights and
    memories by their rank, then facts and questions). `tokens` is an upper bound from the parts (text
    splits into tokens at line breaks) unless the brief is near its budget, where it is counted whole and the
    lowest-priority item is dropped until the total fits.
    """
    items = _doc_items(brain, directives)
    top = max((m.score for m in memories), default=0.0) or 1.0
    items += [_Item("memories", 40 + 30 * (m.score / top), memory_line(m), m.id) for m in memories]
    items += [_Item("insights", p, text) for p, text in insights]
    off_topic = 0
    if in_view is not None:
        view, matcher = frozenset(in_view), _kind_matcher(frozenset(known_kinds))
        kept = [i for i in items if not _off_topic(i, view, matcher)]
        off_topic, items = len(items) - len(kept), kept
    items.sort(key=lambda i: -i.priority)
    # The header and every heading are reserved up front (with their line breaks), so the bound below stays
    # within the budget and the whole text rarely needs counting again.
    used = (count_tokens(header) + 2 if header else 0) + sum(count_tokens(h) + 2 for h in _HEADINGS.values())
    chosen: list[_Item] = []
    costs: dict[int, int] = {}
    dropped = 0
    for item in items:
        cost = count_tokens(item.text) + 1  # the line break that joins it
        if used + cost <= budget:
            chosen.append(item)
            costs[id(item)] = cost
            used += cost
        else:
            dropped += 1
    while True:
        by_slot: dict[str, list[_Item]] = {}
        for item in chosen:
            by_slot.setdefault(item.slot, []).append(item)
        brief_text = _render(header, {k: v for k, v in by_slot.items() if k != "insights"}) if by_slot else ""
        insights_text = "\n".join(i.text for i in sorted(by_slot.get("insights", []), key=lambda i: -i.priority))
        # Text splits into tokens at line breaks, so the parts plus their joins bound the whole from above;
        # only when that bound is over the budget is the text counted whole (it may still fit).
        headings = sum(count_tokens(_HEADINGS[slot]) + 2 for slot in by_slot if slot in _HEADINGS)
        bound = (count_tokens(header) + 2 if header else 0) + headings + sum(costs[id(i)] for i in chosen)
        if bound <= budget:
            total = bound
        else:
            total = (count_tokens(brief_text) if brief_text else 0) + (
                count_tokens(insights_text) if insights_text else 0)
        if total <= budget or not chosen:
            break
        worst = min(chosen, key=lambda i: i.priority)
        chosen.remove(worst)
        dropped += 1
    if not chosen:
        brief_text, insights_text, total = "", "", 0
    return Brief(
        brief=brief_text, insights=insights_text, tokens=total,
        memory_ids=tuple(i.ref for i in chosen if i.ref is not None), dropped=dropped, budget=budget,
        off_topic=off_topic,
    )
