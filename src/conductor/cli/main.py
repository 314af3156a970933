"""The `conductor` entry point: the typer app and its command groups.

Headless commands never import Textual or litellm at module level: a `conductor status` from cron must start
in a fraction of a second, and a test in `tests/` proves the import hygiene.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from conductor import __version__
from conductor.cli import (
    control_cmds,
    doctor_cmd,
    eval_cmd,
    events_cmd,
    export_cmd,
    status_cmds,
    tools_cmds,
    tui_cmds,
)
from conductor.cli.brain_cmds import brain_app
from conductor.cli.errors import cli_errors
from conductor.cli.inbox_cmds import inbox_app
from conductor.cli.logs import LogLevel, LogLevelOption
from conductor.cli.metric_cmds import metric_app
from conductor.cli.org_cmds import org_app
from conductor.errors import BadInput

app = typer.Typer(
    name="conductor",
    help="A terminal control room for an autonomous company of LLM agents.",
    add_completion=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(org_app, name="org")
# Headless control: every control-room action as a subcommand (each module keeps its heavy imports lazy).
status_cmds.register(app)
events_cmd.register(app)
app.add_typer(inbox_app, name="inbox")
app.add_typer(brain_app, name="brain")
app.add_typer(metric_app, name="metric")
control_cmds.register(app)
export_cmd.register(app)
doctor_cmd.register(app)
tools_cmds.register(app)  # tools check: the MCP servers of an org file
eval_cmd.register(app)  # eval: paired seeds in arms (its engine runs in worker processes)
tui_cmds.register(app)  # tui, attach: the control room (Textual is imported inside the commands only)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="CONDUCTOR_DB", help="The SQLite file (default ./conductor.db).", show_default=False),
]


SeedOption = Annotated[
    int | None,
    typer.Option(help="Another seed for the org and its simulated markets (a resumed run keeps its first seed).",
                 show_default=False),
]
MockOption = Annotated[
    str | None,
    typer.Option("--mock-response", help="Answer every model call with this text through litellm's mock "
                 "(no key, no network), e.g. with --model openai/gpt-4o-mini.", show_default=False),
]


def mock_extra(mock_response: str | None) -> dict[str, str] | None:
    """litellm's own `mock_response`, so a real model string runs through the real litellm path offline."""
    return {"mock_response": mock_response} if mock_response is not None else None


def example_org_path() -> Path:
    """The studio example that ships inside the package (orgs/studio.toml in a checkout points at it)."""
    return Path(__file__).resolve().parent.parent / "examples" / "studio.toml"


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Run `conductor COMMAND --help` for any command; `conductor` alone opens the control room on ./conductor.db."""
    if ctx.invoked_subcommand is None:
        from conductor.cli.tui_cmds import bare

        if not cli_errors(bare)(None):
            typer.echo(ctx.get_help())


@app.command()
def version() -> None:
    """Print conductor's version.

    Example: conductor version
    """
    typer.echo(f"conductor {__version__}")


@app.command()
@cli_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Where to put org.toml and conductor.db.")] = Path("."),
) -> None:
    """Start a new organization: write an example org file and create its database.

    Example: conductor init ~/studio && conductor org check ~/studio/org.toml
    """
    from conductor.org import load_org
    from conductor.services.setup import record_org
    from conductor.store import open_database

    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{directory}: exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{directory}: cannot create the directory ({exc.strerror})") from None
    org_file = directory / "org.toml"
    console = Console()
    if org_file.exists():
        console.print(f"kept   {org_file} (already there)")
    else:
        try:
            shutil.copyfile(example_org_path(), org_file)
        except OSError as exc:
            raise BadInput(f"{org_file}: cannot write ({exc.strerror})") from None
        console.print(f"wrote  {org_file}")
    org = load_org(org_file)
    db_path = directory / "conductor.db"
    conn = open_database(db_path)
    try:
        record_org(conn, org, org_file)
        version_ = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    console.print(f"ready  {db_path} (schema version {version_}, WAL)")
    console.print(f"next   conductor run {org_file} --db {db_path}")


@app.command("run")
@cli_errors
def run_command(
    org_file: Annotated[Path, typer.Argument(help="The org file, e.g. orgs/studio.toml.")],
    db: DbOption = None,
    model: Annotated[str | None, typer.Option(help="A litellm model string for every agent, e.g. sim/standard.")] = None,
    days: Annotated[float | None, typer.Option(help="Run until this many days after the org clock's start.")] = None,
    until: Annotated[str | None, typer.Option(help="Run until this org-clock time (ISO 8601).")] = None,
    pace: Annotated[float, typer.Option(help="Real seconds per simulated day (0: as fast as possible).")] = 0.0,
    concurrency: Annotated[int | None, typer.Option(help="Model calls at once (default from the org file).")] = None,
    model_workers: Annotated[int | None, typer.Option(
        "--model-workers", help="Make model calls in this many worker processes (0: in this one; default from "
                                "the org file's [engine] model_workers). For HTTP providers on several cores.",
        show_default=False)] = None,
    headless: Annotated[bool, typer.Option("--headless", help="No control room (the only mode of `run`).")] = True,
    no_brief: Annotated[bool, typer.Option("--no-brief", help="Ablation: withhold the brain brief from prompts.")] = False,
    no_tools: Annotated[bool, typer.Option("--no-tools", help="Ablation: offer agents no tools ([[tools]] unused).")] = False,
    log_calls: Annotated[Path | None, typer.Option("--log-calls", help="Append every model call's full request and "
                                                   "answer to this file, one JSON line each, credentials redacted.",
                                                   show_default=False)] = None,
    seed: SeedOption = None,
    mock_response: MockOption = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Run the organization without the control room; Ctrl-C stops gracefully, running again resumes.

    It logs to <db>.log beside the database (wake-ups, calls, retries, verdicts, errors).

    Example: conductor run orgs/studio.toml --days 30 --db /tmp/r.db
    """
    from conductor.cli.run_cmd import print_summary, run_headless
    from conductor.store import resolve_db_path

    path = resolve_db_path(db)
    run_headless(org_file, path, model=model, days=days, until=until, pace=pace, concurrency=concurrency,
                 model_workers=model_workers, ablate_brief=no_brief, no_tools=no_tools, log_calls=log_calls, seed=seed,
                 extra=mock_extra(mock_response), log_level=log_level.value)
    print_summary(path)


@app.command()
@cli_errors
def demo(
    headless: Annotated[bool, typer.Option("--headless", help="Run without the control room and print a summary.")] = False,
    days: Annotated[float, typer.Option(help="Simulated days to run.")] = 60,
    db: Annotated[Path | None, typer.Option(
        "--db", envvar="CONDUCTOR_DB", show_default=False,
        help="The SQLite file (default: a new conductor.db in a fresh temporary directory, printed at the end)."),
    ] = None,
    model: Annotated[str, typer.Option(help="The model every agent uses.")] = "sim/standard",
    pace: Annotated[float | None, typer.Option(help="Real seconds per simulated day.")] = None,
    seed: SeedOption = None,
    mock_response: MockOption = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Run the 19-agent example studio against the simulated market: no API key, no network.

    Example: conductor demo --headless --days 60
    """
    import tempfile
    import time

    from conductor.cli.run_cmd import print_summary, run_headless

    path = db or Path(tempfile.mkdtemp(prefix="conductor-demo-")) / "conductor.db"
    if not headless:  # the control room on the studio, the scheduler in it at a watchable pace
        from conductor.cli.tui_cmds import open_control_room

        open_control_room(example_org_path(), path, model=model, days=days, pace=pace, seed=seed,
                          extra=mock_extra(mock_response), log_level=log_level.value)
        Console().print(f"Database: {path} (conductor attach --db {path} to look again, "
                        f"conductor tui {example_org_path()} --db {path} to resume)")
        return
    started = time.perf_counter()
    run_headless(example_org_path(), path, model=model, days=days, pace=pace if pace is not None else (0 if headless else 0.5),
                 seed=seed, extra=mock_extra(mock_response), log_level=log_level.value)
    elapsed = time.perf_counter() - started
    print_summary(path)
    Console().print(f"{days:g} simulated days in {elapsed:.1f} s. Database: {path}")


def run() -> None:
    """The whole app as the console script (`conductor.cli.entry.run` is the script itself: it starts the
    read-only views without importing this module)."""
    from conductor.cli.entry import run_app

    run_app(app)
