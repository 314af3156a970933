"""Calling a model through litellm, with conductor's own timeout, retries and cost accounting.

litellm is imported once, lazily (it costs seconds and ~165 MiB), with its network price fetch and `.env`
loading switched off. Its own retry and budget machinery is not relied upon (measured: `num_retries` silently
does nothing without tenacity, `max_budget` never fired for `acompletion`, `timeout=` is not enforced for a
custom provider), so every call here runs under `asyncio.timeout` in a bounded retry loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from conductor.engine.custom_handlers import call_handler, direct_handler
from conductor.engine.litellm_tuning import ORG_PRICED
from conductor.engine.prompts import with_cache_breakpoints
from conductor.org.models import ModelSettings, Org
from conductor.redaction import redact, remember, remember_call_options
from conductor.sim.direct import is_simulated
from conductor.text import printable

logger = logging.getLogger(__name__)

_litellm: Any = None
_lock = threading.Lock()


class CallLog:
    """`--log-calls FILE`: every model call's full request and answer as one JSON line, credentials redacted.

    Off unless asked for: a full prompt is long and may hold what the founder typed. Lines are written whole and
    flushed, so a killed run leaves no half line; each holds the wall-clock time, whom the call was for, the model,
    the messages, the names of the tools offered, and the answer (text, tool calls, tokens, cost) or the error.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by `close`
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        # Each string is redacted before it is encoded: JSON escapes a quote or a backslash in a secret, and the
        # escaped form would no longer match it.
        line = json.dumps(_redacted(record), ensure_ascii=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


_call_log: CallLog | None = None


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


@contextlib.contextmanager
def logging_calls(path: str | os.PathLike[str] | None) -> Any:
    """Within this block, every call of `call_model` is written to `path` (nothing when `path` is None)."""
    global _call_log
    if path is None:
        yield None
        return
    log = CallLog(path)
    previous, _call_log = _call_log, log
    try:
        yield log
    finally:
        _call_log = previous
        log.close()


def _log_exchange(label: str, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                  result: CallResult | None, error: str | None) -> None:
    if _call_log is None:
        return
    record: dict[str, Any] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "for": label or "-",
                              "model": model, "messages": messages,
                              "tools": [t.get("function", {}).get("name") for t in tools or []]}
    if result is not None:
        record.update(answer=result.text, tool_calls=[c.__dict__ for c in result.tool_calls],
                      prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                      cost=result.cost, attempts=result.attempts)
    if error is not None:
        record["error"] = error
    try:
        _call_log.write(record)
    except (OSError, ValueError) as exc:  # a full disk must not stop the run; the log line says why
        logger.error("could not write the call log path=%s error=%r", _call_log.path, str(exc))


def load_litellm() -> Any:
    """Import litellm once, safely from any thread, after setting the environment it must see first."""
    global _litellm
    if _litellm is None:
        with _lock:
            if _litellm is None:
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
                import litellm

                litellm.suppress_debug_info = True
                litellm.telemetry = False
                litellm.drop_params = True
                from conductor.sim.provider import register_sim_provider

                register_sim_provider(litellm)
                # Skip per-call bookkeeping conductor never reads (~2 ms of CPU a call); see litellm_tuning.
                from conductor.engine.litellm_tuning import tune_litellm

                tune_litellm(litellm)
                _litellm = litellm
    return _litellm


class ProviderFault(Exception):
    """A call that failed after its retries, or at once for faults that retrying cannot fix."""

    def __init__(self, message: str, *, retryable: bool, attempts: int) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.attempts = attempts


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for: its id (to answer it by), the function's name and its JSON arguments."""

    id: str
    name: str
    arguments: str


@dataclass
class CallResult:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    attempts: int = 1
    faults: list[str] = field(default_factory=list)
    cached_tokens: int = 0  # of `prompt_tokens`, read from the provider's prompt cache
    cache_saved: float = 0.0  # what those cost less than uncached input, in USD (0 where no cached price is known)
    tool_calls: list[ToolCall] = field(default_factory=list)  # the tools it asked to call before answering


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    timeout_s: float = 120.0
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_total_s: float = 300.0
    stream: bool = False
    stream_idle_s: float = 30.0


@dataclass(frozen=True)
class CallRequest:
    """One call as `call_model` takes it, minus what stays with the caller (the call log, the rng): what a
    `CallRoute` needs to make the same call somewhere else."""

    model: str
    messages: list[dict[str, Any]]
    retry: RetryPolicy | None = None
    response_format: dict[str, Any] | None = None
    api_base: str | None = None
    max_tokens: int = 1500
    extra: dict[str, Any] | None = None
    label: str = ""
    tools: list[dict[str, Any]] | None = None


class CallRoute(Protocol):
    """Somewhere else to make calls that would go through litellm here: `model_workers.ModelWorkers`."""

    async def call(self, request: CallRequest) -> CallResult: ...


_route: contextvars.ContextVar[CallRoute | None] = contextvars.ContextVar("conductor_call_route", default=None)


@contextlib.contextmanager
def routed(route: CallRoute | None) -> Iterator[None]:
    """Within this block, and in the tasks it starts, calls that would go through litellm go to `route` instead
    (the simulator's stay in this process). A context variable, so two engines in one process keep their own."""
    token = _route.set(route)
    try:
        yield
    finally:
        _route.reset(token)


class StreamStalled(TimeoutError):
    """A streamed answer went silent for longer than the idle limit after it had started."""


_schema_support: dict[str, bool] = {}


def supports_response_schema(model: str) -> bool:
    """Whether litellm says `model` takes a JSON-schema response format (cached; unknown models say no)."""
    if is_simulated(model):
        return False  # the simulator writes its JSON from the prompt's contract
    if model not in _schema_support:
        try:
            _schema_support[model] = bool(load_litellm().supports_response_schema(model=model))
        except Exception:
            _schema_support[model] = False
    return _schema_support[model]


_breakpoint_support: dict[str, bool] = {}


def takes_cache_breakpoints(model: str) -> bool:
    """Whether `model` caches prompts only at marked breakpoints (Claude, directly or on Bedrock or Vertex AI, as
    litellm's model list says): those calls get `prompts.with_cache_breakpoints`. Providers that cache prefixes by
    themselves (OpenAI, DeepSeek) need no marks; cached. Unknown models say no."""
    if is_simulated(model):
        return False
    if model not in _breakpoint_support:
        try:
            litellm = load_litellm()
            provider = litellm.get_llm_provider(model=model)[1]
            _breakpoint_support[model] = (provider in ("anthropic", "bedrock", "vertex_ai") and "claude" in model.lower()
                                          and bool(litellm.utils.supports_prompt_caching(model=model)))
        except Exception:
            _breakpoint_support[model] = False
    return _breakpoint_support[model]


def schema_response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI-style `response_format` that asks a model for JSON matching `schema`."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}


def price_of(org: Org | None, model: str, prompt_tokens: int, completion_tokens: int, reported: float | None,
             cached_tokens: int = 0) -> float:
    """The org file's price when it sets one (the simulator, private models), else litellm's reported cost.

    `cached_tokens` (part of `prompt_tokens`) are priced at the org file's cached-input price, when it gives one."""
    if org is not None and model in org.prices:
        price = org.prices[model]
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
        return ((prompt_tokens - cached) * price.input_per_mtok + cached * cached_rate
                + completion_tokens * price.output_per_mtok) / 1_000_000
    return float(reported or 0.0)


def cache_saving(org: Org | None, model: str, cached_tokens: int) -> float:
    """What `cached_tokens` cost less than the same tokens uncached: from the org file's prices when it prices the
    model, else litellm's price list (input vs cache-read cost per token); 0 when neither knows a cached price."""
    if cached_tokens <= 0:
        return 0.0
    if org is not None and model in org.prices:
        price = org.prices[model]
        if price.cached_input_per_mtok is None:
            return 0.0
        return cached_tokens * (price.input_per_mtok - price.cached_input_per_mtok) / 1_000_000
    if is_simulated(model):
        return 0.0  # unpriced: litellm knows no price for it either
    try:
        info = load_litellm().get_model_info(model)
    except Exception:  # a model litellm has no entry for
        return 0.0
    full, cached = info.get("input_cost_per_token"), info.get("cache_read_input_token_cost")
    if full is None or cached is None:
        return 0.0
    return cached_tokens * (float(full) - float(cached))


def cached_tokens_of(usage: Any) -> int:
    """Prompt tokens the provider read from its cache: OpenAI's `prompt_tokens_details.cached_tokens` (litellm maps
    Anthropic's `cache_read_input_tokens` there too; read directly when it did not)."""
    details = getattr(usage, "prompt_tokens_details", None)
    value = details.get("cached_tokens") if isinstance(details, dict) else getattr(details, "cached_tokens", None)
    if not value:
        value = getattr(usage, "cache_read_input_tokens", None)
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _reported_cost(litellm: Any, model: str, hidden: dict[str, Any], prompt_tokens: int,
                   completion_tokens: int, cached_tokens: int = 0) -> float | None:
    """litellm's cost for the call (it prices cached tokens at the cache-read rate); for a streamed answer (which
    carries none) litellm's price per token, cached tokens at their rate."""
    reported = hidden.get("response_cost")
    if reported is not None or not (prompt_tokens or completion_tokens):
        return reported
    try:
        p, c = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                                      cache_read_input_tokens=cached_tokens)
        return float(p + c)
    except Exception:  # a model litellm has no price for: the org file's price or zero
        return None


def _detail(exc: BaseException) -> str:
    """The first line of a provider's message, short and with credentials removed, for a fault that won't heal."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return ""
    return ": " + printable(redact(lines[0]), limit=200, one_line=True)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from or while handling, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain) and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _transport_kinds() -> list[tuple[tuple[type, ...], str]]:
    """(exception types, what happened) for faults below HTTP, most telling first.

    litellm reports all of these as `InternalServerError` with status 500 although no server said 500: the
    truth is in the exceptions it was raised from (openai's, then the HTTP client's, then the socket's).
    """
    import openai

    try:
        import aiohttp

        cut: tuple[type, ...] = (aiohttp.ClientPayloadError,)
        closed: tuple[type, ...] = (aiohttp.ServerDisconnectedError,)
        unreachable: tuple[type, ...] = (aiohttp.ClientConnectorError,)
    except ImportError:  # litellm on its httpx transport only
        cut, closed, unreachable = (), (), ()
    import httpx

    return [
        ((ConnectionResetError,), "connection reset by the server"),
        ((ConnectionRefusedError,), "connection refused"),
        ((json.JSONDecodeError,), "the response body was not valid JSON"),
        (cut, "the response body was cut short"),
        ((*closed, httpx.RemoteProtocolError), "the server closed the connection without answering"),
        ((*unreachable, httpx.ConnectError), "could not connect to the provider"),
        ((openai.APIConnectionError,), "connection error: no answer from the provider"),
    ]


def _transport_fault(exc: BaseException) -> str | None:
    """What really happened when a call failed below HTTP (reset, refused, cut short, not JSON), else None."""
    import httpx

    chain = _causes(exc)
    if any(isinstance(cause, httpx.HTTPStatusError) for cause in chain):
        return None  # a server answered with an error status: that status is the truth
    for types, what in _transport_kinds():
        if types and any(isinstance(cause, types) for cause in chain):
            return what
    return None


def _classify(exc: BaseException) -> tuple[bool, float | None, str]:
    """(retryable, retry-after seconds, short description) for a provider exception.

    The description is what the founder reads on a stuck agent, so it says what happened: the status and the
    exception's name only when a server answered with an error status, the transport fault when none did.
    """
    if isinstance(exc, StreamStalled):
        return True, None, str(exc)
    if isinstance(exc, TimeoutError):
        return True, None, "timed out"
    transport = _transport_fault(exc)
    if transport is not None:
        return True, None, transport
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    retry_after: float | None = None
    # litellm keeps the provider's headers on the exception; its `response` is a stand-in without them.
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    headers = headers or {}
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
        retry_after = float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        retry_after = None
    not_retryable = {
        "ContextWindowExceededError", "BadRequestError", "AuthenticationError", "NotFoundError",
        "PermissionDeniedError", "UnprocessableEntityError", "ContentPolicyViolationError", "UnsupportedParamsError",
    }
    if name in not_retryable or status in (400, 401, 403, 404, 422):
        return False, None, (f"{name} ({status})" if status else name) + _detail(exc)
    retryable_names = {
        "RateLimitError", "InternalServerError", "ServiceUnavailableError", "Timeout", "APIConnectionError",
        "APIError", "BadGatewayError", "MidStreamFallbackError",
    }
    if name in retryable_names or status in (408, 409, 429, 500, 502, 503, 504) or isinstance(exc, ConnectionError):
        # With the server's own words (a 500's body says why: a schema it cannot compile, a model not loaded).
        return True, retry_after, (f"{name} ({status})" if status else name) + _detail(exc)
    return False, None, name + _detail(exc)


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter, but never earlier than the provider's Retry-After."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2**attempt))
    delay = rng.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay_s))
    return delay


async def call_model(
    model: str,
    messages: list[dict[str, str]],
    *,
    org: Org | None = None,
    retry: RetryPolicy | None = None,
    response_format: dict | None = None,
    api_base: str | None = None,
    max_tokens: int = 1500,
    rng: random.Random | None = None,
    extra: dict[str, Any] | None = None,
    label: str = "",
    tools: list[dict[str, Any]] | None = None,
) -> CallResult:
    """One model call with timeout, bounded retries and backoff. Raises ProviderFault when it gives up.

    `label` says whom the call is for ("growth-lead wake", "brain studio") in the log lines it writes: one per
    call, one per retry, one when it gives up. They go to the log only, never into an event. `tools` (OpenAI
    function declarations) offers the model tools; the calls it asks for come back in `CallResult.tool_calls`.
    """
    if _call_log is None:
        return await _call_model(model, messages, org=org, retry=retry, response_format=response_format,
                                 api_base=api_base, max_tokens=max_tokens, rng=rng, extra=extra, label=label,
                                 tools=tools)
    try:
        result = await _call_model(model, messages, org=org, retry=retry, response_format=response_format,
                                   api_base=api_base, max_tokens=max_tokens, rng=rng, extra=extra, label=label,
                                   tools=tools)
    except ProviderFault as fault:
        _log_exchange(label, model, messages, tools, None, str(fault))
        raise
    _log_exchange(label, model, messages, tools, result, None)
    return result


async def _call_model(
    model: str,
    messages: list[dict[str, str]],
    *,
    org: Org | None,
    retry: RetryPolicy | None,
    response_format: dict | None,
    api_base: str | None,
    max_tokens: int,
    rng: random.Random | None,
    extra: dict[str, Any] | None,
    label: str,
    tools: list[dict[str, Any]] | None,
) -> CallResult:
    retry = retry or RetryPolicy()
    if is_simulated(model) and not extra:  # in this process: no litellm (a mock response still goes through it)
        return await _call_simulated(model, messages, org=org, retry=retry, label=label, tools=tools)
    route = _route.get()
    if route is not None:
        # The key is read here too: a missing one fails at once, and this process learns it for redaction.
        settings = org.models.get(model) if org is not None else None
        routed_retry = _apply_model_settings(model, settings, {}, retry) if settings is not None else retry
        # The model's own timeout (`[models]`) travels with the call: the pool bounds its wait by it too.
        return await route.call(CallRequest(model, messages, routed_retry, response_format, api_base, max_tokens,
                                            extra, label, tools))
    litellm = await asyncio.to_thread(load_litellm) if _litellm is None else _litellm
    rng = rng or random.Random()
    faults: list[str] = []
    started = time.monotonic()
    kwargs: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if takes_cache_breakpoints(model):
        kwargs["messages"] = with_cache_breakpoints(messages)
    if api_base:
        kwargs["api_base"] = api_base
    settings = org.models.get(model) if org is not None else None
    if settings is not None:
        retry = _apply_model_settings(model, settings, kwargs, retry)
    if org is not None and model in org.prices:  # the org file prices it: litellm need not (`litellm_tuning`)
        kwargs["metadata"] = {ORG_PRICED: True}
    if response_format is not None and not tools:  # a JSON-only answer could not ask for a tool
        kwargs["response_format"] = response_format
    if tools:
        kwargs["tools"] = tools
    kwargs.update(extra or {})  # e.g. litellm's mock_response in tests
    # A handler registered with litellm answers in this process: called directly (`custom_handlers`).
    direct = None if retry.stream or extra else direct_handler(litellm, model, kwargs)
    for attempt in range(retry.max_retries + 1):
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(retry.timeout_s):
                if direct is not None:
                    response = await call_handler(litellm, direct, kwargs, retry.timeout_s)
                elif retry.stream and not tools:  # a streamed answer's tool calls are not assembled: not streamed
                    response = await _streamed(litellm, kwargs, retry)
                else:
                    response = await litellm.acompletion(timeout=retry.timeout_s, num_retries=0, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retryable, retry_after, what = _classify(exc)
            faults.append(what)
            spent = time.monotonic() - started
            if not retryable or attempt >= retry.max_retries or spent >= retry.max_total_s:
                logger.error("call failed for=%s model=%s attempts=%d seconds=%.2f fault=%r", label or "-", model,
                             attempt + 1, spent, what)
                raise ProviderFault(
                    f"{model}: {what} after {attempt + 1} attempt(s)", retryable=retryable, attempts=attempt + 1
                ) from None
            delay = backoff_delay(attempt, retry, retry_after, rng)
            logger.warning("retry for=%s model=%s attempt=%d/%d reason=%r backoff=%.2fs", label or "-", model,
                           attempt + 2, retry.max_retries + 1, what, delay)
            await asyncio.sleep(delay)
            continue
        latency_ms = (time.monotonic() - t0) * 1000
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        cached_tokens = min(cached_tokens_of(usage), prompt_tokens)
        hidden = getattr(response, "_hidden_params", {}) or {}
        sim_latency = hidden.get("sim_latency_ms")
        try:
            message = response.choices[0].message
            text = message.content or ""
        except (AttributeError, IndexError):
            message, text = None, ""
        tool_calls = _tool_calls_of(message)
        refusal = _refusal(message)
        if not text and refusal:
            text = f"(the model refused) {refusal}"  # kept, so the retry and the founder see why, not "empty"
        result = CallResult(
            text=text,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=price_of(org, model, prompt_tokens, completion_tokens,
                          None if org is not None and model in org.prices
                          else _reported_cost(litellm, model, hidden, prompt_tokens, completion_tokens,
                                              cached_tokens),
                          cached_tokens),
            latency_ms=float(sim_latency) if sim_latency is not None else latency_ms,
            attempts=attempt + 1,
            faults=faults,
            cached_tokens=cached_tokens,
            cache_saved=cache_saving(org, model, cached_tokens),
            tool_calls=tool_calls,
        )
        _log_call(label, result, time.monotonic() - started)
        return result
    raise ProviderFault(f"{model}: gave up", retryable=True, attempts=retry.max_retries + 1)  # pragma: no cover


_remembered_keys: set[str] = set()  # keys and URLs already given to the redaction


def _apply_model_settings(model: str, settings: ModelSettings, kwargs: dict[str, Any],
                          retry: RetryPolicy) -> RetryPolicy:
    """The org file's `[models."MODEL"]` on one call: its server, its key (read from the named environment
    variable now, never stored; remembered for redaction), output limit, temperature and timeout."""
    if settings.api_base and "api_base" not in kwargs:  # one the run was given for every call comes first
        kwargs["api_base"] = settings.api_base
        if settings.api_base not in _remembered_keys:  # its password, if it holds one, once
            remember_call_options(settings.api_base, None)
            _remembered_keys.add(settings.api_base)
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise ProviderFault(f"{model}: the environment variable {settings.api_key_env} (api_key_env of "
                                f"[models.\"{model}\"] in the org file) is not set", retryable=False, attempts=0)
        if key not in _remembered_keys:
            remember(key)
            _remembered_keys.add(key)
        kwargs["api_key"] = key
    if settings.max_output_tokens is not None:
        kwargs["max_tokens"] = settings.max_output_tokens
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.timeout is not None:
        retry = replace(retry, timeout_s=settings.timeout.total_seconds())
    return retry


def _tool_calls_of(message: Any) -> list[ToolCall]:
    """The tool calls of an answer, as plain values (litellm's objects, or dicts from a stub server)."""
    calls: list[ToolCall] = []
    for i, raw in enumerate(getattr(message, "tool_calls", None) or []):
        function = raw.get("function") if isinstance(raw, dict) else getattr(raw, "function", None)
        name = function.get("name") if isinstance(function, dict) else getattr(function, "name", None)
        arguments = (function.get("arguments") if isinstance(function, dict)
                     else getattr(function, "arguments", None))
        call_id = raw.get("id") if isinstance(raw, dict) else getattr(raw, "id", None)
        if isinstance(name, str) and name:
            calls.append(ToolCall(str(call_id or f"call_{i}"), name,
                                  arguments if isinstance(arguments, str) else json.dumps(arguments or {})))
    return calls


async def _call_simulated(model: str, messages: list[dict[str, Any]], *, org: Org | None, retry: RetryPolicy,
                          label: str, tools: list[dict[str, Any]] | None = None) -> CallResult:
    """A call of the built-in simulator, made directly (`conductor.sim.direct`): the same answer, usage and price
    as through litellm's custom provider, without litellm's per-call work or its import."""
    from conductor.sim.direct import complete, profile_for

    started = time.monotonic()
    try:
        profile_for(model)
    except ValueError as exc:  # a profile that does not exist: no retry can fix it
        logger.error("call failed for=%s model=%s attempts=1 fault=%r", label or "-", model, str(exc))
        raise ProviderFault(f"{model}: {exc}", retryable=False, attempts=1) from None
    try:
        async with asyncio.timeout(retry.timeout_s):
            reply = await complete(model, messages, tools)
    except TimeoutError:
        raise ProviderFault(f"{model}: timed out after {retry.timeout_s:g} s", retryable=True, attempts=1) from None
    cached = min(reply.cached_tokens, reply.prompt_tokens)
    result = CallResult(
        text=reply.text, model=model, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
        cost=price_of(org, model, reply.prompt_tokens, reply.completion_tokens, None, cached),
        latency_ms=reply.latency_ms, cached_tokens=cached, cache_saved=cache_saving(org, model, cached),
        tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for c in reply.tool_calls])
    _log_call(label, result, time.monotonic() - started)
    return result


def _log_call(label: str, result: CallResult, seconds: float) -> None:
    """The call's line in the log: whom it was for, the model, tokens in+out, cost and wall-clock seconds."""
    logger.info("call for=%s model=%s tokens=%d+%d cost=$%.6f seconds=%.2f attempts=%d", label or "-", result.model,
                result.prompt_tokens, result.completion_tokens, result.cost, seconds, result.attempts)


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass
class _Message:
    content: str


@dataclass
class _Choice:
    message: _Message


@dataclass
class _Assembled:
    """A streamed answer put back together in the shape of a non-streamed response."""

    choices: list[_Choice]
    usage: _Usage
    _hidden_params: dict[str, Any] = field(default_factory=dict)


def _refusal(message: Any) -> str | None:
    """An OpenAI-style refusal, which litellm keeps as `refusal` or among the provider-specific fields."""
    value = getattr(message, "refusal", None) or (getattr(message, "provider_specific_fields", None) or {}).get(
        "refusal")
    return value if isinstance(value, str) and value else None


async def _streamed(litellm: Any, kwargs: dict[str, Any], retry: RetryPolicy) -> _Assembled:
    """Read a streamed answer chunk by chunk, cutting it when no chunk arrives within the idle limit.

    litellm never cuts a stream that stalls after its first chunk, and the overall timeout alone would let a
    stalled stream hold a concurrency slot for minutes: the watchdog bounds each silence separately.
    """
    stream = await litellm.acompletion(
        timeout=retry.timeout_s, num_retries=0, stream=True, stream_options={"include_usage": True}, **kwargs
    )
    parts: list[str] = []
    refusal: list[str] = []
    usage = _Usage()
    hidden: dict[str, Any] = dict(getattr(stream, "_hidden_params", {}) or {})
    hidden.pop("response_cost", None)  # a stream wrapper's figure is not the call's cost; priced from usage instead
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), retry.stream_idle_s)
        except StopAsyncIteration:
            break
        except TimeoutError:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):  # the stream is abandoned either way
                    await closer()
            raise StreamStalled(f"stream stalled: no chunk for {retry.stream_idle_s:g} s after "
                                f"{sum(map(len, parts))} characters") from None
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            text = getattr(delta, "content", None) if delta is not None else None
            if text:
                parts.append(text)
            refused = _refusal(delta)
            if refused:
                refusal.append(refused)
        chunk_usage = getattr(chunk, "usage", None)
        if chunk_usage is not None:
            usage = _Usage(int(getattr(chunk_usage, "prompt_tokens", 0) or 0),
                           int(getattr(chunk_usage, "completion_tokens", 0) or 0), cached_tokens_of(chunk_usage))
    text = "".join(parts) or (f"(the model refused) {''.join(refusal)}" if refusal else "")
    return _Assembled([_Choice(_Message(text))], usage, hidden)


def estimate_cost(org: Org, model: str, prompt_chars: int, max_tokens: int) -> float:
    """A ceiling on a call's cost before it is made (~4 characters a token), for budget reservations."""
    prompt_tokens = prompt_chars // 4 + 1
    if model in org.prices:
        return price_of(org, model, prompt_tokens, max_tokens, None)
    if is_simulated(model):
        return 0.0  # unpriced: litellm knows no price for it either
    try:
        litellm = load_litellm()
        p, c = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=max_tokens)
        return float(p + c)
    except Exception:
        return 0.0
