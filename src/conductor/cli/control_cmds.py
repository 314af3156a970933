"""`conductor directive add | list`, `pause`, `resume` and `wake`: steering a running organization.

Each writes one founder event through `services.founder`; a scheduler in another process picks it up on its
next poll. Without a running scheduler the event waits in the log for the next `conductor run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import (
    DbOption,
    JsonOption,
    cell,
    cell_time,
    console,
    db_path,
    print_json,
    reading,
    table,
    writing,
)

directive_app = typer.Typer(
    help="Standing instructions for a venture's agents.\n\n"
         "Example: conductor directive add inkwell \"no discounts above 20%\"",
    no_args_is_help=True,
)


def _after(db: Path | None) -> str:
    from conductor.services import queries

    with reading(db) as conn:
        running = queries.run_state(conn, db_path(db)).running
    return "the running scheduler picks it up within a second or two" if running else (
        "no scheduler is running: it takes effect when `conductor run` starts")


@directive_app.command("add")
@cli_errors
def directive_add(
    venture: Annotated[str, typer.Argument(help="The venture id, e.g. inkwell.")],
    text: Annotated[str, typer.Argument(help="The directive, in plain words.")],
    db: DbOption = None,
) -> None:
    """Give a venture's agents a standing directive; each sees it at its next wake-up.

    Example: conductor directive add inkwell "focus on activation until March"
    """
    from conductor.services.founder import add_directive

    with writing(db) as conn:
        event = add_directive(conn, venture, text)
    typer.echo(f"directive #{event.id} for {venture} (event #{event.id}); {_after(db)}")


@directive_app.command("list")
@cli_errors
def directive_list(
    venture: Annotated[str | None, typer.Argument(help="Only this venture's directives.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include retired directives.")] = False,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """List the directives in force (or all of them with --all).

    Example: conductor directive list inkwell --json
    """
    from conductor.services import queries

    with reading(db) as conn:
        if venture:
            queries.require_venture(conn, venture, f"venture '{venture}'")
        rows = queries.directives(conn, venture, active_only=not all_)
    if json_:
        print_json(rows)
        return
    if not rows:
        console().print("no directives" + (f" for {venture}" if venture else ""))
        return
    grid = table("id", "venture", "given", "active", "directive", right=("id",), wrap=("directive",))
    for d in rows:
        grid.add_row(str(d.id), d.venture, cell_time(d.created), "yes" if d.active else "no", cell(d.text, 120))
    console().print(grid)


def _set_paused(target: str | None, paused: bool, db: Path | None) -> None:
    """Pause or resume one target; resuming with no target also resumes every paused venture and agent."""
    from conductor.services.founder import set_paused

    with writing(db) as conn:
        event = set_paused(conn, target, paused)
        also: list[str] = []
        if target is None and not paused:
            also = [r[0] for r in conn.execute("SELECT id FROM ventures WHERE paused = 1 ORDER BY id")]
            also += [r[0] for r in conn.execute("SELECT id FROM agents WHERE paused = 1 ORDER BY id")]
            for name in also:
                set_paused(conn, name, False)
    scope = event.payload["scope"]
    what = "everything" if scope == "org" else f"{scope} {target}"
    extra = f", including {', '.join(also)}" if also else ""
    typer.echo(f"{'paused' if paused else 'resumed'} {what}{extra} (event #{event.id}); {_after(db)}")


@cli_errors
def pause(
    target: Annotated[str | None, typer.Argument(help="An agent or venture id; none pauses everything.")] = None,
    db: DbOption = None,
) -> None:
    """Pause an agent, a venture, or (with no argument) the whole organization: no new wake-ups.

    Example: conductor pause inkwell-cmo
    """
    _set_paused(target, True, db)


@cli_errors
def resume(
    target: Annotated[str | None, typer.Argument(help="An agent or venture id; none resumes everything.")] = None,
    db: DbOption = None,
) -> None:
    """Resume an agent or venture, or with no argument everything paused; resuming an agent also unsticks it.

    Example: conductor resume inkwell
    """
    _set_paused(target, False, db)


@cli_errors
def wake(
    agent: Annotated[str, typer.Argument(help="The agent id, e.g. inkwell-ceo.")],
    db: DbOption = None,
) -> None:
    """Wake an agent now instead of at its next heartbeat.

    Example: conductor wake inkwell-ceo
    """
    from conductor.services.founder import wake_agent

    with writing(db) as conn:
        event = wake_agent(conn, agent)
    typer.echo(f"woke {agent} (event #{event.id}); {_after(db)}")


def register(app: typer.Typer) -> None:
    app.add_typer(directive_app, name="directive")
    app.command("pause")(pause)
    app.command("resume")(resume)
    app.command("wake")(wake)
