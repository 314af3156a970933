"""Carrying out decisions that may execute: the simulated market, a record for a human, or a declared command.

Only commands the org file declares can ever run: a model picks a decision kind, and the kind names the
command; nothing in model output becomes part of a command line. The decision goes to the command as JSON on
standard input, under the declared timeout.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conductor.org.models import DecisionKind, Org, Venture
from conductor.sim.market import VERSION, make_market

OUTPUT_CHARS = 2000


class ActionRunner:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.markets: dict[str, Any] = {}
        self.market_version: int = VERSION
        self.studio_seed: int = org.seed

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
        return (*await self._shell(kind, params, decision_id), None)

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
