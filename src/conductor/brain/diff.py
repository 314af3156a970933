"""What changed between two brain versions: lessons added, removed and changed (with evidence), and lines.

Item-level diffs match lessons by `lesson_key` within a section, so new evidence for an old lesson reads as a
change, and a lesson that flipped from "worked" to "failed" reads as removed from one and added to the other
(marked as moved). The line diff is a unified diff of the canonical markdown. Pure functions; colours are the
caller's business (`diff_lines` gives each line a style tag the CLI and the control room map to colours).

Public API (stable; the control room imports it):

- `LessonChange`, `ItemChange`, `BrainDiff` (frozen dataclasses).
- `item_diff(old, new) -> BrainDiff`; `BrainDiff.added / removed / changed / is_empty`.
- `unified_diff(old, new, *, old_label, new_label, names=None, context=3) -> list[str]`.
- `diff_lines(diff, names=None) -> list[tuple[str, str]]`: (tag, text) with tag in
  {"heading", "added", "removed", "changed", "evidence", "context"}.
- `unified_tag(line) -> str`: the same tags for a unified-diff line.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from conductor.brain.document import (
    HEADINGS,
    LESSON_SECTIONS,
    LIST_SECTIONS,
    BrainDocument,
    Lesson,
    render_markdown,
)

Status = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class LessonChange:
    """One lesson that appeared, disappeared or changed in a section."""

    section: str
    status: Status
    key: str
    old: Lesson | None
    new: Lesson | None
    moved: str | None = None  # the other section, when the lesson moved between worked and failed
    evidence_added: tuple[int, ...] = ()
    evidence_removed: tuple[int, ...] = ()

    @property
    def lesson(self) -> Lesson:
        lesson = self.new or self.old
        assert lesson is not None
        return lesson


@dataclass(frozen=True)
class ItemChange:
    """A standing, customer fact, open question or rule added or removed."""

    section: str
    status: Literal["added", "removed"]
    text: str


@dataclass(frozen=True)
class BrainDiff:
    strategy: tuple[str, str] | None
    lessons: tuple[LessonChange, ...]
    items: tuple[ItemChange, ...]

    @property
    def added(self) -> list[LessonChange]:
        return [c for c in self.lessons if c.status == "added"]

    @property
    def removed(self) -> list[LessonChange]:
        return [c for c in self.lessons if c.status == "removed"]

    @property
    def changed(self) -> list[LessonChange]:
        return [c for c in self.lessons if c.status == "changed"]

    @property
    def is_empty(self) -> bool:
        return self.strategy is None and not self.lessons and not self.items

    def evidence_ids(self) -> set[int]:
        """Every decision id the added, removed and changed lessons cite."""
        return {e.decision_id for c in self.lessons for lesson in (c.old, c.new) if lesson for e in lesson.evidence}


def _by_key(lessons: tuple[Lesson, ...]) -> dict[str, Lesson]:
    out: dict[str, Lesson] = {}
    for lesson in lessons:
        out.setdefault(lesson.key, lesson)
    return out


def item_diff(old: BrainDocument, new: BrainDocument) -> BrainDiff:
    """Lessons, facts, questions and rules that differ between `old` and `new` (in document order)."""
    changes: list[LessonChange] = []
    old_sections = {name: _by_key(getattr(old, name)) for name in LESSON_SECTIONS}
    new_sections = {name: _by_key(getattr(new, name)) for name in LESSON_SECTIONS}

    def elsewhere(sections: dict[str, dict[str, Lesson]], name: str, key: str) -> str | None:
        return next((other for other in LESSON_SECTIONS if other != name and key in sections[other]), None)

    for name in LESSON_SECTIONS:
        before, after = old_sections[name], new_sections[name]
        for key, lesson in after.items():
            prior = before.get(key)
            if prior is None:
                changes.append(LessonChange(name, "added", key, None, lesson, moved=elsewhere(old_sections, name, key),
                                            evidence_added=lesson.decision_ids))
            elif prior != lesson:
                was, now = set(prior.decision_ids), set(lesson.decision_ids)
                changes.append(LessonChange(
                    name, "changed", key, prior, lesson,
                    evidence_added=tuple(i for i in lesson.decision_ids if i not in was),
                    evidence_removed=tuple(i for i in prior.decision_ids if i not in now)))
        for key, lesson in before.items():
            if key not in after:
                changes.append(LessonChange(name, "removed", key, lesson, None, moved=elsewhere(new_sections, name, key),
                                            evidence_removed=lesson.decision_ids))
    items: list[ItemChange] = []
    for name in LIST_SECTIONS:
        was, now = getattr(old, name), getattr(new, name)
        items += [ItemChange(name, "added", t) for t in now if t not in was]
        items += [ItemChange(name, "removed", t) for t in was if t not in now]
    strategy = (old.strategy, new.strategy) if old.strategy != new.strategy else None
    return BrainDiff(strategy, tuple(changes), tuple(items))


def unified_diff(
    old: BrainDocument,
    new: BrainDocument,
    *,
    old_label: str = "a",
    new_label: str = "b",
    names: dict[str, str] | None = None,
    context: int = 3,
) -> list[str]:
    """A unified diff of the two canonical markdown texts (no trailing newlines on the lines)."""
    a = render_markdown(old, names=names).splitlines()
    b = render_markdown(new, names=names).splitlines()
    return list(difflib.unified_diff(a, b, fromfile=old_label, tofile=new_label, n=context, lineterm=""))


def unified_tag(line: str) -> str:
    """The style tag of a unified-diff line."""
    if line.startswith(("+++", "---")):
        return "heading"
    if line.startswith("@@"):
        return "evidence"
    if line.startswith("+"):
        return "added"
    if line.startswith("-"):
        return "removed"
    return "context"


def _evidence_text(lesson: Lesson, ids: tuple[int, ...]) -> str:
    wanted = set(ids)
    return ", ".join(e.describe() for e in lesson.evidence if e.decision_id in wanted)


def diff_lines(diff: BrainDiff, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """The item-level diff as tagged lines, grouped by section, for a terminal or a pane."""
    out: list[tuple[str, str]] = []
    if diff.strategy is not None:
        out.append(("heading", HEADINGS["strategy"]))
        out.append(("removed", f"- {diff.strategy[0] or '(none)'}"))
        out.append(("added", f"+ {diff.strategy[1] or '(none)'}"))
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for name in LESSON_SECTIONS:
        changes = [c for c in diff.lessons if c.section == name]
        if not changes:
            continue
        out.append(("heading", HEADINGS[name]))
        for c in changes:
            moved = ""
            if c.moved:
                moved = f" (moved {'from' if c.status == 'added' else 'to'} {HEADINGS[c.moved]})"
            out.append((c.status, f"{marks[c.status]} {c.lesson.text}{moved}"))
            if c.status == "changed" and c.old is not None and c.new is not None and c.old.text != c.new.text:
                out.append(("evidence", f"    was: {c.old.text}"))
            if c.evidence_added and c.new is not None:
                out.append(("evidence", f"    evidence +: {_evidence_text(c.new, c.evidence_added)}"))
            if c.evidence_removed and c.old is not None:
                out.append(("evidence", f"    evidence -: {_evidence_text(c.old, c.evidence_removed)}"))
            lesson = c.new or c.old
            if lesson is not None and lesson.provenance and c.status != "removed":
                out.extend(("evidence", f"    {p.describe(names)}") for p in lesson.provenance)
    for name in LIST_SECTIONS:
        changes_ = [c for c in diff.items if c.section == name]
        if not changes_:
            continue
        out.append(("heading", HEADINGS[name]))
        out.extend((c.status, f"{marks[c.status]} {c.text}") for c in changes_)
    if not out:
        out.append(("context", "no differences"))
    return out
