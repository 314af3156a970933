"""The invariants the crash harness checks after every SIGKILL and at the end of every chain of runs.

Each check reads the database (and the files the harness and the killed runs left behind) and returns a list
of violations, one line each; an empty list means the invariant held. They are plain functions over a
connection so that tests can also feed them a doctored database and see them fail.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conductor.engine.state import EngineState
from conductor.org.models import Org
from conductor.store.events import StoredEvent
from conductor.store.rebuild import projection_differences

# Events that end a wake-up: after a finished run, every `agent.woke` is followed by one of these.
WAKE_CLOSERS = ("agent.concluded", "agent.stuck", "agent.interrupted")


def connect(db: Path) -> sqlite3.Connection:
    """A read-only connection: the checks must never change what they check."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


@dataclass
class Snapshot:
    """What the database held at one moment (right after a kill), to compare with later."""

    max_id: int = 0
    digest: str = ""
    pending_escalations: set[int] = field(default_factory=set)
    brain_versions: dict[tuple[str, int], str] = field(default_factory=dict)


def events_digest(conn: sqlite3.Connection, up_to: int) -> str:
    """A hash over every event row with id <= up_to: equal digests mean the log's prefix is untouched."""
    h = hashlib.sha256()
    for row in conn.execute("SELECT id, ts, sim_time, venture, agent, kind, payload FROM events WHERE id <= ? "
                            "ORDER BY id", (up_to,)):
        h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def brain_rows(conn: sqlite3.Connection) -> dict[tuple[str, int], str]:
    return {(r["venture"], r["version"]): hashlib.sha256(repr(tuple(r)).encode()).hexdigest()
            for r in conn.execute("SELECT * FROM brain_versions")}


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    max_id = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    return Snapshot(
        max_id=max_id,
        digest=events_digest(conn, max_id),
        pending_escalations={r[0] for r in conn.execute("SELECT id FROM escalations WHERE state = 'pending'")},
        brain_versions=brain_rows(conn),
    )


# -- after every kill ----------------------------------------------------------------------------------------
def check_integrity(conn: sqlite3.Connection) -> list[str]:
    result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    return [] if result == ["ok"] else [f"integrity_check: {'; '.join(result)[:300]}"]


def read_acks(path: Path) -> list[tuple[int, str]]:
    """(id, kind) of every event a run reported committed; a torn last line (no newline) is ignored."""
    if not path.exists():
        return []
    lines = path.read_bytes().decode("utf-8", "replace").split("\n")[:-1]
    out = []
    for line in lines:
        event_id, _, kind = line.partition(" ")
        out.append((int(event_id), kind))
    return out


def check_acked(conn: sqlite3.Connection, acks: list[tuple[int, str]]) -> list[str]:
    """Every event a run was told was committed is in the log, with the kind it was written as."""
    kinds = dict(conn.execute("SELECT id, kind FROM events").fetchall())
    problems = []
    for event_id, kind in acks:
        if event_id not in kinds:
            problems.append(f"event #{event_id} ({kind}) was reported written and is missing")
        elif kinds[event_id] != kind:
            problems.append(f"event #{event_id} was reported written as {kind} but the log holds {kinds[event_id]}")
    return problems[:20]


def check_log_shape(conn: sqlite3.Connection, before: Snapshot) -> list[str]:
    """Ids run 1..max without a gap, and everything that was in the log before is still there, unchanged."""
    problems = []
    count, max_id = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM events").fetchone()
    if count != max_id:
        problems.append(f"event ids have gaps: {count} events, highest id {max_id}")
    if max_id < before.max_id:
        problems.append(f"the log shrank: highest id {max_id}, was {before.max_id}")
    elif before.max_id and events_digest(conn, before.max_id) != before.digest:
        problems.append(f"events up to #{before.max_id} changed after they were committed")
    return problems


def check_brain_versions(conn: sqlite3.Connection, before: Snapshot) -> list[str]:
    """Brain versions seen before are still there, byte for byte; versions per venture have no duplicates."""
    now = brain_rows(conn)
    problems = [f"brain version {v}@{n} changed or vanished" for (v, n), digest in before.brain_versions.items()
                if now.get((v, n)) != digest]
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for name in ("brain_versions_immutable_update", "brain_versions_immutable_delete",
                 "events_no_update", "events_no_delete"):
        if name not in triggers:
            problems.append(f"trigger {name} is missing: history is no longer protected")
    return problems


def check_after_kill(conn: sqlite3.Connection, acks: list[tuple[int, str]], before: Snapshot) -> list[str]:
    return (check_integrity(conn) + check_acked(conn, acks) + check_log_shape(conn, before)
            + check_brain_versions(conn, before))


# -- at the end of a chain -----------------------------------------------------------------------------------
def _payloads(conn: sqlite3.Connection, kind: str) -> list[tuple[int, dict]]:
    return [(r[0], json.loads(r[1])) for r in conn.execute("SELECT id, payload FROM events WHERE kind = ? ORDER BY id",
                                                             (kind,))]


def read_side_effects(path: Path) -> Counter[int]:
    """How many times the declared command actually ran for each decision (it appends its stdin per run)."""
    runs: Counter[int] = Counter()
    if not path.exists():
        return runs
    # One JSON object per run; a run killed between its object and its newline runs into the next one.
    text, decoder, at = path.read_text(), json.JSONDecoder(), 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return runs
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:  # a run killed while writing its own record: it did run
            runs[-1] += 1
            return runs
        runs[int(value["decision_id"])] += 1


def check_executed_once(conn: sqlite3.Connection, side_effects: Counter[int]) -> list[str]:
    """No decision executed twice: by its events, by its idempotency key, and by the command's own record."""
    problems = []
    executed = _payloads(conn, "decision.executed")
    per_decision = Counter(p["decision_id"] for _, p in executed)
    problems += [f"decision #{d} has {n} decision.executed events" for d, n in per_decision.items() if n > 1]
    keys = Counter(p["idempotency_key"] for _, p in executed)
    problems += [f"idempotency key {k} used {n} times" for k, n in keys.items() if n > 1]
    problems += [f"decision #{d}: its command ran {n} times" for d, n in side_effects.items() if n > 1]
    executing = {p["decision_id"] for _, p in _payloads(conn, "decision.executing")}
    problems += [f"decision #{d}: its command ran without a decision.executing record" for d in side_effects
                 if d not in executing]
    for _, p in executed:
        ok_shell = p.get("ok") and isinstance(p.get("result"), dict) and "exit_code" in p["result"]
        if ok_shell and side_effects.get(p["decision_id"], 0) != 1:
            problems.append(f"decision #{p['decision_id']} is recorded as run but its command ran "
                            f"{side_effects.get(p['decision_id'], 0)} times")
    return problems[:20]


def check_gates(conn: sqlite3.Connection) -> list[str]:
    """A decision that went to the founder executes only if the first verdict on its escalation approved it."""
    first_verdict: dict[int, str] = {}
    for _, p in _payloads(conn, "escalation.resolved"):
        first_verdict.setdefault(p["escalation_id"], p["verdict"])
    escalated: dict[int, list[int]] = defaultdict(list)
    for r in conn.execute("SELECT id, decision_id FROM escalations WHERE kind = 'decision'"):
        escalated[r["decision_id"]].append(r["id"])
    problems = []
    for _, p in _payloads(conn, "decision.executed"):
        escalations = escalated.get(p["decision_id"])
        if escalations and not any(first_verdict.get(e) == "approved" for e in escalations):
            problems.append(f"decision #{p['decision_id']} executed although its escalation "
                            f"#{escalations[-1]} was never approved")
    return problems


def check_escalations_kept(conn: sqlite3.Connection, pending_at_kills: set[int]) -> list[str]:
    states = dict(conn.execute("SELECT id, state FROM escalations").fetchall())
    problems = []
    for e in sorted(pending_at_kills):
        if e not in states:
            problems.append(f"escalation #{e} was pending at a kill and is gone")
        elif states[e] not in ("pending", "approved", "rejected", "expired"):
            problems.append(f"escalation #{e} was pending at a kill and is now '{states[e]}'")
    return problems


def check_founder_verdicts(conn: sqlite3.Connection, verdicts: list[dict]) -> list[str]:
    """Every verdict the founder was told was recorded took effect (after the runs that followed it)."""
    problems = []
    for v in verdicts:
        row = conn.execute("SELECT state FROM escalations WHERE id = ?", (v["escalation_id"],)).fetchone()
        if row is None or row["state"] != v["verdict"]:
            continue  # the policy resolved it first (expiry); the founder's command was a no-op
        if v["kind"] == "trust_proposal" and v["verdict"] == "approved":
            granted = conn.execute(
                "SELECT count(*) FROM events WHERE kind = 'trust.changed' AND id > ? "
                "AND json_extract(payload, '$.state') = 'granted'", (v["event_id"],)).fetchone()[0]
            if not granted:
                problems.append(f"founder approved trust proposal #{v['escalation_id']} and no trust was granted")
        if v["kind"] != "decision" or v.get("decision_id") is None:
            continue
        state = conn.execute("SELECT state FROM decisions WHERE id = ?", (v["decision_id"],)).fetchone()["state"]
        wanted = ("executed", "failed") if v["verdict"] == "approved" else ("rejected",)
        if state not in wanted:
            problems.append(f"founder {v['verdict']} escalation #{v['escalation_id']} (event #{v['event_id']}) "
                            f"but decision #{v['decision_id']} is '{state}'")
    return problems


def check_spend(conn: sqlite3.Connection, org: Org) -> list[str]:
    """The spend the engine budgets against (a fold over the log) equals the sum of the call rows, per scope, for
    every day while it is the day the fold is on (the engine's state forgets the spend of days before yesterday:
    budgets are per day)."""
    rows: dict[tuple[str, str], float] = defaultdict(float)
    for r in conn.execute("SELECT day, venture, agent, cost FROM calls"):
        rows[(r["day"], "org")] += r["cost"]
        if r["venture"]:
            rows[(r["day"], f"venture:{r['venture']}")] += r["cost"]
        if r["agent"]:
            rows[(r["day"], f"agent:{r['agent']}")] += r["cost"]
    state = EngineState(org, org.start)
    problems: list[str] = []
    compared: set[str] = set()

    def compare(day: str) -> None:
        compared.add(day)
        for key in sorted(k for k in set(rows) | set(state.spend) if k[0] == day):
            if abs(rows.get(key, 0.0) - state.spend.get(key, 0.0)) > 1e-9:
                problems.append(f"spend {key}: call rows say {rows.get(key, 0.0):.6f}, the budget saw "
                                f"{state.spend.get(key, 0.0):.6f}")

    day = None
    for row in conn.execute("SELECT * FROM events WHERE kind = 'call.recorded' ORDER BY id"):
        event = StoredEvent.from_row(row)
        event_day = (event.sim_time or event.ts)[:10]
        if day is not None and event_day != day:
            compare(day)  # the day the fold is leaving, while the state still holds it
        state.observe(event)
        day = event_day
    if day is not None:
        compare(day)
    missed = sorted({key[0] for key in rows} - compared)
    if missed:
        problems.append(f"spend of days no call event was folded on: {missed[:5]}")
    return problems[:10]


def check_wakes_closed(conn: sqlite3.Connection) -> list[str]:
    """After a finished run no wake-up is left open: each was concluded, marked stuck, or marked interrupted."""
    open_wakes: dict[str, int] = {}
    for r in conn.execute("SELECT id, agent, kind FROM events WHERE kind IN ('agent.woke', ?, ?, ?) ORDER BY id",
                          WAKE_CLOSERS):
        if r["kind"] == "agent.woke":
            open_wakes[r["agent"]] = r["id"]
        else:
            open_wakes.pop(r["agent"], None)
    return [f"{agent}'s wake-up #{event_id} was never concluded" for agent, event_id in sorted(open_wakes.items())]


# News that is shown to one wake-up only (a revision request can come back in a later review round).
ONCE_ONLY_INPUTS = ("tasks", "messages", "verdicts", "outcomes")
# Inputs that may be withdrawn between an interrupted wake-up and its redo (the task done, the revision closed).
WITHDRAWABLE_INPUTS = ("tasks", "revisions")
# Inputs a founder command can bring (a task, a verdict): one committed just before the interrupted wake-up but
# not yet polled by the killed run reaches the restarted run by replay, in log order, so the redo shows it.
FOUNDER_INPUTS = ("tasks", "verdicts")


def _wake_events(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT id, agent, kind, payload FROM events WHERE kind IN ('agent.woke', ?, ?, ?) "
                        "ORDER BY id", WAKE_CLOSERS).fetchall()


def _redo_problems(woke: dict, redo: dict, woke_id: int) -> list[str]:
    """An interrupted wake-up's redo must have its reason and its inputs (less any withdrawn meanwhile)."""
    problems = []
    if redo.get("reason") != woke.get("reason"):
        problems.append(f"wake-up #{woke_id} was woken for {woke.get('reason')!r}, its redo for {redo.get('reason')!r}")
    before, after = woke.get("inputs", {}), redo.get("inputs", {})
    for name in sorted(set(before) | set(after)):
        was, now = set(before.get(name, ())), set(after.get(name, ()))
        if (now - was and name not in FOUNDER_INPUTS) or (was - now and name not in WITHDRAWABLE_INPUTS):
            problems.append(f"wake-up #{woke_id} was shown {name} {sorted(was)}, its redo {sorted(now)}")
    return problems


def check_interrupted_redone(conn: sqlite3.Connection) -> list[str]:
    """Every interrupted wake-up is done again exactly once, with the reason and news it had (and news shown to
    a wake-up that concluded is never shown to another): a kill neither drops a wake-up nor doubles one."""
    payloads: dict[int, dict] = {}
    owners: dict[int, str] = {}  # agent.woke id -> agent
    open_wake: dict[str, int] = {}
    interrupted: dict[int, str] = {}  # agent.woke id -> agent
    redos: dict[int, list[int]] = defaultdict(list)
    for r in _wake_events(conn):
        payload = json.loads(r["payload"])
        if r["kind"] == "agent.woke":
            payloads[r["id"]], owners[r["id"]] = payload, r["agent"]
            open_wake[r["agent"]] = r["id"]
            if "redoes" in payload:
                redos[payload["redoes"]].append(r["id"])
            continue
        woke_id = open_wake.pop(r["agent"], None)
        if r["kind"] == "agent.interrupted" and woke_id is not None:
            interrupted[woke_id] = r["agent"]
            if payload.get("wake") not in (None, woke_id):
                return [f"agent.interrupted #{r['id']} names wake-up #{payload['wake']}, the open one is #{woke_id}"]
    stopped = {a["id"] for a in conn.execute("SELECT id FROM agents WHERE paused OR state IN ('stuck', "
                                             "'budget-stopped')")}
    problems = [f"wake-up #{w} is not interrupted, yet #{', #'.join(map(str, r))} redo it"
                for w, r in sorted(redos.items()) if w not in interrupted]
    for woke_id, agent in sorted(interrupted.items()):
        done = redos.get(woke_id, [])
        if len(done) > 1:
            problems.append(f"{agent}'s interrupted wake-up #{woke_id} was done again {len(done)} times")
        elif not done and agent not in stopped:
            problems.append(f"{agent}'s interrupted wake-up #{woke_id} was never done again")
        for redo_id in done[:1]:
            problems += _redo_problems(payloads[woke_id], payloads[redo_id], woke_id)
    return (problems + _news_shown_twice(payloads, owners, set(interrupted)))[:20]


def _news_shown_twice(payloads: dict[int, dict], owners: dict[int, str], interrupted: set[int]) -> list[str]:
    """News (a task, message, verdict or outcome) shown to two wake-ups that were not interrupted."""
    shown: dict[tuple[str, str, int], int] = {}
    problems = []
    for woke_id, payload in sorted(payloads.items()):
        if woke_id in interrupted:
            continue
        for name in ONCE_ONLY_INPUTS:
            for item in payload.get("inputs", {}).get(name, ()):
                key = (owners[woke_id], name, item)
                if key in shown:
                    problems.append(f"{name[:-1]} #{item} was shown to wake-ups #{shown[key]} and #{woke_id}")
                shown.setdefault(key, woke_id)
    return problems


def check_final(conn: sqlite3.Connection, *, org: Org, side_effects: Counter[int], pending_at_kills: set[int],
                verdicts: list[dict]) -> list[str]:
    differences = projection_differences(conn)
    return (
        check_executed_once(conn, side_effects)
        + check_gates(conn)
        + check_escalations_kept(conn, pending_at_kills)
        + check_founder_verdicts(conn, verdicts)
        + check_spend(conn, org)
        + check_wakes_closed(conn)
        + check_interrupted_redone(conn)
        + [f"projection {t} differs from a rebuild from the events" for t in differences]
    )
