"""The simulated model as a litellm custom provider: `litellm.acompletion(model="sim/standard", ...)`.

Imported only by `conductor.engine.provider.load_litellm`, after litellm itself is loaded. The handler hands
the messages, and nothing else, to `conductor.sim.direct` (what the engine calls without litellm), and reports
its usage as a provider would, including the prompt tokens its cache served.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm import CustomLLM
from litellm.exceptions import BadRequestError

from conductor.sim.direct import DirectReply, answer, complete

PROVIDER = "sim"


def _bad_profile(model: str, exc: ValueError) -> BadRequestError:
    # A litellm exception type passes through litellm's mapping unchanged, and a 400 is never retried.
    return BadRequestError(message=str(exc), model=f"{PROVIDER}/{model}", llm_provider=PROVIDER)


def _fill(model_response: Any, model: str, reply: DirectReply) -> Any:
    model_response.choices[0].message.content = reply.text
    model_response.model = f"{PROVIDER}/{model}"
    model_response.usage = litellm.Usage(
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        total_tokens=reply.prompt_tokens + reply.completion_tokens,
        prompt_tokens_details={"cached_tokens": reply.cached_tokens} if reply.cached_tokens else None,
    )
    hidden = getattr(model_response, "_hidden_params", None)
    if not isinstance(hidden, dict):
        hidden = {}
    # A fresh dict: the class-level default is shared between responses and must never be mutated.
    model_response._hidden_params = {**hidden, "sim_latency_ms": reply.latency_ms}
    return model_response


class SimProvider(CustomLLM):
    """Answers from the simulated model (`conductor.sim.direct`, as the engine calls it); the only input it ever
    reads is `messages` (and the profile name).

    litellm passes everything else by keyword (`model_response` among it), so the handlers name only what
    they read.
    """

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        try:
            return _fill(kwargs["model_response"], model, answer(model, list(messages)))
        except ValueError as exc:
            raise _bad_profile(model, exc) from None

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = await complete(model, list(messages))
        except ValueError as exc:
            raise _bad_profile(model, exc) from None
        return _fill(kwargs["model_response"], model, reply)


def register_sim_provider(litellm_module: Any) -> None:
    """Add the "sim" provider to litellm's custom provider map, once, keeping every other entry."""
    current = list(getattr(litellm_module, "custom_provider_map", None) or [])
    if any(isinstance(e, dict) and e.get("provider") == PROVIDER for e in current):
        return
    current.append({"provider": PROVIDER, "custom_handler": SimProvider()})
    litellm_module.custom_provider_map = current
    # litellm reads the map into its provider lists when a call starts; do it now as well, so helpers that
    # look the provider up before any call already know it.
    setup = getattr(getattr(litellm_module, "utils", None), "custom_llm_setup", None)
    if callable(setup):
        setup()
