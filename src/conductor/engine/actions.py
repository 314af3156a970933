"""Carrying out decisions that may execute: the simulated market, a record for a human, a declared command, or
a declared tool.

Only commands the org file declares can ever run: a model picks a decision kind, and the kind names the
command; nothing in model output becomes part of a command line. The decision goes to the command as JSON on
standard input, under the declared timeout. A tool kind calls its MCP tool with the decision's params as the
arguments, and, where the tool takes an `idempotency_key`, a key unique to the decision and the database, so
a server that honours it never applies one decision twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conductor.engine.tools import ToolFault, ToolHub
from conductor.org.models import DecisionKind, Org, Venture, ask_kind_id
from conductor.sim.market import VERSION, make_market

OUTPUT_CHARS = 2000


class ActionRunner:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.markets: dict[str, Any] = {}
        self.market_version: int = VERSION
        self.studio_seed: int = org.seed
        self.tools: ToolHub | None = None
        self.key_prefix = ""  # makes idempotency keys unique to this database (the engine sets it at start)

    def market_tools(self) -> Any:
        """The simulator's market analytics as an in-process MCP server (`builtin = "market"`)."""
        from conductor.sim.tools import market_server

        kinds = {k.lever: k.id for k in self.org.decision_kinds if k.action == "sim" and k.lever}
        return market_server(self.markets, kinds)

    def market(self, venture: Venture, seed: int) -> Any:
        """The venture's market (built once), of the version and studio seed the run's first start recorded."""
        if venture.id not in self.markets:
            initial = {m.name: m.initial for m in venture.metrics if m.initial is not None}
            self.markets[venture.id] = make_market(self.market_version, venture.id, seed, initial,
                                                   studio_seed=self.studio_seed)
        return self.markets[venture.id]

    async def execute(
        self, kind: DecisionKind, params: dict[str, Any], decision_id: int, venture: Venture | None
    ) -> tuple[bool, dict[str, Any], dict[str, Any] | None]:
        """(ok, result for the record, market operation to replay on restart or None)."""
        if kind.action == "sim":
            market = self.markets.get(venture.id) if venture else None
            if market is None or not kind.lever:
                return True, {"note": "recorded: no simulated market for this venture"}, None
            receipt = market.apply(kind.lever, params, decision_id)
            return bool(receipt.get("accepted", False)), receipt, {
                "lever": kind.lever, "params": params, "decision_id": decision_id}
        if kind.action == "record":
            return True, {"note": "recorded for a person to carry out"}, None
        if kind.action == "tool":
            return (*await self._tool(kind, params, decision_id), None)
        return (*await self._shell(kind, params, decision_id), None)

    async def _tool(self, kind: DecisionKind, params: dict[str, Any], decision_id: int) -> tuple[bool, dict[str, Any]]:
        if self.tools is None or not kind.tool:
            return False, {"error": "no tool servers are declared in the org file"}
        server_id, _, name = kind.tool.partition(".")
        try:
            specs = await self.tools.tools(server_id)
        except ToolFault as fault:
            return False, {"tool": kind.tool, "error": str(fault)}
        spec = next((t for t in specs if t.name == name), None) or next(
            (t for t in specs if ask_kind_id(server_id, t.name) == kind.id), None)
        if spec is None:
            return False, {"tool": kind.tool, "error": f"{server_id} has no tool named {name!r}"}
        arguments = dict(params)
        if "idempotency_key" in (spec.input_schema.get("properties") or {}):
            arguments["idempotency_key"] = self.idempotency_key(decision_id)
        outcome = await self.tools.call(server_id, spec.name, arguments)
        result: dict[str, Any] = {"tool": spec.ref, "result": outcome.text[:OUTPUT_CHARS]}
        if outcome.error:
            result["error"] = outcome.error
        return outcome.ok, result

    def idempotency_key(self, decision_id: int) -> str:
        return f"conductor-{self.key_prefix}decision-{decision_id}"

    async def takes_idempotency_key(self, kind: DecisionKind) -> bool:
        """Whether a tool kind's tool declares an `idempotency_key`: then running it again after a crash is safe."""
        if self.tools is None or not kind.tool:
            return False
        server_id, _, name = kind.tool.partition(".")
        try:
            specs = await self.tools.tools(server_id)
        except ToolFault:
            return False
        spec = next((t for t in specs if t.name == name or ask_kind_id(server_id, t.name) == kind.id), None)
        return spec is not None and "idempotency_key" in (spec.input_schema.get("properties") or {})

    async def _shell(self, kind: DecisionKind, params: dict[str, Any], decision_id: int) -> tuple[bool, dict[str, Any]]:
        command = self.org.commands.get(kind.command or "")
        if command is None:  # unreachable for a checked org file, kept as a last guard
            return False, {"error": f"command '{kind.command}' is not declared in the org file"}
        stdin = json.dumps({"decision_id": decision_id, "kind": kind.id, "params": params}).encode()
        try:
            proc = await asyncio.create_subprocess_exec(
                *command.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            return False, {"error": f"cannot start {command.argv[0]}: {exc.strerror or exc}"}
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), command.timeout.total_seconds())
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False, {"error": f"timed out after {command.timeout.total_seconds():g} s", "command": kind.command}
        result = {
            "command": kind.command, "exit_code": proc.returncode,
            "stdout": out.decode("utf-8", "replace")[-OUTPUT_CHARS:],
            "stderr": err.decode("utf-8", "replace")[-OUTPUT_CHARS:],
        }
        return proc.returncode == 0, result
