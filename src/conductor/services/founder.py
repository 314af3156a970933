"""The founder's commands, written as events on the caller's own connection.

The control room and the CLI both call these; a scheduler in this process or another picks the events up by
polling (they carry `"by": "founder"`). Each command validates against the current projections first, so a
stale or wrong id is a clear error, never a silent no-op.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from conductor.errors import BadInput, NotFound
from conductor.org.models import Org
from conductor.org.params import check_param
from conductor.services.queries import require_venture
from conductor.store import NewEvent, StoredEvent, commit_events, iso, parse_iso


def _clock(conn: sqlite3.Connection) -> str | None:
    """The org clock's latest time, so founder events sort with the run's own."""
    row = conn.execute("SELECT max(sim_time) FROM events WHERE sim_time IS NOT NULL").fetchone()
    return row[0] if row else None


def _write(conn: sqlite3.Connection, kind: str, payload: dict[str, Any], *, venture: str | None = None,
           agent: str | None = None, guard: Callable[[sqlite3.Connection], object] | None = None) -> StoredEvent:
    payload = {**payload, "by": "founder"}
    event = NewEvent(kind, payload, venture=venture, agent=agent, sim_time=_clock(conn))
    return commit_events(conn, [event], guard=guard)[0]


def pending_escalation(conn: sqlite3.Connection, escalation_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
    if row is None:
        raise NotFound(f"escalation #{escalation_id}: no such escalation (see `conductor inbox list`)")
    if row["state"] != "pending":
        raise BadInput(f"escalation #{escalation_id}: already {row['state']}")
    return row


def respond_to_escalation(conn: sqlite3.Connection, escalation_id: int, text: str) -> StoredEvent:
    """Answer an escalation's agent without deciding it: a message from the founder that the agent reads at
    the wake-up it causes (news wakes an agent). The escalation stays pending, and so does its expiry."""
    row = pending_escalation(conn, escalation_id)
    text = text.strip()
    if not text:
        raise BadInput("the reply: say something, the agent reads it")
    if not row["agent"]:
        raise BadInput(f"escalation #{escalation_id}: no agent to answer (it is the org's)")
    return _write(conn, "message.sent", {"to": row["agent"], "text": f"about escalation #{escalation_id}: {text[:2000]}",
                                         "escalation_id": escalation_id},
                  venture=row["venture"], agent="founder",
                  guard=lambda c: pending_escalation(c, escalation_id))


def snooze_escalation(conn: sqlite3.Connection, escalation_id: int, span: timedelta) -> StoredEvent:
    """Set an escalation aside for `span` of org-clock time: out of the inbox until then, and its expiry moved by
    as much, so a snoozed escalation never lapses while it is out of sight."""
    row = pending_escalation(conn, escalation_id)
    if span <= timedelta(0):
        raise BadInput("snooze: give a positive duration such as 4h or 1d")
    now = parse_iso(_clock(conn) or row["created"])
    expires = iso(parse_iso(row["expires"]) + span) if row["expires"] else None
    return _write(conn, "escalation.snoozed", {"escalation_id": escalation_id, "until": iso(now + span),
                                               "expires": expires},
                  venture=row["venture"], agent=row["agent"], guard=lambda c: pending_escalation(c, escalation_id))


def validate_amendment(org: Org, kind_id: str, amended: dict[str, Any]) -> None:
    kind = org.kind(kind_id)
    if kind is None:
        raise BadInput(f"decision kind '{kind_id}' is not in the org file")
    for name, value in amended.items():
        spec = kind.params.get(name)
        if spec is None:
            raise BadInput(f"{kind_id} has no parameter '{name}' (has: {', '.join(kind.params) or 'none'})")
        problem = check_param(name, spec, value)
        if problem:
            raise BadInput(f"{kind_id}: {problem}")


def resolve_escalation(
    conn: sqlite3.Connection,
    escalation_id: int,
    verdict: str,
    *,
    note: str | None = None,
    amended: dict[str, Any] | None = None,
    org: Org | None = None,
) -> StoredEvent:
    """Approve (optionally amending parameters) or reject a pending escalation."""
    if verdict not in ("approved", "rejected"):
        raise BadInput(f"verdict must be approved or rejected, not {verdict!r}")
    row = pending_escalation(conn, escalation_id)
    detail = json.loads(row["detail"] or "{}")
    if amended:
        if row["kind"] != "decision":
            raise BadInput(f"escalation #{escalation_id} is a {row['kind']}: only decisions take amended parameters")
        if org is not None:
            validate_amendment(org, detail.get("kind", ""), amended)
    payload = {
        "escalation_id": escalation_id, "verdict": verdict, "note": note or "", "amended": amended or None,
        "escalation_kind": row["kind"], "decision_id": row["decision_id"],
        "detail": {k: detail[k] for k in ("agent", "kind", "spend_limit") if k in detail},
    }
    # Checked again inside the write transaction: the scheduler may have expired it since the read above.
    return _write(conn, "escalation.resolved", payload, venture=row["venture"], agent=row["agent"],
                  guard=lambda c: pending_escalation(c, escalation_id))


def add_directive(conn: sqlite3.Connection, venture: str, text: str) -> StoredEvent:
    require_venture(conn, venture, f"venture '{venture}'")
    text = text.strip()
    if not text:
        raise BadInput("a directive needs text")
    return _write(conn, "directive.added", {"text": text[:2000]}, venture=venture)


def _target(conn: sqlite3.Connection, target: str | None) -> tuple[str, str | None]:
    if not target:
        return "org", None
    if conn.execute("SELECT 1 FROM agents WHERE id = ?", (target,)).fetchone():
        return "agent", target
    if conn.execute("SELECT 1 FROM ventures WHERE id = ?", (target,)).fetchone():
        return "venture", target
    raise NotFound(f"'{target}': no agent or venture by that id")


def set_paused(conn: sqlite3.Connection, target: str | None, paused: bool) -> StoredEvent:
    scope, name = _target(conn, target)
    kind = "founder.paused" if paused else "founder.resumed"
    return _write(conn, kind, {"scope": scope, "target": name}, agent=name if scope == "agent" else None,
                  venture=name if scope == "venture" else None)


def wake_agent(conn: sqlite3.Connection, agent: str) -> StoredEvent:
    scope, name = _target(conn, agent)
    if scope != "agent":
        raise BadInput(f"'{agent}' is a venture; wake takes an agent id")
    return _write(conn, "founder.wake", {"target": name}, agent=name)
