"""conductor's own provider machinery: streamed answers with an idle watchdog, JSON-schema mode, retry budgets.

The stalled stream is a fake litellm whose stream never sends its next chunk; the watchdog, not the overall
timeout, must cut it. Nothing here reaches a network.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import conductor.engine.jobs as jobs_module
from conductor.engine.jobs import Job, run_job
from conductor.engine.provider import (
    CallResult,
    ProviderFault,
    RetryPolicy,
    StreamStalled,
    _streamed,
    call_model,
    schema_response_format,
    supports_response_schema,
)
from conductor.org import load_org
from test_engine import DUO, Scripted, warm


@dataclass
class _Delta:
    content: str | None


@dataclass
class _ChunkChoice:
    delta: _Delta


@dataclass
class _Chunk:
    choices: list[_ChunkChoice]
    usage: Any = None


@dataclass
class _ChunkUsage:
    prompt_tokens: int
    completion_tokens: int


@dataclass
class FakeStreamingLitellm:
    """`acompletion(stream=True)` yields `parts`, then either ends or goes silent for good."""

    parts: list[str]
    stall_after: int | None = None
    seen: list[dict[str, Any]] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)

    async def acompletion(self, **kwargs: Any) -> AsyncIterator[_Chunk]:
        self.seen.append(kwargs)
        fake = self

        class Stream:
            def __init__(self) -> None:
                self.i = 0

            def __aiter__(self) -> Stream:
                return self

            async def __anext__(self) -> _Chunk:
                if fake.stall_after is not None and self.i >= fake.stall_after:
                    await asyncio.Event().wait()  # silence: nothing will ever come
                if self.i >= len(fake.parts):
                    if self.i == len(fake.parts):
                        self.i += 1
                        return _Chunk([], _ChunkUsage(11, 7))
                    raise StopAsyncIteration
                self.i += 1
                return _Chunk([_ChunkChoice(_Delta(fake.parts[self.i - 1]))])

            async def aclose(self) -> None:
                fake.closed.append(True)

        return Stream()


async def test_a_stream_is_reassembled_with_its_usage() -> None:
    fake = FakeStreamingLitellm(['{"summ', 'ary": ', '"ok"}'])
    response = await _streamed(fake, {"model": "m", "messages": []}, RetryPolicy(stream=True, stream_idle_s=5))
    assert response.choices[0].message.content == '{"summary": "ok"}'
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    assert fake.seen[0]["stream"] is True and fake.seen[0]["stream_options"] == {"include_usage": True}


async def test_a_stream_that_stalls_after_its_first_chunk_is_cut_by_the_watchdog() -> None:
    fake = FakeStreamingLitellm(['{"summary": ', '"never"}'], stall_after=1)
    policy = RetryPolicy(stream=True, stream_idle_s=0.05, timeout_s=30)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StreamStalled, match=r"no chunk for 0\.05 s after 12 characters"):
        await _streamed(fake, {"model": "m", "messages": []}, policy)
    assert loop.time() - started < 5, "the idle watchdog, not the 30 s overall timeout, cut the stream"
    assert fake.closed == [True]


async def test_a_stalled_stream_is_retried_a_bounded_number_of_times(monkeypatch: pytest.MonkeyPatch) -> None:
    import conductor.engine.provider as provider

    fake = FakeStreamingLitellm(['{"summary": '], stall_after=1)
    monkeypatch.setattr(provider, "_litellm", fake)
    policy = RetryPolicy(max_retries=2, stream=True, stream_idle_s=0.02, base_delay_s=0.0, max_delay_s=0.0)
    with pytest.raises(ProviderFault, match=r"stream stalled.*after 3 attempt"):
        await call_model("m", [{"role": "user", "content": "hi"}], retry=policy, rng=random.Random(1))
    assert len(fake.seen) == 3


async def test_streaming_through_litellms_own_mock_gives_text_tokens_and_cost() -> None:
    result = await call_model("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}],
                              retry=RetryPolicy(stream=True, stream_idle_s=10),
                              extra={"mock_response": '{"summary": "streamed"}'})
    assert json.loads(result.text) == {"summary": "streamed"}
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.cost > 0, "a streamed call is priced from its usage"


def test_schema_mode_only_where_litellm_says_the_model_supports_it() -> None:
    assert supports_response_schema("openai/gpt-4o-mini") is True
    assert supports_response_schema("sim/standard") is False
    assert supports_response_schema("no-such-provider/whatever") is False
    fmt = schema_response_format("AgentOutput", {"type": "object"})
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == {"type": "object"}


async def test_the_engine_asks_for_the_schema_only_from_models_that_take_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from datetime import timedelta

    from conductor.engine.scheduler import Engine, EngineOptions

    org = load_org(DUO)
    seen: list[tuple[str, dict | None]] = []

    async def fake(model: str, messages: list[dict[str, str]], **kw: Any) -> CallResult:
        seen.append((model, kw.get("response_format")))
        return CallResult('{"summary": "quiet"}', model, 10, 10, 0.0, 1.0)

    monkeypatch.setattr(jobs_module, "call_model", fake)
    for model in ("openai/gpt-4o-mini", "sim/perfect"):
        engine = Engine(org, tmp_path / f"{model.replace('/', '_')}.db",
                        EngineOptions(model=model, until=org.start + timedelta(hours=1)))
        await warm(engine)
        await asyncio.wait_for(engine.run(), 5)
    openai = [f for m, f in seen if m == "openai/gpt-4o-mini"]
    sim = [f for m, f in seen if m == "sim/perfect"]
    assert openai and all(f is not None and f["json_schema"]["name"] == "AgentOutput" for f in openai)
    assert sim and all(f is None for f in sim)


async def test_retries_of_bad_output_stop_at_the_budget_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    org = load_org(DUO)
    fake = Scripted(lambda call: "not json at all", cost=0.9)
    monkeypatch.setattr(jobs_module, "call_model", fake)
    checks: list[tuple[int, float]] = []
    cap = 1.5  # the duo org allows two retries: the second would break this cap

    def budget_check(prompt_chars: int, spent: float) -> str | None:
        checks.append((prompt_chars, spent))
        return "agent:duo-lead" if spent + 0.05 > cap else None

    job = Job("wake", "duo-lead", "duo", "test/scripted",
              [{"role": "system", "content": "s"}, {"role": "user", "content": "# Wake-up\nAgent id: duo-lead\n"}],
              reserved=0.05, budget_check=budget_check)
    result = await run_job(job, org, retry=RetryPolicy(), rng=random.Random(1))
    assert result.output is None and result.budget_scope == "agent:duo-lead"
    assert len(result.calls) == 2, "one retry fits, the second would not"
    assert sum(c.cost for c in result.calls) <= cap + 0.9
    assert [round(s, 2) for _, s in checks] == [0.9, 1.8]
    assert checks[0][0] < checks[1][0], "each retry's prompt quotes more, so it is priced again"


async def test_a_model_string_litellm_does_not_know_fails_at_once_with_its_reason() -> None:
    with pytest.raises(ProviderFault, match=r"LLM Provider NOT provided.*after 1 attempt") as info:
        await call_model("nosuch/model", [{"role": "user", "content": "hi"}], retry=RetryPolicy(max_retries=3))
    assert info.value.retryable is False
