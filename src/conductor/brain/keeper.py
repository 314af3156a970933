"""The brain inside a running engine: briefs for every wake-up, and syntheses once a simulated day.

`BrainKeeper(engine)` is the engine's one hook into the brain. `engine` is anything that fits
`brain.port.BrainHost` (the scheduler passes itself): the keeper sees the run only through that port, never
through an engine module or a private member. It sets `engine.brief_source` (called while a wake-up or review
is prepared) and `day_passed(day)` is awaited once per org-clock day, after outcomes are measured. It reads
through the run's async reader (`store.reads.AsyncReader`: nothing touches SQLite on the event loop's thread)
and writes only through `engine.emit`, so every version, failure and model
call is an event like any other. Synthesis calls take the same provider path as wake-ups
(`engine.call_model`, with its timeout and retries), on their own budget line: purpose "synthesis", capped by
`[brain] synthesis_budget_per_day` as well as the org's and the venture's caps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from conductor.brain.attribution.outcome import outcome_effect, outcome_verdict
from conductor.brain.brief import Brief, assemble_brief, insight_lines
from conductor.brain.control import Arm, BriefChoice, brief_choice, control_arm
from conductor.brain.document import PLATFORM, BrainDocument, DocumentError, parse_document
from conductor.brain.memory import MemoryHit, retrieve_plan, situation_terms
from conductor.brain.platform import DecisionOutcome, outcome_table, platform_messages
from conductor.brain.port import BrainHost
from conductor.brain.synthesis import (
    MAX_COMPLETION_TOKENS,
    SynthesisInvalid,
    SynthesisResult,
    Validated,
    call_synthesis,
    facts_plan,
    synthesis_messages,
    validate_document,
)
from conductor.store.events import NewEvent, iso, parse_iso
from conductor.store.reads import AsyncReader

logger = logging.getLogger(__name__)

TOKEN_CACHE = 50_000


class BrainKeeper:
    """Briefs from the brain version in force, and new versions when enough has happened."""

    def __init__(self, engine: BrainHost) -> None:
        self.engine = engine
        self.org = engine.org
        self.settings = engine.org.brain
        self._docs: dict[tuple[str, int], BrainDocument] = {}
        self._tokens: dict[tuple[str, str], int] = {}
        self._watermarks: dict[str, int] = {}
        self.names = {v.id: v.name for v in engine.org.ventures}
        # Each venture's main metric: the one its head (the first agent with no manager) owns.
        self.main = {v.id: next((a.owns_metric for a in v.agents if a.reports_to is None), v.agents[0].owns_metric)
                     for v in engine.org.ventures}
        self.last_brief: Brief | None = None
        engine.brief_source = self.brief

    # -- reading the store --------------------------------------------------------------------------------
    @property
    def reads(self) -> AsyncReader:
        return self.engine.reader

    def pinned(self, venture: str) -> int | None:
        """The version the founder pinned, as the run has taken it in (pins are founder commands, folded into the
        run's state when it polls for them, like every other command)."""
        return self.engine.state.brain_pins.get(venture)

    async def latest(self, venture: str) -> int | None:
        row = await self.reads.row("SELECT max(version) FROM brain_versions WHERE venture = ?", (venture,))
        return int(row[0]) if row and row[0] is not None else None

    def in_force(self, venture: str) -> int | None:
        """The pinned version if the founder pinned one, else the newest."""
        pinned = self.pinned(venture)
        return pinned if pinned is not None else self.engine.state.brain_versions.get(venture)

    async def document(self, venture: str, version: int | None) -> BrainDocument | None:
        if version is None:
            return None
        key = (venture, version)
        if key not in self._docs:
            row = await self.reads.row("SELECT document FROM brain_versions WHERE venture = ? AND version = ?", key)
            if row is None:
                return None
            try:
                self._docs[key] = parse_document(row[0])
            except DocumentError:
                self._docs[key] = BrainDocument()
        return self._docs[key]

    # -- briefs -------------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the token counters the briefs will use, before the first wake-up and off the event loop.

        The first count for a model loads its tokenizer (tiktoken's tables: about half a second here); done
        lazily, that would stall the first wave and freeze a control room sharing the loop.
        """
        for model in sorted(self.engine.models_in_use()):
            self.count_tokens(model, "warm up")

    def count_tokens(self, model: str, text: str) -> int:
        """litellm's token counter for the agent's model, cached per text (memory texts never change)."""
        key = (model, text)
        n = self._tokens.get(key)
        if n is None:
            n = self.engine.count_tokens(model, text)
            if len(self._tokens) > TOKEN_CACHE:
                self._tokens.clear()
            self._tokens[key] = n
        return n

    def _situation(self, venture: str, agent_id: str, subject: str | None = None) -> list[str]:
        """Words of what the agent is dealing with: its metric, its levers, and what is waiting for it, or,
        for a review, the decision it judges (`subject`). A review's memories must not follow the reviewer's
        own mailbox: that moves on while the review is in flight, and a review done again after a restart
        has to be shown what it was first shown."""
        rt = None if subject is not None else self.engine.state.agents.get(agent_id)
        found = self.org.agent(agent_id)
        texts: list[str] = []
        if found is not None:
            agent = found[1]
            texts += [agent.owns_metric, " ".join(dict.fromkeys(k.split(".")[0] for k in agent.decision_kinds))]
        else:
            texts += ["worked failed"]
        if rt is not None:
            texts += list(rt.mailbox.tasks.values())[-2:] + [t for _, t in rt.mailbox.messages[-2:]]
        return situation_terms(*texts, subject)

    async def wake_brief(self, venture: str, agent_id: str) -> tuple[str, str, BriefChoice]:
        """A wake-up's brief under the concurrent control (`brain.control`): with probability
        `[brain] control_share` an older version's brief (`control_lag` back), or none, instead of the version
        in force.

        The platform agent and ventures without a version always get the current brief (nothing to compare).
        The "none" arm drops the platform insights too: it is a wake-up without any brain.
        """
        choice = self.control_choice(venture, agent_id)
        if choice.arm == "none":
            return "", "", choice
        brief, insights, _ = await self.brief(venture, agent_id, version=choice.version, before=self._redo_of(agent_id))
        return brief, insights, choice

    def _redo_of(self, agent_id: str) -> int | None:
        """For an interrupted wake-up done again, its first `agent.woke`: its memories are those before it."""
        rt = self.engine.state.agents.get(agent_id)
        return rt.redo.woke_id if rt is not None and rt.redo is not None else None

    def control_choice(self, venture: str, agent_id: str) -> BriefChoice:
        """Which arm of the concurrent control this wake-up draws, and the version it would be shown. Drawn (and
        recorded) even when the brief is withheld, so a run where nobody sees the brain still has a control to
        compare with, which must show no difference."""
        in_force = self.in_force(venture)
        arm: Arm = "current"
        if venture != PLATFORM and in_force is not None:
            arm = control_arm(self.org.seed, agent_id, iso(self.engine.state.now), self.settings.control_share,
                              self.settings.control)
        return brief_choice(arm, in_force, self.settings.control_lag)

    async def brief(self, venture: str, agent_id: str, *, version: int | str | None = "in force",
              before: int | None = None, subject: str | None = None, judged: str | None = None
              ) -> tuple[str, str, int | None]:
        """(brief, platform insights, brain version shown) for one wake-up or review, within budget.

        `version` defaults to the version in force; the control arm passes the previous one. `before` keeps
        the memories to those written before that event (a wake-up or review done again after a restart).
        `subject` is the decision a review judges: its memories are chosen for it. `judged` is its kind: a
        review's brief keeps only the lines about that kind; a wake-up's, the lines about the agent's kinds.
        """
        version = self.in_force(venture) if version == "in force" else version
        assert version is None or isinstance(version, int)
        doc = await self.document(venture, version)
        found = self.org.agent(agent_id)
        budget = (found[1].context_tokens if found and found[1].context_tokens else None) or self.settings.context_tokens
        model = self.engine.model_for(agent_id)
        insights: list[tuple[float, str]] = []
        if venture != PLATFORM:
            p_version = self.in_force(PLATFORM)
            insights = insight_lines(await self.document(PLATFORM, p_version), venture, self.names, p_version)
        hits: list[MemoryHit] = []
        if self.settings.retrieval_k:
            hits = await self.reads.run(retrieve_plan(
                venture, self._situation(venture, agent_id, subject), self.engine.state.now,
                k=self.settings.retrieval_k, half_life_hours=self.settings.recency_half_life.total_seconds() / 3600,
                before=before))
        name = self.names.get(venture, "the platform")
        header = (f"{name} brain v{version}: what this venture has learned, with the decisions behind it."
                  if version is not None else f"{name} has no brain version yet; recent memories only.")
        directives = [t for _, t in self.engine.state.directives.get(venture, [])]
        known = [k.id for k in self.org.decision_kinds]
        in_view: set[str] | None = None
        if judged is not None:
            in_view = {judged}  # a review is about the decision it judges, not about the reviewer's own levers
        elif found is not None and found[1].decision_kinds:
            in_view = set(found[1].decision_kinds)
        result = assemble_brief(budget=budget, count_tokens=lambda t: self.count_tokens(model, t), brain=doc,
                                header=header, memories=hits, insights=insights, directives=directives,
                                in_view=in_view, known_kinds=known)
        self.last_brief = result
        return result.brief, result.insights, version

    # -- synthesis ----------------------------------------------------------------------------------------
    async def _watermark(self, venture: str) -> int:
        if venture not in self._watermarks:
            row = await self.reads.row(
                "SELECT memory_ids FROM brain_versions WHERE venture = ? AND memory_ids != '[]' "
                "ORDER BY version DESC LIMIT 1", (venture,))
            self._watermarks[venture] = max(json.loads(row[0]), default=0) if row else 0
        return self._watermarks[venture]

    async def _since_last(self, venture: str) -> timedelta | None:
        row = await self.reads.row("SELECT created FROM brain_versions WHERE venture = ? ORDER BY version DESC LIMIT 1",
                                   (venture,))
        if row is None or not row[0]:
            return None
        return self.engine.state.now - parse_iso(row[0])

    def synthesis_model(self) -> str:
        """The model the brain's syntheses call: `[brain] model`, else the run's `--model`, else the org's."""
        return self.settings.model or self.engine.model_override or self.org.model

    def _model(self) -> str:
        return self.synthesis_model()

    async def _over_budget(self, venture: str | None, model: str, messages: list[dict[str, str]]) -> str | None:
        state = self.engine.state
        day = state.day_key()
        estimate = self.engine.estimate_cost(model, sum(len(m["content"]) for m in messages), MAX_COMPLETION_TOKENS)
        row = await self.reads.row("SELECT coalesce(sum(cost), 0) FROM calls WHERE day = ? AND purpose = 'synthesis'",
                                   (day,))
        if float(row[0]) + estimate > self.settings.synthesis_budget_per_day:
            return f"the synthesis budget for {day} (${self.settings.synthesis_budget_per_day:,.2f}) is spent"
        reserved = self.engine.reserved
        if state.spend[(day, "org")] + reserved.get((day, "org"), 0.0) + estimate > self.org.budget_per_day:
            return f"the org budget for {day} is spent"
        v = self.org.venture(venture or "")
        if v is not None and v.budget_per_day is not None:
            scope = f"venture:{v.id}"
            if state.spend[(day, scope)] + reserved.get((day, scope), 0.0) + estimate > v.budget_per_day:
                return f"the {v.id} budget for {day} is spent"
        return None

    async def _due(self, venture: str, new: int, every: timedelta) -> bool:
        if new <= 0 or self.pinned(venture) is not None:
            return False
        if new >= self.settings.synthesis_threshold:
            return True
        since = await self._since_last(venture)
        return since is not None and since >= every

    async def _new_memories(self, venture: str) -> list[MemoryHit]:
        rows = await self.reads.rows(
            "SELECT id, venture, agent, at, kind, text, importance, decision_id FROM memories WHERE venture = ? "
            "AND id > ? ORDER BY id LIMIT ?",
            (venture, await self._watermark(venture), self.settings.synthesis_max_memories))
        return [MemoryHit(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), decision_id=r[7]) for r in rows]

    def _validator(self, venture: str | None, previous: BrainDocument | None
                   ) -> Callable[[str], Awaitable[Validated]]:
        versions = {v.id: self.engine.state.brain_versions[v.id] for v in self.org.ventures
                    if v.id in self.engine.state.brain_versions}

        async def validate(text: str) -> Validated:
            try:
                doc = parse_document(text)
            except DocumentError as exc:
                raise SynthesisInvalid(str(exc)) from None
            facts = await self.reads.run(facts_plan(doc.decision_ids(), self.main))
            return validate_document(doc, facts, venture=venture, previous=previous, versions=versions)

        return validate

    async def _call(self, key: str, messages: list[dict[str, str]], validate: Any) -> SynthesisResult:
        rng = random.Random(f"{self.org.seed}:synthesis:{key}:{iso(self.engine.state.now)}")
        return await call_synthesis(self.engine.call_model, self._model(), messages, validate, rng=rng,
                                    max_attempts=self.org.engine.max_retries + 1, label=f"brain {key}")

    def _call_events(self, result: SynthesisResult, venture: str | None) -> list[NewEvent]:
        return [self.engine.event("call.recorded", {**c.payload(), "for": venture or PLATFORM}, venture=venture)
                for c in result.calls]

    async def _outcome_events(self, venture: str, result: SynthesisResult, *, author: str, memory_ids: list[int],
                              extra: dict[str, Any] | None = None) -> list[NewEvent]:
        event_venture = None if venture == PLATFORM else venture
        events = self._call_events(result, event_venture)
        latest = await self.latest(venture)
        if result.validated is None:
            events.append(self.engine.event("brain.synthesis_failed", {
                "reason": result.failure or "unknown", "model": self._model(), "memories": len(memory_ids),
                "attempted_version": (latest or 0) + 1, "kept_version": latest, "for": venture},
                venture=event_venture))
            return events
        payload = {
            "version": (latest or 0) + 1, "parent": latest, "author": author, "model": self._model(),
            "tokens": result.tokens, "cost": round(result.cost, 8), "memory_ids": memory_ids,
            "document": result.validated.document.to_payload(),
            "dropped_evidence": result.validated.dropped_evidence, **(extra or {}),
        }
        events.append(self.engine.event("brain.version", payload, venture=event_venture))
        return events

    async def _emit(self, events: list[NewEvent]) -> bool:
        try:
            await self.engine.emit(events)
            return True
        except Exception as exc:  # e.g. the founder wrote the same version number a moment earlier
            logger.warning("brain version not stored: %s", exc)
            await self.engine.emit([self.engine.event("brain.synthesis_failed", {
                "reason": f"could not store the new version: {exc}"[:300], "model": self._model()},
                venture=next((e.venture for e in events if e.venture), None))])
            return False

    async def synthesize_venture(self, venture_id: str, *, force: bool = False) -> bool:
        """Write the next version of one venture's brain if enough is new (or `force`); True if one was written."""
        venture = self.org.venture(venture_id)
        if venture is None:
            return False
        memories = await self._new_memories(venture_id)
        if not (force and memories) and not await self._due(venture_id, len(memories), self.settings.synthesis_every):
            return False
        prepared = await self._prepare_venture(venture_id, memories)
        if prepared is None:
            return False
        return await self._finish(venture_id, prepared, await self._call(venture_id, prepared[0], prepared[1]))

    async def _prepare_venture(self, venture_id: str, memories: list[MemoryHit]
                               ) -> tuple[Any, Any, list[int]] | None:
        venture = self.org.venture(venture_id)
        assert venture is not None
        latest = await self.latest(venture_id)
        previous = await self.document(venture_id, latest)
        outcomes = {m.decision_id for m in memories if m.kind == "outcome" and m.decision_id is not None}
        messages = synthesis_messages(
            org_name=self.org.name, venture_id=venture_id, venture_name=venture.name, goal=venture.goal,
            metrics=[(m.name, m.direction) for m in venture.metrics], previous=previous, previous_version=latest,
            memories=memories, main_metric=self.main.get(venture_id),
            facts=await self.reads.run(facts_plan(outcomes, self.main)))
        return messages, self._validator(venture_id, previous), [m.id for m in memories]

    async def _finish(self, venture: str, prepared: tuple[Any, Any, list[int]], result: SynthesisResult) -> bool:
        memory_ids = prepared[2]
        author = "platform" if venture == PLATFORM else "synthesis"
        events = await self._outcome_events(venture, result, author=author, memory_ids=memory_ids)
        stored = await self._emit(events)
        if stored and result.validated is not None and memory_ids:
            self._watermarks[venture] = max(memory_ids)
        if stored and result.validated is not None:
            logger.info("brain version for=%s version=%s memories=%d", venture, events[-1].payload.get("version"),
                        len(memory_ids))
        elif stored:
            logger.warning("brain synthesis failed for=%s reason=%r", venture, result.failure or "unknown")
        return stored and result.validated is not None

    async def day_passed(self, day: int) -> None:
        """Once per org-clock day: synthesize the ventures that are due, then the platform when it is due."""
        if self.engine.state.org_paused:
            return
        jobs: list[tuple[str, tuple[Any, Any, list[int]]]] = []
        for venture in self.org.ventures:
            if venture.id in self.engine.state.paused_ventures:
                continue
            memories = await self._new_memories(venture.id)
            if not await self._due(venture.id, len(memories), self.settings.synthesis_every):
                continue
            prepared = await self._prepare_venture(venture.id, memories)
            reason = await self._over_budget(venture.id, self._model(), prepared[0]) if prepared else None
            if reason is not None:
                await self._emit([self.engine.event("brain.synthesis_failed", {
                    "reason": reason, "model": self._model(), "memories": len(memories)}, venture=venture.id)])
                continue
            if prepared is not None:
                jobs.append((venture.id, prepared))
        # Calls run together; results are stored in venture order, so the event stream stays deterministic.
        results = await asyncio.gather(*(self._call(v, p[0], p[1]) for v, p in jobs))
        for (venture_id, prepared), result in zip(jobs, results, strict=True):
            await self._finish(venture_id, prepared, result)
        await self.synthesize_platform()

    async def _platform_due(self) -> bool:
        if self.pinned(PLATFORM) is not None:
            return False
        since = await self._since_last(PLATFORM)
        if since is None:
            return self.engine.state.now - self.engine.state.origin >= self.settings.platform_every
        return since >= self.settings.platform_every

    async def _outcome_rows(self) -> list[DecisionOutcome]:
        rows = await self.reads.rows(
            "SELECT id, venture, kind, params, outcome FROM decisions WHERE outcome IS NOT NULL "
            "ORDER BY id DESC LIMIT 5000")
        out = []
        for r in rows:
            outcome = json.loads(r[4])
            out.append(DecisionOutcome(
                id=r[0], venture=r[1], kind=r[2], params=json.loads(r[3] or "{}"), metric=outcome.get("metric"),
                delta=outcome_effect(outcome), success=outcome_verdict(outcome) == "worked",
                verdict=outcome_verdict(outcome)))
        return out

    async def synthesize_platform(self, *, force: bool = False) -> bool:
        """The platform analyst's periodic pass over every venture's latest brain and outcome table."""
        if not force and not await self._platform_due():
            return False
        categorical = {k.id: [n for n, spec in k.params.items() if spec.choices] for k in self.org.decision_kinds}
        table = outcome_table(await self._outcome_rows(), categorical)
        if not table:
            return False
        ventures = []
        for v in self.org.ventures:
            version = await self.latest(v.id)
            ventures.append((v.id, v.name, version, await self.document(v.id, version)))
        latest = await self.latest(PLATFORM)
        previous = await self.document(PLATFORM, latest)
        messages = platform_messages(org_name=self.org.name, ventures=ventures, table=table, previous=previous,
                                     previous_version=latest)
        reason = await self._over_budget(None, self._model(), messages)
        if reason is not None:
            await self._emit([self.engine.event("brain.synthesis_failed", {"reason": reason, "model": self._model(),
                                                                           "for": PLATFORM})])
            return False
        prepared: tuple[Any, Any, list[int]] = (messages, self._validator(None, previous), [])
        return await self._finish(PLATFORM, prepared, await self._call(PLATFORM, messages, prepared[1]))
