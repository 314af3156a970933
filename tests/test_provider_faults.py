"""Provider faults through litellm's real HTTP client, from a scripted OpenAI-compatible server on 127.0.0.1.

The duo org runs with `openai/stub-model` and `api_base` pointing at `stub_openai.StubOpenAI`. duo-ops meets
the fault under test; duo-lead is answered normally. Whatever the fault, the run reaches its end time, the
server sees a bounded number of requests (counted, so a hidden retry layer would show), a fault that does
not heal leaves duo-ops stuck with an `agent_stuck` escalation carrying the transcript, and duo-lead goes on.
Timeouts and backoff are a fraction of a second, so the whole file runs in seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conductor.engine.provider import RetryPolicy, call_model
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import Org, load_org
from conductor.store.database import open_reader
from conductor.store.events import iso
from conductor.store.rebuild import projection_differences
from stub_openai import Hit, Reply, StubOpenAI, drop, malformed, ok, refuse, reset, stall, status, truncate

DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"
MODEL = "openai/stub-model"
UNTIL = timedelta(hours=20)  # three heartbeats of duo-lead, no day boundary (no synthesis calls)
RUN_TIMEOUT_S = 60.0
# Every fault but the one about time is tested with timeouts that only a hang reaches, so a loaded machine (a
# megabyte streamed while two cores run other tests) cannot turn a bad answer into a timeout, or time an attempt
# out before it reaches the server. The slow server gets timeouts short against its stall, long against a
# loaded machine's delays: 2 s against 10 s.
POLICY = RetryPolicy(max_retries=2, timeout_s=30.0, base_delay_s=0.01, max_delay_s=1.5, max_total_s=60.0,
                     stream_idle_s=10.0)
QUICK = replace(POLICY, timeout_s=2.0, stream_idle_s=1.0)
STALL_S = 10.0
ENORMOUS = " ".join(f"w{i}" for i in range(150_000))  # ~1 MB of text that is not one repeated chunk


def lead_answer(hit: Hit) -> Reply:
    return ok({"summary": "lead at work", "decisions": [{
        "kind": "note.write", "params": {"text": f"note {hit.n}"}, "rationale": "Keep a record.",
        "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    path = tmp_path_factory.mktemp("org") / "duo.toml"
    path.write_text(DUO.read_text() + f'\n[prices."{MODEL}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    return load_org(path)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stub-key")


@pytest.fixture(scope="module", autouse=True)
def warm_litellm() -> Iterator[None]:
    """litellm's first HTTP call initialises lazily (~1 s): done once here, not inside a short timeout."""
    with pytest.MonkeyPatch.context() as mp, StubOpenAI(lambda hit: ok({"summary": "warm"})) as stub:
        mp.setenv("OPENAI_API_KEY", "sk-test-stub-key")
        asyncio.run(call_model(MODEL, [{"role": "user", "content": "hi"}], api_base=stub.base_url,
                               retry=replace(POLICY, timeout_s=30.0)))
    yield


@dataclass
class Outcome:
    db: Path
    stub: StubOpenAI
    engine: Engine

    def rows(self, sql: str, *args: Any) -> list[Any]:
        conn = open_reader(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def events(self, kind: str, agent: str | None = None) -> list[dict[str, Any]]:
        rows = self.rows("SELECT id, agent, payload FROM events WHERE kind = ? ORDER BY id", kind)
        return [{"id": r[0], "agent": r[1], **json.loads(r[2])} for r in rows if agent is None or r[1] == agent]


async def run_duo(org: Org, tmp_path: Path, ops: Any, *, stream: bool = False, lead: Any = lead_answer,
                  policy: RetryPolicy = POLICY) -> Outcome:
    """Run the duo org for 20 simulated hours against a stub that answers duo-ops with `ops(hit)`."""

    def script(hit: Hit) -> Reply:
        if hit.agent == "duo-ops":
            return ops(hit)
        return lead(hit) if hit.agent == "duo-lead" else ok({"summary": "nothing"})

    db = tmp_path / "faults.db"
    with StubOpenAI(script, max_seconds=RUN_TIMEOUT_S + 10) as stub:
        engine = Engine(org, db, EngineOptions(until=org.start + UNTIL, model=MODEL, api_base=stub.base_url,
                                               retry=replace(policy, stream=stream)))
        await asyncio.wait_for(engine.run(), RUN_TIMEOUT_S)
    return Outcome(db, stub, engine)


def assert_org_went_on(out: Outcome, org: Org) -> None:
    """The run reached its end, duo-lead's decision executed and its heartbeats continued to the end."""
    (stopped,) = out.events("run.stopped")
    assert stopped["reason"].startswith("finished"), stopped
    executed = out.rows("SELECT count(*) FROM decisions WHERE agent = 'duo-lead' AND state = 'executed'")[0][0]
    assert executed >= 1
    beats = out.rows("SELECT max(sim_time) FROM events WHERE agent = 'duo-lead' AND kind IN ('agent.idle', "
                     "'agent.woke')")[0][0]
    assert beats >= iso(org.start + timedelta(hours=18))
    conn = open_reader(out.db)
    try:
        assert projection_differences(conn) == []
    finally:
        conn.close()


def assert_stuck_once(out: Outcome, *, failure: str, transcript: str | None = None) -> dict[str, Any]:
    (stuck,) = out.events("agent.stuck", "duo-ops")
    assert failure in stuck["reason"], stuck["reason"]
    (esc,) = out.rows("SELECT state, detail FROM escalations WHERE kind = 'agent_stuck' AND agent = 'duo-ops'")
    assert esc[0] == "pending"
    detail = json.loads(esc[1])
    assert detail["transcript"], "the founder is shown what the agent was asked"
    assert failure in detail["failure"]
    if transcript is not None:
        assert any(transcript in m["content"] for m in detail["transcript"]), detail["transcript"]
    # Nothing woke it again: stuck agents wait for the founder instead of burning calls.
    assert [w for w in out.events("agent.woke", "duo-ops") if w["id"] > stuck["id"]] == []
    return detail


# -- faults at the HTTP level: retried by the provider layer, bounded, then stuck ---------------------------
TRANSPORT = {
    "429 with Retry-After": (lambda h: status(429, "rate limited", Retry_After="0.2"), "RateLimitError (429)"),
    # A server's own words reach the stuck escalation (llama.cpp's 500 says which schema it could not compile).
    "500": (lambda h: status(500, "boom: json_schema not supported"), "json_schema not supported"),
    "503": (lambda h: status(503, "model is loading"), "model is loading"),
    "slow past the timeout": (lambda h: stall(STALL_S), "timed out"),
    "dropped connection": (lambda h: drop(), "the server closed the connection without answering"),
    "connection reset": (lambda h: reset(), "connection reset by the server"),
    "truncated body": (lambda h: truncate({"summary": "cut in half"}), "the response body was cut short"),
    "malformed body": (lambda h: malformed(), "the response body was not valid JSON"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(TRANSPORT))
async def test_a_fault_that_never_heals_leaves_the_agent_stuck_after_bounded_retries(
    org: Org, tmp_path: Path, fault: str, stream: bool
) -> None:
    reply, failure = TRANSPORT[fault]
    if stream and fault == "slow past the timeout":
        failure = "stream stalled"  # streamed, the first chunk arrives and then the idle watchdog cuts it
    policy = QUICK if fault == "slow past the timeout" else POLICY
    out = await run_duo(org, tmp_path, reply, stream=stream, policy=policy)
    hits = out.stub.of("duo-ops")
    assert len(hits) == POLICY.max_retries + 1, [h.n for h in hits]  # one wake-up, every retry, no hidden layer
    assert all(h.stream == stream for h in hits)
    calls = out.rows("SELECT ok, error, latency_ms FROM calls WHERE agent = 'duo-ops'")
    assert len(calls) == 1 and calls[0][0] == 0 and failure in calls[0][1]
    if fault == "slow past the timeout" and not stream:  # a call that hung records how long it hung
        assert calls[0][2] >= (QUICK.max_retries + 1) * QUICK.timeout_s * 1000
    assert calls[0][2] > 0, "a failed call records its duration"
    assert_stuck_once(out, failure=failure)
    assert_org_went_on(out, org)


FALSE_500 = {
    "connection reset": (reset, "connection reset by the server"),
    "malformed body": (malformed, "the response body was not valid JSON"),
}


@pytest.mark.parametrize("fault", list(FALSE_500))
async def test_the_founder_is_told_what_happened_not_a_500_nobody_sent(org: Org, tmp_path: Path, fault: str) -> None:
    """litellm reports a reset and a body that is not JSON alike, as InternalServerError (500); no server said
    500. The stuck escalation names the real fault, and the two differ."""
    reply, truth = FALSE_500[fault]
    out = await run_duo(org, tmp_path, lambda h: reply())
    detail = assert_stuck_once(out, failure=truth)
    (reason,) = out.rows("SELECT reason FROM escalations WHERE kind = 'agent_stuck' AND agent = 'duo-ops'")[0]
    (stuck,) = out.events("agent.stuck", "duo-ops")
    (call,) = out.rows("SELECT error FROM calls WHERE agent = 'duo-ops'")
    for text in (reason, detail["failure"], stuck["reason"], call[0]):
        assert truth in text, text
        assert "500" not in text and "InternalServerError" not in text, text
    others = {t for f, (_, t) in FALSE_500.items() if f != fault}
    assert not any(other in reason for other in others)


async def test_retry_after_is_honoured_and_a_transient_429_heals(org: Org, tmp_path: Path) -> None:
    seen: list[int] = []

    def ops(hit: Hit) -> Reply:
        seen.append(hit.n)
        return status(429, "rate limited", Retry_After="1") if len(seen) == 1 else ok({"summary": "ops back"})

    out = await run_duo(org, tmp_path, ops)
    first, second, *_ = out.stub.of("duo-ops")
    assert second.at - first.at >= 0.95, "the retry waited for the provider's Retry-After"
    assert out.events("agent.stuck") == []
    (call,) = out.rows("SELECT ok, error FROM calls WHERE agent = 'duo-ops'")
    assert call[0] == 1 and "RateLimitError (429)" in call[1]  # the fault is on the record of the call that healed
    assert_org_went_on(out, org)


async def test_a_transient_500_heals_on_retry(org: Org, tmp_path: Path) -> None:
    seen: list[int] = []

    def ops(hit: Hit) -> Reply:
        seen.append(hit.n)
        return status(500) if len(seen) == 1 else ok({"summary": "fine now"})

    out = await run_duo(org, tmp_path, ops)
    assert len(out.stub.of("duo-ops")) == 2
    assert out.events("agent.stuck") == [] and out.events("agent.concluded", "duo-ops")
    assert_org_went_on(out, org)


# -- answers that arrive but cannot be used: retried quoting the error, bounded, then stuck ------------------
CONTENT = {
    "empty content": (lambda h: ok(""), "the answer was empty", None),
    "refusal": (lambda h: refuse("I can't help with running a company."), "invalid output",
                "(the model refused) I can't help"),
    "truncated JSON": (lambda h: ok('{"summary": "half an answer", "decisions": [{"kind": "note.wr'),
                       "not valid JSON", '{"summary": "half an answer"'),
    "enormous answer": (lambda h: ok({"summary": ENORMOUS}), "invalid output", None),
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fault", list(CONTENT))
async def test_unusable_answers_are_retried_then_the_agent_is_stuck(
    org: Org, tmp_path: Path, fault: str, stream: bool
) -> None:
    reply, failure, transcript = CONTENT[fault]
    if stream and fault == "refusal":
        transcript = None  # litellm drops a streamed refusal: it arrives as an empty answer
        failure = "invalid output"
    out = await run_duo(org, tmp_path, reply, stream=stream, policy=POLICY)
    hits = out.stub.of("duo-ops")
    assert len(hits) == org.engine.max_retries + 1  # the bad-output loop is bounded by the org file
    detail = assert_stuck_once(out, failure=failure, transcript=transcript)
    # Nothing enormous reached the database: transcripts and errors are clipped.
    assert max(len(m["content"]) for m in detail["transcript"]) < 10_000
    size = out.rows("SELECT max(length(payload)) FROM events")[0][0]
    assert size < 200_000, f"an event of {size} characters was stored"
    assert_org_went_on(out, org)


async def test_provider_down_for_everyone_the_clock_still_reaches_the_end(org: Org, tmp_path: Path) -> None:
    out = await run_duo(org, tmp_path, lambda h: status(503), lead=lambda h: status(503))
    stuck = {e["agent"] for e in out.events("agent.stuck")}
    assert stuck == {"duo-lead", "duo-ops"}
    assert len(out.stub.hits) == 2 * (POLICY.max_retries + 1)  # no busy loop: each agent once, then it waits
    (stopped,) = out.events("run.stopped")
    assert stopped["reason"].startswith("finished")
    assert len(out.rows("SELECT id FROM escalations WHERE kind = 'agent_stuck' AND state = 'pending'")) == 2
