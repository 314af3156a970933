"""The simulated model called in-process: how the engine answers a `sim/...` model without going through litellm.

The simulator lives in this process, so a call needs none of what litellm does for a remote model (routing,
HTTP, its logging and cost bookkeeping), and importing litellm costs seconds at start-up: the engine calls
`complete` directly, and the demo's first wake-up starts before litellm would have finished importing. The
litellm custom provider (`conductor.sim.provider`) answers the same way for anyone who calls
`litellm.acompletion(model="sim/...")`; both report usage through this module, so they agree call for call.

Public API: `is_simulated(model)`, `count_tokens(text)` (the simulated model's own), `cached_tokens(messages, prompt_tokens)`,
`profile_for(model)`, `answer(model, messages)`, `complete(model, messages)`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from conductor.sim.model import Profile, count_tokens, parse_profile, respond

PREFIX = "sim/"
# A provider caches nothing shorter than this (OpenAI's and Anthropic's minimum), in the simulator's tokens.
MIN_CACHED_TOKENS = 1024


@dataclass(frozen=True)
class DirectReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms: float  # simulated: what the profile says such a call takes, not the time it took here
    tool_calls: tuple[dict[str, str], ...] = ()  # {"id", "name", "arguments"} of the tools it asks to call


def is_simulated(model: str) -> bool:
    """Whether `model` is the built-in simulator (`sim/standard`, `sim/careless?latency_ms=5`, ...)."""
    return model.startswith(PREFIX)


def cached_tokens(messages: list[Any], prompt_tokens: int) -> int:
    """The simulated provider's prompt cache: a system message of at least `MIN_CACHED_TOKENS` is read from the
    cache, as it would be from a real provider whose cache every agent of the org keeps warm (the wake-up system
    block is the same for all of them); nothing else is. No state across calls, so a run stays deterministic and
    a resumed run prices its calls as the unbroken one did; a cold cache's first write is not modelled."""
    system = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "system"), None)
    tokens = count_tokens(system) if isinstance(system, str) else 0
    return min(tokens, prompt_tokens) if tokens >= MIN_CACHED_TOKENS else 0


def profile_for(model: str) -> Profile:
    """The profile a model string names, with or without the `sim/` prefix; ValueError names what is wrong."""
    return parse_profile(model.removeprefix(PREFIX))


def answer(model: str, messages: list[Any], tools: list[dict[str, Any]] | None = None) -> DirectReply:
    """One answer of the simulated model, at once. ValueError for a profile that does not exist. `tools` are the
    tools the request offers (OpenAI function declarations): the model may answer by asking to call some."""
    reply = respond(list(messages), profile_for(model), tools or [])
    return DirectReply(reply.text, reply.prompt_tokens, reply.completion_tokens,
                       cached_tokens(messages, reply.prompt_tokens), reply.latency_ms, tuple(reply.tool_calls))


async def complete(model: str, messages: list[Any], tools: list[dict[str, Any]] | None = None) -> DirectReply:
    """One answer of the simulated model, after the profile's real-time delay (`sleep_ms`, 0 by default)."""
    reply = answer(model, messages, tools)
    sleep_ms = profile_for(model).sleep_ms
    if sleep_ms > 0:
        await asyncio.sleep(sleep_ms / 1000)
    return reply
