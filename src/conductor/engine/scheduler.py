"""The scheduler: who wakes when, what they may decide, what is checked, and what goes to the founder.

It runs in waves. At each instant of the org clock it wakes every agent that is due (heartbeat, task,
message, revision, founder wake), runs their model calls concurrently under the concurrency limit, and then
commits the results in a fixed order. When nothing is due it advances the clock: a simulated clock jumps to
the next due time (optionally paced for a watching founder), a real clock waits. Founder commands arrive as
events in the database, from this process or another, and are polled between waves.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import sqlite3
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from conductor.brain.attribution import Measurable, measure_decision, params_text, peers_by_venture
from conductor.brain.keeper import BrainKeeper
from conductor.brain.port import BriefSource, ModelCallFailed
from conductor.engine import provider as provider_module
from conductor.engine import snapshot
from conductor.engine.actions import ActionRunner
from conductor.engine.context import build_review_context, build_wake_context
from conductor.engine.contract import (
    AgentOutput,
    ReviewOutput,
    agent_output_schema,
    link_revisions,
    review_output_schema,
)
from conductor.engine.jobs import Job, JobResult, run_job
from conductor.engine.metric_sources import declared_sources, due_sources, next_due, reading_event, remember_credentials
from conductor.engine.model_workers import ModelWorkers
from conductor.engine.notify import Notifier
from conductor.engine.policy import MoneyView, Proposal, Route, route_decision, spend_of, urgency
from conductor.engine.prompts import review_messages, wake_messages
from conductor.engine.provider import (
    CallResult,
    CallRoute,
    ProviderFault,
    RetryPolicy,
    estimate_cost,
    load_litellm,
    routed,
    schema_response_format,
    supports_response_schema,
)
from conductor.engine.source_reader import read_all
from conductor.engine.state import AgentRuntime, DecisionRuntime, EngineState, EscalationRuntime
from conductor.engine.tool_loop import ToolSession
from conductor.engine.tools import ToolHub
from conductor.org.durations import format_duration
from conductor.org.models import Agent, Org, ask_kind_id
from conductor.org.record import ORG_LOADED, org_loaded_payload
from conductor.redaction import remember_call_options
from conductor.sim.direct import count_tokens as sim_count_tokens
from conductor.sim.direct import is_simulated
from conductor.sim.market import VERSION as MARKET_VERSION
from conductor.store.calls import CallRecord
from conductor.store.events import NewEvent, OwnPayload, StoredEvent, iso, utc_now
from conductor.store.lock import founder_attached
from conductor.store.reads import AsyncReader
from conductor.store.writer import EventWriter
from conductor.text import waiting_for_verdict

logger = logging.getLogger(__name__)

ONE_DAY = timedelta(days=1)
MAX_TOKENS = 1200
FOUNDER_KINDS = (
    "escalation.resolved", "directive.added", "directive.retired", "founder.paused", "founder.resumed",
    "founder.wake", "metric.recorded", "trust.changed", "task.created", "escalation.snoozed",
)


@dataclass
class EngineOptions:
    model: str | None = None
    concurrency: int | None = None
    pace: float = 0.0
    until: datetime | None = None
    ablate_brief: bool = False
    no_tools: bool = False  # an evaluation arm or `--no-tools`: no tool is offered to a wake-up
    # Evaluation arms (`conductor eval`): platform insights withheld, or the brief rewritten before each prompt.
    ablate_insights: bool = False
    brief_transform: Callable[[str], str] | None = None
    api_base: str | None = None
    # Test-only: False switches off at-most-once execution (idempotency keys, and not re-running a command a
    # killed run had started), so the crash harness can prove it notices a decision executed twice.
    idempotency: bool = True
    poll_interval: float = 0.5
    retry: RetryPolicy | None = None
    extra_call_kwargs: dict[str, Any] | None = None
    seed: int | None = None
    # A control room hosts this run, so a founder is at the keyboard. On the simulated clock, time then waits for
    # the founder: it stops at the moment a decision escalation would expire, until the founder decides it, and
    # it stops while the whole org is paused (`held_for_founder`). Headless runs keep the org file's expiry.
    founder_present: bool = False
    # Start-up snapshots (`engine.snapshot`): kept once a start has folded this many events, and renewed in a
    # background thread every `snapshot_every * 20` events of a long run, so a restart folds only what is newer.
    snapshot_every: int = 2_000
    # Model calls in this many worker processes (`engine.model_workers`); None: the org file's `[engine]
    # model_workers`. `model_route`: a pool already started (a benchmark's, warm), used and left open.
    model_workers: int | None = None
    model_route: CallRoute | None = None


def _broken_cap(view: list[tuple[str, float, float]], amount: float) -> str | None:
    """The first cap of a budget view (scope, cap, used) that `amount` more would break, or None."""
    return next((scope for scope, cap, used in view if used + amount > cap), None)


class Engine:
    """Runs one org against one database until told to stop or until its end time."""

    def __init__(
        self,
        org: Org,
        db: str | Path,
        options: EngineOptions | None = None,
        *,
        org_path: str | Path = "",
        wall: Callable[[], datetime] = utc_now,
        on_event: Callable[[StoredEvent], None] | None = None,
    ) -> None:
        self.org = org
        self.db = Path(db)
        self.opts = options or EngineOptions()
        self.org_path = org_path
        self.wall = wall
        self.on_event = on_event
        start = org.start if org.clock == "sim" else wall()
        self.state = EngineState(org, start)
        self.writer = EventWriter(self.db, now=wall, synchronous=org.engine.synchronous)
        # Keys given in the call options are credentials too: the store redacts them like the environment's.
        remember_call_options(self.opts.api_base, self.opts.extra_call_kwargs)
        remember_credentials(org)  # the passwords and tokens of metric source URLs, likewise
        self.sources = declared_sources(org)  # metrics read from a command or a URL, in commit order
        self._reading: asyncio.Task[Any] | None = None  # those being read now, for `interrupt`
        self.actions = ActionRunner(org)
        # `[[tools]]`: the MCP servers agents use while they think and decisions act through (`engine.tools`)
        # `--no-tools` offers wake-ups nothing; decisions that act through a tool and metric sources still reach it.
        self.tools = ToolHub(org, builtins={"market": self.actions.market_tools}) if org.tools else None
        self.actions.tools = self.tools
        self._tool_problems_told: set[str] = set()  # servers whose listing failure is already in the log
        self._schemas: dict[tuple[str, ...], dict[str, Any]] = {}  # the answer schema of each set of kinds
        self.rng = random.Random(self.opts.seed if self.opts.seed is not None else org.seed)
        self._slots = self.opts.concurrency or org.engine.concurrency
        self.semaphore = asyncio.Semaphore(self._slots)
        self.retry = self.opts.retry or RetryPolicy(
            max_retries=org.engine.max_retries, timeout_s=org.engine.call_timeout.total_seconds(),
            stream=org.engine.stream, stream_idle_s=org.engine.stream_idle.total_seconds(),
        )
        self.reserved: dict[tuple[str, str], float] = {}  # (day, scope) -> first calls of jobs not yet committed
        self.retry_reserved: dict[tuple[str, str], float] = {}  # (day, scope) -> their retries, see _budget_for_retry
        self.review_queue: list[int] = []
        # decision -> its `review.requested` that the previous run left unanswered: the review is done again,
        # first among the jobs of the instant and shown the memories its first request was shown
        self.review_redos: dict[int, int] = {}
        self.execute_queue: list[tuple[int, dict[str, Any] | None]] = []
        self.route_queue: list[int] = []
        self._escalate_after_batch: list[int] = []
        self._stopping = False
        self._jobs: dict[asyncio.Task[JobResult], Job] = {}  # the calls in flight, for `interrupt`
        self._failure: str | None = None
        self._stop_asked = "stopped"
        self._reader: AsyncReader | None = None
        self.calls_made = 0
        # `[notify]`: urgent escalations, stuck agents and spent budgets reach the founder outside the terminal
        self.notifier = Notifier(org.notify, org.name) if org.notify.enabled else None
        self.founder_polls = 0  # how often the log was read for founder commands (a test counts the looks)
        # A founder at the keyboard, here or attached (`_look_for_founder`): the clock then waits for their verdicts.
        self.founder_here = self.opts.founder_present
        # `held_for_founder()` as of the last clock step: a plain string a control room in another thread reads
        self.holding = ""
        self._touched: set[str] = set()  # agents named by events since the last start (see _start_due)
        # Agents whose wake-up job has started and not yet committed. The state's `in_flight` alone is not
        # enough: a failed review marks its reviewer stuck (and so not in flight) while its own wake-up runs.
        self._waking: set[str] = set()
        self.brief_source: BriefSource | None = None
        self.brain = BrainKeeper(self)  # the brain hook: sets brief_source; day_passed() synthesizes
        self._org_loaded: dict[str, Any] = {}  # the org as `org.loaded` records it, with its digest (at start-up)
        self.snapshot_cursor = 0  # the event the start-up snapshot beside the database was folded to
        self.loaded_snapshot = 0  # that event, when this start began from the snapshot (else 0)
        self._compacting: asyncio.Future[int | None] | None = None
        # Each executed decision as attribution sees it, computed once (`brain.attribution.peers_by_venture`).
        self._measurables: dict[tuple[int, str, int | None], Measurable | None] = {}

    def shown_briefs(self, brief: str, insights: str) -> tuple[str, str]:
        """The brief and insights as an evaluation arm shows them: insights withheld, or in other words."""
        if self.opts.ablate_insights:
            insights = ""
        transform = self.opts.brief_transform
        if transform is not None:
            brief = transform(brief) if brief else brief
            insights = transform(insights) if insights else insights
        return brief, insights

    # -- lifecycle ---------------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped by the founder") -> None:
        """Ask for a graceful stop: the wave in flight finishes and is committed."""
        self._stopping = True
        self._stop_asked = reason

    def interrupt(self, reason: str) -> None:
        """Stop at once (Ctrl-C): like `stop`, and the calls in flight are cut off instead of awaited. Each is
        recorded as it ends (`_commit_cut`); the rest of the wave commits as usual, then the run stops."""
        self.stop(reason)
        for task in list(self._jobs):
            task.cancel()
        if self._reading is not None:  # not recorded: the next start reads them again
            self._reading.cancel()

    def _stop_reason(self) -> str:
        """Why the run ended, for `run.stopped`: asked to stop, reached its end time, or failed."""
        if self._stopping:
            return self._stop_asked
        if self._failure is not None:
            return f"failed: {self._failure}"
        if self.opts.until is not None and self.state.now >= self.opts.until:
            return "finished: reached its end time"
        return "finished"

    @property
    def now(self) -> datetime:
        return self.state.now

    async def emit(self, events: list[NewEvent]) -> list[StoredEvent]:
        stored = await self.writer.append(events)
        for event in stored:
            self._touch(event)
            self.state.observe(event)
            if self.on_event is not None:
                self.on_event(event)
            if self.notifier is not None:
                self.notifier.observe(event)
        self._maybe_compact()
        return stored

    def _touch(self, event: StoredEvent) -> None:
        """Note the agents an event may have made due (its own, and whoever it addresses) for `_start_due`."""
        for name in (event.agent, event.payload.get("to"), event.payload.get("to_agent")):
            if isinstance(name, str):
                self._touched.add(name)

    def _event(self, kind: str, payload: dict[str, Any], *, venture: str | None = None, agent: str | None = None) -> NewEvent:
        return NewEvent(kind=kind, payload=payload, venture=venture, agent=agent, sim_time=iso(self.state.now))

    # -- the brain's port (`brain.port.BrainHost`): all the keeper may use of a running engine ------------
    @property
    def reader(self) -> AsyncReader:
        assert self._reader is not None, "the brain reads through the engine's connection"
        return self._reader

    @property
    def model_override(self) -> str | None:
        return self.opts.model

    def model_for(self, agent_id: str) -> str:
        return self._model_for(agent_id)

    def event(self, kind: str, payload: dict[str, Any], *, venture: str | None = None, agent: str | None = None) -> NewEvent:
        return self._event(kind, payload, venture=venture, agent=agent)

    async def call_model(self, model: str, messages: list[dict[str, str]], *, rng: random.Random,
                         max_tokens: int, label: str = "brain") -> CallResult:
        """A call on the wake-ups' provider path: the run's retry policy and call options (api base, extras).

        `provider_module.call_model` is looked up at each call, so a test that replaces it sees syntheses too.
        """
        try:
            return await provider_module.call_model(model, messages, org=self.org, retry=self.retry, rng=rng,
                                                    max_tokens=max_tokens, label=label, **self._call_extra())
        except ProviderFault as fault:
            raise ModelCallFailed(str(fault)) from fault

    def estimate_cost(self, model: str, prompt_chars: int, max_tokens: int) -> float:
        return estimate_cost(self.org, model, prompt_chars, max_tokens)

    def count_tokens(self, model: str, text: str) -> int:
        """The model's tokenizer: the simulator's own, else litellm's counter for the model (an unknown model
        falls back to litellm's default tokenizer)."""
        if is_simulated(model):
            return sim_count_tokens(text)
        try:
            return int(load_litellm().token_counter(model=model, text=text))
        except Exception:
            return int(load_litellm().token_counter(text=text))

    async def run(self) -> EngineState:
        pool = self._model_workers()
        with routed(self.opts.model_route or pool):
            try:
                await self._serve(pool)
            finally:
                if pool is not None:
                    await pool.close()
        return self.state

    def _model_workers(self) -> ModelWorkers | None:
        """The run's own worker pool, when it asks for one and some model of it is not the simulator."""
        count = self.opts.model_workers if self.opts.model_workers is not None else self.org.engine.model_workers
        if self.opts.model_route is not None or count < 1:
            return None
        if all(is_simulated(m) for m in self.models_in_use()):
            logger.info("model workers not started: every model of this run is the simulator, called in this process")
            return None
        return ModelWorkers(self.org, count)

    async def _serve(self, pool: ModelWorkers | None) -> None:
        if pool is not None:
            await pool.start()  # each imports litellm in its own process while this one prepares
        # litellm is slow to import (seconds) and its tokenizers slow to load: do both in a thread now, never on
        # the event loop mid-wave, where the brain's token counter or the first call would otherwise freeze a
        # control room sharing the loop.
        await asyncio.to_thread(self._preload)
        await self.writer.start()
        try:
            self._reader = await AsyncReader(self.db).open()
            await self._recover()
            await self._loop()
        except asyncio.CancelledError:
            if not self._stopping:
                self._stop_asked = "interrupted"
            self._stopping = True
            raise
        except Exception as exc:
            self._failure = f"{type(exc).__name__}: {exc}"[:300]
            logger.exception("run failed: %s", self._failure)
            raise
        finally:
            try:
                reason = self._stop_reason()
                await self.emit([self._event("run.stopped", {"reason": reason})])
                logger.info("run stopped reason=%r at=%s calls=%d", reason, _minute(self.state.now), self.calls_made)
            finally:
                if self.notifier is not None:
                    await self.notifier.close()
                if self.tools is not None:
                    await self.tools.close()
                if self._compacting is not None:
                    await asyncio.wait([self._compacting])  # a thread cannot be cancelled: let it finish
                if self._reader is not None:
                    await self._reader.close()
                await self.writer.close()

    def models_in_use(self) -> set[str]:
        """Every model this run may call: each agent's, the platform agent's and the brain's syntheses'."""
        models = {self._model_for(a.id) for _, a in self.org.agents()} | {self._model_for(self.org.platform.id)}
        models.add(self.brain.synthesis_model())
        return models

    def _preload(self) -> None:
        """litellm, when a model of this run needs it (the simulator does not: `conductor.sim.direct`)."""
        if not all(is_simulated(m) for m in self.models_in_use()):
            load_litellm()
        self.brain.warm_up()

    async def _recover(self) -> None:
        """Fold the log into working memory (from the start-up snapshot, if a good one is there), then finish
        whatever the last run left half done."""
        assert self._reader is not None
        self._org_loaded = org_loaded_payload(self.org, self.org_path)
        # A thread folds (reading with a connection of its own): nothing else runs yet, and the loop stays free.
        folded, count, from_snapshot, blob = await asyncio.to_thread(self._fold_at_start)
        self.state = folded.state
        first_run, unanswered = folded.first_run, folded.unanswered
        if self.org.clock == "real":
            self.state.now = self.wall()
        self.cursor = folded.cursor
        self.snapshot_cursor = self.loaded_snapshot = folded.cursor if from_snapshot else 0
        if blob is not None and await asyncio.to_thread(snapshot.write, self.db, blob):
            self.snapshot_cursor = self.cursor
        logger.info("folded %d events%s", count, " after the start-up snapshot" if from_snapshot else "")
        started = {"pid": os.getpid(), "model": self.opts.model or self.org.model, "resumed": not first_run,
                   "seed": self.org.seed,
                   "market_seeds": self.org.market_seeds()}
        if first_run:
            started["origin"] = iso(self.state.origin)
            started["market_version"] = MARKET_VERSION
            started["studio_seed"] = self.org.seed
        events = [self._event("run.started", started)]
        row = await self._reader.row("SELECT value FROM meta WHERE key = 'org.digest'")
        loaded = NewEvent(kind=ORG_LOADED, payload=self._org_loaded, sim_time=iso(self.state.now))
        if row is None or row[0] != loaded.payload["digest"]:
            events.insert(0, loaded)
        events += self._interrupted_events()
        await self.emit(events)
        logger.info("run started org=%r db=%s model=%s resumed=%s seed=%s at=%s", self.org.name, self.db,
                    started["model"], not first_run, self.org.seed, _minute(self.state.now))
        for new in events:
            if new.kind == "agent.interrupted":
                logger.info("redo agent=%s: %s", new.agent, new.payload["reason"])
        for venture in self.org.ventures:
            if venture.id in self.actions.markets and not self.state.metrics[venture.id]:
                await self._record_metrics(venture.id, self.actions.markets[venture.id].values(), day=0)
        for event in unanswered:
            d = self.state.decisions.get(event.payload.get("decision_id") or -1)
            if d is not None and (d.state != "escalated"
                                  or any(e.decision_id == d.id for e in self.state.escalations.values())):
                continue  # its reaction is in the log, or the decision went to the founder again since
            if d is not None or (event.payload.get("escalation_kind") == "trust_proposal"
                                 and event.payload["verdict"] == "approved"):
                await self._react_to_founder(event)
        for d in sorted(self.state.decisions.values(), key=lambda d: d.id):
            if d.state == "proposed":
                self.route_queue.append(d.id)
            elif d.state == "in_review":
                self.review_queue.append(d.id)
                if d.review_requested is not None:
                    self.review_redos[d.id] = d.review_requested
            elif (d.state == "approved" and d.id in self.state.executing and self.opts.idempotency
                  and (kind := self.org.kind(d.kind)) is not None and await self.actions.takes_idempotency_key(kind)):
                self.execute_queue.append((d.id, None))  # the tool dedupes by the decision's key: safe to call again
            elif d.state == "approved" and d.id in self.state.executing and self.opts.idempotency:
                await self.emit([self._event("decision.executed", {
                    "decision_id": d.id, "idempotency_key": f"decision-{d.id}", "ok": False,
                    "result": {"error": "interrupted while its command ran; not run again (check by hand)"},
                    "day": self.state.day_index()}, venture=d.venture, agent=d.agent)])
                logger.warning("decision failed id=%d kind=%s agent=%s: interrupted while its command ran; "
                               "not run again (check by hand)", d.id, d.kind, d.agent)
            elif d.state == "approved":
                self.execute_queue.append((d.id, None))

    def _fold_log(self, conn: sqlite3.Connection, state: EngineState, actions: ActionRunner
                  ) -> tuple[snapshot.Folded, int, bool]:
        """The log folded into `state` (or into the start-up snapshot's, if a good one is there) and the markets
        into `actions`: (the fold, how many events it took, whether it began from the snapshot). The one fold of
        a start and of a background renewal alike."""
        loaded = snapshot.load(self.db, conn, self._org_loaded["digest"], state)
        folded = loaded or snapshot.Folded(state)
        rows = snapshot.unfolded_rows(conn, folded.cursor)
        snapshot.fold(folded, rows, FOUNDER_KINDS)
        self._replay_markets(folded, actions)
        return folded, len(rows), loaded is not None

    def _fold_at_start(self) -> tuple[snapshot.Folded, int, bool, bytes | None]:
        """Runs on a thread at start-up: the log folded into the engine's own state and markets (`_fold_log`),
        and, when it folded far enough to be worth keeping, the snapshot the next start will begin from (pickled
        here, before the state moves on)."""
        conn = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            folded, count, from_snapshot = self._fold_log(conn, self.state, self.actions)
            blob = None
            if count >= self.opts.snapshot_every and folded.cursor:
                blob = self._snapshot_of(conn, folded)
        finally:
            conn.close()
        return folded, count, from_snapshot, blob

    def _snapshot_of(self, conn: sqlite3.Connection, folded: snapshot.Folded) -> bytes | None:
        return snapshot.encode(folded, self._org_loaded["digest"], snapshot.event_digest(conn, folded.cursor) or "")

    def _replay_markets(self, folded: snapshot.Folded, actions: ActionRunner) -> None:
        """Each venture's simulated market as the folded log left it, in `actions`: the snapshot's, taking the
        operations logged after it, or a new one (of the market version the first run fixed) taking them all."""
        state = folded.state
        if not folded.first_run:
            actions.market_version = state.market_version or 1
            if state.studio_seed is not None:
                actions.studio_seed = state.studio_seed
        for venture in self.org.ventures:
            if not self._has_market(venture.id):
                continue
            market, taken = folded.markets.get(venture.id, (None, 0))
            if market is None:
                market = actions.market(venture, self.org.venture_seed(venture))
            else:
                actions.markets[venture.id] = market
            for op, arg in state.market_log[venture.id][taken:]:
                if op == "apply":
                    market.apply(arg["lever"], arg["params"], arg["decision_id"])
                else:
                    market.step()
        folded.markets = {v: (m, len(state.market_log[v])) for v, m in actions.markets.items()}

    def _maybe_compact(self) -> None:
        """Renew the start-up snapshot in a thread once a long run has gone `snapshot_every * 20` events past
        it, so a restart after a month of running folds days, not the month. One at a time."""
        if (self._compacting is not None or self._reader is None
                or self.state.last_event_id - self.snapshot_cursor < self.opts.snapshot_every * 20):
            return
        self._compacting = asyncio.get_running_loop().run_in_executor(None, self._compact_in_thread)
        self._compacting.add_done_callback(self._compacted)

    def _compacted(self, done: asyncio.Future[int | None]) -> None:
        self._compacting = None
        if not done.cancelled() and done.exception() is None and done.result():
            self.snapshot_cursor = max(self.snapshot_cursor, done.result() or 0)
        elif not done.cancelled() and done.exception() is not None:
            logger.warning("snapshot not renewed: %s", done.exception())

    def _compact_in_thread(self) -> int | None:
        """Fold the log from the last snapshot to its end with a state and markets of this thread's own (the
        engine's are never touched), and keep the result. Returns the event it reaches."""
        conn = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            folded, _, _ = self._fold_log(conn, EngineState(self.org, self.state.origin), ActionRunner(self.org))
            blob = self._snapshot_of(conn, folded)
        finally:
            conn.close()
        return folded.cursor if blob is not None and snapshot.write(self.db, blob) else None

    def _interrupted_events(self, reason: str = "the previous run stopped mid wake-up; it is done again",
                            only: str | None = None) -> list[NewEvent]:
        """`agent.interrupted` for each wake-up left in flight (by the previous run, or, `only` one agent's, cut
        off by `interrupt`), naming its `agent.woke`.

        Observing it puts back what that wake-up took from the mailbox (`EngineState`), so the agent is due at
        once and its next wake-up is the same one done again.
        """
        events = []
        for agent_id, rt in sorted(self.state.agents.items()):
            if not rt.in_flight or (only is not None and agent_id != only):
                continue
            payload: dict[str, Any] = {"reason": reason}
            if rt.open_wake is not None:
                payload["wake"] = rt.open_wake.woke_id
            events.append(self._event("agent.interrupted", payload, venture=rt.venture, agent=agent_id))
        return events

    def _has_market(self, venture_id: str) -> bool:
        """A venture gets a simulated market only if one of its agents can take a decision that moves it."""
        venture = self.org.venture(venture_id)
        sim_kinds = {k.id for k in self.org.decision_kinds if k.action == "sim"}
        return venture is not None and any(sim_kinds.intersection(a.decision_kinds) for a in venture.agents)

    # -- main loop ---------------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while not self._stopping:
            await self.poll_founder()
            if self.opts.until is not None and self.state.now >= self.opts.until:
                break
            if await self._wave():
                continue
            await self._advance()

    async def poll_founder(self) -> int:
        """Pick up commands written to the database by the founder (this process, the TUI or the CLI)."""
        assert self._reader is not None
        self.founder_polls += 1
        # Ids are assigned under the write lock, so commit order is id order: the log's ceiling and the founder's
        # events up to it come from one statement (one snapshot), and nothing committed later can be skipped.
        rows = await self._reader.rows(
            "SELECT top.last, e.* FROM (SELECT max(id) AS last FROM events) AS top LEFT JOIN events AS e "
            "ON e.id > ? AND e.id <= top.last AND json_extract(e.payload, '$.by') = 'founder' ORDER BY e.id",
            (self.cursor,))
        last = (rows[0]["last"] if rows else None) or 0
        handled = 0
        for row in rows:
            if row["id"] is None:
                continue  # the one row of a look that found no founder command
            event = StoredEvent.from_row(row)
            # Only the first verdict on an escalation counts (as in the projection): a second one, written
            # by a founder who saw it pending a moment before it expired or was answered, changes nothing.
            first = event.kind != "escalation.resolved" or event.payload.get("escalation_id") in self.state.escalations
            self._touch(event)
            self.state.observe(event)
            if self.on_event is not None:
                self.on_event(event)
            if first:
                await self._react_to_founder(event)
            handled += 1
        self.cursor = max(self.cursor, last)
        return handled

    async def _first_resolution(self, escalation_id: int) -> StoredEvent | None:
        assert self._reader is not None
        row = await self._reader.row(
            "SELECT * FROM events WHERE kind = 'escalation.resolved' AND json_extract(payload, '$.escalation_id') = ? "
            "ORDER BY id LIMIT 1", (escalation_id,))
        return StoredEvent.from_row(row) if row is not None else None

    async def _react_to_founder(self, e: StoredEvent) -> None:
        if e.kind != "escalation.resolved":
            return
        esc_kind = e.payload.get("escalation_kind")
        decision_id = e.payload.get("decision_id")
        verdict = e.payload["verdict"]
        _log_verdict(e.payload)
        if decision_id is not None and decision_id in self.state.decisions:
            await self._apply_verdict(self.state.decisions[decision_id], verdict, e.payload.get("amended"),
                                      e.payload.get("note"))
        if esc_kind == "trust_proposal" and verdict == "approved":
            detail = e.payload.get("detail", {})
            await self.emit([self._event("trust.changed", {"agent": detail["agent"], "kind": detail["kind"],
                                                          "spend_limit": detail.get("spend_limit", 0.0),
                                                          "state": "granted"}, agent=detail["agent"])])
            logger.info("trust granted agent=%s kind=%s", detail["agent"], detail["kind"])

    async def _apply_verdict(self, d: DecisionRuntime, verdict: str, amended: dict | None, note: str | None) -> None:
        if verdict == "approved":
            params = {**d.params, **(amended or {})}
            await self.emit([self._event("decision.updated", {"decision_id": d.id, "state": "approved",
                                                             "params": params, "final": True},
                                         venture=d.venture, agent=d.agent)])
            await self._execute(d.id)
            await self._maybe_propose_trust(d)
        else:
            await self.emit([self._event("decision.updated", {"decision_id": d.id, "state": verdict, "final": True,
                                                             "note": note or ""}, venture=d.venture, agent=d.agent)])
            if (d.agent, d.kind) in self.state.trust:
                await self.emit([self._event("trust.changed", {"agent": d.agent, "kind": d.kind, "state": "revoked",
                                                              "reason": f"decision #{d.id} was {verdict}"},
                                             agent=d.agent)])
                logger.info("trust revoked agent=%s kind=%s: decision #%d was %s", d.agent, d.kind, d.id, verdict)

    async def _maybe_propose_trust(self, d: DecisionRuntime) -> None:
        key = (d.agent, d.kind)
        policy = self.org.escalation
        if self.state.streaks[key] < policy.trust_after or key in self.state.trust or key in self.state.proposed_trust:
            return
        kind = self.org.kind(d.kind)
        if kind is not None and kind.action == "tool" and self.org.tool_policy(kind.tool or "") == "ask":
            return  # an ask tool asks the founder every time: no trust can lift it (`policy._tool_gate`)
        limit = min(policy.trust_spend_limit, max(policy.spend_threshold, 0.0))
        detail = {"agent": d.agent, "kind": d.kind, "spend_limit": limit, "streak": self.state.streaks[key]}
        await self.emit([self._event("escalation.opened", {
            "kind": "trust_proposal",
            "reason": f"you approved {self.state.streaks[key]} {d.kind} decisions in a row from {d.agent} unchanged; "
                      f"let it take {d.kind} without asking (spend up to ${limit:,.0f})?",
            "urgency": 1, "expires": None, "detail": detail}, venture=d.venture, agent=d.agent)])
        logger.info("escalated kind=trust_proposal agent=%s decision_kind=%s streak=%d", d.agent, d.kind,
                    self.state.streaks[key])

    # -- waves -------------------------------------------------------------------------------------------
    def _fair_order(self, agent_ids: list[str]) -> list[str]:
        """Round-robin across ventures so that one big venture never starves the others of call slots."""
        by_venture: dict[str, list[str]] = {}
        for agent_id in sorted(agent_ids):
            by_venture.setdefault(self.state.agents[agent_id].venture or "~platform", []).append(agent_id)
        ordered: list[str] = []
        queues = [by_venture[k] for k in sorted(by_venture)]
        while any(queues):
            for q in queues:
                if q:
                    ordered.append(q.pop(0))
        return ordered

    def _due(self, among: set[str] | None = None) -> list[str]:
        """Agents to wake now, fairly ordered: all of them, or only `among` (those the last commits touched)."""
        due = []
        today = self.state.day_key()
        agents = self.state.agents
        for agent_id in agents if among is None else sorted(among):
            rt = agents.get(agent_id)
            if rt is None or rt.in_flight or agent_id in self._waking or rt.stuck or self.state.is_paused(agent_id):
                continue
            if rt.budget_stopped_day == today:
                continue
            if rt.capped_until is not None and rt.capped_until > self.state.now:
                continue
            if rt.next_wake <= self.state.now or rt.mailbox.urgent():
                due.append(agent_id)
        return self._fair_order(due)

    def _redos_first(self, jobs: list[tuple[str | None, int | None]]) -> list[tuple[str | None, int | None]]:
        """Wake-ups and reviews the previous run left in flight come first, in the order they were first
        started (so a resumed wave commits as the killed one would have), then everything else as it came.
        Each job is (agent to wake, None) or (None, decision to review)."""
        def first_started(job: tuple[str | None, int | None]) -> float:
            agent_id, decision_id = job
            if agent_id is not None:
                redo = self.state.agents[agent_id].redo
                return redo.woke_id if redo is not None else float("inf")
            return self.review_redos.get(decision_id or 0, float("inf"))
        return sorted(jobs, key=first_started)

    async def _wave(self) -> bool:
        """Everything that happens at one instant of the clock, as a pipeline; False when nothing was due.

        Due wake-ups and reviews start their calls as soon as each is prepared. Results commit in the order
        their jobs started, each as soon as it and those before it are done (on the real clock, as each is
        done: see `_next_done`). Right after each commit its decisions are routed and executed, and anyone
        it made due (a task, a message, a review) starts at once instead of waiting for the slowest call of
        the instant. What each job sees depends only on the commits before it was prepared (and on founder
        commands, which come when they come), and on the simulated clock those commits happen in a fixed
        order, so the same seed still gives the same event stream however the calls happen to finish.
        """
        progressed = await self._read_sources()
        progressed = await self._settle() or progressed
        pending: deque[asyncio.Task[JobResult]] = deque()
        try:
            progressed = await self._start_due(pending, everyone=True) or progressed
            while pending:
                task = await self._next_done(pending)
                if task is not None:
                    pending.remove(task)
                    job = self._jobs.pop(task)
                    if task.cancelled():  # cut off by `interrupt`
                        await self._commit_cut(job)
                    else:
                        await self._commit(task.result())
                if not self._stopping:  # once asked to stop, in-flight work finishes; nothing new is started
                    await self._settle()
                    await self._start_due(pending, everyone=False)
        except BaseException:
            for task in pending:
                task.cancel()
                self._jobs.pop(task, None)
            raise
        return progressed

    async def _read_sources(self) -> bool:
        """Read the metric sources due now, all at once, and commit their readings in (venture, metric) order
        before anyone wakes at this instant, so the agents woken now see the values. Founder commands are
        still picked up while the sources are read; `interrupt` cuts the reading off (nothing is recorded, and
        the next start reads them again)."""
        due = due_sources(self.sources, self.state.source_reads, self.state.now)
        if not due or self._stopping:
            return False
        task = asyncio.create_task(read_all(due, self.tools))
        self._reading = task
        try:
            while not task.done():
                done, _ = await asyncio.wait({task}, timeout=self.opts.poll_interval)
                if not done:
                    await self.poll_founder()
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            self._reading = None
        if task.cancelled():
            return False
        events = []
        for reading in task.result():
            last = self.state.metric_values(reading.declared.venture, reading.declared.metric, last=1)
            events.append(reading_event(reading, self.state.now, self.state.day_index(), last[-1] if last else None))
        for event in await self.emit(events):  # logged as stored: redacted like the log's every line anyway
            _log_reading(event)
        return True

    async def _settle(self) -> bool:
        """Route the decisions committed so far and execute the approved ones, in the order they came."""
        progressed = False
        while self.route_queue:
            await self._route(self.route_queue.pop(0))
            progressed = True
        while self.execute_queue:
            decision_id, amended = self.execute_queue.pop(0)
            await self._execute(decision_id, amended)
            progressed = True
        for decision_id in self._escalate_after_batch:
            d = self.state.decisions.get(decision_id)
            if d is not None:
                await self._escalate_decision(d, Route("escalate", "the reviewer is out of budget", ("budget",)))
        self._escalate_after_batch.clear()
        return progressed

    async def _start_due(self, pending: deque[asyncio.Task[JobResult]], *, everyone: bool) -> bool:
        """Prepare every due wake-up and queued review and start its call; their events commit together.

        Mid-instant (`everyone` False) only the agents named by events since the last start can have become
        due; anyone else (say, resumed by the founder) is found by the next full look at the same instant.
        Whenever the number of jobs in flight reaches a multiple of the concurrency, the loop yields, so those
        calls start while the rest are prepared (yielding after every start costs more CPU in thread
        hand-offs than it saves).
        """
        touched, self._touched = self._touched, set()
        if self._stopping:
            return False
        batch: list[NewEvent] = []
        prepared = False
        due = self._due(None if everyone else touched)
        reviews, self.review_queue = self.review_queue, []
        jobs: list[tuple[str | None, int | None]] = [(a, None) for a in due] + [(None, d) for d in reviews]
        for agent_id, decision_id in self._redos_first(jobs):
            job = await self._prepare_wake(agent_id, batch) if agent_id is not None else await self._prepare_review(
                decision_id or 0, batch)
            prepared = True
            if job is not None:
                if job.kind == "wake":
                    self._waking.add(job.agent_id)
                task = asyncio.create_task(self._run(job))
                self._jobs[task] = job
                pending.append(task)
                if len(pending) % self._slots == 0:
                    await asyncio.sleep(0)  # a full set of calls is ready: let them start, then prepare the rest
        if batch:
            await self.emit(batch)
        return prepared

    async def _next_done(self, pending: deque[asyncio.Task[JobResult]]) -> asyncio.Task[JobResult] | None:
        """The next job to commit, or None when founder commands arrived while waiting for one.

        On the simulated clock that is the oldest job, so the event order never depends on timing. On the real
        clock it is whichever finishes first: time passes anyway, and one slow call must not hold back the
        results (and the wake-ups they cause) of the calls that finished after it started. While waiting (a
        real model can take a minute), founder commands are picked up and acted on: a verdict executes, and
        the caller starts whoever a wake, a task or an unstick made due.
        """
        in_order = self.org.clock != "real"
        while True:
            waiting = {pending[0]} if in_order else set(pending)
            done = {t for t in waiting if t.done()}
            if not done:
                done, _ = await asyncio.wait(waiting, timeout=self.opts.poll_interval,
                                             return_when=asyncio.FIRST_COMPLETED)
            if done:
                return next(t for t in pending if t in done)
            if await self.poll_founder():
                return None

    async def _run(self, job: Job) -> JobResult:
        async with self.semaphore:
            rng = random.Random(f"{self.org.seed}:{job.agent_id}:{iso(self.state.now)}:{job.kind}")
            started = asyncio.get_running_loop().time()
            try:
                if (job.kind == "wake" and self.tools is not None and not self.opts.no_tools
                        and self.org.tools_of(job.agent_id)):
                    job.tools = await self._tool_session(job)
                result = await run_job(job, self.org, retry=self.retry, rng=rng, extra=self._call_extra(),
                                       response_format=self._response_format(job))
            except asyncio.CancelledError:  # `interrupt`: the call in progress is cut off, recorded by `_commit_cut`
                job.calls.append(CallRecord(job.model, job.kind, ok=False, error=f"{self._stop_asked} before the "
                                            "model answered", latency_ms=round(
                                                (asyncio.get_running_loop().time() - started) * 1000, 1)))
                raise
        self.calls_made += len(result.calls)
        return result

    async def _tool_session(self, job: Job) -> ToolSession:
        """The tools this wake-up may call (listed once per run) under the org's per-wake-up limits."""
        assert self.tools is not None
        refs = self.org.tools_of(job.agent_id)
        specs, problems = await self.tools.specs_for(refs)
        limits = self.org.engine
        builtin_only = all((server := self.org.tool_server(r.partition(".")[0])) is not None and server.builtin
                           for r in refs)
        return ToolSession(self.tools, specs, limits.tool_calls_per_wake, limits.tool_time_per_wake.total_seconds(),
                           simulated_durations=builtin_only, problems=problems)

    def _tool_events(self, job: Job) -> list[NewEvent]:
        """A wake-up's tool calls as `tool.called` events, in the order made, and a server that could not be
        listed, once per run."""
        session = job.tools
        if session is None:
            return []
        events = [self._event("tool.called", use.payload(), venture=job.venture, agent=job.agent_id)
                  for use in session.uses]
        for problem in session.problems:
            if problem not in self._tool_problems_told:
                self._tool_problems_told.add(problem)
                server = problem.partition(":")[0]
                events.append(self._event("tool.called", {
                    "server": server, "tool": "tools/list", "ok": False, "error": problem[:300]},
                    venture=job.venture, agent=job.agent_id))
        return events

    def _asked_tool_decisions(self, job: Job) -> list[NewEvent]:
        """Each call of an `ask` tool as a decision of its tool kind, for the policy to send to the founder."""
        session = job.tools
        if session is None:
            return []
        found = self.org.agent(job.agent_id)
        metric = found[1].owns_metric if found else ""
        return [self._event("decision.proposed", {
            "kind": ask_kind_id(asked.server, asked.tool), "params": asked.arguments,
            "rationale": f"{job.agent_id} asked to call {asked.server}.{asked.tool} while it thought",
            "expected": {"metric": metric, "direction": "up", "size": 0.0}, "confidence": 1.0, "reversible": False,
            "brain_version": job.brain_version, "brief_arm": job.brief_arm, "brain_in_force": job.brain_in_force,
            "state": "proposed"}, venture=job.venture, agent=job.agent_id) for asked in session.asked]

    def _response_format(self, job: Job) -> dict[str, Any] | None:
        """How this job asks for its JSON, by the model's `structured_output` in the org file: the agent's own
        schema (`json_schema`; `auto` where litellm says the model takes one), any JSON object, or nothing."""
        settings = self.org.models.get(job.model)
        mode = settings.structured_output if settings is not None else "auto"
        if mode == "off" or (mode == "auto" and not supports_response_schema(job.model)):
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if job.kind == "wake":
            found = self.org.agent(job.agent_id)
            kinds = list(found[1].decision_kinds) if found else []
            return schema_response_format(AgentOutput.__name__, self._agent_schema(tuple(kinds)))
        return schema_response_format(ReviewOutput.__name__, review_output_schema())

    def _agent_schema(self, kinds: tuple[str, ...]) -> dict[str, Any]:
        """One schema per set of kinds, built once per run (agents of one role share theirs)."""
        cached = self._schemas.get(kinds)
        if cached is None:
            cached = self._schemas[kinds] = agent_output_schema(self.org, kinds)
        return cached

    def _budget_for_retry(self, job: Job, view: list[tuple[str, float, float]]) -> Callable[[int, float], str | None]:
        """A check run before each retry of a job: the cap the longer prompt's call may break, or None.

        A retry is another paid call, so it must fit the caps like the first one did; without this a job that
        used every retry could overspend a cap by several calls. What the job needs is what its calls have
        cost so far plus a ceiling for the next one.

        Retries run inside the jobs, at moments that depend on timing. On the simulated clock a retry is
        therefore checked against `view`: each cap and what was used of it when the job was prepared
        (committed spend and the first-call reservations of the jobs then in flight, the job's own excluded),
        taken at a point of the instant that is the same in every run. It never sees another job's retries
        or commits that happened to land while it ran, so the same seed gives the same budget stops whatever
        the load. On the real clock it sees everything at the moment it runs, and reserves what it may cost
        (`retry_reserved`, kept apart from the first calls' reservations).
        """
        found = self.org.agent(job.agent_id)
        agent = found[1] if found else None
        sim = self.org.clock != "real"

        def check(prompt_chars: int, spent: float) -> str | None:
            needed = spent + estimate_cost(self.org, job.model, prompt_chars, MAX_TOKENS)
            if sim:
                return _broken_cap(view, needed)
            extra = needed - job.reserved - job.retry_reserved
            scope = self._over_budget(agent, job.agent_id, job.venture, extra, with_retries=True)
            if scope is None:
                self._reserve(job.agent_id, job.venture, extra, ledger=self.retry_reserved)
                job.retry_reserved += extra
            return scope

        return check

    def _call_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.opts.api_base:
            extra["api_base"] = self.opts.api_base
        if self.opts.extra_call_kwargs:
            extra["extra"] = dict(self.opts.extra_call_kwargs)
        return extra

    # -- budgets -----------------------------------------------------------------------------------------
    def _caps(self, agent: Agent | None, agent_id: str, venture: str | None) -> list[tuple[str, float]]:
        day = self.state.day_key()
        caps = [("org", self.org.budget_per_day)]
        if venture is not None:
            v = self.org.venture(venture)
            if v is not None and v.budget_per_day is not None:
                caps.append((f"venture:{venture}", v.budget_per_day))
        budget = agent.budget_per_day if agent is not None else self.org.platform.budget_per_day
        caps.append((f"agent:{agent_id}", budget + self.state.extra_allowance[(day, agent_id)]))
        return caps

    def _budget_view(self, agent: Agent | None, agent_id: str, venture: str | None,
                     *, with_retries: bool | None = None) -> list[tuple[str, float, float]]:
        """(scope, cap, used) for each cap of a job: committed spend plus reservations, as of now.

        Retries' reservations count only on the real clock (unless `with_retries` says otherwise): on the
        simulated clock they are never made, see `_budget_for_retry`.
        """
        day = self.state.day_key()
        if with_retries is None:
            with_retries = self.org.clock == "real"
        view = []
        for scope, cap in self._caps(agent, agent_id, venture):
            used = self.state.spend[(day, scope)] + self.reserved.get((day, scope), 0.0)
            if with_retries:
                used += self.retry_reserved.get((day, scope), 0.0)
            view.append((scope, cap, used))
        return view

    def _over_budget(self, agent: Agent | None, agent_id: str, venture: str | None, estimate: float,
                     *, with_retries: bool | None = None) -> str | None:
        """The first cap that `estimate` more would break, counting committed spend and reservations."""
        view = self._budget_view(agent, agent_id, venture, with_retries=with_retries)
        return _broken_cap(view, estimate)

    def _reserve(self, agent_id: str, venture: str | None, amount: float, sign: int = 1,
                 ledger: dict[tuple[str, str], float] | None = None) -> None:
        ledger = self.reserved if ledger is None else ledger
        day = self.state.day_key()
        scopes = ["org", f"agent:{agent_id}"] + ([f"venture:{venture}"] if venture else [])
        for scope in scopes:
            ledger[(day, scope)] = ledger.get((day, scope), 0.0) + sign * amount

    def _budget_stop_events(self, agent_id: str, venture: str | None, scope: str, budget: float) -> list[NewEvent]:
        day = self.state.day_key()
        events = [self._event("agent.budget_stopped", {"day": day, "scope": scope}, venture=venture, agent=agent_id)]
        logger.warning("budget stopped agent=%s scope=%s day=%s", agent_id, scope, day)
        if (day, agent_id) not in self.state.budget_escalated:
            self.state.budget_escalated.add((day, agent_id))
            spent = self.state.spend[(day, f"agent:{agent_id}")]
            events.append(self._event("escalation.opened", {
                "kind": "budget_exhausted", "urgency": 2,
                "reason": f"{agent_id} reached its {scope.split(':')[0]} budget for {day} (${spent:,.4f} spent); "
                          "approve to allow one more day's budget today, or it waits until tomorrow",
                "expires": iso(self.state.now.replace(hour=23, minute=59, second=59)),
                "detail": {"day": day, "scope": scope, "allowance": budget, "spent": spent}},
                venture=venture, agent=agent_id))
        return events

    # -- wake-ups ----------------------------------------------------------------------------------------
    def _model_for(self, agent_id: str) -> str:
        found = self.org.agent(agent_id)
        configured = found[1].model if found else self.org.platform.model
        return configured or self.opts.model or self.org.model

    def _metric_moved(self, agent_id: str) -> bool:
        rt = self.state.agents[agent_id]
        found = self.org.agent(agent_id)
        if found is None or rt.metric_at_wake is None:
            return False
        values = self.state.metric_values(found[0].id, found[1].owns_metric, last=15)
        if len(values) < 3:
            return False
        diffs = [b - a for a, b in itertools.pairwise(values)]
        noise = statistics.pstdev(diffs) if len(diffs) > 1 else abs(diffs[0])
        return abs(values[-1] - rt.metric_at_wake) > max(2.5 * noise, 1e-9)

    async def _prepare_wake(self, agent_id: str, batch: list[NewEvent]) -> Job | None:
        """Decide whether a due agent calls its model; events go to the wave's batch.

        Only the brief's reads are awaited (the run's async reader). While they are, the jobs already started
        make their calls and change nothing the preparation reads (on the simulated clock a retry checks the
        budget view taken when its job was prepared), and nothing commits: the wave's events are emitted after
        every job is prepared. So the same seed still prepares the same jobs, however long a read takes."""
        rt = self.state.agents[agent_id]
        found = self.org.agent(agent_id)
        agent = found[1] if found else None
        heartbeat = agent.heartbeat if agent else self.org.platform.heartbeat
        next_wake = self.state.now + heartbeat
        window = _within_last_hour(rt.wakes, self.state.now)
        if len(window) >= self.org.engine.wake_cap_per_hour:
            until = window[0] + timedelta(hours=1)
            rt.capped_until = until
            batch.append(self._event("agent.wake_capped", {
                "until": iso(until), "cap": self.org.engine.wake_cap_per_hour,
                "reason": f"{len(window)} wake-ups in the last hour; further wake-ups wait until {iso(until)}"},
                venture=rt.venture, agent=agent_id))
            logger.warning("wake capped agent=%s wakes_last_hour=%d until=%s", agent_id, len(window), _minute(until))
            return None
        first = not rt.wakes
        redo = rt.redo  # an interrupted wake-up: done again, with the inputs and reason it had
        news = redo is not None or rt.mailbox.has_news() or self._metric_moved(agent_id)
        if not first and not news and rt.next_wake <= self.state.now:
            rt.next_wake = next_wake
            batch.append(self._event("agent.idle", OwnPayload(next_wake=iso(next_wake), reason="nothing new"),
                                     venture=rt.venture, agent=agent_id))
            logger.debug("idle agent=%s at=%s next_wake=%s", agent_id, _minute(self.state.now), _minute(next_wake))
            return None
        reason = redo.reason if redo is not None else self._wake_reason(agent_id, first)
        ctx, choice = await build_wake_context(self, agent_id, reason)
        brain_version = choice.version
        model = self._model_for(agent_id)
        messages = wake_messages(ctx)
        prompt_chars = sum(len(m["content"]) for m in messages)
        estimate = estimate_cost(self.org, model, prompt_chars, MAX_TOKENS)
        view = self._budget_view(agent, agent_id, rt.venture)
        scope = _broken_cap(view, estimate)
        if scope is not None:
            rt.budget_stopped_day = self.state.day_key()
            batch.extend(self._budget_stop_events(agent_id, rt.venture, scope, agent.budget_per_day if agent else 0.0))
            return None
        self._reserve(agent_id, rt.venture, estimate)
        metric_value = None
        if found is not None:
            values = self.state.metric_values(found[0].id, found[1].owns_metric, last=1)
            metric_value = values[-1] if values else None
        # Mark it in flight now: the wave's events commit together after every job has been prepared.
        rt.in_flight = True
        batch.append(self._event("agent.woke", self._woke_payload(rt, OwnPayload(
            reason=reason, brain_version=brain_version, brief_arm=choice.arm, brain_in_force=choice.in_force,
            metric_value=metric_value, model=model, prompt_chars=prompt_chars)), venture=rt.venture, agent=agent_id))
        logger.info("wake agent=%s venture=%s at=%s model=%s reason=%r", agent_id, rt.venture or "-",
                    _minute(self.state.now), model, reason)
        job = Job("wake", agent_id, rt.venture, model, messages, estimate, reason=reason, brain_version=brain_version,
                  brief_arm=choice.arm, brain_in_force=choice.in_force)
        job.budget_check = self._budget_for_retry(job, view)
        return job

    @staticmethod
    def _woke_payload(rt: AgentRuntime, payload: dict[str, Any]) -> dict[str, Any]:
        """`agent.woke`'s payload, with the ids of the news it is shown (`inputs`, always, the fold takes exactly
        those: `Mailbox.take`) and, for an interrupted wake-up done again, the `agent.woke` it redoes (`redoes`):
        both absent from older logs."""
        payload["inputs"] = rt.mailbox.inputs()
        if rt.redo is not None:
            payload["redoes"] = rt.redo.woke_id
        return payload

    _NEWS = (
        ("founder_wake", "the founder"), ("revisions", "a decision returned for revision"), ("tasks", "a new task"),
        ("messages", "a new message"), ("verdicts", "a founder verdict"), ("outcomes", "a measured outcome"),
        ("directives", "a new directive"), ("brain", "a new brain version"),
    )

    def _wake_reason(self, agent_id: str, first: bool) -> str:
        if first:
            return "first wake-up of this run"
        box = self.state.agents[agent_id].mailbox
        reasons = [text for attr, text in self._NEWS if getattr(box, attr)]
        return ", ".join(reasons) or "your heartbeat (your metric moved)"

    async def _prepare_review(self, decision_id: int, batch: list[NewEvent]) -> Job | None:
        d = self.state.decisions.get(decision_id)
        if d is None or d.state != "in_review":
            return None
        found = self.org.agent(d.agent)
        if found is None:
            return None
        reviewer = self.org.agent(found[1].reviewers.get(d.kind) or "")
        if reviewer is None:
            return None
        redoes = self.review_redos.pop(d.id, None)
        ctx = await build_review_context(self, d, reviewer[1], before=redoes)
        model = self._model_for(reviewer[1].id)
        messages = review_messages(ctx)
        estimate = estimate_cost(self.org, model, sum(len(m["content"]) for m in messages), MAX_TOKENS)
        view = self._budget_view(reviewer[1], reviewer[1].id, d.venture)
        scope = _broken_cap(view, estimate)
        if scope is not None:
            batch.extend(self._budget_stop_events(reviewer[1].id, d.venture, scope, reviewer[1].budget_per_day))
            self._escalate_after_batch.append(d.id)
            return None
        self._reserve(reviewer[1].id, d.venture, estimate)
        request: dict[str, Any] = {"decision_id": d.id, "round": d.review_round, "author": d.agent}
        if redoes is not None:
            request["redoes"] = redoes
        batch.append(self._event("review.requested", request, venture=d.venture, agent=reviewer[1].id))
        logger.info("review agent=%s decision=#%d round=%d author=%s at=%s", reviewer[1].id, d.id, d.review_round,
                    d.agent, _minute(self.state.now))
        job = Job("review", reviewer[1].id, d.venture, model, messages, estimate, decision_id=d.id)
        job.budget_check = self._budget_for_retry(job, view)
        return job

    # -- committing results ------------------------------------------------------------------------------
    def _call_events(self, result: JobResult) -> list[NewEvent]:
        job = result.job
        return [self._event("call.recorded", c.payload(), venture=job.venture, agent=job.agent_id)
                for c in result.calls]

    async def _commit_cut(self, job: Job) -> None:
        """A job `interrupt` cut off: its calls (the paid attempts and the one cut short) go in the ledger, and a
        wake-up is recorded as interrupted, so the next start does it again with what it was shown."""
        if job.kind == "wake":
            self._waking.discard(job.agent_id)
        self._reserve(job.agent_id, job.venture, job.reserved, sign=-1)
        self._reserve(job.agent_id, job.venture, job.retry_reserved, sign=-1, ledger=self.retry_reserved)
        events = self._call_events(JobResult(job=job, calls=job.calls))
        if job.kind == "wake":
            events += self._interrupted_events(f"{self._stop_asked} during its model call; it is done again at "
                                               "the next start", only=job.agent_id)
        await self.emit(events)

    async def _commit(self, result: JobResult) -> None:
        job = result.job
        if job.kind == "wake":
            self._waking.discard(job.agent_id)
        self._reserve(job.agent_id, job.venture, job.reserved, sign=-1)
        self._reserve(job.agent_id, job.venture, job.retry_reserved, sign=-1, ledger=self.retry_reserved)
        if job.kind == "review":
            await self._commit_review(result)
            return
        found = self.org.agent(job.agent_id)
        heartbeat = found[1].heartbeat if found else self.org.platform.heartbeat
        next_wake = iso(self.state.now + heartbeat)
        events = self._call_events(result) + self._tool_events(job)
        if result.output is None:
            # An ask tool's call the model was told is proposed is proposed, even if the wake-up went wrong after.
            events.extend(self._asked_tool_decisions(job))
            events.extend(self._failure_events(result, next_wake))
            stored = await self.emit(events)
            self.route_queue.extend(e.id for e in stored if e.kind == "decision.proposed")
            return
        output = result.output
        assert isinstance(output, AgentOutput)
        events.append(self._event("agent.concluded", {
            "summary": output.summary, "next_wake": next_wake, "decisions": len(output.decisions),
            "tasks": len(output.tasks), "messages": len(output.messages), "reason": job.reason},
            venture=job.venture, agent=job.agent_id))
        addressed: set[int] = set()
        # What this wake-up was shown as returned for revision (a request that arrived while it was thinking is
        # still waiting in the mailbox): the engine links the answer's decisions to those (`link_revisions`).
        waiting = self.state.agents[job.agent_id].mailbox.revisions
        returned = {i: self.state.decisions[i].kind for i in self.state.revising.get(job.agent_id, ())
                    if i not in waiting and self.state.decisions[i].state == "revising"}
        links = link_revisions([(d.kind, d.revises) for d in output.decisions], returned)
        for decision, link in zip(output.decisions, links, strict=True):
            if link is not None:
                addressed.add(link)
                how = ("" if decision.revises == link else " (linked by the engine: the answer did not name it)"
                       if decision.revises is None else f" (linked by the engine: the answer named #{decision.revises})")
                events.append(self._event("decision.updated", {
                    "decision_id": link, "state": "proposed", "params": decision.params,
                    "rationale": decision.rationale, "confidence": decision.confidence,
                    "note": f"{job.agent_id} revised it{how}: {decision.rationale}"},
                    venture=job.venture, agent=job.agent_id))
                continue
            events.append(self._event("decision.proposed", {
                "kind": decision.kind, "params": decision.params, "rationale": decision.rationale,
                "expected": decision.expected_effect.model_dump(), "confidence": decision.confidence,
                "reversible": decision.reversible, "brain_version": job.brain_version, "brief_arm": job.brief_arm,
                "brain_in_force": job.brain_in_force, "state": "proposed"},
                venture=job.venture, agent=job.agent_id))
        # A revision request that reached the author while it was already thinking was not in its prompt: it is
        # still in the mailbox (the wake-up emptied it before), stays open, and is news for the next wake-up.
        for d in [self.state.decisions[i] for i in sorted(self.state.revising.get(job.agent_id, ()))]:
            if d.id not in addressed and d.id not in waiting:
                events.append(self._event("decision.updated", {"decision_id": d.id, "state": "withdrawn", "final": True,
                                                              "note": "the author did not revise it"},
                                          venture=d.venture, agent=d.agent))
        events += self._asked_tool_decisions(job)
        events += self._route_tasks(job.agent_id, output)
        stored = await self.emit(events)
        for event in stored:
            if event.kind == "decision.proposed" or (event.kind == "decision.updated" and event.payload["state"] == "proposed"):
                self.route_queue.append(event.id if event.kind == "decision.proposed" else event.payload["decision_id"])

    def _route_tasks(self, agent_id: str, output: AgentOutput) -> list[NewEvent]:
        """Tasks go by id or role inside the venture; messages along the org chart; the platform reaches all."""
        rt = self.state.agents[agent_id]
        events: list[NewEvent] = []
        found = self.org.agent(agent_id)
        is_platform = agent_id == self.org.platform.id
        for task in output.tasks:
            target = self._resolve(task.to, rt.venture, is_platform)
            if target is None or target == agent_id:
                events.append(self._event("task.refused", {"to": task.to, "title": task.title,
                                                           "reason": self._refusal(task.to, rt.venture, agent_id)},
                                          venture=rt.venture, agent=agent_id))
                continue
            events.append(self._event("task.created", {"to_agent": target, "from_agent": agent_id, "title": task.title,
                                                       "body": task.body}, venture=self.state.agents[target].venture,
                                      agent=agent_id))
        for message in output.messages:
            target = self._resolve(message.to, rt.venture, is_platform)
            allowed = target is not None and target != agent_id and (is_platform or self._on_chart(found, target))
            if not allowed:
                events.append(self._event("message.refused", {"to": message.to, "reason": (
                    self._refusal(message.to, rt.venture, agent_id) if target is None or target == agent_id
                    else f"{message.to} is not {agent_id}'s manager or report")}, venture=rt.venture, agent=agent_id))
                continue
            events.append(self._event("message.sent", {"to": target, "text": message.text},
                                      venture=rt.venture, agent=agent_id))
        for done in output.completed_tasks:
            if done.task_id in rt.open_tasks:
                events.append(self._event("task.updated", {"task_id": done.task_id, "state": "done",
                                                           "result": done.result}, venture=rt.venture, agent=agent_id))
        return events

    def _resolve(self, target: str, venture: str | None, is_platform: bool) -> str | None:
        target = target.strip()
        if target in self.state.agents:
            other = self.state.agents[target].venture
            return target if is_platform or other == venture or other is None else None
        if venture is None:
            return None
        v = self.org.venture(venture)
        for a in v.agents if v else []:
            if a.role.lower() == target.lower():
                return a.id
        return None

    def _refusal(self, target: str, venture: str | None, agent_id: str) -> str:
        if target == agent_id:
            return "an agent cannot address itself"
        if target in self.state.agents:
            return f"{target} is in another venture; only the platform agent routes across ventures"
        return f"no agent or role '{target}' in venture {venture}"

    def _on_chart(self, found: tuple | None, target: str) -> bool:
        if found is None:
            return False
        venture, agent = found
        other = next((a for a in venture.agents if a.id == target), None)
        return other is not None and (agent.reports_to == target or other.reports_to == agent.id)

    # -- routing decisions -------------------------------------------------------------------------------
    def _proposal(self, d: DecisionRuntime, reviewer_approved: bool = False) -> Proposal:
        return Proposal(d.kind, d.params, d.rationale, d.confidence, d.review_round, reviewer_approved)

    async def _route(self, decision_id: int, reviewer_approved: bool = False) -> None:
        d = self.state.decisions.get(decision_id)
        if d is None or d.state != "proposed":
            return
        # Its reviewer's approval of this round, committed by a run killed before it routed the decision.
        reviewer_approved = reviewer_approved or (d.approved_round is not None and d.approved_round == d.review_round)
        found = self.org.agent(d.agent)
        if found is None:
            return
        day = self.state.day_key()
        agent = found[1]
        left = agent.budget_per_day + self.state.extra_allowance[(day, agent.id)] - self.state.spend[(day, f"agent:{agent.id}")]
        kind = self.org.kind(d.kind)
        acting = (tuple(other.id for other in self.state.acting(d.venture, d.kind, exclude=d.id))
                  if kind is not None and kind.max_in_window is not None else ())
        repeats = (tuple(r.id for r in self.state.repeats(d.venture, d.kind, d.params, exclude=d.id))
                   if self.org.escalation.on_repeat != "allow" else ())
        route = route_decision(self._proposal(d, reviewer_approved), agent, self.org, trust=self.state.trust,
                               money=MoneyView(agent_budget_left=left), acting=acting, repeats=repeats)
        if route.action == "execute":
            approval = self._event("decision.updated", {"decision_id": d.id, "state": "approved", "final": True,
                                                        "route": route.reason}, venture=d.venture, agent=d.agent)
            if reviewer_approved:  # committed alone: a restart must not ask the reviewer again
                await self.emit([approval])
                await self._execute(d.id)
            else:
                await self._execute(d.id, before=[approval])
        elif route.action == "review":
            # A repeat is said in the decision's history, which the reviewer reads.
            note = {"note": route.reason} if "repeat" in route.gates else {}
            await self.emit([self._event("decision.updated", {"decision_id": d.id, "state": "in_review",
                                                             "review_round": d.review_round + 1, "route": route.reason,
                                                             **note}, venture=d.venture, agent=d.agent)])
            self.review_queue.append(d.id)
        elif route.action == "refuse":
            await self.emit([self._event("decision.updated", {"decision_id": d.id, "state": "refused", "final": True,
                                                             "route": route.reason, "note": route.reason},
                                         venture=d.venture, agent=d.agent)])
            logger.info("decision refused id=%d kind=%s agent=%s reason=%r", d.id, d.kind, d.agent, route.reason)
        else:
            await self._escalate_decision(d, route)

    async def _escalate_decision(self, d: DecisionRuntime, route: Route) -> None:
        policy = self.org.escalation
        day = self.state.day_key()
        if_nobody = ("it is rejected" if policy.on_expiry == "reject" else "it is approved and executed")
        detail = {
            "kind": d.kind, "params": d.params, "rationale": d.rationale, "expected": d.expected,
            "confidence": d.confidence, "reversible": d.reversible, "brain_version": d.brain_version,
            "gates": list(route.gates), "review": d.history, "spend": spend_of(self.org, self._proposal(d)),
            "cost_so_far": round(self.state.spend[(day, f"agent:{d.agent}")], 6),
            "if_nobody_acts": f"after {format_duration(policy.expiry)} {if_nobody}",
        }
        await self.emit([self._event("escalation.opened", {
            "kind": "decision", "decision_id": d.id, "reason": route.reason,
            "urgency": urgency(route, self._proposal(d), d.reversible),
            "expires": iso(self.state.now + policy.expiry), "detail": detail}, venture=d.venture, agent=d.agent),
            self._event("decision.updated", {"decision_id": d.id, "state": "escalated", "route": route.reason},
                        venture=d.venture, agent=d.agent)])
        logger.info("escalated decision=#%d kind=%s agent=%s reason=%r", d.id, d.kind, d.agent, route.reason)

    def _failure_events(self, result: JobResult, next_wake: str) -> list[NewEvent]:
        """A job that produced nothing usable: a budget stop if retrying was stopped by a cap, else stuck.

        A stuck agent always opens an `agent_stuck` escalation with the transcript, reviewers included: an
        agent marked stuck without one would wait forever for a founder who was never told.
        """
        job = result.job
        if result.budget_scope is not None:
            found = self.org.agent(job.agent_id)
            budget = found[1].budget_per_day if found else self.org.platform.budget_per_day
            stop = self._budget_stop_events(job.agent_id, job.venture, result.budget_scope, budget)
            if job.kind != "wake":
                return stop
            return [self._event("agent.concluded", {"summary": f"stopped retrying: {result.failure}",
                                                    "next_wake": next_wake, "decisions": 0, "tasks": 0,
                                                    "messages": 0, "reason": job.reason},
                                venture=job.venture, agent=job.agent_id), *stop]
        logger.warning("stuck agent=%s %s: %s", job.agent_id, job.kind, result.failure)
        return [
            self._event("agent.stuck", {"reason": result.failure, "next_wake": next_wake},
                        venture=job.venture, agent=job.agent_id),
            self._event("escalation.opened", {
                "kind": "agent_stuck", "urgency": 2,
                "reason": f"{job.agent_id} is stuck: {result.failure}; approve to let it try again",
                "expires": None, "detail": {"transcript": result.transcript, "failure": result.failure}},
                venture=job.venture, agent=job.agent_id),
        ]

    async def _commit_review(self, result: JobResult) -> None:
        job = result.job
        events = self._call_events(result)
        d = self.state.decisions.get(job.decision_id or -1)
        if d is None:
            await self.emit(events)
            return
        if result.output is None:
            found = self.org.agent(job.agent_id)
            heartbeat = found[1].heartbeat if found else self.org.platform.heartbeat
            events.extend(self._failure_events(result, iso(self.state.now + heartbeat)))
            await self.emit(events)
            d.history.append(f"reviewer {job.agent_id} could not review: {result.failure}")
            await self._escalate_decision(d, Route("escalate", f"reviewer {job.agent_id} could not review it", ("review_failed",)))
            return
        review = result.output
        assert isinstance(review, ReviewOutput)
        note = f"reviewer {job.agent_id}, round {d.review_round}: {review.verdict}" + (
            f" — {review.feedback}" if review.feedback else "")
        events.append(self._event("review.answered", {"decision_id": d.id, "verdict": review.verdict,
                                                      "feedback": review.feedback, "round": d.review_round},
                                  venture=job.venture, agent=job.agent_id))
        if review.verdict == "approve":
            events.append(self._event("decision.updated", {"decision_id": d.id, "state": "proposed", "note": note},
                                      venture=d.venture, agent=d.agent))
            await self.emit(events)
            await self._route(d.id, reviewer_approved=True)
        elif d.review_round >= self.org.engine.max_review_rounds:
            events.append(self._event("decision.updated", {"decision_id": d.id, "state": "proposed", "note": note},
                                      venture=d.venture, agent=d.agent))
            await self.emit(events)
            reviewer = job.agent_id
            await self._escalate_decision(d, Route(
                "escalate", f"reviewer {reviewer} did not approve after {d.review_round} rounds", ("review_exhausted",)))
        else:
            events.append(self._event("decision.updated", {"decision_id": d.id, "state": "revising", "note": note},
                                      venture=d.venture, agent=d.agent))
            await self.emit(events)

    # -- execution ---------------------------------------------------------------------------------------
    async def _execute(self, decision_id: int, amended: dict | None = None, *, before: list[NewEvent] | None = None
                       ) -> None:
        """Carry out an approved decision once; `before` (its approval) commits with the first event written.

        Committing the approval with the execution saves a transaction per decision. A run killed before that
        commit has neither, and the restarted run routes the still-proposed decision again, to the same
        answer (only a policy approval is committed this way: a reviewer's approval is committed on its own).
        A shell command's approval commits with `decision.executing`, before the command runs.
        """
        first = list(before or [])
        d = self.state.decisions.get(decision_id)
        kind = self.org.kind(d.kind) if d is not None else None
        key = f"decision-{decision_id}"
        done = d is not None and self.opts.idempotency and (
            key in self.state.executed_keys or d.state in ("executed", "failed"))
        if d is None or kind is None or done:
            if first:
                await self.emit(first)
            return
        params = {**d.params, **(amended or {})}
        if kind.action == "tool" and not self.actions.key_prefix:
            self.actions.key_prefix = await self._database_key()
        if kind.action in ("shell", "tool"):  # at most once: a restart never runs it again unasked
            await self.emit([*first, self._event("decision.executing", {"decision_id": d.id, "idempotency_key": key},
                                                 venture=d.venture, agent=d.agent)])
            first = []
        venture = self.org.venture(d.venture)
        ok, result, market = await self.actions.execute(kind, params, d.id, venture)
        if kind.lever == "stage" and ok and isinstance(params.get("stage"), str):
            first.append(self._event("venture.stage", {"stage": params["stage"]}, venture=d.venture, agent=d.agent))
        payload = {"decision_id": d.id, "idempotency_key": key if self.opts.idempotency else f"{key}-{self.rng.random()}",
                   "ok": ok, "result": result, "day": self.state.day_index(), "market": market}
        await self.emit([*first, self._event("decision.executed", payload, venture=d.venture, agent=d.agent)])
        _log_execution(d, ok, result)

    async def _database_key(self) -> str:
        """A short key unique to this database and stable across its restarts: when its log began."""
        row = await self.reader.row("SELECT ts FROM events ORDER BY id LIMIT 1")
        digits = "".join(ch for ch in str(row[0] if row else "") if ch.isdigit())
        return f"{digits[:20]}-" if digits else ""

    # -- the clock ---------------------------------------------------------------------------------------
    def _next_due(self) -> datetime:
        candidates = [self._next_day_start()]
        today = self.state.day_key()
        midnight = datetime.combine(self.state.now.date() + ONE_DAY, time.min, tzinfo=self.state.now.tzinfo)
        for agent_id, rt in self.state.agents.items():
            if rt.stuck or self.state.is_paused(agent_id):
                continue
            due = max(rt.next_wake, rt.capped_until or rt.next_wake)
            if rt.budget_stopped_day == today:  # its budget comes back with the next calendar day
                due = max(due, midnight)
            candidates.append(due)
        candidates += [e.expires for e in self.state.escalations.values() if e.expires is not None]
        reading = next_due(self.sources, self.state.source_reads, self.state.now)
        if reading is not None:
            candidates.append(reading)
        if self.opts.until is not None:
            candidates.append(self.opts.until)
        return max(min(candidates), self.state.now)

    def _next_day_start(self) -> datetime:
        return self.state.origin + ONE_DAY * (self.state.day_index() + 1)

    def held_for_founder(self) -> str:
        """Why the simulated clock is holding for the founder at the keyboard, or "" when it is not.

        An escalation at its expiry with a founder present would be lost to a person still reading it: at the
        default pace a simulated day is seconds of wall time. So the clock stops at that moment instead, and
        simulated time never counts against a decision while someone is there to make it. Only decision
        escalations hold the clock; a budget notice still lapses at the end of its day, as it means to.
        """
        if not self.founder_here or self.org.clock == "real":
            return ""
        if self.state.org_paused:
            return "paused by the founder"
        due = self.waiting_on_founder()
        return waiting_for_verdict(due[0]) if due else ""

    def waiting_on_founder(self) -> list[int]:
        """The decision escalations the clock is holding for: at their expiry, with a founder present."""
        return [e.id for e in self.state.pending_escalations() if self._waits_for_founder(e)
                and e.expires is not None and e.expires <= self.state.now]

    def _waits_for_founder(self, escalation: EscalationRuntime) -> bool:
        return self.founder_here and self.org.clock != "real" and escalation.kind == "decision"

    def _look_for_founder(self) -> None:
        """Whether a founder is at the keyboard now: this process's control room (`founder_present`), or one
        attached from another process (`conductor attach`, which holds the founder's seat beside the database).
        Asked before each step of simulated time, so a room that attaches or leaves mid-run counts from then."""
        self.founder_here = self.opts.founder_present or (self.org.clock == "sim" and founder_attached(self.db))

    async def _advance(self) -> None:
        self._look_for_founder()
        self.holding = self.held_for_founder()
        if self.holding:
            # A person's time, not the org clock's: look for their verdict (or resume) every poll interval.
            await asyncio.sleep(self.opts.poll_interval)
            await self.poll_founder()
            return
        target = self._next_due()
        if self.org.clock == "real":
            while not self._stopping and self.wall() < target:
                await asyncio.sleep(min(self.opts.poll_interval, max(0.0, (target - self.wall()).total_seconds())))
                if await self.poll_founder():
                    break
            target = max(self.wall(), self.state.now)
        elif self.opts.pace > 0:
            remaining = (target - self.state.now) / ONE_DAY * self.opts.pace
            while remaining > 0 and not self._stopping:
                step = min(self.opts.poll_interval, remaining)
                await asyncio.sleep(step)
                remaining -= step
                if await self.poll_founder():
                    # A founder command lands at the current simulated time; resume the jump afterwards.
                    return
        else:
            await asyncio.sleep(0)
        if self._stopping:
            return
        before_day = self.state.day_index()
        self.state.now = max(target, self.state.now)
        for _ in range(before_day, self.state.day_index()):
            await self._day_passed()
        await self._expire()

    async def _day_passed(self) -> None:
        """A simulated day ends: markets move, outcomes are measured, stops from yesterday lift."""
        day = self.state.day_index()
        await self.emit([self._event("clock.advanced", OwnPayload(day=day))])
        logger.info("day %d begins at=%s", day, _minute(self.state.now))
        for venture in self.org.ventures:
            market = self.actions.markets.get(venture.id)
            if market is None:
                continue
            values = market.step()
            await self._record_metrics(venture.id, values, day, stepped=True)
        await self._measure_outcomes(day)
        await self.brain.day_passed(day)

    async def _record_metrics(self, venture: str, values: dict[str, float], day: int, stepped: bool = False) -> None:
        at = iso(self.state.origin + ONE_DAY * day)
        known = self.org.venture(venture)
        # A metric with a source is read from it, not from the simulated market: one value a day, from one place.
        names = {m.name for m in known.metrics if m.source is None} if known else set(values)
        events = [self._event("metric.recorded", OwnPayload(metric=name, value=round(float(value), 6), at=at, day=day,
                                                            source="sim"), venture=venture)
                  for name, value in sorted(values.items()) if name in names]
        if stepped:
            events.append(self._event("market.stepped", OwnPayload(day=day), venture=venture))
        await self.emit(events)

    async def _measure_outcomes(self, day: int) -> None:
        """Outcomes of the decisions whose effect window closed by `day`, from what was observed up to its end
        (`brain.attribution.measure_decision`; `engine.recompute` recomputes them from the events)."""
        executed = [d for d in sorted(self.state.decisions.values(), key=lambda x: x.id)
                    if d.state == "executed" and d.executed_day is not None]
        due = [d for d in executed if not d.outcome_done
               and d.executed_day + self.org.effect_window_days(d.kind) <= day]  # type: ignore[operator]
        if not due:
            return
        peers = peers_by_venture(self.org, executed, self._measurables)
        events: list[NewEvent] = []
        for d in due:
            outcome = measure_decision(self.org, d, peers, self.state.metrics)
            if outcome is None:
                d.outcome_done = True
                continue
            events.append(self._event("decision.outcome", {
                "decision_id": d.id, "outcome": outcome.as_payload(), "brain_version": d.brain_version,
                "summary": outcome.summary(d.kind, params_text(d.params))}, venture=d.venture, agent=d.agent))
        if events:
            await self.emit(events)

    async def _expire(self) -> None:
        for esc in self.state.pending_escalations():
            if esc.expires is None or esc.expires > self.state.now or self._waits_for_founder(esc):
                continue
            approve = esc.kind == "decision" and self.org.escalation.on_expiry == "approve"
            verdict = "approved" if approve else "expired"
            (expiry,) = await self.emit([self._event("escalation.resolved", {
                "escalation_id": esc.id, "verdict": verdict, "escalation_kind": esc.kind,
                "decision_id": esc.decision_id, "note": "nobody acted before it expired", "by": "policy"},
                venture=esc.venture, agent=esc.agent)])
            _log_verdict(expiry.payload)
            first = await self._first_resolution(esc.id)
            if first is not None and first.id != expiry.id:
                # The founder's verdict was committed just before the expiry (not yet polled): it stands.
                await self._react_to_founder(first)
                continue
            d = self.state.decisions.get(esc.decision_id or -1)
            if d is not None:
                await self._apply_verdict(d, "approved" if approve else "expired", None, "expired")


def _within_last_hour(wakes: Sequence[datetime], now: datetime) -> list[datetime]:
    """The wake-ups of the hour before `now`, oldest first. `wakes` is in time order, so the look stops at the
    first older one instead of comparing every kept wake-up (aware datetimes compare slowly) at every wake."""
    cutoff = now - timedelta(hours=1)
    recent: list[datetime] = []
    for at in reversed(wakes):
        if at <= cutoff:
            break
        recent.append(at)
    return recent[::-1]


def _minute(at: datetime) -> str:
    """An org-clock time for a log line, to the minute ("2026-01-05T09:00Z")."""
    return iso(at)[:16] + "Z"


def _log_verdict(payload: dict[str, Any]) -> None:
    """A verdict on an escalation, the founder's or the policy's at expiry, as the engine acts on it."""
    decision = payload.get("decision_id")
    logger.info("verdict escalation=#%s kind=%s decision=%s verdict=%s by=%s", payload.get("escalation_id"),
                payload.get("escalation_kind"), f"#{decision}" if decision is not None else "-", payload.get("verdict"),
                payload.get("by", "founder"))


def _log_reading(event: StoredEvent) -> None:
    """A metric source's reading: recorded at INFO, refused at WARNING with its reason."""
    p = event.payload
    if event.kind == "metric.recorded":
        logger.info("metric read venture=%s metric=%s value=%s source=%s from=%s", event.venture, p["metric"],
                    p["value"], p["source"], p.get("provenance"))
    else:
        logger.warning("metric reading refused venture=%s metric=%s source=%s from=%s check=%s: %s", event.venture,
                       p["metric"], p["source"], p.get("provenance"), p.get("check"), p.get("reason"))


def _log_execution(d: DecisionRuntime, ok: bool, result: Any) -> None:
    """An executed decision at INFO; a failed one at WARNING with the error it gave (no command output)."""
    if ok:
        logger.info("executed decision=#%d kind=%s agent=%s", d.id, d.kind, d.agent)
        return
    error = result.get("error") if isinstance(result, dict) else None
    logger.warning("decision failed id=%d kind=%s agent=%s error=%r", d.id, d.kind, d.agent,
                   str(error or result)[:300])
