"""`conductor metric record | import`: real numbers (a payment processor export, an analytics job) into the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import DbOption, OrgOption, load_org_for, writing
from conductor.errors import BadInput

metric_app = typer.Typer(
    help="Record metric values from outside: one value, or a CSV file.\n\n"
         "Example: conductor metric record inkwell mrr 31250 --at 2026-02-01",
    no_args_is_help=True,
)

MAX_PROBLEM_LINES = 50


class ImportProblems(BadInput):
    """Some rows were skipped: one `FILE:LINE: reason` line each (exit code 2), the good rows are recorded."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if lines else "")
        self._lines = lines

    def lines(self) -> list[str]:
        return self._lines


@metric_app.command("record")
@cli_errors
def record(
    venture: Annotated[str, typer.Argument(help="The venture id, e.g. inkwell.")],
    name: Annotated[str, typer.Argument(help="The metric name as in the org file, e.g. mrr.")],
    value: Annotated[str, typer.Argument(help="The value (put `--` before a negative one).")],
    at: Annotated[str | None, typer.Option(help="When it was measured, ISO 8601 (default: the org clock's now).")] = None,
    org: OrgOption = None,
    db: DbOption = None,
) -> None:
    """Record one metric value; a running scheduler sees it within a second or two.

    Example: conductor metric record inkwell mrr 31250 --at 2026-02-01T00:00:00Z
    """
    from conductor.services.metrics import record_metric

    with writing(db) as conn:
        event = record_metric(conn, venture, name, value, at=at, org=load_org_for(conn, org))
    p = event.payload
    typer.echo(f"recorded {venture} {name} = {p['value']:g} at {p['at']} (event #{event.id})")


@metric_app.command("import")
@cli_errors
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV file with a header: venture,metric,value,at.")],
    venture: Annotated[str | None, typer.Option(help="The venture, for a file without a venture column.")] = None,
    org: OrgOption = None,
    db: DbOption = None,
) -> None:
    """Import metric values from a CSV file; importing the same file again changes nothing.

    Rows that cannot be read are reported as FILE:LINE: reason on stderr (exit code 2); every other row is kept.

    Example: conductor metric import stripe-mrr.csv
    """
    from conductor.services.metrics import import_csv

    with writing(db) as conn:
        report = import_csv(conn, file, org=load_org_for(conn, org), venture=venture)
    skipped = len(report.problems)
    typer.echo(f"{file}: {report.rows} rows: {report.recorded} recorded, {report.unchanged} already recorded, "
               f"{skipped} skipped ({report.seconds:.2f} s)")
    if report.problems:
        lines = [f"{file}:{line}: {reason}" for line, reason in report.problems[:MAX_PROBLEM_LINES]]
        if skipped > MAX_PROBLEM_LINES:
            lines.append(f"{file}: and {skipped - MAX_PROBLEM_LINES} more skipped rows")
        raise ImportProblems(lines)
