"""Read models: what the founder sees, from `conductor status` to the control room's panes.

The CLI and the TUI both read through these functions, so a number means the same thing in both; the
pydantic models are also the documented `--json` shapes (docs/cli-json.md), so field names are stable: add
fields, never rename or remove one. Every function takes a plain `sqlite3.Connection` (read-only is enough,
rows as `sqlite3.Row`) and never writes. Text a model wrote (summaries, rationales, notes, reasons, payloads)
has already been through `conductor.text.printable` here, so no caller can forget it; cut it to one line
with `printable(text, one_line=True, limit=N)` for table cells.

Public API (stable names; the TUI imports these, and may add functions here):
    models   RunState, VentureStatus, Status, AgentRow, EventRow, InboxItem, ReviewStep, EscalationDetail,
             MetricRow, MetricPoint, SpendRow, DirectiveRow, DecisionRow
    run_state(conn, db_path) -> RunState          is a scheduler running on this database, and which pid
    status(conn, db_path, *, budget_per_day=None) -> Status
    agents(conn, *, venture=None, running=None) -> list[AgentRow]
    events(conn, *, venture=None, agent=None, kind=None, since=None, after_id=0, limit=None) -> list[EventRow]
    last_event_id(conn) -> int
    clock_now(conn) -> str | None                 the org clock's latest time (ISO 8601, UTC)
    parse_since(conn, text) -> str                "2h", "1d" (before the org clock) or an ISO time
    event_summary(kind, payload) -> str           one printable line describing an event
    inbox(conn, *, state="pending", venture=None) -> list[InboxItem]
    escalation(conn, escalation_id) -> EscalationDetail
    metrics(conn, venture=None) -> list[MetricRow]
    metric_points(conn, venture, metric, *, limit=None) -> list[MetricPoint]
    spend(conn, *, day=None, by="agent") -> list[SpendRow]
    directives(conn, venture=None, *, active_only=True) -> list[DirectiveRow]
    decisions(conn, *, venture=None, agent=None, state=None, limit=None) -> list[DecisionRow]
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from conductor.errors import BadInput, NotFound
from conductor.org.durations import parse_duration
from conductor.store.events import iso, parse_iso
from conductor.store.lock import founder_attached, lock_held, lock_path
from conductor.text import printable, with_note

# --- models ----------------------------------------------------------------------------------------------------


class _Row(BaseModel):
    """Every row and report this module returns. Built on first use (`defer_build`): a command imports this module
    for one or two of these models, and building all of them at import would cost more than its query."""

    model_config = ConfigDict(defer_build=True)


class RunState(_Row):
    """Whether a scheduler holds this database's run lock right now, and what the log says about runs."""

    running: bool = Field(description="A scheduler process holds the run lock (<db>.run.lock) now.")
    pid: int | None = Field(None, description="The running scheduler's pid, or the last run's if none runs.")
    started: str | None = Field(None, description="Wall-clock time (ts) of the last run.started event.")
    stopped: str | None = Field(None, description="Wall-clock time of the last run.stopped, if after that start.")
    stop_reason: str | None = Field(None, description=(
        "Why the last run stopped, as it logged it (e.g. 'finished'), or 'killed' when it logged nothing."))
    founder_attached: bool = Field(False, description=(
        "A control room is attached (`conductor attach` holds <db>.founder): a simulated clock waits for it."))


class VentureStatus(_Row):
    id: str
    name: str
    stage: str
    paused: bool
    agents: int
    open_escalations: int
    spend_today: float


class Status(_Row):
    """`conductor status`: one screen answering 'is it running, what does it cost, what needs me'."""

    org: str | None = Field(None, description="The organization's name from the last org.loaded event.")
    org_path: str | None = None
    clock_kind: str | None = Field(None, description="'sim' or 'real'.")
    clock: str | None = Field(None, description="The org clock's latest time (ISO 8601, UTC).")
    day: str | None = Field(None, description="The org clock's current day, YYYY-MM-DD: what 'today' means.")
    run: RunState
    paused: bool = Field(description="The whole organization is paused.")
    spend_today: float = Field(description="USD spent on model calls on the org clock's current day.")
    budget_per_day: float | None = Field(None, description="The org's daily budget: as the last run loaded it, or "
                                         "from --org (or the org file, for a log that did not record it).")
    calls_today: int
    open_escalations: int
    urgent_escalations: int = Field(description="Open escalations with urgency 2 or more.")
    stuck_agents: list[str]
    failing_sources: list[str] = Field(default_factory=list, description=(
        "Metric sources whose last reading was refused, as 'venture/metric: reason' (conductor events --kind "
        "metric.refused has each refusal)."))
    ventures: list[VentureStatus]
    last_event_id: int


class AgentRow(_Row):
    id: str
    venture: str | None
    role: str
    owns_metric: str | None
    state: str = Field(description="sleeping, working, stuck, budget_stopped, capped or interrupted.")
    paused: bool = Field(description="Paused itself, through its venture, or through the whole org.")
    next_wake: str | None
    last_wake: str | None
    wakes: int
    idle_ticks: int
    calls_today: int
    spend_today: float
    open_tasks: int
    open_escalations: int
    last_summary: str | None = Field(None, description="The summary of its last concluded wake-up.")


class EventRow(_Row):
    id: int
    ts: str = Field(description="Wall-clock commit time.")
    sim_time: str | None = Field(None, description="The org clock's time.")
    venture: str | None
    agent: str | None
    kind: str
    by: str | None = Field(None, description="'founder' or 'policy' when not written by the engine itself.")
    summary: str = Field(description="One printable line describing the event.")
    payload: dict[str, Any]


class InboxItem(_Row):
    id: int
    kind: str = Field(description="decision, trust_proposal, budget_exhausted or agent_stuck.")
    state: str = Field(description="pending, approved, rejected or expired.")
    venture: str | None
    agent: str | None
    decision_id: int | None
    decision_kind: str | None
    urgency: int
    reason: str
    created: str | None
    expires: str | None
    resolved: str | None
    verdict: str | None
    snoozed_until: str | None = Field(None, description="Set aside by the founder until this org-clock time.")


class ReviewStep(_Row):
    """One line of the exchange between an author, its reviewer and the engine, in order."""

    event_id: int
    at: str | None
    actor: str | None
    kind: str
    text: str


class EscalationDetail(InboxItem):
    """`conductor inbox show ID`: everything needed to decide, without opening the log."""

    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str | None = None
    expected_effect: dict[str, Any] = Field(default_factory=dict)
    confidence: float | None = None
    reversible: bool | None = None
    brain_version: int | None = None
    gates: list[str] = Field(default_factory=list)
    spend: float | None = Field(None, description="Money the decision would spend (its kind's spend_param).")
    cost_so_far: float | None = Field(None, description="What the agent's model calls cost that day, in USD.")
    if_nobody_acts: str = Field(description="What happens when it expires without a verdict.")
    review: list[ReviewStep] = Field(default_factory=list)
    transcript: list[dict[str, str]] = Field(default_factory=list, description="A stuck agent's last messages.")
    failure: str | None = None
    note: str | None = None
    amended: dict[str, Any] | None = None
    decision_state: str | None = None
    decision_result: Any = None
    detail: dict[str, Any] = Field(default_factory=dict, description="The escalation's raw detail.")


class MetricRow(_Row):
    venture: str
    metric: str
    value: float = Field(description="The latest value.")
    at: str
    source: str = Field(description="'sim', 'founder', 'csv:<file>' or another recorder.")
    first: float
    first_at: str
    change: float = Field(description="value - first.")
    points: int


class MetricPoint(_Row):
    at: str
    value: float
    source: str


class SpendRow(_Row):
    day: str | None
    venture: str | None
    agent: str | None
    calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    cached_tokens: int = 0  # of prompt_tokens, read from the provider's prompt cache
    cache_saved: float = 0.0  # USD the cached tokens cost less than uncached input


class ModelUse(_Row):
    """The org's model calls in one line: how much of the prompt input the provider's cache served, and what
    that saved (the simulated provider reports the org-wide system block as cached)."""

    calls: int
    prompt_tokens: int
    cached_tokens: int
    cache_share: float  # cached_tokens / prompt_tokens (0 with no calls)
    cost: float
    cache_saved: float


class MetricsReport(_Row):
    """`conductor metrics --json`: each venture's metrics, and the model calls' cache figures."""

    metrics: list[MetricRow]
    model_calls: ModelUse


class DirectiveRow(_Row):
    id: int
    venture: str
    text: str
    created: str | None
    active: bool


class DecisionRow(_Row):
    id: int
    venture: str
    agent: str
    kind: str
    state: str
    params: dict[str, Any]
    rationale: str
    expected_effect: dict[str, Any]
    confidence: float | None
    reversible: bool | None
    brain_version: int | None
    route: str | None
    created: str | None
    decided: str | None
    executed: str | None
    result: Any = None
    outcome: Any = None


# --- helpers ---------------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """Strip terminal escapes from every string inside a JSON-like value."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute("SELECT key, value FROM meta")}


def require_venture(conn: sqlite3.Connection, venture: str, where: str) -> None:
    """Refuse a venture this database does not know, naming where it was given (`--venture x`, `venture 'x'`):
    a filter on a misspelt name would otherwise print "nothing" and exit 0, as if the venture were quiet."""
    if conn.execute("SELECT 1 FROM ventures WHERE id = ?", (venture,)).fetchone() is None:
        raise NotFound(f"{where}: no such venture (see `conductor status`)")


def require_agent(conn: sqlite3.Connection, agent: str, where: str) -> None:
    """Refuse an agent this database does not know, naming where it was given (see `require_venture`)."""
    if conn.execute("SELECT 1 FROM agents WHERE id = ?", (agent,)).fetchone() is None:
        raise NotFound(f"{where}: no such agent (see `conductor agents`)")


def last_event_id(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT max(id) FROM events").fetchone()[0] or 0


def clock_now(conn: sqlite3.Connection) -> str | None:
    """The org clock's latest time: the newest event's sim_time (events are written in clock order)."""
    row = conn.execute("SELECT sim_time FROM events WHERE sim_time IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def _today(conn: sqlite3.Connection) -> str | None:
    now = clock_now(conn)
    return now[:10] if now else None


def _normalise_time(text: str, where: str) -> str:
    """An ISO 8601 time or date from the user, as the store's fixed-width UTC form (text order = time order)."""
    try:
        moment = parse_iso(text.strip())
    except ValueError:
        raise BadInput(f"{where} {text!r}: not a time; use ISO 8601 such as 2026-01-05 or 2026-01-05T09:00:00Z, "
                       "or a duration such as 2h or 1d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment)


def parse_since(conn: sqlite3.Connection, text: str) -> str:
    """`--since`: a duration before the org clock's now ("2h", "1d") or an ISO time; returns the store's form."""
    try:
        delta = parse_duration(text)
    except ValueError:
        return _normalise_time(text, "--since")
    now = clock_now(conn)
    base = parse_iso(now) if now else datetime.now(UTC)
    return iso(base - delta)


# --- run state -------------------------------------------------------------------------------------------------


def run_state(conn: sqlite3.Connection, db_path: str | os.PathLike[str]) -> RunState:
    """Is a scheduler running on this database? The lock beside it is the truth; the log adds the times.

    A run killed with SIGKILL logs no run.stopped, but the OS drops its lock: it shows as not running,
    stop_reason 'killed'.
    """
    lock = lock_path(Path(db_path))
    held = bool(lock_held(lock))
    pid: int | None = None
    try:
        text = lock.read_text(encoding="ascii", errors="replace").strip()
        pid = int(text) if text.isdigit() else None
    except OSError:
        pass
    started = conn.execute(
        "SELECT id, ts, payload FROM events WHERE kind = 'run.started' ORDER BY id DESC LIMIT 1").fetchone()
    stopped = conn.execute(
        "SELECT id, ts, payload FROM events WHERE kind = 'run.stopped' ORDER BY id DESC LIMIT 1").fetchone()
    if started is not None and pid is None:
        pid = _loads(started["payload"], {}).get("pid")
    stop_ts = reason = None
    if started is not None and not held:
        if stopped is not None and stopped["id"] > started["id"]:
            stop_ts, reason = stopped["ts"], _loads(stopped["payload"], {}).get("reason")
        else:
            reason = "killed"
    return RunState(running=held, pid=pid, started=started["ts"] if started else None, stopped=stop_ts,
                    stop_reason=reason, founder_attached=founder_attached(Path(db_path)))


# --- status and agents -----------------------------------------------------------------------------------------


def recorded_budget(conn: sqlite3.Connection) -> float | None:
    """The daily budget of the org the last run loaded (`org.loaded`), or None when the log predates the field."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'org.budget_per_day'").fetchone()
    try:
        return float(row[0]) if row else None
    except (TypeError, ValueError):
        return None


def status(conn: sqlite3.Connection, db_path: str | os.PathLike[str], *, budget_per_day: float | None = None) -> Status:
    """The one-screen answer to 'is it running, what does it cost today, what needs me'."""
    meta = _meta(conn)
    now = clock_now(conn)
    day = now[:10] if now else None
    run = run_state(conn, db_path)
    spend_rows = conn.execute(
        "SELECT venture, sum(cost), count(*) FROM calls WHERE day = ? GROUP BY venture", (day,)).fetchall()
    spend_by_venture = {r[0]: float(r[1] or 0) for r in spend_rows}
    calls_today = sum(int(r[2]) for r in spend_rows)
    open_by_venture = dict(conn.execute(
        "SELECT venture, count(*) FROM escalations WHERE state = 'pending' GROUP BY venture").fetchall())
    agent_counts = dict(conn.execute("SELECT venture, count(*) FROM agents GROUP BY venture").fetchall())
    ventures = [
        VentureStatus(id=r["id"], name=printable(r["name"]), stage=r["stage"], paused=bool(r["paused"]),
                      agents=int(agent_counts.get(r["id"], 0)), open_escalations=int(open_by_venture.get(r["id"], 0)),
                      spend_today=round(spend_by_venture.get(r["id"], 0.0), 6))
        for r in conn.execute("SELECT * FROM ventures ORDER BY id")
    ]
    urgent = conn.execute("SELECT count(*) FROM escalations WHERE state = 'pending' AND urgency >= 2").fetchone()[0]
    stuck = [a.id for a in agents(conn, running=run.running) if a.state == "stuck"]
    return Status(
        org=printable(meta["org.name"]) if "org.name" in meta else None, org_path=meta.get("org.path") or None,
        clock_kind=meta.get("org.clock"), clock=now, day=day, run=run, paused=meta.get("org.paused") == "1",
        spend_today=round(sum(spend_by_venture.values()), 6), budget_per_day=budget_per_day,
        calls_today=calls_today, open_escalations=sum(int(v) for v in open_by_venture.values()),
        urgent_escalations=int(urgent), stuck_agents=stuck, failing_sources=failing_sources(conn), ventures=ventures,
        last_event_id=last_event_id(conn),
    )


def failing_sources(conn: sqlite3.Connection) -> list[str]:
    """Metric sources whose last reading was refused (no value recorded for the metric since): something for the
    founder to look at, since the agents keep seeing the last good value. 'venture/metric: reason', by name."""
    rows = conn.execute(
        "SELECT venture, json_extract(payload, '$.metric') AS metric, max(id) AS id, "
        "json_extract(payload, '$.reason') AS reason FROM events WHERE kind = 'metric.refused' "
        "GROUP BY venture, metric ORDER BY venture, metric").fetchall()
    out = []
    for r in rows:
        since = conn.execute(
            "SELECT 1 FROM events WHERE kind = 'metric.recorded' AND id > ? AND venture IS ? "
            "AND json_extract(payload, '$.metric') = ? LIMIT 1", (r["id"], r["venture"], r["metric"])).fetchone()
        if since is None:
            out.append(printable(f"{r['venture']}/{r['metric']}: {r['reason']}", one_line=True, limit=160))
    return out


_AGENT_KINDS = ("agent.woke", "agent.concluded", "agent.idle", "agent.stuck", "agent.interrupted",
                "agent.budget_stopped", "agent.wake_capped", "founder.wake", "founder.resumed", "escalation.resolved")


def _agent_state(conn: sqlite3.Connection, agent_id: str, now: str | None, running: bool) -> tuple[str, str | None]:
    """(state, next_wake) from the agent's newest state-changing events, read newest first."""
    marks = ",".join("?" * len(_AGENT_KINDS))
    rows = conn.execute(
        f"SELECT kind, payload FROM events WHERE agent = ? AND kind IN ({marks}) ORDER BY id DESC LIMIT 40",
        (agent_id, *_AGENT_KINDS)).fetchall()
    state: str | None = None
    next_wake: str | None = None
    for row in rows:
        kind, payload = row["kind"], _loads(row["payload"], {})
        if next_wake is None and payload.get("next_wake"):
            next_wake = payload["next_wake"]
        if state is not None:
            if next_wake is not None:
                break
            continue
        if kind == "escalation.resolved":
            if payload.get("escalation_kind") != "agent_stuck":
                continue
            state = "sleeping" if payload.get("verdict") == "approved" else "stuck"
        elif kind == "agent.woke":
            state = "working" if running else "interrupted"
        elif kind == "agent.stuck":
            state = "stuck"
        elif kind == "agent.budget_stopped":
            state = "budget_stopped" if now and payload.get("day") == now[:10] else "sleeping"
        elif kind == "agent.wake_capped":
            state = "capped" if now and payload.get("until", "") > now else "sleeping"
        else:
            state = "sleeping"
    return state or "sleeping", next_wake


def agents(conn: sqlite3.Connection, *, venture: str | None = None, running: bool | None = None) -> list[AgentRow]:
    """Every agent with its state, spend today and last summary. `running` None: assume a run is live."""
    now = clock_now(conn)
    day = now[:10] if now else None
    org_paused = _meta(conn).get("org.paused") == "1"
    paused_ventures = {r[0] for r in conn.execute("SELECT id FROM ventures WHERE paused = 1")}
    spend = {r[0]: (int(r[1]), float(r[2] or 0)) for r in conn.execute(
        "SELECT agent, count(*), sum(cost) FROM calls WHERE day = ? GROUP BY agent", (day,))}
    tasks = dict(conn.execute("SELECT to_agent, count(*) FROM tasks WHERE state = 'open' GROUP BY to_agent").fetchall())
    escalations = dict(conn.execute(
        "SELECT agent, count(*) FROM escalations WHERE state = 'pending' GROUP BY agent").fetchall())
    sql = "SELECT * FROM agents" + (" WHERE venture = ?" if venture else "") + " ORDER BY venture IS NULL, venture, rowid"
    out: list[AgentRow] = []
    for r in conn.execute(sql, (venture,) if venture else ()).fetchall():
        state, next_wake = _agent_state(conn, r["id"], now, running is not False)
        summary = conn.execute(
            "SELECT payload FROM events WHERE agent = ? AND kind = 'agent.concluded' ORDER BY id DESC LIMIT 1",
            (r["id"],)).fetchone()
        calls, cost = spend.get(r["id"], (0, 0.0))
        out.append(AgentRow(
            id=r["id"], venture=r["venture"], role=printable(r["role"]), owns_metric=r["owns_metric"], state=state,
            paused=bool(r["paused"]) or org_paused or r["venture"] in paused_ventures,
            next_wake=next_wake or r["next_wake"], last_wake=r["last_wake"], wakes=int(r["wakes"]),
            idle_ticks=int(r["idle_ticks"]), calls_today=calls, spend_today=round(cost, 6),
            open_tasks=int(tasks.get(r["id"], 0)), open_escalations=int(escalations.get(r["id"], 0)),
            last_summary=printable(_loads(summary["payload"], {}).get("summary", "")) if summary else None,
        ))
    return out


# --- events ----------------------------------------------------------------------------------------------------


def event_summary(kind: str, payload: dict[str, Any]) -> str:
    """One printable line for an event, in the product's words (`conductor.events`); unknown kinds show their
    scalar fields. The catalogue is imported on first use: `conductor status` never needs it."""
    from conductor import events as catalogue

    return printable(catalogue.text(kind, payload), one_line=True, limit=240)


def _kind_clause(kind: str) -> tuple[str, list[Any]]:
    """`decision` or `decision.*` match every decision.* kind; `a,b` matches either; else the exact kind."""
    clauses: list[str] = []
    params: list[Any] = []
    for part in (k.strip() for k in kind.split(",")):
        if not part:
            continue
        if part.endswith(".*") or "." not in part:
            clauses.append("(kind = ? OR kind LIKE ?)")
            stem = part.removesuffix(".*")
            params += [stem, stem + ".%"]
        else:
            clauses.append("kind = ?")
            params.append(part)
    return ("(" + " OR ".join(clauses) + ")", params) if clauses else ("1", [])


def events(
    conn: sqlite3.Connection,
    *,
    venture: str | None = None,
    agent: str | None = None,
    kind: str | None = None,
    since: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[EventRow]:
    """Events in id order. `since` is in the store's time form (see parse_since); `limit` keeps the newest N.

    Follow mode calls this again with `after_id` = the last id seen.
    """
    where: list[str] = ["id > ?"]
    params: list[int | str] = [after_id]
    if venture:
        where.append("venture = ?")
        params.append(venture)
    if agent:
        where.append("agent = ?")
        params.append(agent)
    if kind:
        clause, extra = _kind_clause(kind)
        where.append(clause)
        params += extra
    if since:
        where.append("COALESCE(sim_time, ts) >= ?")
        params.append(since)
    sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id"
    if limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
    out = []
    for r in conn.execute(sql, params):
        payload = _clean(_loads(r["payload"], {}))
        out.append(EventRow(id=r["id"], ts=r["ts"], sim_time=r["sim_time"], venture=r["venture"], agent=r["agent"],
                            kind=r["kind"], by=payload.get("by"), summary=event_summary(r["kind"], payload),
                            payload=payload))
    return out


# --- the inbox -------------------------------------------------------------------------------------------------


def _inbox_item(r: sqlite3.Row) -> dict[str, Any]:
    detail = _loads(r["detail"], {})
    return dict(
        id=r["id"], kind=r["kind"], state=r["state"], venture=r["venture"], agent=r["agent"],
        decision_id=r["decision_id"], decision_kind=detail.get("kind") if r["kind"] == "decision" else None,
        urgency=int(r["urgency"]), reason=printable(r["reason"]), created=r["created"], expires=r["expires"],
        resolved=r["resolved"], verdict=r["verdict"], snoozed_until=detail.get("snoozed_until"),
    )


def inbox(conn: sqlite3.Connection, *, state: str = "pending", venture: str | None = None,
          awake_only: bool = False) -> list[InboxItem]:
    """Escalations, most urgent first; `state` 'all' lists every one, newest first. `awake_only` leaves out
    those the founder snoozed until a time the org clock has not reached."""
    where: list[str] = []
    params: list[Any] = []
    if state != "all":
        where.append("state = ?")
        params.append(state)
    now = clock_now(conn) if awake_only else None
    if now is not None:
        where.append("coalesce(json_extract(detail, '$.snoozed_until'), '') <= ?")
        params.append(now)
    if venture:
        where.append("venture = ?")
        params.append(venture)
    order = "urgency DESC, id" if state == "pending" else "id DESC"
    sql = "SELECT * FROM escalations" + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {order}"
    return [InboxItem(**_inbox_item(r)) for r in conn.execute(sql, params)]


def _review_exchange(conn: sqlite3.Connection, decision_id: int) -> list[ReviewStep]:
    """The decision's life after it was proposed: reviews, revisions, routing, verdicts, execution."""
    from conductor import events as catalogue

    rows = conn.execute(
        "SELECT id, sim_time, agent, kind, payload FROM events WHERE id >= ? AND kind IN "
        "('decision.proposed', 'review.requested', 'review.answered', 'decision.updated', 'decision.executed') "
        "AND (id = ? OR json_extract(payload, '$.decision_id') = ?) ORDER BY id",
        (decision_id, decision_id, decision_id)).fetchall()
    steps = []
    for r in rows:
        p = _loads(r["payload"], {})
        kind = r["kind"]
        if kind == "decision.proposed":
            text = f"proposed: {p.get('rationale', '')}"
        elif kind == "review.requested":
            text = f"review requested (round {p.get('round')})"
        elif kind == "review.answered":
            text = f"{p.get('verdict')}" + (f": {p['feedback']}" if p.get("feedback") else "")
        elif kind == "decision.executed":
            text = f"executed ({'ok' if p.get('ok', True) else 'failed'}): {catalogue.short(p.get('result'), 200)}"
        else:
            text = with_note(f"{p.get('state')}", p.get("note") or p.get("route"))
        steps.append(ReviewStep(event_id=r["id"], at=r["sim_time"], actor=r["agent"], kind=kind, text=printable(text)))
    return steps


def _if_nobody_acts(r: sqlite3.Row, detail: dict[str, Any]) -> str:
    if detail.get("if_nobody_acts"):
        return printable(detail["if_nobody_acts"])
    if r["expires"] is None:
        return "it stays in the inbox until you act"
    if r["kind"] == "budget_exhausted":
        return f"at {r['expires']} it expires and the agent waits for tomorrow's budget"
    return f"at {r['expires']} it expires unanswered"


def escalation(conn: sqlite3.Connection, escalation_id: int) -> EscalationDetail:
    """One escalation with its decision, review exchange and cost; BadInput (exit 2) for an unknown id."""
    r = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
    if r is None:
        raise NotFound(f"escalation #{escalation_id}: no such escalation (see `conductor inbox list`)")
    detail = _clean(_loads(r["detail"], {}))
    d = conn.execute("SELECT * FROM decisions WHERE id = ?", (r["decision_id"],)).fetchone() if r["decision_id"] else None
    params = _clean(_loads(d["params"], {})) if d is not None else detail.get("params", {})
    review = _review_exchange(conn, r["decision_id"]) if r["decision_id"] else []
    reversible = detail.get("reversible", None if d is None or d["reversible"] is None else bool(d["reversible"]))
    return EscalationDetail(
        **_inbox_item(r),
        params=params if isinstance(params, dict) else {},
        rationale=detail.get("rationale") or (printable(d["rationale"]) if d is not None else None),
        expected_effect=detail.get("expected") or (_clean(_loads(d["expected"], {})) if d is not None else {}),
        confidence=detail.get("confidence", d["confidence"] if d is not None else None),
        reversible=reversible,
        brain_version=detail.get("brain_version", d["brain_version"] if d is not None else None),
        gates=list(detail.get("gates", [])), spend=detail.get("spend"), cost_so_far=detail.get("cost_so_far"),
        if_nobody_acts=_if_nobody_acts(r, detail), review=review,
        transcript=[{str(k): printable(v) for k, v in t.items()} for t in detail.get("transcript") or []
                    if isinstance(t, dict)],
        failure=detail.get("failure"), note=printable(r["note"]) if r["note"] else None,
        amended=_loads(r["amended"], None), decision_state=d["state"] if d is not None else None,
        decision_result=_clean(_loads(d["result"], None)) if d is not None else None, detail=detail,
    )


# --- metrics, spend, directives, decisions ---------------------------------------------------------------------


def metrics(conn: sqlite3.Connection, venture: str | None = None) -> list[MetricRow]:
    """Each venture's metrics: latest value and source, first value, change and number of points."""
    sql = (
        "SELECT venture, metric, count(*) AS points, min(at) AS first_at, max(at) AS last_at FROM metric_points"
        + (" WHERE venture = ?" if venture else "") + " GROUP BY venture, metric ORDER BY venture, metric"
    )
    out = []
    for g in conn.execute(sql, (venture,) if venture else ()).fetchall():
        first = conn.execute("SELECT value FROM metric_points WHERE venture = ? AND metric = ? AND at = ?",
                             (g["venture"], g["metric"], g["first_at"])).fetchone()
        last = conn.execute("SELECT value, source FROM metric_points WHERE venture = ? AND metric = ? AND at = ?",
                            (g["venture"], g["metric"], g["last_at"])).fetchone()
        out.append(MetricRow(venture=g["venture"], metric=g["metric"], value=last["value"], at=g["last_at"],
                             source=printable(last["source"]), first=first["value"], first_at=g["first_at"],
                             change=round(last["value"] - first["value"], 9), points=int(g["points"])))
    return out


def metric_points(conn: sqlite3.Connection, venture: str, metric: str, *, limit: int | None = None) -> list[MetricPoint]:
    """One metric's series in time order (the newest `limit` points if given)."""
    sql = "SELECT at, value, source FROM metric_points WHERE venture = ? AND metric = ? ORDER BY at DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = conn.execute(sql, (venture, metric)).fetchall()
    return [MetricPoint(at=r["at"], value=r["value"], source=printable(r["source"])) for r in reversed(rows)]


def spend(conn: sqlite3.Connection, *, day: str | None = None,
          by: Literal["agent", "venture", "day"] = "agent") -> list[SpendRow]:
    """Model-call spend grouped by agent (with its venture), venture or day; `day` 'today' is the org clock's."""
    if day == "today":
        day = _today(conn)
    groups = {"agent": "day, venture, agent", "venture": "day, venture", "day": "day"}[by]
    sql = (
        f"SELECT {groups}, count(*) AS calls, sum(1 - ok) AS failed, sum(prompt_tokens) AS pt, "
        f"sum(completion_tokens) AS ct, sum(cost) AS cost, sum(cached_tokens) AS cached, "
        f"sum(cache_saved) AS saved FROM calls"
        + (" WHERE day = ?" if day else "") + f" GROUP BY {groups} ORDER BY {groups}"
    )
    out = []
    for r in conn.execute(sql, (day,) if day else ()):
        keys = r.keys()
        out.append(SpendRow(day=r["day"], venture=r["venture"] if "venture" in keys else None,
                            agent=r["agent"] if "agent" in keys else None, calls=int(r["calls"]),
                            failed_calls=int(r["failed"] or 0), prompt_tokens=int(r["pt"] or 0),
                            completion_tokens=int(r["ct"] or 0), cost=round(float(r["cost"] or 0), 6),
                            cached_tokens=int(r["cached"] or 0), cache_saved=round(float(r["saved"] or 0), 6)))
    return out


def model_use(conn: sqlite3.Connection, venture: str | None = None) -> ModelUse:
    """Every model call (of one venture's agents, with `venture`): tokens, the cache's share of them, cost, saving."""
    row = conn.execute(
        "SELECT count(*) AS calls, coalesce(sum(prompt_tokens), 0) AS pt, coalesce(sum(cached_tokens), 0) AS cached, "
        "coalesce(sum(cost), 0) AS cost, coalesce(sum(cache_saved), 0) AS saved FROM calls"
        + (" WHERE venture = ?" if venture else ""), (venture,) if venture else ()).fetchone()
    prompt, cached = int(row["pt"]), int(row["cached"])
    return ModelUse(calls=int(row["calls"]), prompt_tokens=prompt, cached_tokens=cached,
                    cache_share=round(cached / prompt, 4) if prompt else 0.0, cost=round(float(row["cost"]), 6),
                    cache_saved=round(float(row["saved"]), 6))


def directives(conn: sqlite3.Connection, venture: str | None = None, *, active_only: bool = True) -> list[DirectiveRow]:
    where, params = [], []
    if venture:
        where.append("venture = ?")
        params.append(venture)
    if active_only:
        where.append("active = 1")
    sql = "SELECT * FROM directives" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
    return [DirectiveRow(id=r["id"], venture=r["venture"], text=printable(r["text"]), created=r["created"],
                         active=bool(r["active"])) for r in conn.execute(sql, params)]


def decisions(conn: sqlite3.Connection, *, venture: str | None = None, agent: str | None = None,
              state: str | None = None, limit: int | None = None) -> list[DecisionRow]:
    """Decisions in id order (the newest `limit` if given)."""
    where, params = [], []
    for column, value in (("venture", venture), ("agent", agent), ("state", state)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT * FROM decisions" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = conn.execute(sql, params).fetchall()
    return [DecisionRow(
        id=r["id"], venture=r["venture"], agent=r["agent"], kind=r["kind"], state=r["state"],
        params=_clean(_loads(r["params"], {})), rationale=printable(r["rationale"]),
        expected_effect=_clean(_loads(r["expected"], {})), confidence=r["confidence"],
        reversible=None if r["reversible"] is None else bool(r["reversible"]), brain_version=r["brain_version"],
        route=printable(r["route"]) if r["route"] else None, created=r["created"], decided=r["decided"],
        executed=r["executed"], result=_clean(_loads(r["result"], None)), outcome=_clean(_loads(r["outcome"], None)),
    ) for r in reversed(rows)]


# --- added for the control room --------------------------------------------------------------------------------


def wake_up_events(conn: sqlite3.Connection, event_id: int, *, limit: int = 60) -> list[EventRow]:
    """The wake-up an event belongs to: its agent's events from the `agent.woke` at or before it up to (not
    including) that agent's next `agent.woke`, so the prompt's reason, the calls and their cost, the conclusion
    and the decisions it proposed read as one story. An event without an agent, or before any wake-up, is alone.
    """
    row = conn.execute("SELECT id, agent FROM events WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        raise NotFound(f"event #{event_id}: no such event")
    agent = row["agent"]
    start = conn.execute("SELECT max(id) FROM events WHERE agent = ? AND kind = 'agent.woke' AND id <= ?",
                         (agent, event_id)).fetchone()[0] if agent else None
    if start is None:
        rows = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchall()
    else:
        stop = conn.execute("SELECT min(id) FROM events WHERE agent = ? AND kind = 'agent.woke' AND id > ?",
                            (agent, start)).fetchone()[0]
        rows = conn.execute(
            "SELECT * FROM events WHERE agent = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?",
            (agent, start, stop if stop is not None else 2**62, int(limit))).fetchall()
    out = []
    for r in rows:
        payload = _clean(_loads(r["payload"], {}))
        out.append(EventRow(id=r["id"], ts=r["ts"], sim_time=r["sim_time"], venture=r["venture"], agent=r["agent"],
                            kind=r["kind"], by=payload.get("by"), summary=event_summary(r["kind"], payload),
                            payload=payload))
    return out
