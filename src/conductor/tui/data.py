"""What the control room reads from the store, one poll at a time, off the UI thread.

The UI never queries SQLite itself: a thread worker calls `StoreReader.poll()`, which reads the events
committed since the last poll (cheap: the primary key) and re-reads only the parts of the picture those
events can have changed (agents, inbox, metrics, brain), each at most a few times a second. The result is one
`Update` the app applies in a single batch. Both modes use it: attached to another process's run, or with the
scheduler in this process, the UI only reads the store and writes founder events.

Everything here goes through `conductor.services.queries`, so the control room and `conductor status` agree.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from conductor.org.models import Org
from conductor.services import queries
from conductor.services.queries import AgentRow, DirectiveRow, EventRow, InboxItem, ModelUse, Status
from conductor.store import open_reader
from conductor.text import printable

BACKLOG = 2000  # events shown when the control room opens
QUIET_KINDS = frozenset({"metric.recorded", "market.stepped"})
# How often (seconds) each part may be re-read while events keep arriving.
REFRESH = {"status": 0.5, "agents": 1.0, "inbox": 0.5, "metrics": 2.0, "brain": 1.0, "directives": 1.0}


@dataclass(frozen=True)
class MetricSeries:
    """One owned metric of a venture over the org clock, for a sparkline."""

    venture: str
    metric: str
    unit: str
    direction: str
    values: tuple[float, ...]
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentSpend:
    agent: str
    venture: str | None
    spent: float
    budget: float
    calls: int
    yesterday: float = 0.0


@dataclass(frozen=True)
class QualityRow:
    """Decision quality under one brain version (from `conductor.brain.quality`): what was decided, how much ran
    without the founder, how often the founder approved, and how many measured decisions moved their metric the
    good way."""

    venture: str
    version: int | None
    decisions: int
    escalated_share: float | None
    approval_rate: float | None
    measured: int
    worked: int
    mean_delta: float | None


@dataclass(frozen=True)
class MetricsView:
    series: tuple[MetricSeries, ...]
    spend: tuple[AgentSpend, ...]
    quality: tuple[QualityRow, ...]
    day: str | None
    cache: ModelUse | None = None  # every call so far: the provider's cache share of the input, what it saved


@dataclass(frozen=True)
class BrainVersionRow:
    venture: str
    version: int
    parent: int | None
    author: str
    model: str | None
    created: str | None
    memories: int
    cost: float
    pinned: bool = False
    worked: int = 0
    failed: int = 0
    reverted_from: int | None = None


@dataclass
class Update:
    """One poll's worth of news; a part left None did not change (or was not due for a re-read)."""

    cursor: int
    events: list[EventRow] = field(default_factory=list)
    status: Status | None = None
    agents: list[AgentRow] | None = None
    inbox: list[InboxItem] | None = None
    metrics: MetricsView | None = None
    brain: list[BrainVersionRow] | None = None
    directives: list[DirectiveRow] | None = None
    first: bool = False


def _dirty_parts(kinds: set[str]) -> set[str]:
    """Which parts of the picture a batch of event kinds can have changed."""
    parts = {"status"} if kinds else set()
    if kinds - QUIET_KINDS:
        parts.add("agents")
    if any(k.startswith(("escalation.", "decision.")) for k in kinds):
        parts.add("inbox")
    if kinds & {"metric.recorded", "call.recorded", "decision.outcome"}:
        parts.add("metrics")
    if any(k.startswith("brain.") for k in kinds):
        parts.add("brain")
    if any(k.startswith("directive.") for k in kinds):
        parts.add("directives")
    return parts


def sort_inbox(items: list[InboxItem]) -> list[InboxItem]:
    """Most urgent first, then the soonest to expire (none last), then the oldest."""
    return sorted(items, key=lambda i: (-i.urgency, i.expires is None, i.expires or "", i.id))


class StoreReader:
    """A read-only view of one database, safe to call from one worker thread at a time (it holds a lock)."""

    def __init__(self, db: Path, org: Org, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = Path(db)
        self.org = org
        open_reader(self.db).close()  # validates the file (ours, not newer, migrated) with a one-line error
        self._conn = sqlite3.connect(f"{self.db.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                                     check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._dirty: set[str] = set()
        self._last: dict[str, float] = {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- polling -------------------------------------------------------------------------------------------
    def first(self) -> Update:
        """Everything, for the first frame: the org as the database has it, and the recent events."""
        with self._lock:
            events = queries.events(self._conn, limit=BACKLOG)
            cursor = events[-1].id if events else queries.last_event_id(self._conn)
            update = Update(cursor=cursor, events=events, first=True)
            self._refresh(update, set(REFRESH))
            return update

    def poll(self, cursor: int) -> Update:
        """Events after `cursor`, and re-reads of whatever they (or earlier, throttled batches) changed."""
        with self._lock:
            events = queries.events(self._conn, after_id=cursor, limit=BACKLOG)
            update = Update(cursor=events[-1].id if events else cursor, events=events)
            self._dirty |= _dirty_parts({e.kind for e in events})
            now = self._monotonic()
            due = {p for p in self._dirty if now - self._last.get(p, 0.0) >= REFRESH[p]}
            self._refresh(update, due)
            return update

    def refresh(self, parts: set[str]) -> Update:
        """Re-read the named parts now (after a founder command), without consuming events."""
        with self._lock:
            update = Update(cursor=-1)
            self._refresh(update, parts)
            return update

    def _refresh(self, update: Update, parts: set[str]) -> None:
        now = self._monotonic()
        for part in parts:
            self._last[part] = now
            self._dirty.discard(part)
        conn = self._conn
        status = queries.status(conn, self.db, budget_per_day=self.org.budget_per_day) if "status" in parts else None
        update.status = status
        if "agents" in parts:
            update.agents = self._agents(status.run.running if status else None)
        if "inbox" in parts:
            update.inbox = sort_inbox(queries.inbox(conn, awake_only=True))
        if "metrics" in parts:
            update.metrics = self._metrics()
        if "brain" in parts:
            update.brain = self._brain_versions()
        if "directives" in parts:
            update.directives = queries.directives(conn)

    def _agents(self, running: bool | None) -> list[AgentRow]:
        rows = queries.agents(self._conn, running=running)
        in_review = {d.agent for d in queries.decisions(self._conn, state="in_review")}
        out = []
        for row in rows:
            if row.paused:
                row = row.model_copy(update={"state": "paused"})
            elif row.state == "sleeping" and row.id in in_review:
                row = row.model_copy(update={"state": "waiting for review"})
            out.append(row)
        return out

    def _metrics(self) -> MetricsView:
        conn = self._conn
        series = []
        for venture in self.org.ventures:
            for metric in venture.metrics:
                points = queries.metric_points(conn, venture.id, metric.name, limit=90)
                owners = tuple(a.id for a in venture.agents if a.owns_metric == metric.name)
                series.append(MetricSeries(venture.id, metric.name, metric.unit, metric.direction,
                                           tuple(p.value for p in points), owners))
        day = queries.clock_now(conn)
        day = day[:10] if day else None
        spent = {r.agent: r for r in queries.spend(conn, day=day, by="agent")} if day else {}
        before = (date.fromisoformat(day) - timedelta(days=1)).isoformat() if day else None
        earlier = {r.agent: r.cost for r in queries.spend(conn, day=before, by="agent")} if before else {}
        spend = []
        budgets: list[tuple[str | None, str, float]] = [
            (venture.id, agent.id, agent.budget_per_day) for venture, agent in self.org.agents()]
        budgets.append((None, self.org.platform.id, self.org.platform.budget_per_day))
        for venture_id, agent_id, budget in budgets:
            row = spent.get(agent_id)
            spend.append(AgentSpend(agent_id, venture_id, row.cost if row else 0.0, budget, row.calls if row else 0,
                                    earlier.get(agent_id, 0.0)))
        return MetricsView(tuple(series), tuple(spend), tuple(self._quality()), day, queries.model_use(conn))

    def _quality(self) -> list[QualityRow]:
        """The brain's own decision-quality table (imported here, in the worker, on first use)."""
        from conductor.brain.quality import decision_quality, load_decision_rows

        return [QualityRow(q.venture, q.brain_version, q.decisions, q.escalated_share, q.approval_rate, q.measured,
                           q.succeeded, q.mean_normalized_delta)
                for q in decision_quality(load_decision_rows(self._conn))]

    def _brain_versions(self) -> list[BrainVersionRow]:
        """Every brain version, newest first per venture, the platform's last (through the brain's service)."""
        from conductor.services import brain

        out = []
        for venture in [*(v.id for v in self.org.ventures), "platform"]:
            for info in reversed(brain.versions(self._conn, venture)):
                out.append(BrainVersionRow(
                    info.venture, info.version, info.parent, printable(info.author), info.model, info.created,
                    info.memories, info.cost, info.pinned, info.worked, info.failed, info.reverted_from))
        return out

    # -- on demand -----------------------------------------------------------------------------------------
    def escalation(self, escalation_id: int) -> queries.EscalationDetail:
        with self._lock:
            return queries.escalation(self._conn, escalation_id)

    def newest_brain_version(self, venture: str) -> int | None:
        with self._lock:
            return self._conn.execute("SELECT max(version) FROM brain_versions WHERE venture = ?",
                                      (venture,)).fetchone()[0]

    def brain_document(self, venture: str, version: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT document FROM brain_versions WHERE venture = ? AND version = ?",
                                     (venture, version)).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row["document"])
        except ValueError:
            return None
        return value if isinstance(value, dict) else {"strategy": str(value)}

    def wake_up(self, event_id: int) -> list[EventRow]:
        """The wake-up an event belongs to, from the agent's `agent.woke` to just before its next one."""
        with self._lock:
            return queries.wake_up_events(self._conn, event_id)

    def clock(self) -> datetime | None:
        with self._lock:
            now = queries.clock_now(self._conn)
        from conductor.tui.format import parse

        return parse(now)
