"""Splitting a prompt into its sections, and reading the structured parts the engine writes (kinds, policy).

These are the parts of a prompt a real model would read as a form: the section headings, the kinds it may
take with their parameter specs, the founder's policy line. Lessons and outcomes in free text are the
reader's business (`reader.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

RETRY_MARK = "# Your previous answer could not be used"

TITLES = {
    "Your role",
    "Your metric",
    "Founder directives",
    "Venture brief",
    "Platform insights",
    "Tasks for you",
    "Messages for you",
    "Outcomes of your recent decisions",
    "Founder verdicts on your escalations",
    "Returned for revision",
    "Decisions you may take",
    "Decision kinds",
    "Now",
    "What to answer",
    "Review request",
    "Earlier rounds",
    "Synthesis request",
    "Looked up",
}
_HEADING = re.compile(r"^# (.+?)\s*$")
_DECISION_TITLE = re.compile(r"Decision #\d+")
KIND_ID = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+"
KIND_RE = re.compile(KIND_ID)
KV = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s,;()\]}]+)")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_RECORD_ID = re.compile(r"""#\d+|["']revises["']:\s*\d+""")
_KIND_HEADING = re.compile(r"^# (Review request|Synthesis request|Your role)\s*$", re.MULTILINE)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def content(message: Any) -> str:
    """The text of one chat message (plain, or OpenAI-style content parts)."""
    value = message.get("content") if isinstance(message, dict) else None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(p.get("text", "")) for p in value if isinstance(p, dict))
    return "" if value is None else str(value)


def prompt_kind(text: str) -> str | None:
    """What the prompt asks for, by its first recognised heading."""
    m = _KIND_HEADING.search(text)
    return m.group(1) if m else None


def original_prompt(users: list[str]) -> str:
    """The request itself: the first user message with a recognised heading that is not a retry."""
    firsts = [t for t in users if not t.lstrip().startswith(RETRY_MARK)]
    return next((t for t in firsts if prompt_kind(t)), firsts[0] if firsts else users[0] if users else "")


def sections(text: str) -> dict[str, str]:
    """Known top-level sections by title; headings inside free text (a brief's own '# ...') stay content."""
    out: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and (m.group(1) in TITLES or _DECISION_TITLE.fullmatch(m.group(1))):
            if current is not None:
                out[current] = "\n".join(buf).strip()
            current, buf = m.group(1), []
        else:
            buf.append(line)
    if current is not None:
        out[current] = "\n".join(buf).strip()
    return out


def subsections(prompt: str) -> dict[str, str]:
    """`## Heading` blocks of a synthesis request, keyed by the heading's first two words, lowercased."""
    out: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in prompt.splitlines():
        if line.startswith("## "):
            if current is not None:
                out[current] = "\n".join(buf)
            current, buf = " ".join(line[3:].lower().split()[:2]), []
        else:
            buf.append(line)
    if current is not None:
        out[current] = "\n".join(buf)
    return out


def field_value(text: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s*(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def num(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").replace("−", "-").strip())
    except ValueError:
        return None


def bullets(body: str) -> list[str]:
    return [line[2:].strip() for line in body.splitlines() if line.startswith("- ")]


def _clean_value(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.rstrip(".,;:").lstrip("$")


def pairs(text: str) -> dict[str, str]:
    """`key=value` pairs and any inline JSON object of parameters in a line."""
    out = {m.group(1): _clean_value(m.group(2)) for m in KV.finditer(text)} if "=" in text else {}
    for m in _JSON_OBJECT.finditer(text) if "{" in text else ():
        try:
            data = json.loads(m.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str | int | float | bool) and k not in ("metric", "direction", "size"):
                    out.setdefault(str(k), v if isinstance(v, str) else json.dumps(v))
    return out


def previous_document(text: str) -> dict[str, Any]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return {}
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Param:
    name: str
    type: str = "string"
    choices: list[str] | None = None
    lo: float | None = None
    hi: float | None = None


@dataclass
class Kind:
    id: str
    description: str
    params: list[Param]
    spend: str | None

    def choice_param(self) -> Param | None:
        return next((p for p in self.params if p.choices), None)


_KIND_LINE = re.compile(rf"^- ({KIND_ID}): (.*)$")
_SPEND = re.compile(r"\s*Spends: ([A-Za-z_][A-Za-z0-9_]*)\.\s*$")
_PARAM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) \(([^()]*)\)")
_TYPES = ("string", "number", "integer", "boolean")


def _parse_param(name: str, spec: str) -> Param:
    param = Param(name)
    bits = [b.strip() for b in spec.split(", ")]
    param.type = bits[0] if bits[0] in _TYPES else "string"
    for bit in bits[1:]:
        if bit.startswith("one of "):
            param.choices = bit[len("one of ") :].split("/")
        elif ".." in bit:
            lo, _, hi = bit.partition("..")
            param.lo, param.hi = num(lo) if lo else None, num(hi) if hi else None
    return param


def parse_kind(line: str) -> Kind | None:
    """A kind of the "Decisions you may take" list: `- id: description Params: a (type, ...), ... Spends: a.`"""
    m = _KIND_LINE.match(line)
    if not m:
        return None
    kind_id, rest = m.group(1), m.group(2)
    cut = rest.rfind(" Params: ")
    if cut < 0:
        return Kind(kind_id, rest, [], None)
    description, tail = rest[:cut], rest[cut + len(" Params: ") :]
    spend = None
    sm = _SPEND.search(tail)
    if sm:
        spend, tail = sm.group(1), tail[: sm.start()]
    tail = tail.strip().rstrip(".")
    params = [] if tail == "none" else [_parse_param(pm.group(1), pm.group(2)) for pm in _PARAM.finditer(tail)]
    if not any(p.name == spend and p.type in ("number", "integer") for p in params):
        spend = None  # only a numeric parameter can hold money spent
    return Kind(kind_id, description, params, spend)


@dataclass
class Policy:
    always: list[str] = field(default_factory=list)
    threshold: float = 500.0
    floor: float = 0.5


def parse_policy(text: str) -> Policy:
    policy = Policy()
    m = re.search(r"kinds (.*?); any decision spending over \$?([\d,.]+)", text)
    if m:
        kinds = m.group(1).strip()
        policy.always = [] if kinds == "none" else [k.strip() for k in kinds.split(",") if k.strip()]
        policy.threshold = num(m.group(2).rstrip(".")) or policy.threshold
    m = re.search(r"confidence below ([\d.]+\d)", text)
    if m:
        policy.floor = num(m.group(1)) or policy.floor
    return policy


def without_record_ids(text: str) -> str:
    """The text with every record id (`#336`, `"revises": 336`, also in an earlier answer) blanked, for seeding draws.

    Ids are positions in the organisation's event log, not anything a model judges on: a run resumed after a
    kill writes its own events (`agent.interrupted`, the redone `agent.woke`), so every later id is shifted,
    and a model whose draws followed the ids would answer the same situation differently from the unbroken
    run. The answer still quotes the real ids (it reads them from the prompt); only the randomness ignores them.
    """
    return _RECORD_ID.sub("#", text)
