"""Cross-reference checks over a parsed org: the rules that tie one part of the file to another.

Pure functions over `Org`; each problem carries the key path where a person should look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from conductor.org.json_path import path_problem
from conductor.org.models import ASK_KIND_PREFIX, Metric, Org, Venture


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an org file: where (a key path such as `ventures[1].agents[3].owns_metric`) and why."""

    path: str
    reason: str


# A source read more often than this would stop a simulated clock at every step of it and load what it reads.
MIN_SOURCE_EVERY = timedelta(minutes=1)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(segment: str) -> str:
    """A key path segment as TOML writes it: bare when it can be, quoted when it holds dots or spaces."""
    return segment if _BARE_KEY.match(segment) else '"' + segment.replace('"', '\\"') + '"'


def _known(names: list[str] | set[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "") if listed else "none"


def check_org(org: Org) -> list[Problem]:
    """Every cross-reference problem in the org, in file order."""
    problems: list[Problem] = []
    add = problems.append
    kinds = {k.id for k in org.decision_kinds}
    servers = {t.id for t in org.tools}
    problems.extend(_tool_servers(org))

    seen_kinds: set[str] = set()
    for i, kind in enumerate(org.decision_kinds):
        where = f"decision_kinds[{i}]"
        if kind.id in seen_kinds:
            add(Problem(f"{where}.id", f"duplicate decision kind '{kind.id}'"))
        seen_kinds.add(kind.id)
        if kind.action == "shell" and not kind.command:
            add(Problem(f"{where}.command", "a kind with action = 'shell' must name a declared command"))
        if kind.command and kind.action != "shell":
            add(Problem(f"{where}.command", "only a kind with action = 'shell' runs a command"))
        if kind.command and kind.command not in org.commands:
            add(Problem(f"{where}.command", f"unknown command '{kind.command}' (declared: {_known(set(org.commands))})"))
        if kind.action == "tool" and not kind.tool:
            add(Problem(f"{where}.tool", "a kind with action = 'tool' must name a declared tool ('server.tool')"))
        if kind.tool and kind.action != "tool":
            add(Problem(f"{where}.tool", "only a kind with action = 'tool' calls a tool"))
        if kind.tool:
            server_id, _, tool_name = kind.tool.partition(".")
            server = org.tool_server(server_id)
            if server is None:
                add(Problem(f"{where}.tool", f"unknown tool server '{server_id}' (declared: {_known(servers)})"))
            elif server.policy_of(tool_name) == "off":
                add(Problem(f"{where}.tool", f"the tool '{kind.tool}' is off in its server's policy"))
        if kind.id.startswith(ASK_KIND_PREFIX):
            add(Problem(f"{where}.id", f"'{ASK_KIND_PREFIX}' begins the kinds conductor makes for ask tools; "
                                       "choose another name"))
        if kind.spend_param is not None:
            spec = kind.params.get(kind.spend_param)
            if spec is None:
                add(Problem(f"{where}.spend_param", f"'{kind.spend_param}' is not one of this kind's params"))
            elif spec.type not in ("number", "integer"):
                add(Problem(f"{where}.spend_param", f"'{kind.spend_param}' must be a number parameter"))
        for name, spec in kind.params.items():
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                add(Problem(f"{where}.params.{key(name)}", f"min {spec.min} is above max {spec.max}"))
            if spec.choices is not None and spec.type != "string":
                add(Problem(f"{where}.params.{key(name)}.choices", "choices are only for string parameters"))

    for i, kind_id in enumerate(org.escalation.always):
        if kind_id not in kinds:
            add(Problem(f"escalation.always[{i}]", f"unknown decision kind '{kind_id}' (known: {_known(kinds)})"))

    for model in org.prices:
        if not model.strip():
            add(Problem("prices", "a price needs a model string"))

    all_ids: dict[str, str] = {org.platform.id: "platform.id"}
    seen_ventures: set[str] = set()
    for vi, venture in enumerate(org.ventures):
        vwhere = f"ventures[{vi}]"
        if venture.id in seen_ventures:
            add(Problem(f"{vwhere}.id", f"duplicate venture id '{venture.id}'"))
        seen_ventures.add(venture.id)

        metric_names: set[str] = set()
        for mi, metric in enumerate(venture.metrics):
            if metric.name in metric_names:
                add(Problem(f"{vwhere}.metrics[{mi}].name", f"duplicate metric '{metric.name}'"))
            metric_names.add(metric.name)
            problems.extend(_source_problems(f"{vwhere}.metrics[{mi}].source", venture, metric))
            if metric.source is not None and metric.source.tool:
                problems.extend(_source_tool(org, f"{vwhere}.metrics[{mi}].source.tool", metric.source.tool))

        venture_agents = {a.id for a in venture.agents}
        for ai, agent in enumerate(venture.agents):
            awhere = f"{vwhere}.agents[{ai}]"
            if agent.id in all_ids:
                add(Problem(f"{awhere}.id", f"agent id '{agent.id}' is already used at {all_ids[agent.id]}"))
            else:
                all_ids[agent.id] = f"{awhere}.id"
            if agent.owns_metric not in metric_names:
                add(Problem(
                    f"{awhere}.owns_metric",
                    f"unknown metric '{agent.owns_metric}' (venture '{venture.id}' has: {_known(metric_names)})",
                ))
            for ki, kind_id in enumerate(agent.decision_kinds):
                if kind_id not in kinds:
                    add(Problem(f"{awhere}.decision_kinds[{ki}]", f"unknown decision kind '{kind_id}' (known: {_known(kinds)})"))
            for ti, ref in enumerate(agent.tools):
                server_id, _, tool_name = ref.partition(".")
                server = org.tool_server(server_id)
                if server is None:
                    add(Problem(f"{awhere}.tools[{ti}]", f"unknown tool server '{server_id}' (declared: {_known(servers)})"))
                elif tool_name and server.policy_of(tool_name) == "off":
                    add(Problem(f"{awhere}.tools[{ti}]", f"the tool '{ref}' is off in its server's policy"))
            for kind_id, reviewer in agent.reviewers.items():
                rwhere = f"{awhere}.reviewers.{key(kind_id)}"
                if kind_id not in kinds:
                    add(Problem(rwhere, f"unknown decision kind '{kind_id}'"))
                elif kind_id not in agent.decision_kinds:
                    add(Problem(rwhere, f"agent '{agent.id}' may not take '{kind_id}', so it needs no reviewer for it"))
                if reviewer == agent.id:
                    add(Problem(rwhere, "an agent cannot review its own decisions"))
                elif reviewer not in venture_agents:
                    add(Problem(rwhere, f"unknown agent '{reviewer}' in venture '{venture.id}' (has: {_known(venture_agents)})"))
            if agent.reports_to is not None:
                if agent.reports_to == agent.id:
                    add(Problem(f"{awhere}.reports_to", "an agent cannot report to itself"))
                elif agent.reports_to not in venture_agents:
                    add(Problem(
                        f"{awhere}.reports_to",
                        f"unknown agent '{agent.reports_to}' in venture '{venture.id}' (has: {_known(venture_agents)})",
                    ))
        problems.extend(_reporting_cycles(vwhere, venture.agents))
    return problems


def _tool_servers(org: Org) -> list[Problem]:
    """Each [[tools]] server is one of a command, a URL or a built-in, under an id used once."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, server in enumerate(org.tools):
        where = f"tools[{i}]"
        if server.id in seen:
            problems.append(Problem(f"{where}.id", f"duplicate tool server '{server.id}'"))
        seen.add(server.id)
        given = [name for name in ("command", "url", "builtin") if getattr(server, name)]
        if len(given) != 1:
            problems.append(Problem(where, "a tool server has exactly one of command, url or builtin "
                                           f"(this one has {', '.join(given) or 'none'})"))
        if server.env and not server.command:
            problems.append(Problem(f"{where}.env", "only a command's process gets environment variables"))
    return problems


def _source_tool(org: Org, where: str, ref: str) -> list[Problem]:
    """A metric read through a tool: the tool's server is declared and the tool runs without asking."""
    policy = org.tool_policy(ref)
    if policy is None:
        known = _known({t.id for t in org.tools})
        return [Problem(where, f"unknown tool server '{ref.partition('.')[0]}' (declared: {known})")]
    if policy != "allowed":
        return [Problem(where, f"the tool '{ref}' is '{policy}' in its server's policy; a metric source reads "
                               "only through an allowed tool")]
    return []


def _source_problems(where: str, venture: Venture, metric: Metric) -> list[Problem]:
    """A metric source's fields that do not fit together, each naming the metric: the key path gives only
    indexes, and a founder reads 'signups of venture acme' faster than `ventures[1].metrics[3]`."""
    source = metric.source
    if source is None:
        return []
    which = f"metric '{metric.name}' of venture '{venture.id}'"
    problems = []
    given = [name for name in ("command", "url", "tool") if getattr(source, name) is not None]
    if len(given) > 1:
        problems.append(Problem(where, f"{which}: give one of a command, a url or a tool, not {' and '.join(given)}"))
    elif not given:
        problems.append(Problem(where, f"{which}: a source needs a command (an argv list), a url or a tool"))
    elif source.command is not None and not source.command[0].strip():
        problems.append(Problem(f"{where}.command[0]", f"{which}: the command's program is empty"))
    if source.path is not None:
        problem = path_problem(source.path)
        if problem is not None:
            problems.append(Problem(f"{where}.path", f"{which}: {problem}"))
    if source.min is not None and source.max is not None and source.min > source.max:
        problems.append(Problem(where, f"{which}: min {source.min:g} is above max {source.max:g}"))
    if source.every < MIN_SOURCE_EVERY:
        problems.append(Problem(f"{where}.every", f"{which}: read at most once a minute (every = \"1m\" or more)"))
    return problems


def _reporting_cycles(vwhere: str, agents: list) -> list[Problem]:
    """A reports-to chain that loops back has no one at the top; report each cycle once, at its first member."""
    boss = {a.id: a.reports_to for a in agents if a.reports_to and a.reports_to != a.id}
    index: dict[str, int] = {}
    for i, a in enumerate(agents):
        index.setdefault(a.id, i)  # a duplicated id is reported elsewhere; point at its first use
    reported: set[str] = set()
    problems: list[Problem] = []
    for start in (a.id for a in agents):
        path: list[str] = []
        node: str | None = start
        while node is not None and node in boss and node not in path:
            path.append(node)
            node = boss[node]
        if node is not None and node in path:
            cycle = path[path.index(node):]
            if not reported.intersection(cycle):
                reported.update(cycle)
                first = min(cycle, key=index.__getitem__)
                ring = cycle[cycle.index(first):] + cycle[: cycle.index(first)] + [first]
                problems.append(Problem(
                    f"{vwhere}.agents[{index[first]}].reports_to", f"reports-to cycle: {' -> '.join(ring)}"
                ))
    return problems
