"""The registry: every event kind the product writes, and the lookups the store and the views use.

A kind not in the catalogue (one a newer release writes, or a test's own) is never an error when reading: it
reads as its scalar fields (`generic_text`) and validates as anything. Writing a known kind with a payload its
model refuses is a bug in the producer, and the store refuses it (`check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from conductor.events import agent, brain, decision, founder, inbox, run, tool
from conductor.events.base import EventSpec, Payload, When, as_stored, short
from conductor.text import printable

VERSION_KEY = "_v"  # in a stored payload whose kind is past version 1: the version it was written at


def _index(*groups: tuple[EventSpec, ...]) -> Mapping[str, EventSpec]:
    out: dict[str, EventSpec] = {}
    for group in groups:
        for entry in group:
            if entry.kind in out:
                raise ValueError(f"event kind {entry.kind} is catalogued twice")
            out[entry.kind] = entry
    return MappingProxyType(out)


CATALOGUE: Mapping[str, EventSpec] = _index(agent.SPECS, decision.SPECS, inbox.SPECS, founder.SPECS, run.SPECS,
                                            brain.SPECS, tool.SPECS)


class PayloadError(ValueError):
    """A payload its kind's model refuses: one line naming the kind and the first problems."""


def spec(kind: str) -> EventSpec | None:
    """The kind's entry, or None for a kind the catalogue does not know."""
    return CATALOGUE.get(kind)


def generic_text(kind: str, payload: Mapping[str, Any]) -> str:
    """How an unknown kind reads: its scalar fields as `k=v`, or the kind itself when it has none."""
    text = ", ".join(f"{k}={short(v, 40)}" for k, v in payload.items()
                     if k != "by" and isinstance(v, str | int | float | bool))
    return text or kind


def text(kind: str, payload: Mapping[str, Any], when: When = as_stored) -> str:
    """The one line the product shows for an event, printable and unfolded to one line, never raising.

    Views cut it to their width. `when` formats the times a payload holds (see `base.When`).
    """
    entry = CATALOGUE.get(kind)
    if not isinstance(payload, Mapping):
        payload = {}
    try:
        line = entry.text(payload, when) if entry is not None else generic_text(kind, payload)
    except Exception:  # a payload of the wrong shape (an older or hand-written log) reads generically
        line = generic_text(kind, payload)
    return printable(line, one_line=True)


def upgrade(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A stored payload in its kind's current shape: run through the kind's `upgrade` from the version it was
    written at (`VERSION_KEY`, 1 when absent). Unknown kinds, and kinds at version 1, come back as they are."""
    entry = CATALOGUE.get(kind)
    if entry is None or entry.version == 1:
        return payload
    written = int(payload.get(VERSION_KEY, 1))
    if written >= entry.version:
        return payload
    body = {k: v for k, v in payload.items() if k != VERSION_KEY}
    return {**entry.upgrade(body, written), VERSION_KEY: entry.version}


def _refused(kind: str, exc: ValidationError) -> PayloadError:
    problems = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'payload'}: {err['msg']}"
                         for err in exc.errors()[:3])
    return PayloadError(f"{kind} payload does not fit its model: {problems}")


def validate(kind: str, payload: Mapping[str, Any]) -> Payload | None:
    """The payload as its kind's model, or None for an unknown kind; `PayloadError` if the model refuses it.

    Older payloads are upgraded first, so anything a previous release wrote validates against today's model.
    """
    entry = CATALOGUE.get(kind)
    if entry is None:
        return None
    body = upgrade(kind, dict(payload))
    body.pop(VERSION_KEY, None)
    try:
        return entry.model.model_validate(body)
    except ValidationError as exc:
        raise _refused(kind, exc) from None


# The current-version kinds' validators, called directly: `check` runs on every event the store writes, and
# skipping the copy, the upgrade and `model_validate`'s own dispatch keeps it near 2 µs an event.
_FAST = {kind: entry.model.__pydantic_validator__.validate_python
         for kind, entry in CATALOGUE.items() if entry.version == 1}


def check(kind: str, payload: Mapping[str, Any]) -> None:
    """Raise `PayloadError` if a known kind's payload is malformed; the store calls this on every write."""
    fast = _FAST.get(kind)
    if fast is None:
        if kind in CATALOGUE:
            validate(kind, payload)
        return
    try:
        fast(payload)
    except ValidationError as exc:
        raise _refused(kind, exc) from None
