"""One model job: a wake-up or a review, with the bad-output retry loop that quotes the error.

A job is prepared (messages built, budget reserved) by the scheduler, runs concurrently with others under
the concurrency limit, and returns a plain result the scheduler commits in a fixed order, so that the same
seed gives the same event stream however the calls happen to finish.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from conductor.brain.port import retry_message
from conductor.engine.contract import (
    AgentOutput,
    OutputError,
    ReviewOutput,
    parse_agent_output,
    parse_review_output,
)
from conductor.engine.prompts import example_answer
from conductor.engine.provider import CallResult, ProviderFault, RetryPolicy, call_model
from conductor.engine.tool_loop import ToolSession, assistant_turn
from conductor.org.models import Org
from conductor.store.calls import CallRecord

logger = logging.getLogger(__name__)

TRANSCRIPT_CHARS = 2000
REPLAYED_CHARS = 1200  # of a refused answer, sent back with the retry


@dataclass
class Job:
    kind: Literal["wake", "review"]
    agent_id: str
    venture: str | None
    model: str
    messages: list[dict[str, Any]]
    reserved: float
    reason: str = ""
    decision_id: int | None = None
    brain_version: int | None = None  # the brain version the wake-up was shown (None: none)
    brief_arm: str = "current"  # the arm of the brain's concurrent control (brain.control)
    brain_in_force: int | None = None  # the version in force when it woke, whatever it was shown
    # Called before each retry with the longer prompt's size and the job's cost so far: names the cap the next
    # call may break, or None (on the real clock it then reserves what that call may cost).
    budget_check: Callable[[int, float], str | None] | None = None
    retry_reserved: float = 0.0  # on the real clock, what its retries have reserved (see Engine._budget_for_retry)
    # The calls made so far, as they are made (`run_job` appends here too): a job cut off by Ctrl-C still has
    # its paid attempts to record (`Engine._commit_cut`).
    calls: list[CallRecord] = field(default_factory=list)
    tools: ToolSession | None = None  # a wake-up whose agent may use tools: what it is offered and what it did


@dataclass
class JobResult:
    job: Job
    output: AgentOutput | ReviewOutput | None = None
    failure: str | None = None
    calls: list[CallRecord] = field(default_factory=list)
    transcript: list[dict[str, str]] = field(default_factory=list)
    budget_scope: str | None = None  # set when retrying stopped because a budget cap would be exceeded


def _clip(text: str, limit: int = TRANSCRIPT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f" … [{len(text) - limit} more characters]"


def _example(org: Org, job: Job) -> str | None:
    """A valid answer's shape for the retry of a wake-up (reviews have a two-key answer: no example needed)."""
    if job.kind != "wake":
        return None
    found = org.agent(job.agent_id)
    if found is None:
        return None
    kinds = [k for k in (org.kind(i) for i in found[1].decision_kinds) if k is not None]
    metric = found[0].metric(found[1].owns_metric)
    return example_answer(kinds, found[1].owns_metric, metric.direction if metric else "up")


def _kinds_of(org: Org, agent_id: str) -> list[str]:
    """The decision kinds an agent may take (the platform agent takes none: it advises)."""
    found = org.agent(agent_id)
    return list(found[1].decision_kinds) if found else []


async def run_job(
    job: Job,
    org: Org,
    *,
    retry: RetryPolicy,
    rng: random.Random,
    response_format: dict | None = None,
    extra: dict[str, Any] | None = None,
) -> JobResult:
    """Call the model; on unusable output, call again quoting the error, up to the org's retry limit.

    With tools (`job.tools`), a call may ask for tool calls instead of answering: they are run and their results
    sent back, and that round counts against the tool limits, not against the retries.
    """
    result = JobResult(job=job, calls=job.calls)
    messages: list[dict[str, Any]] = list(job.messages)
    attempt = 0
    tools = job.tools
    while True:
        offer = tools.offer() if tools is not None else None
        started = time.monotonic()
        try:
            call: CallResult = await call_model(
                job.model, messages, org=org, retry=retry, rng=rng, response_format=response_format,
                label=f"{job.agent_id} {job.kind}", tools=offer, **(extra or {})
            )
        except ProviderFault as fault:
            # Its duration (all attempts and backoff): a call that hung until its timeout shows as one.
            result.calls.append(CallRecord(job.model, job.kind, ok=False, error=_clip(str(fault), 300),
                                           latency_ms=round((time.monotonic() - started) * 1000, 1)))
            result.failure = f"provider fault: {fault}"
            result.transcript = _transcript(messages, 4)
            return result
        record = CallRecord(
            job.model, job.kind, call.prompt_tokens, call.completion_tokens, call.cost, call.latency_ms,
            ok=True, error=("; ".join(call.faults) or None), cached_tokens=call.cached_tokens,
            cache_saved=call.cache_saved,
        )
        result.calls.append(record)
        if call.tool_calls and tools is not None and offer is not None:
            messages = [*messages, assistant_turn(call.text, call.tool_calls)]
            for requested in call.tool_calls:
                answer = await tools.run(requested)
                messages.append({"role": "tool", "tool_call_id": requested.id, "content": answer})
            # The call that reads the results is paid like a retry: it must fit the caps the first one fitted.
            scope = job.budget_check(_chars(messages), sum(c.cost for c in result.calls)) if job.budget_check else None
            if scope is not None:
                result.failure = f"the call reading its tool results would exceed the {scope} budget"
                result.budget_scope = scope
                result.transcript = _transcript(messages, 6)
                return result
            continue
        try:
            if call.tool_calls and not call.text.strip():
                raise OutputError("no tool is offered now: answer with the JSON object")
            result.output = (
                parse_agent_output(call.text, org, _kinds_of(org, job.agent_id), job.agent_id) if job.kind == "wake"
                else parse_review_output(call.text)
            )
            return result
        except OutputError as exc:
            record.ok = False
            record.error = _clip(f"invalid output: {exc}", 500)
            # Its broken answer goes back cut short (a model given its whole answer copies it back verbatim),
            # with the error, which quotes the offending part, and a valid answer's shape.
            messages = [*messages, {"role": "assistant", "content": _clip(call.text, REPLAYED_CHARS)},
                        retry_message(str(exc), _example(org, job))]
            if attempt >= org.engine.max_retries:
                result.failure = f"invalid output after {attempt + 1} attempts: {exc}"
                result.transcript = _transcript(messages, 6)
                return result
            scope = None
            if job.budget_check is not None:
                spent = sum(c.cost for c in result.calls)
                scope = job.budget_check(_chars(messages), spent)
            if scope is not None:
                result.failure = f"invalid output, and a retry would exceed the {scope} budget: {exc}"
                result.budget_scope = scope
                result.transcript = _transcript(messages, 6)
                return result
            attempt += 1
            logger.warning("retry for=%s %s model=%s attempt=%d/%d reason=%r backoff=0s", job.agent_id, job.kind,
                           job.model, attempt + 1, org.engine.max_retries + 1, _clip(f"invalid output: {exc}", 300))


def _chars(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "")) for m in messages)


def _transcript(messages: list[dict[str, Any]], last: int) -> list[dict[str, str]]:
    """The end of the exchange, for the founder to read why a job failed (a tool turn shows as its calls)."""
    out = []
    for m in messages[-last:]:
        text = m.get("content") or ""
        if not text and m.get("tool_calls"):
            text = "asked to call: " + ", ".join(str(c["function"]["name"]) for c in m["tool_calls"])
        out.append({"role": str(m["role"]), "content": _clip(str(text))})
    return out
