"""The main screen: the status line, five panes behind number keys, the key hints; and the founder's
requests from the panes (approve, reject, amend, pause, wake, directive, brain actions) carried out in workers.

Data goes down (`apply(update)` sets each pane's rows); requests come up as messages from the panes and
answers from modal screens. Every command runs off the UI thread and its outcome is one notification.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from conductor.errors import ConductorError
from conductor.services.queries import AgentRow, EscalationDetail, InboxItem
from conductor.text import printable
from conductor.tui import brain_actions
from conductor.tui.data import Update
from conductor.tui.format import parse
from conductor.tui.messages import (
    Amend,
    Approve,
    ApproveGroup,
    BrainAction,
    Directive,
    OpenEscalation,
    PauseToggle,
    Reject,
    Respond,
    Snooze,
    Wake,
)
from conductor.tui.panes import PANES
from conductor.tui.screens.amend import AmendScreen
from conductor.tui.screens.confirm import ConfirmScreen
from conductor.tui.screens.event_detail import EventDetailScreen
from conductor.tui.screens.inbox_detail import InboxDetailScreen
from conductor.tui.screens.prompt import TextPrompt
from conductor.tui.widgets.activity import ActivityPane
from conductor.tui.widgets.activity_log import ActivityLog
from conductor.tui.widgets.brain import BrainPane
from conductor.tui.widgets.inbox import InboxPane
from conductor.tui.widgets.key_hints import KeyHints
from conductor.tui.widgets.metrics import MetricsPane
from conductor.tui.widgets.org_chart import OrgPane
from conductor.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp

PREBUILD_DELAY = 0.2  # seconds between building two hidden panes after the first frame


class ControlRoom(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i), f"show_pane('{pane}')", title, show=False, id=f"pane.{pane}")
          for i, (pane, title) in enumerate(PANES, 1)),
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, id="pane.next"),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", show=False, id="pane.previous"),
    ]

    app: ConductorApp

    def __init__(self) -> None:
        super().__init__(id="control-room")
        self.now: datetime | None = None
        self.inbox_items: list[InboxItem] = []
        self.agents: list[AgentRow] = []
        self.latest: dict[str, Any] = {}  # the newest data for each pane, kept for panes not built yet
        self._ready: set[str] = {"activity"}  # panes whose whole subtree is mounted: only these get data
        self._building = asyncio.Lock()
        self._continuations: dict[Worker, Callable[[Any], None]] = {}

    # -- layout -------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """The status line, the Activity pane and the key hints; the other panes are built when first shown,
        so the first frame only lays out what it shows."""
        app = self.app
        yield StatusBar(app.org.name, app.origin, id="status-bar")
        with TabbedContent(initial="activity", id="panes"):
            for i, (pane, title) in enumerate(PANES, 1):
                with TabPane(f"{i} {title}", id=pane):
                    if pane == "activity":
                        yield self._build("activity")
        yield KeyHints(id="key-hints")

    def _build(self, pane: str) -> Widget:
        app = self.app
        org, origin, names = app.org, app.origin, app.venture_names
        if pane == "activity":
            return ActivityPane([v.id for v in org.ventures], origin, id="activity-pane")
        if pane == "inbox":
            return InboxPane(origin, names, id="inbox-pane")
        if pane == "brain":
            return BrainPane(origin, names, id="brain-pane")
        if pane == "metrics":
            return MetricsPane(org, id="metrics-pane")
        return OrgPane(org, origin, id="org-pane")

    def on_mount(self) -> None:
        if self.app.runner is not None:
            self.query_one(StatusBar).engine = "starting"
        self.apply(self.app.first)
        self.query_one(ActivityPane).focus_primary()
        self.set_timer(PREBUILD_DELAY, self._prebuild)

    async def _prebuild(self) -> None:
        """Build the hidden panes one at a time once the first frame is up, so a first visit is instant too."""
        pending = [pane for pane, _ in PANES if pane not in self._ready]
        if not pending or not self.is_attached or not self.app.is_running:
            return
        try:
            await self.ensure_pane(pending[0])
        except NoMatches:  # the app closed halfway through building it: nothing left to prepare for
            return
        if self.is_attached:
            self.set_timer(PREBUILD_DELAY, self._prebuild)

    @property
    def pane_id(self) -> str:
        return self.query_one(TabbedContent).active or "activity"

    def pane(self, pane_id: str | None = None) -> Any:
        return self.query_one(f"#{pane_id or self.pane_id}-pane")

    def built(self, pane: str) -> Any | None:
        """The pane's widget once it and everything in it is mounted (a pane being built is not yet)."""
        return self.query_one(f"#{pane}-pane") if pane in self._ready else None

    async def ensure_pane(self, pane: str) -> Any:
        """The pane's widget, built and filled with the newest data the first time it is asked for."""
        async with self._building:  # the background pre-build and a keypress may ask for the same pane
            if pane not in self._ready:
                widget = self._build(pane)
                await self.query_one(f"TabPane#{pane}", TabPane).mount(widget)  # returns once all is mounted
                if not widget.is_attached:  # the app closed while it was being built
                    return widget
                self._ready.add(pane)
                self._fill(pane)
        return self.query_one(f"#{pane}-pane")

    async def action_show_pane(self, pane: str) -> None:
        widget = await self.ensure_pane(pane)
        self.query_one(TabbedContent).active = pane
        widget.focus_primary()

    async def action_cycle_pane(self, step: int) -> None:
        ids = [p for p, _ in PANES]
        await self.action_show_pane(ids[(ids.index(self.pane_id) + step) % len(ids)])

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = await self.ensure_pane(event.pane.id or "activity")
        if self.focused is None or pane not in self.focused.ancestors_with_self:
            self.call_after_refresh(pane.focus_primary)  # a tab clicked with the mouse

    # -- data down ----------------------------------------------------------------------------------------
    def clock_now(self) -> datetime | None:
        if self.app.origin is None:  # a real clock: now is the wall clock (injected in tests)
            return self.app.clock()
        return self.now

    def apply(self, update: Update) -> None:
        """Keep the newest of everything, and hand each built pane what changed for it."""
        with self.app.batch_update():
            if update.status is not None:
                self.now = parse(update.status.clock) or self.now
                self.query_one(StatusBar).status = update.status
            if update.events:
                self.query_one(ActivityPane).append(update.events)
            if update.inbox is not None:
                self.inbox_items = update.inbox
                count = len(update.inbox)
                self.query_one(StatusBar).inbox_count = count
                label = Text("2 Inbox")
                if count:
                    label.append(f" ({count})", "bold")
                self.query_one(TabbedContent).get_tab("inbox").label = label
            if update.inbox is not None or (update.status is not None and self.inbox_items):
                self._fill("inbox")
                for screen in self.app.screen_stack:
                    if isinstance(screen, InboxDetailScreen):
                        screen.follow([i.id for i in self.inbox_items], self.clock_now())
            if update.agents is not None:
                self.agents = update.agents
                self._fill("org")
            if update.directives is not None:
                self.latest["directives"] = update.directives
                self._fill("org")
            if update.metrics is not None:
                self.latest["metrics"] = update.metrics
                self._fill("metrics")
            if update.brain is not None:
                self.latest["brain"] = update.brain
                self._fill("brain")

    def _fill(self, pane: str) -> None:
        widget = self.built(pane)
        if widget is None:
            return
        if pane == "inbox":
            widget.set_items(self.inbox_items, self.clock_now())
        elif pane == "org":
            status = self.query_one(StatusBar).status
            paused = {v.id: v.paused for v in status.ventures} if status else {}
            stages = {v.id: v.stage for v in status.ventures} if status else {}
            if self.agents:
                widget.set_agents(self.agents, paused, bool(status and status.paused), stages)
            if "directives" in self.latest:
                widget.set_directives(self.latest["directives"])
        elif pane in self.latest:
            if pane == "metrics":
                widget.set_view(self.latest["metrics"])
            elif pane == "brain":
                widget.set_versions(self.latest["brain"])

    # -- the founder's requests ---------------------------------------------------------------------------
    def founder(self, label: str | None, call: Callable[[], object], parts: set[str] | None = None) -> None:
        """Run a founder command in a worker, then re-read what it changed and say what happened (`label`, or
        the text the command returns when there is no label)."""
        reader = self.app.reader
        wanted = parts or {"inbox", "status", "agents"}

        def job() -> tuple[str, Update]:
            result = call()
            return label or str(result), reader.refresh(wanted)

        self.run_worker(job, thread=True, group="founder", name="founder", exit_on_error=False)

    def load_then(self, load: Callable[[], object], then: Callable[[Any], None]) -> None:
        """Read something in a worker, then continue with it on the UI thread."""
        worker = self.run_worker(load, thread=True, group="load", name="load", exit_on_error=False)
        self._continuations[worker] = then

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.name not in ("founder", "load"):
            return
        if event.state == WorkerState.SUCCESS:
            if worker.name == "founder":
                # The "founder" worker runs founder()'s job(), and a worker in SUCCESS holds what it returned.
                label, update = cast("tuple[str, Update]", worker.result)
                self.apply(update)
                self.notify(label, timeout=3)
            elif (then := self._continuations.pop(worker, None)) is not None:
                then(worker.result)
        elif event.state == WorkerState.ERROR:
            self._continuations.pop(worker, None)
            error = worker.error
            text = str(error) if isinstance(error, ConductorError) else f"{type(error).__name__}: {error}"
            self.notify(text, title="not done", severity="error", timeout=6)
        elif event.state == WorkerState.CANCELLED:
            self._continuations.pop(worker, None)

    @on(Approve)
    def _approve(self, message: Approve) -> None:
        message.stop()
        desk = self.app.desk
        what = "approved with changes" if message.amended else "approved"
        self.founder(f"#{message.escalation_id} {what}: the scheduler carries it out",
                     lambda: desk.approve(message.escalation_id, message.amended))

    @on(ApproveGroup)
    def _approve_group(self, message: ApproveGroup) -> None:
        """List the group, then approve each one the founder has seen; one already decided or expired meanwhile
        is skipped and said, the others still go through."""
        message.stop()
        items = {i.id: i for i in self.inbox_items}
        ids = [i for i in message.escalation_ids if i in items]
        lines = [f"#{i}  {printable(items[i].reason, one_line=True, limit=90)}" for i in ids[:12]]
        if len(ids) > 12:
            lines.append(f"… and {len(ids) - 12} more")
        desk = self.app.desk

        def approve_all() -> str:
            done, skipped = [], []
            for escalation_id in ids:
                try:
                    desk.approve(escalation_id)
                    done.append(f"#{escalation_id}")
                except ConductorError as exc:
                    skipped.append(f"#{escalation_id} ({exc})")
            said = f"approved {len(done)}: {', '.join(done)}" if done else "approved none"
            return said + (f"; not approved: {'; '.join(skipped)}" if skipped else "")

        def answer(yes: bool | None) -> None:
            if yes:
                self.founder(None, approve_all)

        title = f"Approve {len(ids)} escalation{'s' if len(ids) != 1 else ''}: {message.what}?"
        self.app.push_screen(ConfirmScreen(title, "\n".join(lines), yes="Approve all", no="Back"), answer)

    @on(Snooze)
    def _snooze(self, message: Snooze) -> None:
        message.stop()
        desk, escalation_id = self.app.desk, message.escalation_id
        self.founder(f"#{escalation_id} snoozed for a day: back in the inbox then, its expiry a day later",
                     lambda: desk.snooze(escalation_id, timedelta(days=1)))

    @on(Respond)
    def _respond(self, message: Respond) -> None:
        message.stop()
        escalation_id = message.escalation_id
        item = next((i for i in self.inbox_items if i.id == escalation_id), None)
        who = item.agent if item is not None and item.agent else "the agent"

        def send(text: str | None) -> None:
            if text:
                desk = self.app.desk
                self.founder(f"#{escalation_id} stays open; {who} wakes to read your reply",
                             lambda: desk.respond(escalation_id, text))

        self.app.push_screen(TextPrompt(f"Reply about #{escalation_id}", f"{who} reads this at the wake-up it "
                                        "causes; the escalation stays in your inbox.",
                                        placeholder="a question or an answer for the agent"), send)

    @on(Reject)
    def _reject(self, message: Reject) -> None:
        message.stop()
        self._ask_reject(message.escalation_id)

    def _ask_reject(self, escalation_id: int) -> None:
        item = next((i for i in self.inbox_items if i.id == escalation_id), None)
        who = item.agent if item is not None and item.agent else "the agent"

        def send(note: str | None) -> None:
            if note is not None:
                desk = self.app.desk
                self.founder(f"#{escalation_id} rejected: {who} reads your note at its next wake-up",
                             lambda: desk.reject(escalation_id, note))

        self.app.push_screen(TextPrompt(f"Reject #{escalation_id}", f"Why? {who} reads this note at its next wake-up.",
                                        placeholder="the note for the agent"), send)

    @on(Amend)
    def _amend(self, message: Amend) -> None:
        message.stop()
        self._ask_amend(message.escalation_id)

    def _ask_amend(self, escalation_id: int) -> None:
        reader = self.app.reader

        def show(detail: EscalationDetail) -> None:
            if detail.kind != "decision":
                self.notify(f"#{escalation_id} is not a decision: nothing to amend", severity="warning")
                return
            try:
                screen = AmendScreen(self.app.org, detail)
            except ConductorError as exc:
                self.notify(str(exc), severity="error")
                return

            def approve(amended: dict[str, Any] | None) -> None:
                if amended:
                    self.post_message(Approve(escalation_id, amended))

            self.app.push_screen(screen, approve)

        self.load_then(lambda: reader.escalation(escalation_id), show)

    @on(OpenEscalation)
    def _open_escalation(self, message: OpenEscalation) -> None:
        message.stop()
        ids = [i.id for i in self.inbox_items]

        def chosen(answer: tuple[str, int] | None) -> None:
            if answer is None:
                return
            what, escalation_id = answer
            if what == "approve":
                self.post_message(Approve(escalation_id))
            elif what == "reject":
                self._ask_reject(escalation_id)
            elif what == "respond":
                self.post_message(Respond(escalation_id))
            else:
                self._ask_amend(escalation_id)

        self.app.push_screen(InboxDetailScreen(ids, message.escalation_id, now=self.clock_now(),
                                               origin=self.app.origin, venture_names=self.app.venture_names), chosen)

    @on(ActivityLog.Opened)
    def _open_event(self, message: ActivityLog.Opened) -> None:
        message.stop()
        self.app.push_screen(EventDetailScreen(message.event, self.app.origin))

    @on(PauseToggle)
    def _pause(self, message: PauseToggle) -> None:
        message.stop()
        desk = self.app.desk
        target = message.target or "the whole org"
        verb = "paused" if message.paused else "resumed"
        self.founder(f"{verb} {target}", lambda: desk.pause(message.target, message.paused))

    @on(Wake)
    def _wake(self, message: Wake) -> None:
        message.stop()
        desk = self.app.desk
        self.founder(f"{message.agent} wakes at the scheduler's next wave", lambda: desk.wake(message.agent))

    @on(Directive)
    def _directive(self, message: Directive) -> None:
        message.stop()
        venture = message.venture
        if venture is None and len(self.app.org.ventures) == 1:
            venture = self.app.org.ventures[0].id
        if venture is None:
            self.notify("move to a venture or one of its agents in the Org pane, then press d", severity="warning")
            return
        name = self.app.venture_names.get(venture, venture)

        def send(text: str | None) -> None:
            if text:
                desk = self.app.desk
                self.founder(f"directive for {name} recorded: its agents read it at their next wake-up",
                             lambda: desk.directive(venture, text), {"directives", "status"})

        self.app.push_screen(TextPrompt(f"Directive for {name}",
                                        f"Every agent of {name} reads this in its next prompt, until retired.",
                                        placeholder="e.g. no paid ads until churn is under 5%"), send)

    @on(BrainAction)
    def _brain(self, message: BrainAction) -> None:
        message.stop()
        # The brain's screens (and their TextArea) load on first use, not before the first frame.
        from conductor.tui.screens.brain_screens import BrainDiffScreen, BrainVersionScreen

        names = self.app.venture_names
        if message.action == "open" and message.version is not None:
            self.app.push_screen(BrainVersionScreen(message.venture, message.version, names))
        elif message.action == "compare" and message.version is not None and message.other is not None:
            self.app.push_screen(BrainDiffScreen((message.venture, message.version), message.other, names))
        elif message.action == "write":
            self._write_brain(message.venture)
        elif message.action in ("pin", "unpin", "revert") and message.version is not None:
            desk, venture, version = self.app.desk, message.venture, message.version
            label = {"pin": f"{venture} pinned to v{version}: briefs use it until unpinned",
                     "unpin": f"{venture} unpinned: briefs use its newest version",
                     "revert": f"{venture} reverted to v{version} as a new founder version"}[message.action]
            self.founder(label, lambda: brain_actions.run(desk, message.action, venture, version), {"brain"})

    def _write_brain(self, venture: str) -> None:
        """The founder's version of `venture`'s brain, edited from its newest version (see `editable_text`)."""
        reader, names = self.app.reader, self.app.venture_names
        if not venture:
            ids = [*(v.id for v in self.app.org.ventures), "platform"]

            def chosen(answer: str | None) -> None:
                if answer:
                    if answer.strip() not in ids:
                        self.notify(f"'{answer}': no such brain (known: {', '.join(ids)})", severity="error")
                        return
                    self._write_brain(answer.strip())

            self.app.push_screen(TextPrompt("A founder brain version", f"For which brain? ({', '.join(ids)})",
                                            placeholder=ids[0]), chosen)
            return

        def edit(text: str) -> None:
            def save(edited: str | None) -> None:
                if edited is not None:
                    desk = self.app.desk
                    self.founder(None, lambda: brain_actions.write(desk, venture, edited), {"brain"})

            from conductor.tui.screens.brain_screens import FounderVersionScreen

            self.app.push_screen(FounderVersionScreen(venture, text, names), save)

        self.load_then(lambda: brain_actions.editable_text(reader, venture, names), edit)
