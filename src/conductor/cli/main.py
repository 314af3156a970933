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
from conductor.cli.errors import cli_errors
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

DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="CONDUCTOR_DB", help="The SQLite file (default ./conductor.db).", show_default=False),
]


def example_org_path() -> Path:
    """The studio example that ships inside the package (orgs/studio.toml in a checkout points at it)."""
    return Path(__file__).resolve().parent.parent / "examples" / "studio.toml"


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Run `conductor COMMAND --help` for any command."""
    if ctx.invoked_subcommand is None:
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
    headless: Annotated[bool, typer.Option("--headless", help="No control room (the only mode of `run`).")] = True,
    no_brief: Annotated[bool, typer.Option("--no-brief", help="Ablation: withhold the brain brief from prompts.")] = False,
) -> None:
    """Run the organization without the control room; Ctrl-C stops gracefully, running again resumes.

    Example: conductor run orgs/studio.toml --days 30 --db /tmp/r.db
    """
    from conductor.cli.run_cmd import print_summary, run_headless
    from conductor.store import resolve_db_path

    path = resolve_db_path(db)
    run_headless(org_file, path, model=model, days=days, until=until, pace=pace, concurrency=concurrency,
                 ablate_brief=no_brief)
    print_summary(path)


@app.command()
@cli_errors
def demo(
    headless: Annotated[bool, typer.Option("--headless", help="Run without the control room and print a summary.")] = False,
    days: Annotated[float, typer.Option(help="Simulated days to run.")] = 60,
    db: DbOption = None,
    model: Annotated[str, typer.Option(help="The model every agent uses.")] = "sim/standard",
    pace: Annotated[float | None, typer.Option(help="Real seconds per simulated day.")] = None,
) -> None:
    """Run the 19-agent example studio against the simulated market: no API key, no network.

    Example: conductor demo --headless --days 60
    """
    import tempfile
    import time

    from conductor.cli.run_cmd import print_summary, run_headless

    path = db or Path(tempfile.mkdtemp(prefix="conductor-demo-")) / "conductor.db"
    started = time.perf_counter()
    run_headless(example_org_path(), path, model=model, days=days, pace=pace if pace is not None else (0 if headless else 0.5))
    elapsed = time.perf_counter() - started
    print_summary(path)
    Console().print(f"{days:g} simulated days in {elapsed:.1f} s. Database: {path}")


def run() -> None:
    """Console-script entry point."""
    app()
