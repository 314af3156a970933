"""`conductor inbox list | show | approve | reject`: the founder's escalations, from any shell.

A verdict is an `escalation.resolved` event written through `services.founder`; a scheduler running in
another process picks it up on its next poll (well within 2 s) and executes or drops the decision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import (
    DbOption,
    JsonOption,
    OrgOption,
    cell,
    cell_time,
    console,
    db_path,
    load_org_for,
    money,
    print_json,
    reading,
    short_time,
    table,
    writing,
)
from conductor.errors import BadInput
from conductor.text import expected_effect_text, state_and_verdict

if TYPE_CHECKING:
    from conductor.org import Org

inbox_app = typer.Typer(
    help="What needs the founder: list, show, approve or reject escalations.\n\nExample: conductor inbox list",
    no_args_is_help=True,
)

STATES = ("pending", "approved", "rejected", "expired", "all")
EscalationId = Annotated[int, typer.Argument(metavar="ID", help="The escalation id (from `inbox list`).")]


@inbox_app.command("list")
@cli_errors
def list_(
    state: Annotated[str, typer.Option(help="pending, approved, rejected, expired or all.")] = "pending",
    venture: Annotated[str | None, typer.Option(help="Only this venture's escalations.")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """List escalations, most urgent first (pending by default).

    Example: conductor inbox list --json | jq '.[0].id'
    """
    from conductor.services import queries

    if state not in STATES:
        raise BadInput(f"--state {state}: use one of {', '.join(STATES)}")
    with reading(db) as conn:
        rows = queries.inbox(conn, state=state, venture=venture)
    if json_:
        print_json(rows)
        return
    if not rows:
        console().print(f"no {state if state != 'all' else ''} escalations".replace("  ", " "))
        return
    grid = table("id", "urg", "kind", "agent", "what", "expires", "state", right=("id", "urg"), wrap=("what",))
    for e in rows:
        what = e.reason if not e.decision_kind or e.reason.startswith(e.decision_kind) else f"{e.decision_kind}: {e.reason}"
        grid.add_row(str(e.id), "!" * e.urgency, e.kind, e.agent or e.venture or "-", cell(what, 90),
                     cell_time(e.expires), e.state)
    console().print(grid)


@inbox_app.command("show")
@cli_errors
def show(
    escalation_id: EscalationId,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Show one escalation: the decision, rationale, expected effect, confidence, review exchange and cost.

    Example: conductor inbox show 1843
    """
    from conductor.services import queries

    with reading(db) as conn:
        item = queries.escalation(conn, escalation_id)
    if json_:
        print_json(item)
        return
    out = console()
    title = f"{item.decision_kind} (decision #{item.decision_id})" if item.decision_kind else item.kind
    out.print(f"[bold]escalation #{item.id}[/] · {title} · {state_and_verdict(item.state, item.verdict)}")
    rows: list[tuple[str, str]] = [
        ("from", f"{item.agent or '-'} ({item.venture or 'platform'})"),
        ("why", cell(item.reason, 200)),
    ]
    if item.params:
        rows.append(("parameters", cell(", ".join(f"{k}={v}" for k, v in item.params.items()), 200)))
    if item.rationale:
        rows.append(("rationale", cell(item.rationale, 400)))
    if item.expected_effect:
        rows.append(("expected", cell(expected_effect_text(item.expected_effect), 120)))
    if item.confidence is not None:
        rows.append(("confidence", f"{item.confidence:.2f}"))
    if item.reversible is not None:
        rows.append(("reversible", "yes" if item.reversible else "no"))
    if item.kind == "decision":
        rows.append(("brain version", str(item.brain_version) if item.brain_version is not None else "none"))
    if item.gates:
        rows.append(("gates", ", ".join(cell(g, 40) for g in item.gates)))
    if item.spend:
        rows.append(("would spend", money(item.spend)))
    if item.cost_so_far is not None:
        rows.append(("calls cost so far", money(item.cost_so_far)))
    rows.append(("urgency", str(item.urgency)))
    rows.append(("opened", short_time(item.created)))
    rows.append(("if nobody acts", cell(item.if_nobody_acts, 200)))
    if item.failure:
        rows.append(("failure", cell(item.failure, 300)))
    if item.note:
        rows.append(("note", cell(item.note, 300)))
    if item.amended:
        rows.append(("amended", cell(json.dumps(item.amended), 200)))
    if item.decision_state:
        rows.append(("decision state", item.decision_state))
    grid = table("", "", wrap=("",))
    grid.show_header = False
    for key, value in rows:
        grid.add_row(f"[dim]{key}[/]", value)
    out.print(grid)
    if item.review:
        steps = table("event", "clock", "who", "step", "what", title="Review exchange", right=("event",),
                      wrap=("what",))
        for s in item.review:
            steps.add_row(str(s.event_id), cell_time(s.at), s.actor or "-", s.kind, cell(s.text, 140))
        out.print(steps)
    if item.transcript:
        out.print("[bold]Transcript (last messages)[/]")
        for message in item.transcript:
            out.print(f"[dim]{cell(message.get('role', '?'), 12)}:[/] {cell(message.get('content', ''), 600)}")
    if item.state == "pending":
        out.print(f"[dim]conductor inbox approve {item.id}   ·   conductor inbox reject {item.id} --note TEXT[/]")


def _coerce(raw: str, spec_type: str | None) -> Any:
    """A --set value as the parameter's declared type; JSON-ish guessing only when the type is unknown."""
    if spec_type == "string":
        return raw
    if spec_type == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw  # the amendment check names the parameter and the expected type
    if spec_type == "number":
        try:
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        except ValueError:
            return raw
    if spec_type == "boolean":
        lowered = raw.strip().lower()
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(lowered, raw)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_sets(sets: list[str], kind_id: str | None, org: Org | None) -> dict[str, Any]:
    """`--set key=value` pairs as typed parameters of the decision's kind."""
    kind = org.kind(kind_id) if org is not None and kind_id else None
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"--set {item!r}: use key=value, e.g. --set budget=300")
        spec = kind.params.get(key) if kind is not None else None
        out[key] = _coerce(raw, spec.type if spec is not None else None)
    return out


def _verdict(escalation_id: int, verdict: str, db: Path | None, note: str | None, sets: list[str],
             org_file: Path | None) -> None:
    """Write the verdict through services.founder and say when it takes effect."""
    from conductor.services import founder, queries

    with writing(db) as conn:
        amended: dict[str, Any] | None = None
        if sets:
            row = founder.pending_escalation(conn, escalation_id)
            kind_id = json.loads(row["detail"] or "{}").get("kind")
            org = load_org_for(conn, org_file, required=True)
            amended = parse_sets(sets, kind_id, org)
        else:
            org = None
        event = founder.resolve_escalation(conn, escalation_id, verdict, note=note, amended=amended, org=org)
        running = queries.run_state(conn, db_path(db)).running
    what = event.payload.get("escalation_kind", "escalation")
    decision = event.payload.get("decision_id")
    target = f" (decision #{decision})" if decision else f" ({what})"
    amended_text = f" with {', '.join(f'{k}={v}' for k, v in amended.items())}" if amended else ""
    typer.echo(f"{verdict} escalation #{escalation_id}{target}{amended_text}; event #{event.id}")
    if running:
        typer.echo("the running scheduler acts on it within a second or two")
    else:
        typer.echo("no scheduler is running: it takes effect when `conductor run` starts")


@inbox_app.command("approve")
@cli_errors
def approve(
    escalation_id: EscalationId,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Amend a parameter before it executes, key=value (repeatable).")] = None,
    note: Annotated[str | None, typer.Option(help="A note the agent sees with your verdict.")] = None,
    org: OrgOption = None,
    db: DbOption = None,
) -> None:
    """Approve an escalation, optionally amending the decision's parameters first.

    Example: conductor inbox approve 1843 --set budget=300 --set days=14
    """
    _verdict(escalation_id, "approved", db, note, set_ or [], org)


@inbox_app.command("reject")
@cli_errors
def reject(
    escalation_id: EscalationId,
    note: Annotated[str, typer.Option(help="Why: the agent sees it with your verdict.")],
    db: DbOption = None,
) -> None:
    """Reject an escalation with a note the agent will read.

    Example: conductor inbox reject 1843 --note "not before the March launch"
    """
    if not note.strip():
        raise BadInput("--note: say why, the agent reads it")
    _verdict(escalation_id, "rejected", db, note.strip(), [], None)

@inbox_app.command("snooze")
@cli_errors
def snooze(
    escalation_id: EscalationId,
    for_: Annotated[str, typer.Option("--for", help="How long, on the org clock: 4h, 1d, 1h30m.")] = "1d",
    db: DbOption = None,
) -> None:
    """Set an escalation aside: out of the control room's inbox until then, and its expiry moved by as much.

    Example: conductor inbox snooze 1843 --for 4h
    """
    from conductor.org.durations import parse_duration
    from conductor.services import founder

    try:
        span = parse_duration(for_)
    except ValueError as exc:
        raise BadInput(f"--for {for_!r}: {exc}") from None
    with writing(db) as conn:
        event = founder.snooze_escalation(conn, escalation_id, span)
    expires = event.payload.get("expires")
    typer.echo(f"snoozed escalation #{escalation_id} until {event.payload['until']}"
               + (f"; it now expires {expires}" if expires else "") + f"; event #{event.id}")


@inbox_app.command("respond")
@cli_errors
def respond(
    escalation_id: EscalationId,
    text: Annotated[str, typer.Argument(help="What the agent reads at its next wake-up.")],
    db: DbOption = None,
) -> None:
    """Answer the agent behind an escalation without deciding it: it stays in the inbox, and the agent
    wakes to read your reply (it may revise its proposal, or explain).

    Example: conductor inbox respond 1843 "What does it cost if the launch slips a month?"
    """
    from conductor.services import founder, queries

    with writing(db) as conn:
        event = founder.respond_to_escalation(conn, escalation_id, text)
        running = queries.run_state(conn, db_path(db)).running
    typer.echo(f"replied to {event.payload['to']} about escalation #{escalation_id} (still pending); event #{event.id}")
    if not running:
        typer.echo("no scheduler is running: the agent reads it when `conductor run` starts")
