"""A brain version's document: what a venture (or the platform) has learned, as data a person can read.

A document is what synthesis writes, the founder edits and a wake-up brief is cut from. Lessons carry their
evidence (decision ids with the metric movement that was measured after each), so a claim in the brain can
always be traced to decisions in the database. Pure: no store, no model, no clock.

Public API (stable; the control room imports it):

- `Evidence`, `Provenance`, `Lesson`, `BrainDocument`: frozen pydantic models.
- `PLATFORM`: the venture id of the platform insights' versions.
- `SECTIONS`: (field, heading) pairs in canonical order; `LESSON_SECTIONS` = ("worked", "failed").
- `parse_document(data) -> BrainDocument`: lenient reading of a model's or the store's JSON (str or dict);
  raises `DocumentError` when it is not a JSON object at all.
- `render_markdown(doc, *, title=None, names=None) -> str`: the canonical text used by `show`, the
  line diff and the founder's editor.
- `parse_markdown(text) -> BrainDocument`: reads the canonical text back (the founder's edit).
- `lesson_key(text) -> str`: the identity of a lesson across versions (what item-level diffs match on).
- `format_delta(delta) -> str`, `Provenance.describe(names)`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLATFORM = "platform"  # the venture id under which the platform insights are versioned
SECTIONS: tuple[tuple[str, str], ...] = (
    ("strategy", "Strategy"),
    ("worked", "What worked"),
    ("failed", "What failed"),
    ("standings", "Where each option stands"),
    ("customer_facts", "Customer facts"),
    ("open_questions", "Open questions"),
    ("rules", "Rules the founder set"),
)
LESSON_SECTIONS: tuple[str, ...] = ("worked", "failed")
LIST_SECTIONS: tuple[str, ...] = ("standings", "customer_facts", "open_questions", "rules")
# Sections a document written before they existed leaves out of its text when empty, so its markdown (and
# every diff against it) reads as it did.
OPTIONAL_SECTIONS: tuple[str, ...] = ("standings",)
HEADINGS: dict[str, str] = dict(SECTIONS)

# Bounds on what a document may hold, so one verbose synthesis can never blow up every later brief.
MAX_LESSONS = 12
MAX_EVIDENCE = 12
MAX_ITEMS = 10
MAX_TEXT = 300
MAX_STRATEGY = 800


class DocumentError(ValueError):
    """The text is not a brain document at all (not JSON, not an object)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def format_delta(delta: float | None) -> str:
    """`+12.0%` for a relative change of 0.12; empty when nothing was measured."""
    return "" if delta is None else f"{delta * 100:+.1f}%"


class Evidence(_Frozen):
    """One decision behind a lesson, with what its metric did over the outcome window (measured, not claimed)."""

    decision_id: int
    metric: str | None = None
    delta: float | None = Field(None, description="Relative change of the metric, e.g. 0.052 for +5.2%.")
    success: bool | None = None
    side_metric: str | None = Field(None, description="The venture's main metric, if the decision was judged on "
                                                       "another one.")
    side_delta: float | None = Field(None, description="What the main metric did over the same window.")

    def describe(self) -> str:
        """`#12 signups +4.0%`; when the sign says the opposite of the verdict (a metric whose good direction is
        down, e.g. `#12 churn_rate +4.0% (worse)`), which way it went for the venture."""
        moved = " ".join(x for x in (self.metric or "", format_delta(self.delta)) if x)
        way = ""  # after the side metric, so `parse_markdown` reads the edited line back the same
        if self.delta is not None and self.success is False and self.delta > 0:
            way = " (worse)"
        elif self.delta is not None and self.success is True and self.delta < 0:
            way = " (better)"
        side = ""
        if self.side_metric and self.side_delta is not None:
            side = f" ({self.side_metric} {format_delta(self.side_delta)})"
        return f"#{self.decision_id}" + (f" {moved}" if moved else "") + side + way


class Provenance(_Frozen):
    """Where a platform insight came from: one venture's brain version and the decisions behind it there."""

    venture: str
    version: int | None = None
    decisions: int = 0
    delta: float | None = None
    metric: str | None = None

    def describe(self, names: dict[str, str] | None = None) -> str:
        """'from Inkwell brain v4, 3 decisions, +12% signups'."""
        name = (names or {}).get(self.venture, self.venture)
        bits = [f"from {name} brain" + (f" v{self.version}" if self.version is not None else "")]
        if self.decisions:
            bits.append(f"{self.decisions} decision{'s' if self.decisions != 1 else ''}")
        if self.delta is not None:
            bits.append(" ".join(x for x in (f"{self.delta * 100:+.0f}%", self.metric or "") if x))
        return ", ".join(bits)


def lesson_key(text: str) -> str:
    """What makes two lessons 'the same lesson' across versions: the claim before any colon, normalised.

    `campaign.launch channel=seo: signups +12%` and `campaign.launch channel=seo: signups +9%` are one lesson
    whose evidence changed, not a removal and an addition.
    """
    head = text.split(":", 1)[0] if re.search(r"[a-z]\.[a-z]", text.split(":", 1)[0]) else text
    return re.sub(r"\s+", " ", head).strip().lower().rstrip(" .;,")


class Lesson(_Frozen):
    """A claim the venture learned, and the decisions that back it."""

    text: str
    key: str = ""
    evidence: tuple[Evidence, ...] = ()
    provenance: tuple[Provenance, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"text": data}
        if isinstance(data, dict):
            data = dict(data)
            if "text" not in data:
                data["text"] = str(data.get("lesson") or data.get("claim") or "")
            data["text"] = _clip(str(data["text"]), MAX_TEXT)
            if not data.get("key"):
                data["key"] = lesson_key(data["text"])
            data["evidence"] = _evidence(data.get("evidence"))[-MAX_EVIDENCE:]
            data["provenance"] = [p for p in (data.get("provenance") or []) if isinstance(p, dict | Provenance)]
        return data

    @property
    def decision_ids(self) -> tuple[int, ...]:
        return tuple(e.decision_id for e in self.evidence)

    @property
    def successes(self) -> int:
        return sum(1 for e in self.evidence if e.success)

    @property
    def mean_delta(self) -> float | None:
        deltas = [e.delta for e in self.evidence if e.delta is not None]
        return sum(deltas) / len(deltas) if deltas else None


def _evidence(raw: Any) -> list[Any]:
    """Evidence as a model may write it: ids, '#12', or objects with decision/decision_id/id."""
    out: list[Any] = []
    for item in raw if isinstance(raw, list | tuple) else []:
        if isinstance(item, Evidence):
            out.append(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            out.append({"decision_id": item})
        elif isinstance(item, str) and re.fullmatch(r"#?\d+", item.strip()):
            out.append({"decision_id": int(item.strip().lstrip("#"))})
        elif isinstance(item, dict):
            ident = next((item[k] for k in ("decision_id", "decision", "id") if k in item), None)
            if isinstance(ident, str) and re.fullmatch(r"#?\d+", ident.strip()):
                ident = int(ident.strip().lstrip("#"))
            if isinstance(ident, int) and not isinstance(ident, bool):
                entry = {"decision_id": ident}
                for k in ("metric", "delta", "success", "side_metric", "side_delta"):
                    if k in item:
                        entry[k] = item[k]
                out.append(entry)
    seen: set[int] = set()
    unique = []
    for e in out:
        ident = e.decision_id if isinstance(e, Evidence) else e["decision_id"]
        if ident not in seen:
            seen.add(ident)
            unique.append(e)
    return unique


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BrainDocument(_Frozen):
    """One version of what a venture knows: strategy, lessons with evidence, facts, questions, founder rules."""

    strategy: str = ""
    worked: tuple[Lesson, ...] = ()
    failed: tuple[Lesson, ...] = ()
    # Per lever, its options side by side with their newest estimate and interval, best first: which option to
    # take is a ranking, and most single verdicts are unclear.
    standings: tuple[str, ...] = ()
    customer_facts: tuple[str, ...] = ()
    open_questions: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bound(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data["strategy"] = _clip(str(data.get("strategy") or ""), MAX_STRATEGY)
        for name in LESSON_SECTIONS:
            raw = data.get(name) or []
            items = [x for x in (raw if isinstance(raw, list | tuple) else [raw]) if isinstance(x, str | dict | Lesson)]
            data[name] = items[:MAX_LESSONS]
        for name in LIST_SECTIONS:
            raw = data.get(name) or []
            values = raw if isinstance(raw, list | tuple) else [raw]
            texts = [_clip(str(x), MAX_TEXT) for x in values if str(x).strip() and not isinstance(x, dict | list)]
            data[name] = list(dict.fromkeys(texts))[:MAX_ITEMS]
        return data

    def lessons(self) -> list[tuple[str, Lesson]]:
        """Every lesson with the section it is in, worked first."""
        return [(name, lesson) for name in LESSON_SECTIONS for lesson in getattr(self, name)]

    def decision_ids(self) -> set[int]:
        return {e.decision_id for _, lesson in self.lessons() for e in lesson.evidence}

    def is_empty(self) -> bool:
        return not (self.strategy or self.worked or self.failed or self.standings or self.customer_facts or self.open_questions
                    or self.rules)

    def to_payload(self) -> dict[str, Any]:
        """The JSON stored in `brain.version` events."""
        return self.model_dump(mode="json")


def parse_document(data: str | dict[str, Any] | BrainDocument) -> BrainDocument:
    """A document from JSON text (a fenced ```json block is fine) or a dict; lenient about shapes."""
    if isinstance(data, BrainDocument):
        return data
    if isinstance(data, str):
        text = data.strip()
        fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
        if fenced:
            text = fenced.group(1)
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DocumentError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DocumentError(f"a brain document is a JSON object, not {type(data).__name__}")
    return BrainDocument.model_validate(data)


# -- the canonical text --------------------------------------------------------------------------------------


def _lesson_lines(lesson: Lesson, names: dict[str, str] | None) -> list[str]:
    lines = [f"- {lesson.text}"]
    if lesson.evidence:
        lines.append("  evidence: " + ", ".join(e.describe() for e in lesson.evidence))
    for p in lesson.provenance:
        lines.append(f"  {p.describe(names)}")
    return lines


def render_markdown(doc: BrainDocument, *, title: str | None = None, names: dict[str, str] | None = None) -> str:
    """The canonical markdown of a document: same document, same text, so line diffs mean something."""
    out: list[str] = [f"# {title}", ""] if title else []
    for name, heading in SECTIONS:
        if name in OPTIONAL_SECTIONS and not getattr(doc, name):
            continue
        out.append(f"## {heading}")
        if name == "strategy":
            out.append(doc.strategy or "(none)")
        elif name in LESSON_SECTIONS:
            lessons = getattr(doc, name)
            for lesson in lessons:
                out.extend(_lesson_lines(lesson, names))
            if not lessons:
                out.append("(none)")
        else:
            items = getattr(doc, name)
            out.extend(f"- {item}" for item in items)
            if not items:
                out.append("(none)")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


_EVIDENCE_ITEM = re.compile(
    r"#(\d+)(?:\s+([A-Za-z_][A-Za-z0-9_]*))?(?:\s+([+\-]\d+(?:\.\d+)?)%)?"
    r"(?:\s+\(([A-Za-z_][A-Za-z0-9_]*)\s+([+\-]\d+(?:\.\d+)?)%\))?"
    r"(?:\s+\((worse|better)\))?"
)


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lost_headings(original: str, edited: str) -> list[str]:
    """The `## ` section headings of `original` that `edited` no longer has, in order.

    A section whose heading went (deleted, or typed over) would hand its lines to the section before it or
    drop them; emptying a section on purpose leaves its heading with "(none)" under it.
    """
    def headings(text: str) -> list[str]:
        return [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]

    kept = {h.lower() for h in headings(edited)}
    return [h for h in headings(original) if h.lower() not in kept]


def parse_markdown(text: str) -> BrainDocument:
    """Read the canonical markdown back, as the founder left it in the editor.

    Headings pick the section, `- ` starts an item, an indented `evidence:` line lists `#id metric +x%`;
    anything under Strategy is the strategy. Unknown headings are an error so a typo is never silently lost.
    """
    by_heading = {h.lower(): n for n, h in SECTIONS}
    data: dict[str, Any] = {name: [] for name, _ in SECTIONS}
    data["strategy"] = []
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("# ") and not line.startswith("## "):
            continue  # the title
        if line.startswith("## "):
            heading = line[3:].strip().lower()
            if heading not in by_heading:
                known = ", ".join(h for _, h in SECTIONS)
                raise DocumentError(f"line {number}: unknown section '{line[3:].strip()}' (sections: {known})")
            current = by_heading[heading]
            continue
        if current is None and line.strip():
            # Text before the first heading, or a heading the founder typed into ("Focus on SEO## Strategy"):
            # read on, and the section after it would silently become "(none)".
            raise DocumentError(f"line {number}: '{_cut(line.strip())}' is outside any section (each section "
                                "starts with its own '## Heading' line)")
        if current is None or not line.strip() or line.strip() == "(none)":
            continue
        if current == "strategy":
            data["strategy"].append(line.strip())
        elif current in LESSON_SECTIONS:
            if line.startswith("- "):
                data[current].append({"text": line[2:].strip(), "evidence": []})
            elif line.strip().startswith("evidence:") and data[current]:
                for m in _EVIDENCE_ITEM.finditer(line.split(":", 1)[1]):
                    item: dict[str, Any] = {"decision_id": int(m.group(1))}
                    if m.group(2):
                        item["metric"] = m.group(2)
                    if m.group(3):
                        item["delta"] = float(m.group(3)) / 100
                    if m.group(4) and m.group(5):
                        item["side_metric"], item["side_delta"] = m.group(4), float(m.group(5)) / 100
                    if m.group(6):
                        item["success"] = m.group(6) == "better"
                    data[current][-1]["evidence"].append(item)
            elif data[current] and not line.strip().startswith("from "):
                data[current][-1]["text"] += " " + line.strip()
        elif line.startswith("- "):
            data[current].append(line[2:].strip())
        elif data[current]:
            data[current][-1] += " " + line.strip()
    data["strategy"] = " ".join(data["strategy"])
    return BrainDocument.model_validate(data)
