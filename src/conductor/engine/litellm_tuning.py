"""Trimming litellm's per-call bookkeeping that conductor never reads, without leaving `litellm.acompletion`.

Measured with litellm 1.106 on a 2.8 GHz core: one `acompletion` costs 2.5-3.5 ms of CPU before any network,
and two pieces make up about 2 ms of it. Its cost calculator runs on every response (with a "zero cost"
diagnostic that looks the price up again whenever the cost is 0), and its success logging builds a full
standard logging payload on a background task even when no callback is registered to read it. At 50 ms of
model latency and 32 calls in flight, a call may use at most ~1.5 ms of CPU in total, so this is the
difference between an engine bounded by its model and one bounded by its own bookkeeping.

Both trims are lossless for conductor, and each falls back to litellm's own behaviour:

- the cost calculator is skipped for custom providers (litellm `CustomLLM` handlers such as conductor's
  own `sim/`) whose model litellm has no price for: there it could only answer 0 or nothing, after its
  slowest path (a miss falls through every name generalisation). Conductor prices those from the org file.
  A custom model given a price with `litellm.register_model` is still priced by litellm. It is skipped too
  for a call that says, in litellm's public `metadata`, that its caller prices it (`ORG_PRICED`: the engine
  marks calls to a model the org file prices, whose litellm figure it never reads): about 1-2 ms of CPU a
  call over HTTP, where litellm looks the model up in its price map under every name it could have;
- success logging is skipped only while no litellm callback of any kind is registered, globally or on the
  call. Register one (`litellm.success_callback = ["langfuse"]`, say) and it runs exactly as before.

These are litellm's internals, not its API: litellm 1.110 renamed `_dispatch_success_logging` to
`dispatch_success_logging`, and the trims went silently off. Both names are looked for now;
`tests/test_litellm_tuning.py` fails when neither applies to the installed litellm (and checks, with a spy,
that the trims really skip the work and still run it when a callback is registered), and pyproject.toml bounds
litellm to the versions that test has passed on. If the internals move anyway, `tune_litellm` leaves litellm
untouched and returns False.
"""

from __future__ import annotations

from typing import Any

_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "_async_success_callback",
    "input_callback",
    "service_callback",
)
_DYNAMIC = ("dynamic_success_callbacks", "dynamic_async_success_callbacks")
# Where `litellm.utils` dispatches success logging after every call: the name of 1.110 on, then the one before.
_DISPATCH_NAMES = ("dispatch_success_logging", "_dispatch_success_logging")


def callbacks_registered(litellm: Any) -> bool:
    """Whether any litellm callback is registered globally (a success logger, an input callback, ...): then
    something outside conductor reads litellm's per-call work, and the engine leaves it in place."""
    return any(getattr(litellm, name, None) for name in _CALLBACK_LISTS)


def _no_callbacks(litellm: Any, logging_obj: Any) -> bool:
    """True when nothing could read a success log: no global callback list and no per-call callback."""
    if callbacks_registered(litellm):
        return False
    return not any(getattr(logging_obj, name, None) for name in _DYNAMIC)


# The `metadata` key by which a call says its caller prices it (set by `provider.call_model` for org-priced models).
ORG_PRICED = "conductor_org_priced"


def _priced_by_caller(details: dict[str, Any]) -> bool:
    metadata = (details.get("litellm_params") or {}).get("metadata")
    return isinstance(metadata, dict) and metadata.get(ORG_PRICED) is True


def _unpriced_custom(litellm: Any, details: dict[str, Any]) -> bool:
    """A call to a custom (CustomLLM) provider for a model missing from litellm's price map."""
    provider = details.get("custom_llm_provider")
    if not provider or provider not in (getattr(litellm, "_custom_providers", None) or ()):
        return False
    model = str(details.get("model") or "")
    prices = getattr(litellm, "model_cost", None) or {}
    return model not in prices and f"{provider}/{model}" not in prices


def tune_litellm(litellm: Any) -> bool:
    """Install both trims once; returns whether they are in place."""
    try:
        from litellm import utils as litellm_utils
        from litellm.litellm_core_utils.litellm_logging import Logging
    except ImportError:
        return False
    calculator = getattr(Logging, "response_cost_calculator", None)
    hook = next((name for name in _DISPATCH_NAMES if callable(getattr(litellm_utils, name, None))), None)
    if calculator is None or hook is None:
        return False
    dispatch = getattr(litellm_utils, hook)
    if getattr(dispatch, "_conductor_tuned", False):
        return True

    def response_cost_calculator(self: Any, result: object, *args: Any, **kwargs: Any) -> float | None:
        details = getattr(self, "model_call_details", None) or {}
        if _priced_by_caller(details) or _unpriced_custom(litellm, details):
            return None
        return calculator(self, result, *args, **kwargs)

    def dispatch_success_logging(*, logging_obj: Any, **kwargs: Any) -> None:
        if _no_callbacks(litellm, logging_obj) and not getattr(logging_obj, "defer_async_logging", False):
            return None
        return dispatch(logging_obj=logging_obj, **kwargs)

    # A mark on the function object (read back with getattr above), and litellm's own method replaced on its
    # class: both on purpose, and neither is something its types (or a function's) declare.
    dispatch_success_logging._conductor_tuned = True  # type: ignore[attr-defined]
    Logging.response_cost_calculator = response_cost_calculator  # type: ignore[method-assign]
    if hasattr(Logging, "_response_cost_calculator"):  # an alias older versions call by
        Logging._response_cost_calculator = response_cost_calculator
    setattr(litellm_utils, hook, dispatch_success_logging)  # called by its module-global name inside litellm
    return True
