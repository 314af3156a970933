"""Metric sources, the pure part: from what a command printed or a URL answered to a number or to the reason
it is refused, when each source is due, and the event a reading becomes.

Nothing here does I/O (`engine.source_reader` runs the commands and fetches the URLs), so every rule is a
function over strings and numbers. A reading that fails or looks absurd is refused, with a short `check`
name and words for the founder, and never recorded: a broken export that prints 0 must not tell the agents
their revenue vanished, and a wrong value in the metric series would mislead every later attribution.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conductor.org.json_path import INDEX, parse_path
from conductor.org.models import MetricSource, Org
from conductor.redaction import remember_url, shown_command, shown_url
from conductor.store.events import NewEvent, iso
from conductor.text import printable

EXCERPT_CHARS = 200
Key = tuple[str, str]  # (venture, metric)


@dataclass(frozen=True)
class Declared:
    """One metric with a source, as the org file declares it."""

    venture: str
    metric: str
    source: MetricSource

    @property
    def key(self) -> Key:
        return self.venture, self.metric


class Refused(Exception):
    """A reading that is not recorded. `check` is a short stable name for the test it failed (`timeout`,
    `not_a_number`, `above_max`...); `raw` is what was read, for the excerpt the founder sees."""

    def __init__(self, check: str, reason: str, *, raw: str = "", value: float | None = None) -> None:
        super().__init__(reason)
        self.check = check
        self.reason = reason
        self.raw = raw
        self.value = value


@dataclass(frozen=True)
class Reading:
    """What one reading of one source gave: a number, or the refusal, and the text it was read from."""

    declared: Declared
    value: float | None = None
    refusal: Refused | None = None
    raw: str = ""


def declared_sources(org: Org) -> list[Declared]:
    """Every metric with a source, in the order their readings commit: by venture id, then metric name, so the
    event stream is the same for the same answers however long each reading took."""
    found = [Declared(v.id, m.name, m.source) for v in org.ventures for m in v.metrics if m.source is not None]
    return sorted(found, key=lambda d: d.key)


def remember_credentials(org: Org) -> None:
    """The credentials of every source URL (`redaction.remember_url`): the store and the log redact them wherever
    they appear, an echo in a server's answer included."""
    for d in declared_sources(org):
        if d.source.url:
            remember_url(d.source.url)


# -- where a reading came from --------------------------------------------------------------------------------
def provenance(source: MetricSource) -> str:
    """What was read, in a few words: the command's program name (and its script's, `python3 signups.py`; never
    the other arguments, which may hold a token), or the URL without its password."""
    if source.tool:
        return f"tool {source.tool}"
    if not source.command:
        return shown_url(source.url or "")
    return printable(shown_command(source.command), limit=120, one_line=True)


def excerpt(raw: str) -> str:
    """The start of what a source said, safe to show on one line: escapes and control characters removed."""
    return printable(raw, limit=EXCERPT_CHARS, one_line=True)


# -- from text to a number ------------------------------------------------------------------------------------
def _quote(value: Any) -> str:
    """A value read, quoted short for a reason line, with whatever it held that could drive a terminal removed."""
    if isinstance(value, str):
        return f"'{printable(value, limit=40, one_line=True)}'"
    return printable(json.dumps(value), limit=40, one_line=True)


def _number(value: Any, where: str, raw: str) -> float:
    """A JSON value as a finite number: a JSON number, or a string holding one (some APIs quote their numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Refused("not_a_number", f"not a number {where}: {_quote(value)}", raw=raw)
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (ValueError, OverflowError):
        raise Refused("not_a_number", f"not a number {where}: {_quote(value)}", raw=raw) from None
    if not math.isfinite(number):
        raise Refused("not_finite", f"not a finite number {where}: {_quote(value)}", raw=raw)
    return number


def pick(data: Any, parts: tuple[str, ...], raw: str = "") -> Any:
    """The value at a dot path's parts in parsed JSON; `Refused("path_missing")` naming the first part not there."""
    current = data
    for n, part in enumerate(parts):
        here = ".".join(parts[: n + 1])
        if isinstance(current, dict):
            if part not in current:
                raise Refused("path_missing", f"no '{part}' at {here} in the answer", raw=raw)
            current = current[part]
        elif isinstance(current, list):
            if not INDEX.fullmatch(part):
                raise Refused("path_missing", f"{'.'.join(parts[:n]) or 'the answer'} is a list; '{part}' is not "
                                              "an index", raw=raw)
            index = int(part)
            if not -len(current) <= index < len(current):
                raise Refused("path_missing", f"no item {index} at {here}: the list has {len(current)}", raw=raw)
            current = current[index]
        else:
            raise Refused("path_missing", f"nothing at {here}: {'.'.join(parts[:n]) or 'the answer'} is "
                                          f"{_quote(current)}, not an object or a list", raw=raw)
    return current


def parse_value(text: str, path: str | None) -> float:
    """The number a source's answer holds: at `path` in its JSON, or, without a path, the whole answer (plain
    text `42.5` or a JSON number). Raises `Refused` saying what was wrong."""
    if not text.strip():
        raise Refused("empty", "the answer is empty", raw=text)
    if path is None:
        return _number(text.strip(), "in the answer", text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused("not_json", f"not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", raw=text) from None
    except RecursionError:
        raise Refused("not_json", "not JSON this conductor reads (nested too deeply)", raw=text) from None
    try:
        parts = parse_path(path)
    except ValueError as exc:  # `org.checks` refuses such a file; kept for an org built without it
        raise Refused("bad_path", str(exc), raw=text) from None
    return _number(pick(data, parts, text), f"at {path}", text)


def judge(value: float, source: MetricSource, last: float | None) -> Refused | None:
    """Whether a number read is believable: within `min`/`max`, and no larger a relative change from the last
    recorded value than `max_jump`. A last value of 0 gives no scale to judge a jump by, so any move from it
    passes (otherwise a metric starting at 0 could never be recorded again)."""
    if source.min is not None and value < source.min:
        return Refused("below_min", f"{value:g} is below the minimum {source.min:g}", value=value)
    if source.max is not None and value > source.max:
        return Refused("above_max", f"{value:g} is above the maximum {source.max:g}", value=value)
    if source.max_jump is not None and last is not None and last != 0:
        change = (value - last) / abs(last)
        if abs(change) > source.max_jump:
            return Refused("jump", f"{value:g} is {change:+.0%} from the last value {last:g}; at most "
                                   f"±{source.max_jump:.0%} is believed (record it by hand if it is real)",
                           value=value)
    return None


# -- the schedule ---------------------------------------------------------------------------------------------
def due_sources(declared: list[Declared], last_read: Mapping[Key, datetime], now: datetime) -> list[Declared]:
    """The sources to read at `now`: never read yet (the first reading is at the run's start), or read
    `every` ago or longer. In commit order."""
    return [d for d in declared if (at := last_read.get(d.key)) is None or at + d.source.every <= now]


def next_due(declared: list[Declared], last_read: Mapping[Key, datetime], now: datetime) -> datetime | None:
    """When the next source is due (`now` if one is already), or None when the org has no sources: the clock
    stops there, so a simulated day of readings is read at the times a real one would be."""
    times = [max(now, at + d.source.every) if (at := last_read.get(d.key)) is not None else now for d in declared]
    return min(times, default=None)


# -- the event ------------------------------------------------------------------------------------------------
def reading_event(reading: Reading, now: datetime, day: int, last: float | None) -> NewEvent:
    """`metric.recorded` for a believable number, else `metric.refused` with the reason and an excerpt.

    Never an `OwnPayload`: the excerpt and the reason quote what a command or a server said, so the store scans
    the payload for every shape of credential, not only the ones this process knows.
    """
    d = reading.declared
    where: dict[str, Any] = {"source": d.source.kind, "provenance": provenance(d.source)}
    if d.source.path is not None:
        where["path"] = d.source.path
    refusal = reading.refusal
    if refusal is None and reading.value is not None:
        refusal = judge(reading.value, d.source, last)
        if refusal is None:
            return NewEvent("metric.recorded", {"metric": d.metric, "value": round(reading.value, 6), "at": iso(now),
                                                "day": day, **where}, venture=d.venture, sim_time=iso(now))
    if refusal is None:  # pragma: no cover (a reading holds a value or a refusal)
        refusal = Refused("no_value", "the reading gave no value")
    payload: dict[str, Any] = {"metric": d.metric, **where, "check": refusal.check,
                               "reason": printable(refusal.reason, limit=300, one_line=True),
                               "excerpt": excerpt(refusal.raw or reading.raw), "at": iso(now)}
    if refusal.value is not None:
        payload["value"] = round(refusal.value, 6)
    return NewEvent("metric.refused", payload, venture=d.venture, sim_time=iso(now))
