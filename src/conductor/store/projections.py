"""How each kind of event changes the projection tables: pure functions from an event to SQL statements.

The writer runs these statements in the same transaction as the event insert, and a rebuild runs them again
over the whole log, so the tables the product shows can always be recreated from the events alone. An event
kind with no projection is still logged; it simply changes no table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conductor.store.events import StoredEvent
from conductor.store.memory_rules import memory_statement

Statement = tuple[str, tuple[Any, ...]]
Projector = Callable[[StoredEvent], list[Statement]]

PROJECTORS: dict[str, Projector] = {}


def projector(*kinds: str) -> Callable[[Projector], Projector]:
    def register(fn: Projector) -> Projector:
        for kind in kinds:
            PROJECTORS[kind] = fn
        return fn

    return register


def project(event: StoredEvent) -> list[Statement]:
    """The statements that bring the projections up to date with this event (possibly none).

    Besides its own table, an event may leave a memory (see `store.memory_rules`): the brain's memory stream.
    """
    fn = PROJECTORS.get(event.kind)
    out = fn(event) if fn else []
    memory = memory_statement(event)
    return [*out, memory] if memory is not None else out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _meta(key: str, value: Any) -> Statement:
    return (
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value if isinstance(value, str) else _json(value)),
    )


@projector("org.loaded")
def _org_loaded(e: StoredEvent) -> list[Statement]:
    p = e.payload
    out = [_meta("org.name", p["name"]), _meta("org.path", p.get("path", "")), _meta("org.digest", p.get("digest", ""))]
    out.append(_meta("org.clock", p.get("clock", "sim")))
    out.append(_meta("org.model", p.get("model", "")))
    # What every connection that writes to this file sets (`open_database`), founder commands included.
    out.append(_meta("store.synchronous", p.get("synchronous") or "normal"))
    if p.get("budget_per_day") is not None:  # `conductor status` shows it without loading the org file
        out.append(_meta("org.budget_per_day", repr(float(p["budget_per_day"]))))
    for v in p.get("ventures", []):
        out.append((
            "INSERT INTO ventures(id, name, stage, goal) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "name = excluded.name, goal = excluded.goal",
            (v["id"], v["name"], v["stage"], v["goal"]),
        ))
    for a in p.get("agents", []):
        out.append((
            "INSERT INTO agents(id, venture, role, owns_metric) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "venture = excluded.venture, role = excluded.role, owns_metric = excluded.owns_metric",
            (a["id"], a.get("venture"), a["role"], a.get("owns_metric")),
        ))
    return out


@projector("run.started", "run.stopped")
def _run(e: StoredEvent) -> list[Statement]:
    running = e.kind == "run.started"
    return [_meta("run.state", "running" if running else "stopped"), _meta("run.pid", str(e.payload.get("pid", "")))]


@projector("clock.advanced")
def _clock(e: StoredEvent) -> list[Statement]:
    return [_meta("clock.now", e.sim_time or e.payload.get("now", ""))]


@projector("agent.woke")
def _agent_woke(e: StoredEvent) -> list[Statement]:
    return [(
        "UPDATE agents SET state = 'working', wakes = wakes + 1, last_wake = ?, updated_by = ? WHERE id = ?",
        (e.sim_time, e.id, e.agent),
    )]


@projector("agent.idle")
def _agent_idle(e: StoredEvent) -> list[Statement]:
    return [(
        "UPDATE agents SET idle_ticks = idle_ticks + 1, next_wake = COALESCE(?, next_wake), updated_by = ? "
        "WHERE id = ?",
        (e.payload.get("next_wake"), e.id, e.agent),
    )]


_STATE_AFTER = {
    "agent.concluded": "sleeping",
    "agent.interrupted": "sleeping",
    "agent.stuck": "stuck",
    "agent.budget_stopped": "budget-stopped",
}


@projector(*_STATE_AFTER)
def _agent_after_wake(e: StoredEvent) -> list[Statement]:
    """What an agent is doing now, for the org chart: asleep until its next wake-up, stuck or budget-stopped."""
    return [(
        "UPDATE agents SET state = ?, next_wake = COALESCE(?, next_wake), updated_by = ? WHERE id = ?",
        (_STATE_AFTER[e.kind], e.payload.get("next_wake"), e.id, e.agent),
    )]


@projector("agent.state")
def _agent_state(e: StoredEvent) -> list[Statement]:
    return [(
        "UPDATE agents SET state = ?, next_wake = COALESCE(?, next_wake), updated_by = ? WHERE id = ?",
        (e.payload["state"], e.payload.get("next_wake"), e.id, e.agent),
    )]


@projector("founder.paused", "founder.resumed")
def _pause(e: StoredEvent) -> list[Statement]:
    flag = 1 if e.kind == "founder.paused" else 0
    scope, target = e.payload["scope"], e.payload.get("target")
    if scope == "agent":
        return [("UPDATE agents SET paused = ?, updated_by = ? WHERE id = ?", (flag, e.id, target))]
    if scope == "venture":
        return [("UPDATE ventures SET paused = ? WHERE id = ?", (flag, target))]
    return [_meta("org.paused", str(flag))]


@projector("venture.stage")
def _venture_stage(e: StoredEvent) -> list[Statement]:
    return [("UPDATE ventures SET stage = ? WHERE id = ?", (e.payload["stage"], e.venture))]


@projector("task.created")
def _task_created(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO tasks(id, venture, from_agent, to_agent, title, body, state, created, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        (e.id, e.venture, p.get("from_agent"), p["to_agent"], p["title"], p.get("body", ""), e.sim_time, e.sim_time),
    )]


@projector("task.updated")
def _task_updated(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "UPDATE tasks SET state = ?, result = COALESCE(?, result), updated = ? WHERE id = ?",
        (p["state"], p.get("result"), e.sim_time, p["task_id"]),
    )]


@projector("decision.proposed")
def _decision_proposed(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO decisions(id, venture, agent, kind, params, rationale, expected, confidence, reversible, "
        "brain_version, state, review_round, created, brief_arm, brain_in_force) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.id, e.venture, e.agent, p["kind"], _json(p.get("params", {})), p.get("rationale", ""),
            _json(p.get("expected", {})), p.get("confidence"), int(bool(p.get("reversible", True))),
            p.get("brain_version"), p.get("state", "proposed"), p.get("review_round", 0), e.sim_time,
            p.get("brief_arm"), p.get("brain_in_force"),
        ),
    )]


@projector("decision.updated")
def _decision_updated(e: StoredEvent) -> list[Statement]:
    p = e.payload
    params = _json(p["params"]) if "params" in p else None
    return [(
        "UPDATE decisions SET state = ?, route = COALESCE(?, route), review_round = COALESCE(?, review_round), "
        "params = COALESCE(?, params), decided = COALESCE(?, decided) WHERE id = ?",
        (p["state"], p.get("route"), p.get("review_round"), params, e.sim_time if p.get("final") else None,
         p["decision_id"]),
    )]


@projector("decision.executed")
def _decision_executed(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "UPDATE decisions SET state = ?, executed = ?, idempotency_key = ?, result = ? WHERE id = ?",
        ("executed" if p.get("ok", True) else "failed", e.sim_time, p["idempotency_key"], _json(p.get("result")),
         p["decision_id"]),
    )]


@projector("decision.outcome")
def _decision_outcome(e: StoredEvent) -> list[Statement]:
    return [("UPDATE decisions SET outcome = ? WHERE id = ?", (_json(e.payload["outcome"]), e.payload["decision_id"]))]


@projector("escalation.opened")
def _escalation_opened(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO escalations(id, decision_id, venture, agent, kind, reason, urgency, state, created, expires, "
        "detail) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
        (e.id, p.get("decision_id"), e.venture, e.agent, p["kind"], p["reason"], p.get("urgency", 1), e.sim_time,
         p.get("expires"), _json(p.get("detail", {}))),
    )]


@projector("escalation.snoozed")
def _escalation_snoozed(e: StoredEvent) -> list[Statement]:
    # `detail` carries when it comes back, so the inbox needs no other column; the expiry moves with it.
    p = e.payload
    return [("UPDATE escalations SET expires = ?, detail = json_set(coalesce(detail, '{}'), '$.snoozed_until', ?) "
             "WHERE id = ? AND state = 'pending'", (p.get("expires"), p["until"], p["escalation_id"]))]


@projector("escalation.resolved")
def _escalation_resolved(e: StoredEvent) -> list[Statement]:
    p = e.payload
    amended = _json(p["amended"]) if p.get("amended") else None
    return [(
        "UPDATE escalations SET state = ?, verdict = ?, note = ?, amended = ?, resolved = ? "
        "WHERE id = ? AND state = 'pending'",
        (p["verdict"], p["verdict"], p.get("note"), amended, e.sim_time, p["escalation_id"]),
    ), (
        # Approving a stuck or budget-stopped agent's escalation lets it work again.
        "UPDATE agents SET state = 'sleeping', updated_by = ? WHERE id = (SELECT agent FROM escalations WHERE id = ?) "
        "AND ? = 'approved' AND ((state = 'stuck' AND ? = 'agent_stuck') OR "
        "(state = 'budget-stopped' AND ? = 'budget_exhausted'))",
        (e.id, p["escalation_id"], p["verdict"], p.get("escalation_kind"), p.get("escalation_kind")),
    )]


@projector("directive.added")
def _directive_added(e: StoredEvent) -> list[Statement]:
    return [(
        "INSERT INTO directives(id, venture, text, created) VALUES (?, ?, ?, ?)",
        (e.id, e.venture, e.payload["text"], e.sim_time),
    )]


@projector("directive.retired")
def _directive_retired(e: StoredEvent) -> list[Statement]:
    return [("UPDATE directives SET active = 0 WHERE id = ?", (e.payload["directive_id"],))]


@projector("metric.recorded")
def _metric_recorded(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO metric_points(venture, metric, at, value, source, event_id) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(venture, metric, at) DO UPDATE SET value = excluded.value, source = excluded.source, "
        "event_id = excluded.event_id",
        (e.venture, p["metric"], p["at"], float(p["value"]), p.get("source", "engine"), e.id),
    )]


@projector("call.recorded")
def _call_recorded(e: StoredEvent) -> list[Statement]:
    p = e.payload
    day = (e.sim_time or e.ts)[:10]
    return [(
        "INSERT INTO calls(id, at, day, venture, agent, model, purpose, prompt_tokens, completion_tokens, cost, "
        "latency_ms, ok, error, cached_tokens, cache_saved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (e.id, e.sim_time or e.ts, day, e.venture, e.agent, p["model"], p.get("purpose", "wake"),
         int(p.get("prompt_tokens", 0)), int(p.get("completion_tokens", 0)), float(p.get("cost", 0.0)),
         float(p.get("latency_ms", 0.0)), int(bool(p.get("ok", True))), p.get("error"),
         int(p.get("cached_tokens", 0) or 0), float(p.get("cache_saved", 0.0) or 0.0)),
    )]


@projector("brain.version")
def _brain_version(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO brain_versions(venture, version, parent, author, model, tokens, cost, memory_ids, document, "
        "created, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (e.venture or "platform", p["version"], p.get("parent"), p["author"], p.get("model"), int(p.get("tokens", 0)),
         float(p.get("cost", 0.0)), _json(p.get("memory_ids", [])), _json(p["document"]), e.sim_time, e.id),
    )]


@projector("trust.changed")
def _trust_changed(e: StoredEvent) -> list[Statement]:
    p = e.payload
    return [(
        "INSERT INTO trust_grants(agent, kind, spend_limit, state, changed, event_id) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(agent, kind) DO UPDATE SET spend_limit = excluded.spend_limit, state = excluded.state, "
        "changed = excluded.changed, event_id = excluded.event_id",
        (p["agent"], p["kind"], float(p.get("spend_limit", 0.0)), p["state"], e.sim_time, e.id),
    )]


@projector("brain.pinned", "brain.unpinned")
def _brain_pin(e: StoredEvent) -> list[Statement]:
    venture = e.venture or "platform"
    if e.kind == "brain.unpinned":
        return [("DELETE FROM brain_pins WHERE venture = ?", (venture,))]
    return [(
        "INSERT INTO brain_pins(venture, version, pinned, event_id) VALUES (?, ?, ?, ?) ON CONFLICT(venture) DO "
        "UPDATE SET version = excluded.version, pinned = excluded.pinned, event_id = excluded.event_id",
        (venture, e.payload["version"], e.sim_time or e.ts, e.id),
    )]
