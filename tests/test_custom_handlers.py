"""A litellm custom handler is called directly by the engine, with what litellm would give it, and the call's result
is the one litellm's own path gives: same text, tool calls, tokens, cost and faults.

The direct path is checked by making `litellm.acompletion` fail: a call that still succeeds did not go through
it. Registering a litellm callback must send calls back through litellm. Nothing here reaches a network.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conductor.engine.provider import ProviderFault, RetryPolicy, call_model, load_litellm
from conductor.org.loader import parse_org

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]
TOOLS = [{"type": "function", "function": {"name": "look", "description": "Look.", "parameters": {"type": "object"}}}]


class Recorder:
    """What a custom handler was called with; `fail` faults still to raise."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.fail = 0


def _handler(recorder: Recorder) -> Any:
    """A `litellm.CustomLLM` that answers from its arguments and keeps them, or fails `recorder.fail` times first."""
    litellm = load_litellm()

    class Handler(litellm.CustomLLM):
        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return await _answer(recorder, model, messages, kwargs)

    return Handler()


async def _answer(recorder: Recorder, model: str, messages: list, kwargs: dict[str, Any]) -> Any:
    litellm = load_litellm()
    recorder.seen.append({"model": model, "messages": messages, **kwargs})
    if recorder.fail:
        recorder.fail -= 1
        raise ValueError("the local server is warming up")
    response = kwargs["model_response"]
    response.choices[0].message.content = f"hi from {model}"
    response.usage = litellm.Usage(prompt_tokens=120, completion_tokens=7, total_tokens=127,
                                   prompt_tokens_details={"cached_tokens": 100})
    return response


def _org() -> Any:
    return parse_org({
        "name": "Handled", "model": "mine/x-1", "clock": "sim", "seed": 1, "budget_per_day": 100,
        "prices": {"mine/x-1": {"input_per_mtok": 2.0, "output_per_mtok": 8.0, "cached_input_per_mtok": 0.5}},
        "decision_kinds": [{"id": "note.write", "description": "Note.", "action": "record"}],
        "platform": {"mission": "Watch.", "heartbeat": "30d"},
        "ventures": [{"id": "v", "name": "V", "stage": "mvp", "goal": "Grow.",
                      "metrics": [{"name": "m", "unit": "n", "direction": "up"}],
                      "agents": [{"id": "a", "role": "A", "mission": "Work.", "owns_metric": "m", "heartbeat": "1d",
                                  "budget_per_day": 10, "decision_kinds": ["note.write"]}]}]})


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    litellm = load_litellm()
    recorder = Recorder()
    others = [e for e in litellm.custom_provider_map if e.get("provider") != "mine"]
    monkeypatch.setattr(litellm, "custom_provider_map", [*others, {"provider": "mine", "custom_handler": _handler(recorder)}])
    litellm.utils.custom_llm_setup()  # litellm's own path must know the provider too
    # A callback a test registers is copied by litellm into its other lists at the first call: all are restored.
    for name in ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                 "_async_failure_callback", "input_callback", "service_callback"):
        if isinstance(getattr(litellm, name, None), list):
            monkeypatch.setattr(litellm, name, list(getattr(litellm, name)))
    return recorder


def _litellm_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async def not_called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the call went through litellm.acompletion")

    monkeypatch.setattr(load_litellm(), "acompletion", not_called)


def _call(**options: Any) -> Any:
    return asyncio.run(call_model("mine/x-1", MESSAGES, org=_org(), max_tokens=300, tools=TOOLS,
                                  retry=RetryPolicy(max_retries=2, base_delay_s=0.0, max_delay_s=0.0), **options))


def test_a_custom_handler_is_called_directly_with_what_litellm_would_give_it(
        handler: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    _litellm_fails(monkeypatch)
    result = _call()
    [seen] = handler.seen
    assert seen["model"] == "x-1" and seen["messages"] == MESSAGES  # the provider left out, as litellm does
    assert seen["optional_params"] == {"max_tokens": 300, "tools": TOOLS}
    assert seen["acompletion"] is True and seen["litellm_params"]["custom_llm_provider"] == "mine"
    assert result.text == "hi from x-1" and (result.prompt_tokens, result.completion_tokens) == (120, 7)
    assert result.cached_tokens == 100
    assert result.cost == pytest.approx((20 * 2.0 + 100 * 0.5 + 7 * 8.0) / 1e6)  # the org file's prices


def test_the_direct_call_gives_what_litellm_gives(handler: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _call()
    from litellm.integrations.custom_logger import CustomLogger

    # A registered callback reads litellm's per-call work: then the call goes through litellm.
    monkeypatch.setattr(load_litellm(), "callbacks", [CustomLogger()])
    through = _call()
    assert len(handler.seen) == 2 and handler.seen[1]["logging_obj"] is not None, "litellm's path was not taken"
    assert handler.seen[0]["logging_obj"] is None
    for field in ("text", "prompt_tokens", "completion_tokens", "cached_tokens", "cost", "cache_saved", "tool_calls",
                  "attempts"):
        assert getattr(direct, field) == getattr(through, field), field


def test_a_handler_fault_is_retried_and_described_as_through_litellm(
        handler: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    handler.fail = 1
    direct = _call()
    assert direct.attempts == 2 and len(direct.faults) == 1
    from litellm.integrations.custom_logger import CustomLogger

    monkeypatch.setattr(load_litellm(), "callbacks", [CustomLogger()])
    handler.fail = 1
    assert _call().faults == direct.faults
    handler.fail = 5
    with pytest.raises(ProviderFault, match="after 3 attempt"):
        _call()


def test_litellm_only_options_and_unregistered_providers_go_through_litellm(
        handler: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    _litellm_fails(monkeypatch)
    with pytest.raises(ProviderFault, match="AssertionError"):
        _call(extra={"mock_response": "hello"})
    with pytest.raises(ProviderFault, match="AssertionError"):
        asyncio.run(call_model("other/x-1", MESSAGES, retry=RetryPolicy(max_retries=0)))
    # A handler registered under a built-in provider's name: litellm decides where such a call goes, not us.
    litellm = load_litellm()
    monkeypatch.setattr(litellm, "custom_provider_map", [*litellm.custom_provider_map,
                                                         {"provider": "openai", "custom_handler": _handler(handler)}])
    with pytest.raises(ProviderFault, match="AssertionError"):
        asyncio.run(call_model("openai/x-1", MESSAGES, retry=RetryPolicy(max_retries=0)))
    assert handler.seen == []
