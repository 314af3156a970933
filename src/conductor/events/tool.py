"""Events of the tools agents use: one per call a wake-up made or tried to make (`engine.tool_loop`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conductor.events.base import EventSpec, Payload, When, short, val

P = Mapping[str, Any]


class ToolCalled(Payload):
    """One tool call: its arguments and result cut for the record (the model read up to `tool_result_chars`),
    how long it took, and the error that stopped it. `policy` is the org file's: `ask` calls were not run."""

    server: str
    tool: str
    arguments: str = ""
    policy: str = "allowed"
    ok: bool = True
    result: str = ""
    chars: int = 0
    truncated: bool = False
    duration_ms: float = 0.0
    error: str | None = None


def _called(p: P, when: When) -> str:
    what = f"{val(p, 'server')}.{val(p, 'tool')}({short(p.get('arguments') or '', 50)})"
    if p.get("policy") == "ask":
        return f"asked to call {what}: proposed to the founder"
    if not p.get("ok", True):
        return f"tool {what} failed: {short(p.get('error') or '?', 80)}"
    return f"tool {what}: {short(p.get('result') or '', 80)}"


SPECS = (
    EventSpec("tool.called", "tool", ToolCalled, _called, {
        "server": "crm", "tool": "lookup", "arguments": '{"customer": "acme"}', "policy": "allowed", "ok": True,
        "result": "acme: 42 seats", "chars": 14, "truncated": False, "duration_ms": 61.5, "error": None}),
)
