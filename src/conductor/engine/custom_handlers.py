"""Calling a litellm custom handler directly: a model whose provider is registered in litellm's public
`custom_provider_map` (`{"provider": "mine", "custom_handler": MyLLM()}`) answers in this process.

Such a handler needs none of what `litellm.acompletion` does around it for a remote model: routing, HTTP, its
logging object, its cost calculator, its success logging, and a hop to an executor thread that then fights the
event loop for the GIL. Measured on the `python -m bench.peers` chain (3 agents, a handler that answers at
once): 4.1 ms per step through `litellm.acompletion`, 2.4 ms with the handler called here. So the engine calls
the handler's own `acompletion` with the arguments litellm would give it, and reads the same response.

What the handler sees is what litellm gives it, with one difference: `logging_obj` is None (litellm's logging
object is the per-call work skipped). The direct call is made only while nothing registered with litellm could
notice the difference: no litellm callback of any kind (`litellm.callbacks`, `success_callback`, ...), no
streaming, no litellm-only argument (a `mock_response`). Register a callback and every call goes through
`litellm.acompletion` again, exactly as before.

An exception a handler raises is reported as litellm reports it (`tests/test_custom_handlers.py` checks both
paths alike): litellm's own exception types pass unchanged, anything else becomes litellm's
`APIConnectionError`, so a handler's transient fault is retried on either path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from conductor.engine.litellm_tuning import callbacks_registered

# What `call_model` passes to litellm that litellm hands a custom handler as `optional_params`.
_OPTIONAL = ("max_tokens", "temperature", "response_format", "tools")


@dataclass(frozen=True)
class DirectHandler:
    provider: str  # as registered: "mine"
    name: str  # the model without its provider, as litellm passes it: "mine/x-1" -> "x-1"
    handler: Any  # the registered `litellm.CustomLLM`


def direct_handler(litellm: Any, model: str, kwargs: dict[str, Any]) -> DirectHandler | None:
    """The custom handler to call directly for `model` with these call arguments, or None for litellm's path."""
    provider, slash, name = model.partition("/")
    if not slash or set(kwargs) - {"model", "messages", "api_base", "api_key", "metadata", *_OPTIONAL}:
        return None
    entry = next((e for e in getattr(litellm, "custom_provider_map", None) or ()
                  if isinstance(e, dict) and e.get("provider") == provider), None)
    if entry is None or entry.get("custom_handler") is None or callbacks_registered(litellm):
        return None
    if provider in _built_in(litellm):
        return None  # a handler registered under a built-in provider's name: litellm routes that name itself
    return DirectHandler(provider, name, entry["custom_handler"])


@functools.cache
def _built_in(litellm: Any) -> frozenset[str]:
    """litellm's own provider names (its `LlmProviders`), read once."""
    return frozenset(p.value for p in getattr(litellm, "LlmProviders", ()))


async def call_handler(litellm: Any, direct: DirectHandler, kwargs: dict[str, Any], timeout_s: float) -> Any:
    """The handler's answer to one call (`kwargs` as `litellm.acompletion` would get them), and its faults as
    litellm would report them."""
    optional = {key: kwargs[key] for key in _OPTIONAL if key in kwargs}
    api_base, api_key = kwargs.get("api_base"), kwargs.get("api_key")
    try:
        return await direct.handler.acompletion(
            model=direct.name, messages=kwargs["messages"], headers={}, model_response=litellm.ModelResponse(),
            print_verbose=_quiet, api_key=api_key, api_base=api_base, acompletion=True, logging_obj=None,
            optional_params=optional,
            litellm_params={"custom_llm_provider": direct.provider, "api_base": api_base,
                            "metadata": kwargs.get("metadata"), "timeout": timeout_s, "acompletion": True},
            logger_fn=None, timeout=timeout_s, custom_prompt_dict={}, client=None, encoding=None)
    except Exception as exc:
        if type(exc).__module__.startswith("litellm") or isinstance(exc, TimeoutError):
            raise
        raise litellm.APIConnectionError(message=f"litellm.APIConnectionError: {exc}", llm_provider=direct.provider,
                                         model=direct.name) from exc


def _quiet(*args: Any, **kwargs: Any) -> None:
    """litellm's `print_verbose`, silent as litellm's is unless verbose logging is on."""
