"""`conductor export`: decisions, escalations, brain versions, metrics and spend as JSON or CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import DbOption, JsonOption, console, print_json, reading, table


@cli_errors
def export(
    format_: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    out: Annotated[Path, typer.Option("--out", help="The directory to write into (created if needed).")] = Path(
        "conductor-export"),
    db: DbOption = None,
    json_: JsonOption = False,
) -> None:
    """Write decisions, escalations, brain versions, metrics and spend into a directory, one file each.

    Example: conductor export --format csv --out ~/exports/2026-02
    """
    from conductor.errors import BadInput
    from conductor.services.export import export as run_export

    if format_ not in ("json", "csv"):
        raise BadInput(f"--format {format_}: use json or csv")
    with reading(db) as conn:
        # `format_` was checked against exactly these two values above.
        files = run_export(conn, out, cast(Literal["json", "csv"], format_))
    if json_:
        print_json({"files": [{"table": f.table, "path": str(f.path), "rows": f.rows} for f in files]})
        return
    grid = table("table", "rows", "file", right=("rows",))
    for f in files:
        grid.add_row(f.table, str(f.rows), str(f.path))
    console().print(grid)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
