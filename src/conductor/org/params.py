"""Whether a decision's parameter values fit the org file's specs for its kind.

The engine checks every decision a model proposes, and `services.founder` checks the founder's amendments, with
the same rules and the same words; the rules depend only on the org's `ParamSpec`s, so they live here, below both.
"""

from __future__ import annotations

from typing import Any

from conductor.org.models import MAX_NAME_CHARS, DecisionKind, ParamSpec

MAX_TEXT = 4000  # characters kept of any free-text field; a model's 1 MB essay is cut, never stored whole


def check_param(name: str, spec: ParamSpec, value: Any) -> str | None:
    """Why a parameter value does not fit its spec, or None when it does."""
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return f"'{name}' must be a number"
    elif spec.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"'{name}' must be a whole number"
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            return f"'{name}' must be true or false"
    elif not isinstance(value, str):
        return f"'{name}' must be a string"
    elif len(value) > MAX_TEXT:
        return f"'{name}' must be at most {MAX_TEXT} characters (it has {len(value)})"
    if spec.type in ("number", "integer"):
        if spec.min is not None and value < spec.min:
            return f"'{name}' must be at least {spec.min:g}"
        if spec.max is not None and value > spec.max:
            return f"'{name}' must be at most {spec.max:g}"
    if spec.choices is not None and value not in spec.choices:
        return f"'{name}' must be one of {', '.join(spec.choices)}"
    return None


def check_params(kind: DecisionKind, params: dict[str, Any]) -> list[str]:
    """Every way `params` fails the kind's parameter specs (unknown keys included)."""
    problems = [f"unknown parameter '{k[:MAX_NAME_CHARS]}' for {kind.id}" for k in params if k not in kind.params]
    for name, spec in kind.params.items():
        if name not in params:
            if spec.required:
                problems.append(f"missing parameter '{name}' for {kind.id}")
            continue
        problem = check_param(name, spec, params[name])
        if problem:
            problems.append(f"{kind.id}: {problem}")
    return problems
