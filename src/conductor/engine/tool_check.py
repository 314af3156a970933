"""`conductor tools check`: start every tool server an org file declares, list its tools under their policies,
and say which agents may use them, without running an organization.

Each server is started as a run would start it (the same `engine.tools.ToolHub`, the simulator's market as an
in-process server), listed once and stopped. A server that cannot start or list is reported with its reason
and does not stop the others from being checked.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from conductor.engine.actions import ActionRunner
from conductor.engine.tools import ToolFault, ToolHub, ToolSpec
from conductor.org.models import Org, ToolServer
from conductor.redaction import remember_url, shown_command, shown_url


@dataclass
class ToolLine:
    name: str
    policy: str
    description: str


@dataclass
class ServerReport:
    id: str
    source: str  # how it is reached: the command, the URL (redacted) or the built-in's name
    ok: bool
    seconds: float
    error: str | None = None
    tools: list[ToolLine] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # the agents that may use some of its tools
    problems: list[str] = field(default_factory=list)  # decision kinds that act through it and do not fit


def _source(server: ToolServer) -> str:
    """How the server is reached, safe to print: the URL without its credentials, or the command's program and
    script names (never the other arguments, which may hold a token)."""
    if server.builtin:
        return f"built-in: {server.builtin}"
    if server.url:
        remember_url(server.url)
        return shown_url(server.url)
    return "command: " + shown_command(server.command or [])


async def check_tools(org: Org) -> list[ServerReport]:
    """Every declared server, started, listed and stopped, in file order."""
    actions = ActionRunner(org)
    for venture in org.ventures:  # the built-in market answers for every venture, as in a run
        actions.market(venture, org.venture_seed(venture))
    hub = ToolHub(org, builtins={"market": actions.market_tools})
    reports: list[ServerReport] = []
    try:
        for server in org.tools:
            started = time.monotonic()
            users = [a.id for _, a in org.agents() if any(ref.partition(".")[0] == server.id for ref in a.tools)]
            try:
                specs = await hub.tools(server.id)
            except ToolFault as fault:
                reports.append(ServerReport(server.id, _source(server), False, time.monotonic() - started,
                                            error=str(fault), agents=users))
                continue
            reports.append(ServerReport(server.id, _source(server), True, time.monotonic() - started,
                                        tools=[ToolLine(s.name, s.policy, s.description) for s in specs],
                                        agents=users, problems=kind_problems(org, server.id, specs)))
    finally:
        await hub.close()
    return reports


def kind_problems(org: Org, server_id: str, specs: list[ToolSpec]) -> list[str]:
    """Decision kinds acting through this server's tools (`action = "tool"`) whose tool is missing, or whose
    params the tool does not take (the decision's params are the tool's arguments), or that leave out an
    argument the tool requires."""
    problems: list[str] = []
    by_name = {s.name: s for s in specs}
    for kind in org.decision_kinds:
        if kind.action != "tool" or not kind.tool or kind.tool.partition(".")[0] != server_id:
            continue
        name = kind.tool.partition(".")[2]
        spec = by_name.get(name)
        if spec is None:
            problems.append(f"decision kind {kind.id}: {server_id} has no tool {name!r}")
            continue
        takes = set(spec.input_schema.get("properties") or {})
        needs = set(spec.input_schema.get("required") or []) - {"idempotency_key"}
        extra = sorted(set(kind.params) - takes)
        missing = sorted(needs - set(kind.params))
        if extra:
            problems.append(f"decision kind {kind.id}: {name} takes no {', '.join(extra)}")
        if missing:
            problems.append(f"decision kind {kind.id}: {name} needs {', '.join(missing)}, which the kind's params "
                            "do not declare")
    return problems


def check_tools_now(org: Org) -> list[ServerReport]:
    return asyncio.run(check_tools(org))


__all__ = ["ServerReport", "ToolLine", "check_tools", "check_tools_now", "kind_problems"]
