"""Events: the append-only log every other table is derived from.

`NewEvent` is what a producer hands the writer; `StoredEvent` is what the log holds once committed, with its
id (strictly increasing) and the wall-clock time of the commit. `sim_time` is the org clock's time, simulated
or real, and is what the product reasons about; `ts` is only for operators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def iso(moment: datetime) -> str:
    """A fixed-width UTC ISO 8601 string, so text order is time order in SQL.

    Cached: a simulated instant is formatted once for each of the hundreds of events that carry it.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def dump_payload(payload: dict[str, Any]) -> str:
    """Compact, key-sorted JSON. Text a model produced may hold lone surrogates; those are escaped."""
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True, default=str)
    return text


class OwnPayload(dict[str, Any]):
    """A typed marker: a payload made wholly of the engine's own values (ids, states, times, numbers, fixed
    phrases, names from the org file), with nothing a model, a provider, a command, a file or a person wrote.

    The store scans every payload for credentials before it is written (`conductor.redaction`); this one only
    for the credentials the process knows, not for key-shaped strings, which saves that scan on the most
    frequent events (idle ticks, market steps, simulated metric points). The marker is the exception, so a
    producer that forgets it costs microseconds, never a secret; text from outside must never go in one.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a producer wants written."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    venture: str | None = None
    agent: str | None = None
    sim_time: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the log holds it."""

    id: int
    ts: str
    kind: str
    payload: dict[str, Any]
    venture: str | None = None
    agent: str | None = None
    sim_time: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> StoredEvent:
        return cls(
            id=row["id"],
            ts=row["ts"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            venture=row["venture"],
            agent=row["agent"],
            sim_time=row["sim_time"],
        )
