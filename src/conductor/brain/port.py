"""What the brain needs from the run that hosts it: a narrow port the brain owns and the engine implements.

The brain sits below the engine (the engine imports it to brief its agents), so it must never import the
engine back, not even inside a function. Yet the keeper works inside a running org: it reads the run's
async read connection and clock, calls models on the run's provider path and budgets, and writes its versions
and failures as the run's events. This module states exactly those needs as a `typing.Protocol`;
`engine.scheduler.Engine` implements it with public methods and hands itself to `BrainKeeper`. A test can
hand the keeper anything else that fits.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from conductor.org.models import Org
from conductor.store.events import NewEvent
from conductor.store.reads import AsyncReader


class BriefSource(Protocol):
    """(brief, platform insights, version shown) for one venture and agent. `before` keeps the memories to
    those written before that event: a wake-up or review done again after a restart sees what it first saw.
    `subject` names the decision a review judges, so its memories are chosen for that decision, and `judged` its
    kind, the only one the review's brief is about."""

    async def __call__(self, venture: str, agent_id: str, *, before: int | None = None,
                       subject: str | None = None, judged: str | None = None) -> tuple[str, str, int | None]: ...


def retry_message(error: str, example: str | None = None) -> dict[str, str]:
    """The follow-up that quotes why the previous answer could not be used: the one wire convention of every
    ask-again loop (wake-ups in `engine.jobs`, syntheses in `brain.synthesis`; the simulated model's
    `RETRY_MARK` reads the same heading). It lives here, below both, so neither copies it. `example` is a valid
    answer's shape, shown again so the model mends toward it rather than copying its broken answer back."""
    shape = f"\nA valid answer looks like this (example values):\n{example}" if example else ""
    return {
        "role": "user",
        "content": f"# Your previous answer could not be used\nError: {error}{shape}\n"
        "Answer again with one JSON object that fits the schema, and nothing else.",
    }


class ModelCallFailed(Exception):
    """A model call the host gave up on (after its own timeout and retries); the message says why."""


class ModelReply(Protocol):
    """One answer from a model, with what it cost."""

    @property
    def text(self) -> str: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cost(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cache_saved(self) -> float: ...


class RunView(Protocol):
    """The parts of the run's state (derived from its events) that the keeper reads."""

    @property
    def now(self) -> datetime: ...
    @property
    def origin(self) -> datetime: ...
    @property
    def org_paused(self) -> bool: ...
    @property
    def paused_ventures(self) -> Collection[str]: ...
    @property
    def brain_versions(self) -> Mapping[str, int]: ...
    @property
    def brain_pins(self) -> Mapping[str, int]: ...
    @property
    def directives(self) -> Mapping[str, Sequence[tuple[Any, str]]]: ...
    @property
    def spend(self) -> Mapping[tuple[str, str], float]: ...
    @property
    def agents(self) -> Mapping[str, Any]: ...  # each with `.mailbox` (tasks, messages) and `.redo` (woke_id)

    def day_key(self) -> str: ...


class BrainHost(Protocol):
    """A running org as the brain sees it. Writes go only through `emit`, so every brain change is an event."""

    brief_source: BriefSource | None  # the keeper installs its `brief` here; the host calls it for each wake-up

    @property
    def org(self) -> Org: ...
    @property
    def state(self) -> RunView: ...
    @property
    def reader(self) -> AsyncReader:
        """The run's async read connection (only while it runs): no SQLite on the event loop's thread."""
        ...
    @property
    def reserved(self) -> Mapping[tuple[str, str], float]:
        """(day, scope) -> money set aside for calls in flight, which a new call must also fit beside."""
        ...
    @property
    def model_override(self) -> str | None:
        """The model the run was started with (`--model`), which beats the org file's default."""
        ...

    def model_for(self, agent_id: str) -> str: ...
    def models_in_use(self) -> set[str]: ...
    def event(self, kind: str, payload: dict[str, Any], *, venture: str | None = None,
              agent: str | None = None) -> NewEvent: ...
    async def emit(self, events: list[NewEvent]) -> Any: ...
    async def call_model(self, model: str, messages: list[dict[str, str]], *, rng: random.Random,
                         max_tokens: int, label: str = "brain") -> ModelReply:
        """One call on the run's provider path (timeout, retries, api base); raises ModelCallFailed. `label`
        names the call in the log."""
        ...
    def estimate_cost(self, model: str, prompt_chars: int, max_tokens: int) -> float: ...
    def count_tokens(self, model: str, text: str) -> int: ...
