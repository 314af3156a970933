"""The litellm trims (`engine.litellm_tuning`) reach into litellm's internals, so this file is their guard: it
fails when the installed litellm no longer takes them, instead of the trims going silently off (as they did when
litellm 1.110 renamed the hook), and checks that they skip work only while nothing could read it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conductor.engine.litellm_tuning import tune_litellm
from conductor.engine.provider import load_litellm

MESSAGES = [{"role": "user", "content": "Say nothing."}]


def test_the_trims_apply_to_the_installed_litellm() -> None:
    litellm = load_litellm()  # tunes once, as every process does
    from litellm import utils

    tuned = [name for name in ("dispatch_success_logging", "_dispatch_success_logging")
             if getattr(getattr(utils, name, None), "_conductor_tuned", False)]
    assert tuned, f"litellm {getattr(litellm, 'version', '?')}: the success-logging trim is not in place"
    assert tune_litellm(litellm) is True  # and tuning again is a no-op that says so


class _Counter:
    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real(*args, **kwargs)


def _one_call(litellm: Any) -> None:
    async def go() -> None:
        await litellm.acompletion(model="sim/perfect", messages=MESSAGES)
        await asyncio.sleep(0)  # let a scheduled logging task start

    asyncio.run(go())


def test_success_logging_is_skipped_only_while_no_callback_could_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = load_litellm()
    from litellm import utils
    from litellm.integrations.custom_logger import CustomLogger

    scheduled = _Counter(utils._schedule_async_success_logging)
    monkeypatch.setattr(utils, "_schedule_async_success_logging", scheduled)
    _one_call(litellm)
    assert scheduled.calls == 0, "with no callback registered, the success log should not be built"

    monkeypatch.setattr(litellm, "callbacks", [CustomLogger()])
    _one_call(litellm)
    assert scheduled.calls == 1, "a registered callback must get its success log exactly as without the trim"


def test_the_cost_calculator_is_skipped_only_for_an_unpriced_custom_model(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = load_litellm()
    seen: list[str] = []
    real = litellm.response_cost_calculator  # what litellm's own calculator method prices a response with

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(str(kwargs.get("model") or ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(litellm, "response_cost_calculator", counting)
    _one_call(litellm)
    assert seen == [], "litellm priced a sim/ call it has no price for; conductor prices it from the org file"
    monkeypatch.setitem(litellm.model_cost, "sim/perfect", {"input_cost_per_token": 1e-6,
                                                           "output_cost_per_token": 2e-6,
                                                           "litellm_provider": "sim", "mode": "chat"})
    _one_call(litellm)
    assert seen, "a custom model given a price must still be priced by litellm"


def test_the_cost_calculator_is_skipped_for_a_call_whose_org_file_prices_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model the org file prices is priced by conductor (`provider.price_of`), so its calls say so in litellm's
    public `metadata` and litellm's calculator is not run for them; a model the org file does not price still is."""
    from conductor.engine.litellm_tuning import ORG_PRICED
    from conductor.engine.provider import call_model
    from conductor.org.loader import parse_org

    litellm = load_litellm()
    seen: list[str] = []
    real = litellm.response_cost_calculator

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(str(kwargs.get("model") or ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(litellm, "response_cost_calculator", counting)
    monkeypatch.setitem(litellm.model_cost, "sim/perfect", {"input_cost_per_token": 1e-6,
                                                           "output_cost_per_token": 2e-6,
                                                           "litellm_provider": "sim", "mode": "chat"})

    async def direct(metadata: dict[str, Any] | None) -> None:
        await litellm.acompletion(model="sim/perfect", messages=MESSAGES, **({"metadata": metadata} if metadata else {}))
        await asyncio.sleep(0)

    asyncio.run(direct({ORG_PRICED: True}))
    assert seen == [], "litellm priced a call its caller said it prices"
    asyncio.run(direct(None))
    assert len(seen) == 1

    def org(prices: dict[str, Any]) -> Any:
        return parse_org({
            "name": "Priced", "model": "sim/perfect", "clock": "sim", "seed": 1, "budget_per_day": 100,
            "prices": prices, "decision_kinds": [{"id": "note.write", "description": "Note.", "action": "record"}],
            "platform": {"mission": "Watch.", "heartbeat": "30d"},
            "ventures": [{"id": "v", "name": "V", "stage": "mvp", "goal": "Grow.",
                          "metrics": [{"name": "m", "unit": "n", "direction": "up"}],
                          "agents": [{"id": "a", "role": "A", "mission": "Work.", "owns_metric": "m",
                                      "heartbeat": "1d", "budget_per_day": 10, "decision_kinds": ["note.write"]}]}]})

    # Through the engine's call path (an extra option sends the simulator through litellm, as a mock would).
    priced = asyncio.run(call_model("sim/perfect", MESSAGES, org=org({"sim/perfect": {"input_per_mtok": 5.0,
                                                                                      "output_per_mtok": 5.0}}),
                                    extra={"temperature": 0.0}))
    assert len(seen) == 1 and priced.cost == pytest.approx((priced.prompt_tokens + priced.completion_tokens) * 5e-6)
    asyncio.run(call_model("sim/perfect", MESSAGES, org=org({}), extra={"temperature": 0.0}))
    assert len(seen) == 2, "a model the org file does not price is priced by litellm"
