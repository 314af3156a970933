"""The run and its world: runs starting and stopping, the org file, the clock, the market, metrics, model calls.

These are the most frequent events (idle ticks aside): their models stay flat so validating them is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from conductor.events.base import EventSpec, Payload, When, short, val

P = Mapping[str, Any]


class RunStarted(Payload):
    """`origin`, `market_version` and `studio_seed` are written on a first run only (a resumed run reads them
    back from its first `run.started`)."""

    pid: int | None = None
    model: str | None = None
    resumed: bool = False
    seed: int | None = None
    market_seeds: dict[str, Any] | None = None
    origin: str | None = None
    market_version: int | None = None
    studio_seed: int | None = None


class RunStopped(Payload):
    reason: str = ""


class OrgLoaded(Payload):
    name: str
    path: str = ""
    digest: str = ""
    model: str | None = None
    clock: str | None = None
    synchronous: str | None = None  # the org's [engine] synchronous; absent before the setting existed
    budget_per_day: float | None = None  # the org's daily budget; absent in logs older than the field
    ventures: list[dict[str, Any]] = Field(default_factory=list)
    agents: list[dict[str, Any]] = Field(default_factory=list)


class ClockAdvanced(Payload):
    """Readers take the time from the event's `sim_time`; `day` (days since the origin) is for people."""

    day: int | None = None


class MarketStepped(Payload):
    day: int


class MetricRecorded(Payload):
    """`source` says how the value came: `sim` (the simulated market), `founder`, `csv:<file>`, or a metric
    source's `command` or `http`, which also name what was read (`provenance`: the program's name or the URL
    with any password redacted) and where in its answer (`path`); both absent from older logs."""

    metric: str
    value: float
    at: str
    source: str | None = None
    day: int | None = None
    provenance: str | None = None
    path: str | None = None


class MetricRefused(Payload):
    """A metric source's reading that was not recorded: it failed (exit code, timeout, no answer) or looked
    absurd (not a number, out of bounds, a jump too large). `check` is the short name of the test it failed,
    `reason` the words for the founder, `excerpt` the start of what was read (printable, at most 200
    characters) so the founder sees what the source said; `value` is the number it held, when it held one."""

    metric: str
    source: str
    reason: str
    check: str = ""
    provenance: str | None = None
    path: str | None = None
    excerpt: str = ""
    value: float | None = None
    at: str | None = None


class CallRecorded(Payload):
    """One model call. `for` (the venture a brain synthesis call was made for) is a keyword in Python: it
    is kept as an extra key rather than a field."""

    model: str
    purpose: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = None
    cached_tokens: int = 0  # of prompt_tokens, read from the provider's prompt cache (absent before it was kept)
    cache_saved: float = 0.0  # USD the cached tokens cost less than uncached input


class VentureStage(Payload):
    stage: str


def _run_started(p: P, when: When) -> str:
    return ("run resumed" if p.get("resumed") else "run started") + f" (model {p.get('model', '?')})"


def _run_stopped(p: P, when: When) -> str:
    return f"run stopped: {p.get('reason', '?')}"


def _org_loaded(p: P, when: When) -> str:
    return f"org loaded: {p.get('name', '?')}, {len(p.get('ventures') or [])} ventures, " \
           f"{len(p.get('agents') or [])} agents"


def _clock(p: P, when: When) -> str:
    try:
        return f"day {int(p.get('day', 0)) + 1} begins"
    except (TypeError, ValueError):
        return f"day {val(p, 'day')} begins"


def _market(p: P, when: When) -> str:
    return f"market day {val(p, 'day')}"


def _metric(p: P, when: When) -> str:
    return f"{val(p, 'metric')} = {short(p.get('value'))} at {val(p, 'at')} ({_from(p) or '?'})"


def _from(p: P) -> str:
    """Where a reading came from, for a text: "command python3 → data.count", "http://host/stats", "sim"."""
    source, provenance = p.get("source"), p.get("provenance")
    what = str(provenance) if source == "http" and provenance else " ".join(str(x) for x in (source, provenance) if x)
    return what + (f" → {p['path']}" if p.get("path") else "")


def _metric_refused(p: P, when: When) -> str:
    line = f"{val(p, 'metric')} reading refused ({_from(p) or '?'}): {val(p, 'reason')}"
    return line + (f" [output: {short(p['excerpt'], 80)}]" if p.get("excerpt") else "")


def _call(p: P, when: When) -> str:
    try:
        cost = f"${float(p.get('cost', 0)):.4f}"
    except (TypeError, ValueError):
        cost = f"${val(p, 'cost')}"
    return f"{p.get('purpose', 'call')} {val(p, 'model')} {cost}" + (
        "" if p.get("ok", True) else f" failed: {val(p, 'error')}")


def _stage(p: P, when: When) -> str:
    return f"stage is now {val(p, 'stage')}"


T = "2026-01-07T00:00:00.000000Z"
SPECS = (
    EventSpec("run.started", "run", RunStarted, _run_started, {
        "pid": 4242, "model": "sim/studio", "resumed": False, "seed": 7, "market_seeds": {"acme": 11},
        "origin": T, "market_version": 2, "studio_seed": 7}),
    EventSpec("run.stopped", "run", RunStopped, _run_stopped, {"reason": "reached the end time"}),
    EventSpec("org.loaded", "org", OrgLoaded, _org_loaded, {
        "name": "Studio", "path": "/srv/orgs/studio.toml", "digest": "9f2c", "model": "sim/studio", "clock": "simulated",
        "ventures": [{"id": "acme", "name": "Acme", "stage": "launch", "goal": "grow mrr"}],
        "agents": [{"id": "acme-ceo", "venture": "acme", "role": "CEO", "owns_metric": "mrr"}]}),
    EventSpec("clock.advanced", "day", ClockAdvanced, _clock, {"day": 2}),
    EventSpec("market.stepped", "market", MarketStepped, _market, {"day": 2}),
    EventSpec("metric.recorded", "metric", MetricRecorded, _metric, {
        "metric": "mrr", "value": 1234.5, "at": T, "day": 2, "source": "sim"}),
    EventSpec("metric.refused", "refused", MetricRefused, _metric_refused, {
        "metric": "signups", "source": "command", "provenance": "python3", "path": "data.count",
        "check": "not_a_number", "reason": "not a number at data.count: 'n/a'", "excerpt": '{"data": {"count": "n/a"}}',
        "at": T}),
    EventSpec("call.recorded", "call", CallRecorded, _call, {
        "model": "sim/studio", "purpose": "wake", "prompt_tokens": 1800, "completion_tokens": 240, "cost": 0.0042,
        "latency_ms": 812.0, "ok": True, "error": None}),
    EventSpec("venture.stage", "stage", VentureStage, _stage, {"stage": "growth"}),
)
