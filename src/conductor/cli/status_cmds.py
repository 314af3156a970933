"""`conductor status`, `agents`, `metrics` and `spend`: read-only views of a database, running or not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, cast

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
    number,
    print_json,
    reading,
    short_time,
    table,
)

if TYPE_CHECKING:
    from conductor.services.queries import ModelUse


@cli_errors
def status(db: DbOption = None, org: OrgOption = None, json_: JsonOption = False) -> None:
    """Show the org, its clock, whether a scheduler runs, today's spend against budget, and what needs you.

    Example: conductor status --db ~/studio/conductor.db
    """
    from conductor.services import queries

    with reading(db) as conn:
        budget = queries.recorded_budget(conn) if org is None else None
        if budget is None:  # --org given, or a log from before org.loaded carried the budget: read the file
            found = load_org_for(conn, org)
            budget = found.budget_per_day if found else None
        info = queries.status(conn, db_path(db), budget_per_day=budget)
    if json_:
        print_json(info)
        return
    out = console()
    run = info.run
    if run.running:
        state = f"[green]running[/] (pid {run.pid}, since {short_time(run.started)})"
    elif run.started:
        state = f"[yellow]stopped[/] ({run.stop_reason}; last run pid {run.pid})"
    else:
        state = "[dim]never run[/]"
    of_budget = f" of {money(info.budget_per_day)}" if info.budget_per_day is not None else ""
    out.print(f"[bold]{cell(info.org or '(no org loaded)')}[/]  {cell(info.org_path or '', 120)}")
    seat = "  a control room is attached" if run.founder_attached else ""
    out.print(f"scheduler    {state}{seat}" + ("  [red]org paused[/]" if info.paused else ""))
    out.print(f"clock        {short_time(info.clock)} ({info.clock_kind or '?'} clock)")
    out.print(f"spend today  {money(info.spend_today)}{of_budget} in {info.calls_today} calls")
    urgent = f" ({info.urgent_escalations} urgent)" if info.urgent_escalations else ""
    out.print(f"inbox        {info.open_escalations} open escalations{urgent}"
              + ("  → conductor inbox list" if info.open_escalations else ""))
    out.print(f"stuck        {', '.join(info.stuck_agents) or 'none'}")
    if info.failing_sources:  # only an org with metric sources can have any
        out.print(f"[yellow]refused[/]      {cell('; '.join(info.failing_sources), 200)}"
                  "  → conductor events --kind metric.refused")
    grid = table("venture", "name", "stage", "agents", "open", "spend today", "paused",
                 right=("agents", "open", "spend today"), wrap=("name",))
    for v in info.ventures:
        grid.add_row(v.id, cell(v.name, 30), v.stage, str(v.agents), str(v.open_escalations), money(v.spend_today),
                     "yes" if v.paused else "")
    out.print(grid)


@cli_errors
def agents(
    venture: Annotated[str | None, typer.Option(help="Only this venture's agents.")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """List agents with their state, next wake-up, spend today and last summary.

    Example: conductor agents --venture inkwell
    """
    from conductor.services import queries

    with reading(db) as conn:
        if venture:
            queries.require_venture(conn, venture, f"--venture {venture}")
        running = queries.run_state(conn, db_path(db)).running
        rows = queries.agents(conn, venture=venture, running=running)
    if json_:
        print_json(rows)
        return
    if not rows:
        console().print("no agents (run `conductor run ORG_FILE` or `conductor init` first)")
        return
    out = console()
    wide = out.width >= 100  # the last summary only where it can be read; `--json` always has it
    columns = ("agent", "state", "next wake", "wakes", "spend", "tasks") + (("last summary",) if wide else ())
    grid = table(*columns, right=("wakes", "spend", "tasks"), wrap=("last summary",))
    for a in rows:
        state = "paused" if a.paused and a.state == "sleeping" else a.state + ("/paused" if a.paused else "")
        cells = [a.id, state, cell_time(a.next_wake), str(a.wakes), money(a.spend_today), str(a.open_tasks)]
        grid.add_row(*cells, *([cell(a.last_summary, 70)] if wide else []))
    out.print(grid)


@cli_errors
def metrics(
    venture: Annotated[str | None, typer.Argument(help="Only this venture's metrics.")] = None,
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Show each venture's metrics: latest value, where it came from, first value and change.

    Example: conductor metrics inkwell --json
    """
    from conductor.services import queries

    with reading(db) as conn:
        if venture:
            queries.require_venture(conn, venture, f"venture '{venture}'")
        rows = queries.metrics(conn, venture)
        use = queries.model_use(conn, venture)
    if json_:
        print_json(queries.MetricsReport(metrics=rows, model_calls=use))
        return
    out = console()
    if not rows:
        out.print("no metric values yet")
        out.print(_model_use_line(use))
        return
    grid = table("venture", "metric", "latest", "at", "first", "change", "points", "source",
                 right=("latest", "first", "change", "points"), wrap=("source",))
    for m in rows:
        change = ("+" if m.change > 0 else "") + number(m.change)
        grid.add_row(m.venture, m.metric, number(m.value), cell_time(m.at), number(m.first), change, str(m.points),
                     cell(m.source, 40))
    out.print(grid)
    out.print(_model_use_line(use))


def _model_use_line(use: ModelUse) -> str:
    """`model calls: 1,204, 2.1M prompt tokens, 74% from the provider's cache (saved $1.20), cost $9.10`."""
    if not use.calls:
        return "model calls: none yet"
    return (f"model calls: {use.calls:,}, {number(use.prompt_tokens)} prompt tokens, {use.cache_share:.0%} from the "
            f"provider's cache (saved {money(use.cache_saved)}), cost {money(use.cost)}")


@cli_errors
def spend(
    day: Annotated[str | None, typer.Option(help="One day, YYYY-MM-DD or 'today' (the org clock's).")] = None,
    by: Annotated[str, typer.Option(help="Group by agent, venture or day.")] = "venture",
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Show model-call spend and tokens by agent, venture or day.

    Example: conductor spend --day today --by agent
    """
    from conductor.errors import BadInput
    from conductor.services import queries

    if by not in ("agent", "venture", "day"):
        raise BadInput(f"--by {by}: use agent, venture or day")
    if day is not None and day != "today" and (len(day) != 10 or day[4] != "-" or day[7] != "-"):
        raise BadInput(f"--day {day}: use YYYY-MM-DD or 'today'")
    with reading(db) as conn:
        # `by` was checked against exactly these three values above.
        rows = queries.spend(conn, day=day, by=cast(Literal["agent", "venture", "day"], by))
    if json_:
        print_json(rows)
        return
    if not rows:
        console().print("no model calls" + (f" on {day}" if day else " yet"))
        return
    # The agent id names its venture, and one --day needs no day column: keep the table inside 80 columns.
    columns = [c for c in {"agent": ("day", "agent"), "venture": ("day", "venture"), "day": ("day",)}[by]
               if c != "day" or not day or by == "day"]
    grid = table(*columns, "calls", "failed", "in tok", "cached", "out tok", "cost", "saved",
                 right=("calls", "failed", "in tok", "cached", "out tok", "cost", "saved"))
    for r in rows:
        keys = [getattr(r, c) or "-" for c in columns]
        grid.add_row(*keys, str(r.calls), str(r.failed_calls), number(r.prompt_tokens), number(r.cached_tokens),
                     number(r.completion_tokens), money(r.cost), money(r.cache_saved))
    if rows:
        grid.add_row(*[""] * len(columns), str(sum(r.calls for r in rows)), "", "", "", "",
                     money(sum(r.cost for r in rows)), money(sum(r.cache_saved for r in rows)))
    console().print(grid)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("agents")(agents)
    app.command("metrics")(metrics)
    app.command("spend")(spend)
