"""The shape every catalogue entry has: a payload model, a version, an upgrade hook and one line of text.

A kind's text is written once, here in `conductor.events`, and every view (the `conductor events` listing, the
control room's Activity pane, the event detail) shows that line; before the catalogue each view kept its own
`if kind == ...` chain and the two said different things about the same event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from conductor.text import printable

# How a view shows a time held in a payload (an ISO string): the CLI shows it as stored, the control room as
# 'd3 09:00'. Passing it in keeps the words in one place and the clock's format in the view that owns it.
When = Callable[[Any], str]
Text = Callable[[Mapping[str, Any], When], str]
Upgrade = Callable[[dict[str, Any], int], dict[str, Any]]


def as_stored(moment: Any) -> str:
    """The default `When`: the time as the payload holds it, '?' when there is none."""
    return str(moment) if moment else "?"


class Payload(BaseModel):
    """The base of every payload model.

    `extra="allow"`: a key this model does not name is kept, never refused. A newer release may add a field to a
    kind (as `inputs` and `redoes` were added to `agent.woke`), and the log it wrote must still load in an older
    reader, in an export, or in a replay of a mixed log; refusing unknown keys would make every addition a
    breaking change. Fields added over time are optional for the same reason, in the other direction: a log
    written before the field existed has to validate.
    """

    model_config = ConfigDict(extra="allow")

    by: str | None = None  # "founder" on the founder's writes, "policy" on an expiry; absent on the engine's own


def keep(payload: dict[str, Any], from_version: int) -> dict[str, Any]:
    """The upgrade of a kind whose shape never changed: the payload as it is."""
    return payload


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One kind of event: what its payload holds, which shape it is at, and how it reads.

    `version` is the payload's current shape. A stored payload without a `"_v"` key is version 1; a kind whose
    shape changes (a renamed or restructured field, not an optional addition) raises its version, writes `"_v"`
    and gives an `upgrade` that turns a payload of any older version into the current one, so a log written by
    an earlier release still replays. `example` is a realistic payload: documentation, and what the tests read.
    """

    kind: str
    label: str  # a short word for a narrow kind column (the Activity pane's), at most 11 characters
    model: type[Payload]
    text: Text
    example: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    upgrade: Upgrade = keep


def short(value: Any, limit: int = 60) -> str:
    """A value cut for a one-line text: dicts as `k=v` pairs, floats without trailing zeros."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={short(v, 30)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return printable(value, one_line=True, limit=limit)


def suffix(p: Mapping[str, Any], key: str, sep: str = ": ") -> str:
    """`sep` and the value of `key` when the payload has a non-empty one, else nothing."""
    value = p.get(key)
    return f"{sep}{value}" if value else ""


def val(p: Mapping[str, Any], key: str) -> Any:
    """A payload value for a text, '?' when it is missing or null (an old or hand-written payload)."""
    value = p.get(key)
    return "?" if value is None else value
