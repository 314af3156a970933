"""The structured output contract every wake-up answers with, and tolerant parsing of what models return.

The contract is plain pydantic, so the same model gives the provider a JSON schema (where it supports one),
gives the prompt a readable description, and validates the answer. Validation also checks the answer against
the org: kinds must exist, parameters must fit the kind. Whatever fails is quoted back in a retry prompt.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.org.models import Org
from conductor.org.params import MAX_TEXT, check_params  # the parameter rules, shared with services.founder

logger = logging.getLogger(__name__)

MAX_NAME = 200  # an agent id, role or metric name


class ExpectedEffect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = Field(max_length=MAX_NAME)
    direction: Literal["up", "down"]
    size: float = Field(0.0, description="Expected relative change, e.g. 0.05 for 5%.")


class DecisionOut(BaseModel):
    """One decision an agent takes: what, why, what it expects to move, and how sure it is."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = Field(max_length=MAX_TEXT)
    expected_effect: ExpectedEffect
    confidence: float = Field(ge=0, le=1)
    reversible: bool = True
    revises: int | None = Field(None, description="Id of a decision returned for revision that this replaces.")


class TaskOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=MAX_NAME, description="An agent id or a role in your venture.")
    title: str = Field(max_length=200)
    body: str = Field("", max_length=MAX_TEXT)


class MessageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=MAX_NAME, description="An agent id: the one you report to, or one who reports to you.")
    text: str = Field(max_length=MAX_TEXT)


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: int
    result: str = Field(max_length=MAX_TEXT)


class AgentOutput(BaseModel):
    """What one wake-up concluded."""

    model_config = ConfigDict(extra="forbid")
    summary: str = Field(max_length=MAX_TEXT)
    decisions: list[DecisionOut] = Field(default_factory=list, max_length=5)
    tasks: list[TaskOut] = Field(default_factory=list, max_length=5)
    messages: list[MessageOut] = Field(default_factory=list, max_length=5)
    completed_tasks: list[TaskResult] = Field(default_factory=list, max_length=10)


class ReviewOutput(BaseModel):
    """A reviewer's answer on one decision."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["approve", "revise"]
    feedback: str = Field("", max_length=MAX_TEXT)


class OutputError(ValueError):
    """The answer cannot be used; the message is what the retry prompt quotes."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """Find the JSON object in a model's answer: bare, fenced, or surrounded by prose; else repair it.

    Small models write almost-JSON: a bare value (`"to": tally-ceo`), a trailing comma, a cut-off answer. What
    the json-repair library can mend is mended (and still has to pass validation after); an answer with no
    object in it at all, or none that can be mended, is refused with the offending line quoted, so the retry
    shows the model what to fix rather than only where the parser stopped.
    """
    if not text or not text.strip():
        raise OutputError("the answer was empty")
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start : text.rfind("}") + 1])
    last: json.JSONDecodeError | RecursionError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, RecursionError) as exc:
            last = exc
    repaired = _repaired(candidates[-1] if start >= 0 and _ends_an_object(text) else "")
    if repaired is not None:
        logger.info("answer repaired: %s", last)
        return repaired
    raise OutputError(f"the answer is not valid JSON ({last}){_offending_line(last)}")


def _ends_an_object(text: str) -> bool:
    """Whether the answer ends where an object ends (a fence after it allowed). One cut off at the output limit
    does not, and is not mended: closing it would keep the decisions before the cut and silently drop the rest."""
    return text.strip().removesuffix("```").rstrip().endswith("}")


def _repaired(candidate: str) -> dict[str, Any] | None:
    """The object json-repair makes of an answer that starts one, or None when it makes no object of it."""
    if not candidate:
        return None
    from json_repair import loads as repair  # imported on the first broken answer, not at start-up

    try:
        value = repair(candidate)
    except Exception:  # a malformed answer must end in OutputError, whatever the repairer makes of it
        return None
    return value if isinstance(value, dict) and value else None


def _offending_line(error: Exception | None) -> str:
    """The line the parser stopped at, quoted for the retry (`line 20: "to": tally-ceo,`)."""
    if not isinstance(error, json.JSONDecodeError):
        return ""
    lines = error.doc.splitlines()
    if not 0 < error.lineno <= len(lines):
        return ""
    line = lines[error.lineno - 1].strip()
    return f"; line {error.lineno}: {line[:160]}" if line else ""


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors(include_url=False)[:8]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


# An expected effect is a relative change (0.05 for +5%). A model that writes a percentage (5 for 5%) would
# claim +500%: refused with a reason the retry quotes, rather than stored and later judged against.
MAX_RELATIVE_EFFECT = 2.0


def parse_agent_output(text: str, org: Org, agent_kinds: Collection[str] | None = None,
                       agent_id: str = "you") -> AgentOutput:
    """Parse and validate a wake-up answer against the contract, the org's decision kinds and, with
    `agent_kinds`, the kinds this agent may take. Every problem is named where it is, for the retry to quote."""
    data = extract_json(text)
    if not isinstance(data, dict):
        raise OutputError("the answer must be one JSON object with a 'summary' field")
    try:
        output = AgentOutput.model_validate(data)
    except ValidationError as exc:
        raise OutputError(f"the answer does not fit the schema: {_format_validation(exc)}") from None
    problems: list[str] = []
    for i, decision in enumerate(output.decisions):
        kind = org.kind(decision.kind)
        if kind is None:
            known = ", ".join(k.id for k in org.decision_kinds)
            problems.append(f"decisions.{i}.kind: unknown decision kind '{decision.kind[:MAX_NAME]}' (known: {known})")
            continue
        if agent_kinds is not None and decision.kind not in agent_kinds:
            yours = ", ".join(agent_kinds) or "none"
            problems.append(f"decisions.{i}.kind: {agent_id} may not take '{decision.kind}' decisions (yours: {yours})")
            continue
        problems += [f"decisions.{i}.params: {p}" for p in check_params(kind, decision.params)]
        size = decision.expected_effect.size
        if not -1.0 <= size <= MAX_RELATIVE_EFFECT:
            problems.append(f"decisions.{i}.expected_effect.size: {size:g} is not a relative change (write 0.05 for "
                            f"+5%, -0.1 for -10%; between -1 and {MAX_RELATIVE_EFFECT:g})")
    if problems:
        raise OutputError("the answer does not fit the org's decision kinds: " + "; ".join(problems[:8]))
    return output


def parse_review_output(text: str) -> ReviewOutput:
    data = extract_json(text)
    try:
        return ReviewOutput.model_validate(data)
    except ValidationError as exc:
        raise OutputError(f"the review does not fit the schema: {_format_validation(exc)}") from None


@functools.cache
def schema_text(model: type[BaseModel]) -> str:
    """The JSON schema, compact, for prompts to models that do not take a response schema."""
    return json.dumps(model.model_json_schema(), separators=(",", ":"))


def link_revisions(proposed: list[tuple[str, int | None]], returned: dict[int, str]) -> list[int | None]:
    """For each proposed decision, as (kind, the `revises` it wrote), the decision returned for revision it
    revises, or None for a new decision. `returned` maps the decisions this wake-up was shown as returned for
    revision (id -> kind).

    The engine links, not the model: a real model often leaves `revises` out or gets it wrong, and each
    revision would then start again at review round 1, past the org's round limit. A decision of a returned
    decision's kind revises it (the one it names, else the oldest of that kind not yet linked); `revises` naming
    a decision of another kind does not turn one kind into another, so that answer is a new decision."""
    linked: list[int | None] = [None] * len(proposed)
    taken: set[int] = set()
    for n, (kind, revises) in enumerate(proposed):  # first what the answer names rightly, then the rest by kind
        if revises is not None and returned.get(revises) == kind and revises not in taken:
            linked[n] = revises
            taken.add(revises)
    for n, (kind, _) in enumerate(proposed):
        if linked[n] is None:
            found = next((i for i, k in sorted(returned.items()) if k == kind and i not in taken), None)
            if found is not None:
                linked[n] = found
                taken.add(found)
    return linked


# -- the schema a decoder can hold an agent to -----------------------------------------------------------------
_JSON_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean"}


def _param_schema(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _JSON_TYPES.get(spec.type, "string")}
    if spec.choices:
        out["enum"] = list(spec.choices)
    if spec.min is not None:
        out["minimum"] = spec.min
    if spec.max is not None:
        out["maximum"] = spec.max
    return out


def agent_output_schema(org: Org, agent_kinds: Collection[str]) -> dict[str, Any]:
    """The wake-up answer's JSON schema for one agent: each of its kinds with its own params (types, choices,
    ranges), `kind` an enum of its kinds, the effect's size a relative change. No length limits: a grammar-
    constrained decoder (llama.cpp) compiles a length limit into a grammar that grows with it, so lengths stay in
    validation (`parse_agent_output`), which also names every problem for the retry."""
    expected = {"type": "object", "properties": {
        "metric": {"type": "string"}, "direction": {"enum": ["up", "down"]},
        "size": {"type": "number", "minimum": -1.0, "maximum": MAX_RELATIVE_EFFECT}},
        "required": ["metric", "direction", "size"], "additionalProperties": False}
    variants = []
    for kind_id in agent_kinds:
        kind = org.kind(kind_id)
        if kind is None:
            continue
        params = {name: _param_schema(spec) for name, spec in kind.params.items()}
        variants.append({"type": "object", "properties": {
            "kind": {"const": kind.id},
            "params": {"type": "object", "properties": params,
                       "required": [n for n, spec in kind.params.items() if spec.required],
                       "additionalProperties": False},
            "rationale": {"type": "string"}, "expected_effect": expected,
            "confidence": {"type": "number", "minimum": 0, "maximum": 1}, "reversible": {"type": "boolean"},
            "revises": {"type": ["integer", "null"]}},
            "required": ["kind", "params", "rationale", "expected_effect", "confidence"],
            "additionalProperties": False})
    decision: dict[str, Any] = {"anyOf": variants} if variants else {"not": {}}
    named = {"type": "object", "properties": {"to": {"type": "string"}, "title": {"type": "string"},
                                              "body": {"type": "string"}},
             "required": ["to", "title"], "additionalProperties": False}
    message = {"type": "object", "properties": {"to": {"type": "string"}, "text": {"type": "string"}},
               "required": ["to", "text"], "additionalProperties": False}
    done = {"type": "object", "properties": {"task_id": {"type": "integer"}, "result": {"type": "string"}},
            "required": ["task_id", "result"], "additionalProperties": False}
    return {"type": "object", "properties": {
        "summary": {"type": "string"},
        "decisions": {"type": "array", "items": decision, "maxItems": 5},
        "tasks": {"type": "array", "items": named, "maxItems": 5},
        "messages": {"type": "array", "items": message, "maxItems": 5},
        "completed_tasks": {"type": "array", "items": done, "maxItems": 10}},
        "required": ["summary"], "additionalProperties": False}


def review_output_schema() -> dict[str, Any]:
    """The review answer's schema, without length limits (see `agent_output_schema`)."""
    return _without_lengths(ReviewOutput.model_json_schema())


def _without_lengths(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_lengths(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_without_lengths(v) for v in schema]
    return schema

