"""`conductor tools ...`: the MCP servers an org file declares, started and listed without running the org."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from conductor.cli.errors import cli_errors
from conductor.cli.shared import JsonOption, cell, console, print_json, table
from conductor.errors import BadInput

tools_app = typer.Typer(
    help="Check the tool servers (MCP) an org file declares.\n\nExample: conductor tools check orgs/studio.toml",
    no_args_is_help=True,
)


@tools_app.command("check")
@cli_errors
def check(file: Annotated[Path, typer.Argument(help="The org file, e.g. orgs/studio.toml.")],
          as_json: JsonOption = False) -> None:
    """Start each declared tool server, list its tools with their policies and the agents that may use them.

    Exits with 1 when a server cannot start or list its tools, or a decision kind that acts through one of them
    names a tool it lacks or params the tool does not take.

    Example: conductor tools check orgs/studio.toml
    """
    from conductor.engine.tool_check import check_tools_now
    from conductor.org import load_org

    org = load_org(file)
    if not org.tools:
        raise BadInput(f"{file}: declares no tool servers ([[tools]])")
    reports = check_tools_now(org)
    if as_json:
        print_json({"servers": [asdict(r) for r in reports]})
    else:
        out = console()
        for report in reports:
            head = f"[bold]{report.id}[/] [dim]{cell(report.source)} · {report.seconds:.2f} s[/]"
            if not report.ok:
                out.print(f"{head}\n  [red]failed[/] {cell(report.error, 200)}")
                continue
            grid = table("tool", "policy", "description", title=None, wrap=("description",))
            for tool in report.tools:
                colour = {"allowed": "green", "ask": "yellow", "off": "dim"}.get(tool.policy, "")
                grid.add_row(cell(tool.name), f"[{colour}]{tool.policy}[/]", cell(tool.description, 120))
            out.print(head)
            out.print(grid)
            users = ", ".join(report.agents) or "no agent lists it yet"
            out.print(f"  [dim]used by:[/] {cell(users, 300)}")
            for problem in report.problems:
                out.print(f"  [red]problem[/] {cell(problem, 300)}")
    if not all(r.ok and not r.problems for r in reports):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(tools_app, name="tools")
