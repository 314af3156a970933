"""`conductor events`: the log, filtered, and `--follow` to watch a running scheduler from any shell."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Annotated

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import DbOption, JsonOption, cell, cell_time, console, print_json, reading, short_time, table

FOLLOW_INTERVAL_S = 0.25


def _line(e: object) -> str:
    from conductor.services.queries import EventRow

    assert isinstance(e, EventRow)
    who = e.agent or e.venture or "-"
    return f"{e.id:>7} {short_time(e.sim_time)}  {e.kind:<20} {who:<18} {cell(e.summary, 160)}"


@cli_errors
def events(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
    venture: Annotated[str | None, typer.Option(help="Only events of this venture.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only events of this agent.")] = None,
    kind: Annotated[str | None, typer.Option(
        help="An event kind (decision.executed), a family (decision), or several separated by commas.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only events from this org-clock time on: ISO 8601 (2026-01-05T09:00Z) or a duration back (2h, 1d).")] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest matching events to show first.", min=1)] = 50,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Print the event log, newest last; with --follow keep printing as a running scheduler writes.

    With --json: a JSON array, or JSON Lines (one object per event) with --follow.

    Example: conductor events --follow --venture inkwell --kind decision
    """
    from conductor.services import queries

    with reading(db) as conn:
        if venture:
            queries.require_venture(conn, venture, f"--venture {venture}")
        if agent:
            queries.require_agent(conn, agent, f"--agent {agent}")
        after = queries.parse_since(conn, since) if since else None
        rows = queries.events(conn, venture=venture, agent=agent, kind=kind, since=after, limit=limit)
        if not follow:
            if json_:
                print_json(rows)
                return
            if not rows:
                console().print("no matching events")
                return
            grid = table("id", "clock", "kind", "who", "what", right=("id",), wrap=("what",))
            for e in rows:
                grid.add_row(str(e.id), cell_time(e.sim_time), e.kind, e.agent or e.venture or "-", cell(e.summary, 120))
            console().print(grid)
            return
        last = rows[-1].id if rows else queries.last_event_id(conn)
        # Ctrl-C (SIGINT) ends a follow with exit 0, even for a follower a script started in the background,
        # which inherits SIGINT ignored and would otherwise go on until SIGTERM or SIGKILL.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                for e in rows:
                    typer.echo(json.dumps(e.model_dump(mode="json"), ensure_ascii=False) if json_ else _line(e))
                if rows:
                    last = rows[-1].id
                time.sleep(FOLLOW_INTERVAL_S)
                rows = queries.events(conn, venture=venture, agent=agent, kind=kind, since=after, after_id=last)
        except KeyboardInterrupt:
            return  # Ctrl-C is how a follow ends: exit 0
        except BrokenPipeError:  # `conductor events -f | head`: the reader left; leave quietly too
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        finally:
            signal.signal(signal.SIGINT, previous)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
