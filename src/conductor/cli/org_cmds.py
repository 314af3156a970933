"""`conductor org ...`: check an org file and print its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.tree import Tree

from conductor.cli.errors import cli_errors
from conductor.org import Org, load_org, org_json_schema
from conductor.org.durations import format_duration

org_app = typer.Typer(
    help="Check organization files and print their schema.\n\nExample: conductor org check orgs/studio.toml",
    no_args_is_help=True,
)


def org_tree(org: Org) -> Tree:
    """A one-screen summary: ventures, then each agent with role, owned metric, heartbeat and budget."""
    always = set(org.escalation.always)
    tree = Tree(
        f"[bold]{org.name}[/] [dim]· {org.model} · {org.clock} clock · ${org.budget_per_day:,.2f}/day · "
        f"{len(org.decision_kinds)} kinds, {len(always)} gated[/]"
    )
    p = org.platform
    tree.add(f"[magenta]{p.id}[/] {p.role} [dim]· {format_duration(p.heartbeat)} · ${p.budget_per_day:,.2f}/d[/]")
    for venture in org.ventures:
        branch = tree.add(f"[bold cyan]{venture.name}[/] [dim]({venture.id}) · {venture.stage} · {len(venture.metrics)} metrics[/]")
        for agent in venture.agents:
            model = f" · {agent.model}" if agent.model else ""
            branch.add(
                f"[green]{agent.id}[/] {agent.role} [dim]· owns {agent.owns_metric} · "
                f"{format_duration(agent.heartbeat)} · ${agent.budget_per_day:,.2f}/d{model}[/]"
            )
    return tree


@org_app.command("check")
@cli_errors
def check(file: Annotated[Path, typer.Argument(help="The org file to check, e.g. orgs/studio.toml.")]) -> None:
    """Validate an org file; print its ventures and agents as a tree, or every problem with its key path.

    Example: conductor org check orgs/studio.toml
    """
    org = load_org(file)
    console = Console()
    console.print(org_tree(org))
    ventures = len(org.ventures)
    console.print(f"[green]ok[/] {file}: {ventures} ventures, {org.agent_count} agents (including the platform agent)")


@org_app.command("schema")
@cli_errors
def schema() -> None:
    """Print the JSON Schema of org files, for editor completion.

    Example: conductor org schema > org.schema.json
    """
    typer.echo(json.dumps(org_json_schema(), indent=2))
