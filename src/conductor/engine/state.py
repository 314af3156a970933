"""The engine's working memory, folded from events.

`EngineState.observe(event)` is the only way this state changes, live and on restart alike: a restarted
engine replays the log through it and is exactly where the killed one was (who is due, what is in review,
what is pending, what each agent has not yet seen). It has no side effects: no calls, no writes.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from conductor.brain.attribution import reach_days
from conductor.org.models import Org
from conductor.store.events import StoredEvent, parse_iso
from conductor.text import with_note


def _in_order(params: dict[str, Any]) -> dict[str, Any]:
    """A decision's parameters by name: the order a model wrote them in is lost when the event is stored, so a
    run replayed from the log must not show them in another order than the live run did (prompts quote them)."""
    return dict(sorted(params.items()))


def _day_key(moment: datetime) -> str:
    """The UTC calendar day of a moment, as spend is keyed (from `sim_time`, which is UTC)."""
    return _utc_day(moment.astimezone(UTC))


@lru_cache(maxsize=256)
def _utc_day(moment: datetime) -> str:
    # Cached on UTC moments only: equal instants in other zones hash alike but format to other days.
    return moment.strftime("%Y-%m-%d")


def failure_reason(result: Any) -> str:
    """Why an execution failed, in one short line: the error, the market's note, or the command's exit."""
    if not isinstance(result, dict):
        return "no reason given"
    for key in ("error", "note", "stderr"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:200]
    if result.get("exit_code") is not None:
        return f"the command exited with code {result['exit_code']}"
    return "no reason given"


@dataclass
class Mailbox:
    """What an agent has not yet seen: the reasons a heartbeat is worth a model call."""

    tasks: dict[int, str] = field(default_factory=dict)
    messages: list[tuple[int, str]] = field(default_factory=list)
    verdicts: list[tuple[int, str]] = field(default_factory=list)
    revisions: dict[int, str] = field(default_factory=dict)
    outcomes: list[tuple[int, str]] = field(default_factory=list)
    directives: int = 0
    brain: int = 0
    founder_wake: bool = False

    def has_news(self) -> bool:
        return bool(
            self.tasks or self.messages or self.verdicts or self.revisions or self.outcomes
            or self.directives or self.brain or self.founder_wake
        )

    def urgent(self) -> bool:
        """News that should wake the agent now rather than at its next heartbeat."""
        return bool(self.tasks or self.messages or self.revisions or self.founder_wake)

    def take(self, inputs: dict[str, list[int]]) -> tuple[Mailbox, Mailbox]:
        """(what a wake-up recorded as shown, the news it was not shown). A founder's verdict or task is committed
        by another process and polled by the run: in the log it can sit before a wake-up that was woken before
        the run saw it. Folding by what `agent.woke` recorded, not by log order, keeps such news for the
        wake-up that was really shown it."""
        shown = {name: set(ids) for name, ids in inputs.items()}
        taken = Mailbox(directives=self.directives, brain=self.brain, founder_wake=self.founder_wake)
        left = Mailbox()
        for name in ("tasks", "revisions"):
            mine: dict[int, str] = getattr(self, name)
            for i, text in mine.items():
                getattr(taken if i in shown.get(name, ()) else left, name)[i] = text
        for name in ("messages", "verdicts", "outcomes"):
            for i, text in getattr(self, name):
                getattr(taken if i in shown.get(name, ()) else left, name).append((i, text))
        return taken, left

    def merge(self, other: Mailbox) -> None:
        """Add news kept back from a wake-up (`take`) to this box."""
        self.tasks.update(other.tasks)
        self.revisions.update(other.revisions)
        for name in ("messages", "verdicts", "outcomes"):
            getattr(self, name).extend(getattr(other, name))
        self.directives += other.directives
        self.brain += other.brain
        self.founder_wake = self.founder_wake or other.founder_wake

    def inputs(self) -> dict[str, list[int]]:
        """The ids of what a wake-up is shown (recorded on `agent.woke`, so a redo can be checked against it)."""
        ids = {"tasks": sorted(self.tasks), "messages": [i for i, _ in self.messages],
               "verdicts": [i for i, _ in self.verdicts], "revisions": sorted(self.revisions),
               "outcomes": [i for i, _ in self.outcomes]}
        return {name: values for name, values in ids.items() if values}


@dataclass
class OpenWake:
    """A wake-up whose `agent.woke` is in the log and whose result is not: what it took, so a kill loses nothing.

    `agent.woke` empties the mailbox into the prompt. If the run dies before the result is committed, the
    restart's `agent.interrupted` puts this mailbox back, so the wake-up is done again with the same inputs.
    """

    woke_id: int
    reason: str
    at: datetime
    mailbox: Mailbox
    metric_at_wake: float | None


@dataclass
class Redo:
    """An interrupted wake-up still to be done again; news that came meanwhile waits in `held` until it is."""

    woke_id: int
    reason: str
    held: Mailbox = field(default_factory=Mailbox)


@dataclass
class AgentRuntime:
    id: str
    venture: str | None
    next_wake: datetime
    woke_at: datetime | None = None
    in_flight: bool = False
    stuck: bool = False
    paused: bool = False
    budget_stopped_day: str | None = None
    wakes: deque[datetime] = field(default_factory=lambda: deque(maxlen=64))
    capped_until: datetime | None = None
    metric_at_wake: float | None = None
    mailbox: Mailbox = field(default_factory=Mailbox)
    open_wake: OpenWake | None = None
    redo: Redo | None = None
    open_tasks: dict[int, str] = field(default_factory=dict)
    recent_outcomes: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=5))
    recent_verdicts: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=5))

    def inbox(self) -> Mailbox:
        """Where news for the agent goes: its mailbox, or, while an interrupted wake-up waits to be done again,
        the box held for after it (the redo is shown exactly what the interrupted wake-up was shown)."""
        return self.redo.held if self.redo is not None else self.mailbox

    def shown_tasks(self) -> dict[int, str]:
        """Open tasks as a wake-up shows them. A redo shows those open when the interrupted wake-up was woken:
        a task that came meanwhile is news for the wake-up after it, as it would have been without the kill."""
        if self.redo is None:
            return self.open_tasks
        return {i: t for i, t in self.open_tasks.items() if i < self.redo.woke_id}

    def boxes(self) -> list[Mailbox]:
        """Every box news may sit in, for news withdrawn before it was seen (a task done, a revision closed)."""
        return [self.mailbox] if self.redo is None else [self.mailbox, self.redo.held]


@dataclass
class DecisionRuntime:
    id: int
    venture: str
    agent: str
    kind: str
    params: dict[str, Any]
    rationale: str
    expected: dict[str, Any]
    confidence: float
    reversible: bool
    brain_version: int | None
    state: str
    review_round: int = 0
    review_requested: int | None = None  # the `review.requested` of the round in review, until it is answered
    # The round its reviewer approved, until a new round begins: a run killed between committing that approval
    # and routing the decision routes it as reviewer-approved after the restart, as the unbroken run did.
    approved_round: int | None = None
    history: list[str] = field(default_factory=list)
    executed_day: int | None = None
    outcome_done: bool = False
    last_day: int = 0  # the day (of the org's clock) of its latest event: when it was last touched


# Decision states between a proposal's routing and its execution or end.
ON_THEIR_WAY = frozenset({"approved", "in_review", "revising", "escalated"})
LIVE = ON_THEIR_WAY | {"proposed"}  # a decision in any other state has ended: executed, failed, rejected, ...
SOURCE_KINDS = frozenset({"command", "http", "tool"})  # a `metric.recorded` read from a metric source (org.MetricSource)


def amendment_text(proposed: dict[str, Any], amended: dict[str, Any] | None) -> str:
    """What the founder changed, as the author's next prompt shows it: ` with the founder's amendment: price=19
    (you proposed price=10)`. The values themselves, so that the author builds on the amended decision instead
    of proposing its own values again."""
    if not amended:
        return ""
    now = " ".join(f"{k}={v}" for k, v in amended.items())
    before = " ".join(f"{k}={proposed[k]}" for k in amended if k in proposed)
    return f" with the founder's amendment: {now}" + (f" (you proposed {before})" if before else "")


@dataclass
class EscalationRuntime:
    id: int
    kind: str
    venture: str | None
    agent: str | None
    decision_id: int | None
    expires: datetime | None
    detail: dict[str, Any]


def _series() -> defaultdict[str, list[tuple[int, float]]]:
    return defaultdict(list)


def _counter() -> defaultdict[str, int]:
    return defaultdict(int)


class EngineState:
    """Everything the scheduler needs between wake-ups, derived from the events alone."""

    def __init__(self, org: Org, start: datetime) -> None:
        self.org = org
        self.now = start
        self.origin = start
        self.runs_seen = 0
        self.market_version: int | None = None  # from the first run.started; None before any run
        self.studio_seed: int | None = None
        self.last_event_id = 0
        self.org_paused = False
        self.paused_ventures: set[str] = set()
        self.agents: dict[str, AgentRuntime] = {}
        for venture, agent in org.agents():
            self.agents[agent.id] = AgentRuntime(agent.id, venture.id, next_wake=start)
        self.agents[org.platform.id] = AgentRuntime(org.platform.id, None, next_wake=start + org.platform.heartbeat)
        self.decisions: dict[int, DecisionRuntime] = {}
        # (venture, kind) -> its decisions' ids in order: what `acting` looks through, not every decision.
        self.by_kind: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        # Agent -> ids of its decisions now returned for revision: a commit looks here, not at every decision.
        self.revising: defaultdict[str, set[int]] = defaultdict(set)
        self.executed_keys: set[str] = set()
        self.executing: set[int] = set()
        self.escalations: dict[int, EscalationRuntime] = {}
        self.trust: dict[tuple[str, str], float] = {}
        self.streaks: dict[tuple[str, str], int] = defaultdict(int)
        self.proposed_trust: set[tuple[str, str]] = set()
        self.metrics: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(_series)
        # (venture, metric) -> when its source was last read, recorded or refused: when it is next due
        self.source_reads: dict[tuple[str, str], datetime] = {}
        self.market_days: dict[str, int] = defaultdict(int)
        self.market_log: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        self.directives: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.brain_versions: dict[str, int] = {}
        # venture (or "platform") -> the version the founder pinned: the brief reads it here, not from the store
        self.brain_pins: dict[str, int] = {}
        self.spend: dict[tuple[str, str], float] = defaultdict(float)
        self.budget_escalated: set[tuple[str, str]] = set()
        self.extra_allowance: dict[tuple[str, str], float] = defaultdict(float)
        self.counts: dict[str, dict[str, int]] = defaultdict(_counter)
        self.stage: dict[str, str] = {v.id: v.stage for v in org.ventures}
        self.forgotten = 0  # ended decisions no rule reads any more, dropped from this working memory
        self._day_seen = ""  # the date of the last event folded: a new one is when the old is forgotten

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a start-up snapshot (`engine.snapshot`) without the org, which the loader puts back."""
        return {name: value for name, value in self.__dict__.items() if name != "org"}

    # -- derived views ---------------------------------------------------------------------------------
    def day_index(self, moment: datetime | None = None) -> int:
        return int(((moment or self.now) - self.origin) / timedelta(days=1))

    def day_key(self, moment: datetime | None = None) -> str:
        return _day_key(moment or self.now)

    def is_paused(self, agent_id: str) -> bool:
        rt = self.agents[agent_id]
        return self.org_paused or rt.paused or (rt.venture is not None and rt.venture in self.paused_ventures)

    def metric_values(self, venture: str, metric: str, last: int = 7) -> list[float]:
        return [v for _, v in self.metrics[venture][metric][-last:]]

    def latest_metrics(self, venture: str) -> dict[str, float]:
        return {name: series[-1][1] for name, series in self.metrics[venture].items() if series}

    def acting(self, venture: str, kind: str, *, exclude: int | None = None) -> list[DecisionRuntime]:
        """Decisions of `kind` in `venture` that still act on its metric or may soon: executed with their effect
        window still open today, or on their way (approved, in review, revising, with the founder). What
        `max_in_window` counts."""
        today = self.day_index()
        window = self.org.effect_window_days(kind)
        found = []
        for decision_id in self.by_kind.get((venture, kind), ()):
            d = self.decisions[decision_id]
            if decision_id == exclude:
                continue
            if d.state in ON_THEIR_WAY or (d.state == "executed" and d.executed_day is not None
                                             and d.executed_day + window > today):
                found.append(d)
        return found

    def executed_recently(self, venture: str, kinds: Iterable[str]) -> list[DecisionRuntime]:
        """The venture's decisions of these kinds executed within the org's `[escalation] repeat_window` (today
        included), oldest first."""
        since = self.day_index(self.now - self.org.escalation.repeat_window)
        return sorted((d for kind in set(kinds) for i in self.by_kind.get((venture, kind), ())
                       if (d := self.decisions[i]).state == "executed" and d.executed_day is not None
                       and d.executed_day >= since), key=lambda d: d.id)

    def repeats(self, venture: str, kind: str, params: dict[str, Any], *, exclude: int | None = None
                ) -> list[DecisionRuntime]:
        """Decisions identical to (`kind`, `params`) that the venture executed recently: what `on_repeat` judges."""
        return [d for d in self.executed_recently(venture, [kind]) if d.id != exclude and d.params == params]

    def pending_escalations(self) -> list[EscalationRuntime]:
        return sorted(self.escalations.values(), key=lambda e: e.id)

    # -- the fold ----------------------------------------------------------------------------------------
    def observe(self, e: StoredEvent) -> None:
        """Apply one event to the working memory. Unknown kinds are ignored: they change nothing here."""
        self.last_event_id = max(self.last_event_id, e.id)
        if e.sim_time and e.sim_time[:10] != self._day_seen:
            self._day_seen = e.sim_time[:10]
            moment = parse_iso(e.sim_time)
            self._forget_ended(self.day_index(moment))
            self._forget_spend(_day_key(moment - timedelta(days=1)))
        handler = getattr(self, "_on_" + e.kind.replace(".", "_"), None)
        if e.venture:
            self.counts[e.venture][e.kind] += 1
        if handler is not None:
            handler(e)

    def _forget_ended(self, today: int) -> None:
        """Drop the decisions that ended long enough ago that no rule will read them again, so that this working
        memory (and the start-up snapshot of it) holds what the org is doing, not everything it ever did.

        Every rule that looks back reads less far than `memory_days`: attribution as far as
        `brain.attribution.reach_days` says, repeats over the org's repeat window, windows in force over a
        window. The log keeps them all (the projections, the views and `engine.recompute` read it), and a fold
        from the first event forgets the same decisions on the same day, so a start from a snapshot and one
        from the whole log still agree.
        """
        horizon = today - self.memory_days()
        gone = {d.id for d in self.decisions.values()
                if d.state not in LIVE and d.id not in self.executing and d.last_day < horizon}
        if not gone:
            return
        for decision_id in gone:
            d = self.decisions.pop(decision_id)
            self.revising[d.agent].discard(decision_id)
            self.executed_keys.discard(f"decision-{decision_id}")
        for key, ids in self.by_kind.items():
            if any(i in gone for i in ids):
                self.by_kind[key] = [i for i in ids if i not in gone]
        self.forgotten += len(gone)

    def _forget_spend(self, oldest: str) -> None:
        """Drop the spend of days before `oldest` (yesterday): budgets are per day, and only today's is read."""
        stale = [key for key in self.spend if key[0] < oldest]
        for key in stale:
            del self.spend[key]

    def memory_days(self) -> int:
        """How many days an ended decision stays in working memory after its last event."""
        longest = max([self.org.effect_window_days(k.id) for k in self.org.decision_kinds]
                      + [int(self.org.brain.outcome_window / timedelta(days=1))])
        repeats = -(-self.org.escalation.repeat_window // timedelta(days=1))
        return max(reach_days(longest), repeats + 1)

    def _at(self, e: StoredEvent) -> datetime:
        return parse_iso(e.sim_time) if e.sim_time else self.now

    def _on_run_started(self, e: StoredEvent) -> None:
        origin = e.payload.get("origin")
        if origin:
            self.origin = parse_iso(origin)
        if not self.runs_seen:
            # The first run fixes the market: its version (absent before version 2 existed: the legacy market)
            # and the studio seed its latent traits came from, so a resume replays the same world.
            self.market_version = e.payload.get("market_version") or 1
            studio = e.payload.get("studio_seed", e.payload.get("seed"))
            self.studio_seed = studio if isinstance(studio, int) else None
        self.runs_seen += 1

    def _on_clock_advanced(self, e: StoredEvent) -> None:
        self.now = self._at(e)

    def _on_agent_woke(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is None:
            return
        at = self._at(e)
        rt.woke_at = at
        rt.in_flight = True
        rt.wakes.append(at)
        # What this wake-up's prompt showed is kept until its result is committed (see OpenWake). Logs from before
        # `inputs` was always written: everything pending was shown.
        inputs = e.payload.get("inputs")
        shown, left = rt.mailbox.take(inputs) if inputs is not None else (rt.mailbox, Mailbox())
        rt.open_wake = OpenWake(e.id, e.payload.get("reason", ""), at, shown, rt.metric_at_wake)
        rt.mailbox = rt.redo.held if rt.redo is not None else Mailbox()
        rt.mailbox.merge(left)
        rt.redo = None
        rt.metric_at_wake = e.payload.get("metric_value")

    def _on_agent_concluded(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is not None:
            rt.in_flight = False
            rt.open_wake = None
            rt.next_wake = parse_iso(e.payload["next_wake"])

    def _on_agent_idle(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is not None and e.payload.get("next_wake"):
            rt.next_wake = parse_iso(e.payload["next_wake"])

    def _on_agent_interrupted(self, e: StoredEvent) -> None:
        """The run died mid wake-up: put back what it took, so the next wake-up is the same one done again."""
        rt = self.agents.get(e.agent or "")
        if rt is None:
            return
        rt.in_flight = False
        rt.next_wake = self._at(e)
        wake, rt.open_wake = rt.open_wake, None
        if wake is None:
            return
        rt.redo = Redo(wake.woke_id, wake.reason, held=rt.mailbox)
        rt.mailbox = wake.mailbox
        rt.metric_at_wake = wake.metric_at_wake
        if rt.wakes and rt.wakes[-1] == wake.at:
            rt.wakes.pop()  # it never happened: it neither counts toward the wake cap nor ends the first wake-up

    def _on_agent_stuck(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is not None:
            rt.in_flight = False
            rt.open_wake = None
            rt.stuck = True
            if e.payload.get("next_wake"):
                rt.next_wake = parse_iso(e.payload["next_wake"])

    def _on_agent_wake_capped(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is not None:
            rt.capped_until = parse_iso(e.payload["until"])

    def _on_agent_budget_stopped(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.agent or "")
        if rt is not None:
            rt.budget_stopped_day = e.payload["day"]

    def _on_founder_paused(self, e: StoredEvent) -> None:
        self._pause(e, True)

    def _on_founder_resumed(self, e: StoredEvent) -> None:
        self._pause(e, False)

    def _pause(self, e: StoredEvent, flag: bool) -> None:
        scope, target = e.payload.get("scope"), e.payload.get("target")
        if scope == "agent" and target in self.agents:
            rt = self.agents[target]
            rt.paused = flag
            if not flag:  # resuming clears stuck and budget stops: the founder has looked
                rt.stuck = False
                rt.budget_stopped_day = None
                rt.next_wake = min(rt.next_wake, self._at(e))
        elif scope == "venture" and target:
            (self.paused_ventures.add if flag else self.paused_ventures.discard)(target)
        elif scope == "org":
            self.org_paused = flag

    def _on_founder_wake(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.payload.get("target", ""))
        if rt is not None:
            rt.inbox().founder_wake = True
            rt.stuck = False
            rt.next_wake = min(rt.next_wake, self._at(e))

    def _on_task_created(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.payload["to_agent"])
        if rt is not None:
            text = f"from {e.payload.get('from_agent') or 'the founder'}: {e.payload['title']}"
            if e.payload.get("body"):
                text += f" — {e.payload['body']}"
            rt.inbox().tasks[e.id] = text
            rt.open_tasks[e.id] = text

    def _on_task_updated(self, e: StoredEvent) -> None:
        for rt in self.agents.values():
            if e.payload["task_id"] in rt.open_tasks and e.payload["state"] in ("done", "rejected"):
                rt.open_tasks.pop(e.payload["task_id"], None)
                for box in rt.boxes():
                    box.tasks.pop(e.payload["task_id"], None)

    def _on_message_sent(self, e: StoredEvent) -> None:
        rt = self.agents.get(e.payload["to"])
        if rt is not None:
            rt.inbox().messages.append((e.id, f"from {e.agent}: {e.payload['text']}"))

    def _on_directive_added(self, e: StoredEvent) -> None:
        if e.venture:
            self.directives[e.venture].append((e.id, e.payload["text"]))
            for rt in self.agents.values():
                if rt.venture == e.venture:
                    rt.inbox().directives += 1

    def _on_directive_retired(self, e: StoredEvent) -> None:
        for venture, items in self.directives.items():
            self.directives[venture] = [(i, t) for i, t in items if i != e.payload["directive_id"]]

    def _on_brain_version(self, e: StoredEvent) -> None:
        venture = e.venture or "platform"
        self.brain_versions[venture] = e.payload["version"]
        for rt in self.agents.values():
            if rt.venture == venture or venture == "platform":
                rt.inbox().brain += 1

    def _on_brain_pinned(self, e: StoredEvent) -> None:
        self.brain_pins[e.venture or "platform"] = int(e.payload["version"])

    def _on_brain_unpinned(self, e: StoredEvent) -> None:
        self.brain_pins.pop(e.venture or "platform", None)

    def _on_venture_stage(self, e: StoredEvent) -> None:
        if e.venture:
            self.stage[e.venture] = e.payload["stage"]

    def _on_metric_recorded(self, e: StoredEvent) -> None:
        if e.venture:
            day = int(e.payload.get("day", self.day_index(parse_iso(e.payload["at"]))))
            series = self.metrics[e.venture][e.payload["metric"]]
            series[:] = [(d, v) for d, v in series if d != day]
            series.append((day, float(e.payload["value"])))
            series.sort()
            del series[:-120]
            if e.payload.get("source") in SOURCE_KINDS:
                self.source_reads[(e.venture, e.payload["metric"])] = self._at(e)

    def _on_metric_refused(self, e: StoredEvent) -> None:
        if e.venture:
            self.source_reads[(e.venture, e.payload["metric"])] = self._at(e)

    def _on_market_stepped(self, e: StoredEvent) -> None:
        if e.venture:
            self.market_days[e.venture] = e.payload["day"]
            self.market_log[e.venture].append(("step", e.payload["day"]))

    def _on_call_recorded(self, e: StoredEvent) -> None:
        day = (e.sim_time or e.ts)[:10]
        cost = float(e.payload.get("cost", 0.0))
        self.spend[(day, "org")] += cost
        if e.venture:
            self.spend[(day, f"venture:{e.venture}")] += cost
        if e.agent:
            self.spend[(day, f"agent:{e.agent}")] += cost

    def _on_decision_proposed(self, e: StoredEvent) -> None:
        p = e.payload
        self.decisions[e.id] = DecisionRuntime(
            id=e.id, venture=e.venture or "", agent=e.agent or "", kind=p["kind"], params=_in_order(p.get("params", {})),
            rationale=p.get("rationale", ""), expected=dict(p.get("expected", {})),
            confidence=float(p.get("confidence", 0.0)), reversible=bool(p.get("reversible", True)),
            brain_version=p.get("brain_version"), state=p.get("state", "proposed"),
            review_round=int(p.get("review_round", 0)), last_day=self.day_index(self._at(e)),
        )
        self._track_revising(self.decisions[e.id])
        self.by_kind[(e.venture or "", p["kind"])].append(e.id)

    def _track_revising(self, d: DecisionRuntime) -> None:
        if d.state == "revising":
            self.revising[d.agent].add(d.id)
        else:
            self.revising[d.agent].discard(d.id)

    def _on_decision_updated(self, e: StoredEvent) -> None:
        d = self.decisions.get(e.payload["decision_id"])
        if d is None:
            return
        d.state = e.payload["state"]
        d.last_day = max(d.last_day, self.day_index(self._at(e)))
        self._track_revising(d)
        if "review_round" in e.payload:
            d.review_round = e.payload["review_round"]
        if "params" in e.payload:
            d.params = _in_order(e.payload["params"])
        if d.state != "in_review":
            d.review_requested = None
        if d.state in ("in_review", "revising"):
            d.approved_round = None
        for key in ("rationale", "confidence"):
            if key in e.payload:
                setattr(d, key, e.payload[key])
        if e.payload.get("note"):
            d.history.append(e.payload["note"])
        rt = self.agents.get(d.agent)
        if d.state == "revising" and rt is not None:
            rt.inbox().revisions[d.id] = e.payload.get("note", "")
        elif rt is not None:
            for box in rt.boxes():
                box.revisions.pop(d.id, None)

    def _on_review_requested(self, e: StoredEvent) -> None:
        d = self.decisions.get(e.payload.get("decision_id") or -1)
        if d is not None:
            d.review_requested = e.id

    def _on_review_answered(self, e: StoredEvent) -> None:
        d = self.decisions.get(e.payload.get("decision_id") or -1)
        if d is not None:
            d.review_requested = None
            if e.payload.get("verdict") == "approve":
                d.approved_round = e.payload.get("round", d.review_round)

    def _on_decision_executing(self, e: StoredEvent) -> None:
        self.executing.add(e.payload["decision_id"])

    def _on_decision_executed(self, e: StoredEvent) -> None:
        self.executed_keys.add(e.payload["idempotency_key"])
        self.executing.discard(e.payload["decision_id"])
        d = self.decisions.get(e.payload["decision_id"])
        if d is not None:
            d.state = "executed" if e.payload.get("ok", True) else "failed"
            self._track_revising(d)
            d.executed_day = e.payload.get("day", self.day_index(self._at(e)))
            d.last_day = max(d.last_day, self.day_index(self._at(e)))
            rt = self.agents.get(d.agent)
            if not e.payload.get("ok", True) and rt is not None:
                # Its author learns that it was not carried out, and why, like an outcome of its own.
                item = (d.id, f"{d.kind}: could not be carried out: {failure_reason(e.payload.get('result'))}")
                rt.inbox().outcomes.append(item)
                rt.recent_outcomes.append(item)
        market = e.payload.get("market")
        if market and e.venture:
            self.market_log[e.venture].append(("apply", market))

    def _on_decision_outcome(self, e: StoredEvent) -> None:
        d = self.decisions.get(e.payload["decision_id"])
        if d is None:
            return
        d.outcome_done = True
        rt = self.agents.get(d.agent)
        if rt is not None:
            item = (d.id, e.payload["summary"])
            rt.inbox().outcomes.append(item)
            rt.recent_outcomes.append(item)

    def _on_escalation_opened(self, e: StoredEvent) -> None:
        p = e.payload
        self.escalations[e.id] = EscalationRuntime(
            id=e.id, kind=p["kind"], venture=e.venture, agent=e.agent, decision_id=p.get("decision_id"),
            expires=parse_iso(p["expires"]) if p.get("expires") else None, detail=p.get("detail", {}),
        )
        if p["kind"] == "trust_proposal":
            self.proposed_trust.add((p["detail"]["agent"], p["detail"]["kind"]))
        if p["kind"] == "budget_exhausted":
            self.budget_escalated.add((p["detail"]["day"], e.agent or ""))
        d = self.decisions.get(p.get("decision_id") or -1)
        if d is not None:
            d.state = "escalated"
            self._track_revising(d)

    def _on_escalation_snoozed(self, e: StoredEvent) -> None:
        esc = self.escalations.get(e.payload["escalation_id"])
        if esc is not None:
            esc.expires = parse_iso(e.payload["expires"]) if e.payload.get("expires") else None

    def _on_escalation_resolved(self, e: StoredEvent) -> None:
        esc = self.escalations.pop(e.payload["escalation_id"], None)
        if esc is None:
            return
        verdict, note = e.payload["verdict"], e.payload.get("note") or ""
        rt = self.agents.get(esc.agent or "")
        d = self.decisions.get(esc.decision_id or -1)
        if rt is not None and esc.kind == "decision" and d is not None:
            text = with_note(f"{d.kind} {verdict}{amendment_text(d.params, e.payload.get('amended'))}",
                             f"\"{note}\"" if note else "")
            rt.inbox().verdicts.append((esc.id, text))
            rt.recent_verdicts.append((esc.id, text))
            key = (d.agent, d.kind)
            if verdict == "approved" and not e.payload.get("amended"):
                self.streaks[key] += 1
            else:
                self.streaks[key] = 0
        if esc.kind == "agent_stuck" and verdict == "approved" and rt is not None:
            rt.stuck = False
            rt.next_wake = min(rt.next_wake, self._at(e))
        if esc.kind == "budget_exhausted" and verdict == "approved" and rt is not None:
            day = esc.detail.get("day", "")
            self.extra_allowance[(day, rt.id)] += float(esc.detail.get("allowance", 0.0))
            rt.budget_stopped_day = None
        if esc.kind == "trust_proposal":
            self.proposed_trust.discard((esc.detail["agent"], esc.detail["kind"]))

    def _on_trust_changed(self, e: StoredEvent) -> None:
        key = (e.payload["agent"], e.payload["kind"])
        if e.payload["state"] == "granted":
            self.trust[key] = float(e.payload.get("spend_limit", 0.0))
        else:
            self.trust.pop(key, None)
            self.streaks[key] = 0
