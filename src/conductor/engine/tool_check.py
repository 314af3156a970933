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
from conductor.engine.tools import ToolFault, ToolHub
from conductor.org.models import Org, ToolServer
from conductor.redaction import redact


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


def _source(server: ToolServer) -> str:
    if server.builtin:
        return f"built-in: {server.builtin}"
    if server.url:
        return redact(server.url)
    return "command: " + " ".join(server.command or [])


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
                                        agents=users))
    finally:
        await hub.close()
    return reports


def check_tools_now(org: Org) -> list[ServerReport]:
    return asyncio.run(check_tools(org))


__all__ = ["ServerReport", "ToolLine", "check_tools", "check_tools_now"]
