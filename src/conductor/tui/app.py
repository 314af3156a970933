"""The control room app and `make_app`, the one factory the CLI, the tests, the screenshots and the benchmark use.

The app owns the plumbing: the store reader and its poll (a thread worker chained with `set_timer`, so polls
never overlap), the founder's desk, the in-process scheduler (started after the first frame, with litellm's
import in its thread), themes, help, the command palette and quitting. What is on screen lives in
`screens.control_room`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from conductor.errors import BadInput
from conductor.org import Org, load_org
from conductor.redaction import redact
from conductor.store import open_reader
from conductor.store.events import utc_now
from conductor.text import waiting_for_verdict
from conductor.tui.commands import control_room_commands
from conductor.tui.data import StoreReader, Update
from conductor.tui.desk import FounderDesk
from conductor.tui.format import parse, until
from conductor.tui.messages import PauseToggle
from conductor.tui.runner import EngineRunner
from conductor.tui.screens.confirm import ConfirmScreen
from conductor.tui.screens.control_room import ControlRoom
from conductor.tui.screens.help import HelpRows, HelpScreen, help_rows
from conductor.tui.widgets.status_bar import StatusBar

THEMES = ("textual-dark", "textual-light", "ansi-dark", "ansi-light")
THEME_PAIRS = {"textual-dark": "textual-light", "textual-light": "textual-dark", "ansi-dark": "ansi-light",
               "ansi-light": "ansi-dark"}
POLL_INTERVAL = 0.1  # seconds: events reach the screen in batches at 10 Hz
RETRY_INTERVAL = 1.0
# How close to its expiry an escalation warns the founder, by clock: a quarter hour of wall time, or six
# simulated hours (a minute at the default pace) when watching a paced run from another process.
LAPSE_WARNING = {"real": timedelta(minutes=15), "sim": timedelta(hours=6)}
MIN_PACE, MAX_PACE = 1.0, 300.0  # real seconds per simulated day that `+` and `-` move between


class EngineExited(Message):
    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


# The result is None, except under tui.screenshots, whose auto-pilot exits with the exported SVG text.
class ConductorApp(App[str | None]):
    CSS_PATH = "conductor.tcss"
    TITLE = "conductor"
    # Textual declares this `ClassVar[...] | None`, which mypy reads as an instance variable (a gap in its types).
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide"), (150, "-xwide")]  # type: ignore[misc]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("t", "toggle_theme", "Light/dark", show=False, id="app.theme"),
        Binding("P", "pause_org", "Pause/resume all", show=False, id="app.pause_org"),
        Binding("plus,equals_sign", "pace(0.5)", "Faster clock", show=False, id="app.faster"),
        Binding("minus", "pace(2)", "Slower clock", show=False, id="app.slower"),
    ]

    def __init__(self, *, org: Org, reader: StoreReader, desk: FounderDesk, first: Update,
                 runner: EngineRunner | None = None, clock: Callable[[], datetime] = utc_now,
                 poll_interval: float = POLL_INTERVAL, theme: str = "textual-dark") -> None:
        super().__init__()
        self.animation_level = "none"  # a control room, not a show: every frame goes to what changed
        self.org = org
        self.reader = reader
        self.desk = desk
        self.first = first
        self.runner = runner
        # Attached from another process holding the founder's seat (`store.lock.FounderSeat`): that process's
        # scheduler then holds its simulated clock for this room's verdicts, as one in this process would.
        self.founder_seat = False
        self.clock = clock
        self.poll_interval = poll_interval
        self.event_cursor = first.cursor
        self.origin: datetime | None = org.start if org.clock == "sim" else None
        self.venture_names = {v.id: v.name for v in org.ventures} | {"platform": "Platform"}
        self._initial_theme = theme if theme in THEMES else "textual-dark"
        self._polling = True
        self.engine_error: str | None = None
        self.lapse_warned: set[int] = set()
        self.urgent_seen: set[int] = {i.id for i in first.inbox or [] if i.urgency >= org.notify.min_urgency}

    # -- start-up -----------------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return ControlRoom()

    @property
    def room(self) -> ControlRoom:
        # get_default_screen's ControlRoom is the bottom of the stack for the app's whole life.
        return cast(ControlRoom, self.screen_stack[0])

    def on_mount(self) -> None:
        self.theme = self._initial_theme
        if self.origin is None:
            self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """The org is on screen: now start the scheduler (litellm loads in its thread) and the poll."""
        if self.runner is not None:
            self.runner.on_exit = lambda error: self.post_message(EngineExited(error))
            self.runner.start()
        self.set_timer(self.poll_interval, self._poll)

    def _tick(self) -> None:
        self.room.query_one(StatusBar).wall = self.clock()

    # -- the poll ------------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="poll", exit_on_error=False, name="poll")
    def _poll(self) -> Update:
        return self.reader.poll(self.event_cursor)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "poll" or not self._polling:
            return
        if event.state == WorkerState.SUCCESS:
            # The "poll" worker runs _poll, and a worker in SUCCESS holds what it returned.
            update = cast(Update, event.worker.result)
            self.event_cursor = max(self.event_cursor, update.cursor)
            self.room.apply(update)
            self._ring_for_urgent(update)
            self._warn_before_lapse()
            if self.runner is not None and self.runner.engine is not None:
                bar = self.room.query_one(StatusBar)
                if bar.engine == "starting" and update.status is not None and update.status.run.running:
                    bar.engine = ""
                bar.holding = self.runner.engine.holding
                bar.pace = self.runner.engine.opts.pace if self.org.clock == "sim" else None
            elif self.clock_waits_here():
                self.room.query_one(StatusBar).holding = self.held_remotely()
            self.set_timer(self.poll_interval, self._poll)
        elif event.state == WorkerState.ERROR:
            self.notify(f"reading the database failed: {event.worker.error}; retrying", severity="error", timeout=4)
            self.set_timer(RETRY_INTERVAL, self._poll)

    def _ring_for_urgent(self, update: Update) -> None:
        """The terminal bell when an urgent escalation arrives (urgency 2 or more, as `[notify] min_urgency`'s
        default): the founder may be looking at another window. Those open at start ring nothing."""
        if update.inbox is None:
            return
        urgent = {i.id: i for i in update.inbox if i.urgency >= self.org.notify.min_urgency}
        new = [urgent[i] for i in sorted(set(urgent) - self.urgent_seen)]
        if new:
            self.bell()
            if self.org.notify.desktop:
                what = ", ".join(f"#{i.id} {i.decision_kind or i.kind} ({i.agent or 'org'})" for i in new[:3])
                self._desktop(f"{len(new)} urgent escalation{'s' if len(new) != 1 else ''}: {what}")
        self.urgent_seen |= set(urgent)

    @work(thread=True, group="desktop", exit_on_error=False)
    def _desktop(self, text: str) -> None:
        """A desktop notification where the desktop offers one (notify-send and a display); else nothing: the
        bell has rung. Run in a thread with a timeout, so a stuck notification daemon never freezes the room."""
        command = self.desktop_command()
        if command:
            subprocess.run([*command, "conductor", redact(text)], timeout=5, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def desktop_command() -> list[str] | None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return None
        found = shutil.which("notify-send")
        return [found] if found else None

    def _warn_before_lapse(self) -> None:
        """A warning (and the bell) once per escalation when it comes within `LAPSE_WARNING` of its expiry:
        on the real clock, or attached to a run in another process, nothing holds the clock for the founder.
        A scheduler in this room on the simulated clock waits instead (`EngineOptions.founder_present`)."""
        if self.clock_waits_here():
            return
        now = self.room.clock_now()
        if now is None:
            return
        window = LAPSE_WARNING[self.org.clock]
        for item in self.room.inbox_items:
            expires = parse(item.expires)
            if expires is None or item.id in self.lapse_warned or not now < expires <= now + window:
                continue
            self.lapse_warned.add(item.id)
            self.bell()
            self.notify(f"#{item.id} ({item.decision_kind or item.kind}) expires {until(item.expires, now)}: "
                        "decide it, or snooze it with z", severity="warning", timeout=8)

    def clock_waits_here(self) -> bool:
        """Whether the run's simulated clock waits for this room's verdicts: its scheduler runs here, or in
        another process that sees this room in the founder's seat."""
        return self.org.clock == "sim" and (self.runner is not None or self.founder_seat)

    def held_remotely(self) -> str:
        """What the scheduler in another process is holding for, read from the log as `Engine.held_for_founder`
        words it: a decision escalation at its expiry, still pending, while that run is running."""
        status = self.room.query_one(StatusBar).status
        now = self.room.clock_now()
        if status is None or not status.run.running or now is None:
            return ""
        due = [i.id for i in self.room.inbox_items
               if i.kind == "decision" and (expires := parse(i.expires)) is not None and expires <= now]
        return waiting_for_verdict(min(due)) if due else ""

    def on_engine_exited(self, message: EngineExited) -> None:
        bar = self.room.query_one(StatusBar)
        if message.error:
            self.engine_error = message.error
            bar.engine = "failed"
            self.notify(f"the scheduler stopped: {message.error}", severity="error", timeout=10)
        else:
            bar.engine = ""

    # -- keys everywhere -----------------------------------------------------------------------------------
    def working_agents(self) -> list[str]:
        return sorted(row.id for row in self.room.agents if row.state == "working")

    async def action_quit(self) -> None:
        """Quit at once when nothing is at stake; ask first while agents are working."""
        working = self.working_agents()
        engine_here = self.runner is not None and self.runner.running
        if not working and not engine_here:
            self.exit()
            return
        if engine_here:
            body = ("The scheduler runs in this control room: quitting stops it after the wave in flight, which is "
                    "saved. Running again resumes where it stopped.")
        else:
            body = "The run you are attached to keeps going in its own process."
        if working:
            body = f"{len(working)} agent{'s are' if len(working) != 1 else ' is'} working ({', '.join(working[:4])}" \
                   f"{', …' if len(working) > 4 else ''}). " + body

        def answer(quit_: bool | None) -> None:
            if quit_:
                self.exit()

        self.push_screen(ConfirmScreen("Quit the control room?", body, yes="Quit", no="Stay"), answer)

    def action_toggle_theme(self) -> None:
        self.theme = THEME_PAIRS.get(self.theme, "textual-light")

    def action_pause_org(self) -> None:
        status = self.room.query_one(StatusBar).status
        paused = bool(status and status.paused)
        self.room.post_message(PauseToggle(None, not paused))

    def action_pace(self, factor: float) -> None:
        """`+` halves the real seconds a simulated day takes, `-` doubles them (between 1 s and 5 min a day).

        Only a scheduler running in this room can be paced from here: the pace is how it sleeps, not a fact
        of the organisation, so it is not written to the log. Attached to another process, say how to set it.
        """
        engine = self.runner.engine if self.runner is not None else None
        if engine is None or self.org.clock != "sim":
            self.notify("the pace belongs to the process running the org: start it with --pace SECONDS_PER_DAY",
                        timeout=4)
            return
        pace = min(MAX_PACE, max(MIN_PACE, (engine.opts.pace or MIN_PACE) * factor))
        engine.opts.pace = pace
        self.room.query_one(StatusBar).pace = pace
        self.notify(f"pace: {pace:g} s a simulated day", timeout=2)

    def help_rows(self) -> tuple[str, HelpRows]:
        return help_rows(self)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        pane, rows = self.help_rows()
        self.push_screen(HelpScreen(pane, rows))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the control room by name (ctrl+p), then Textual's own."""
        yield from control_room_commands(self)
        yield from super().get_system_commands(screen)

    # -- shutting down -------------------------------------------------------------------------------------
    def on_unmount(self) -> None:
        self._polling = False
        if self.runner is not None:
            self.runner.stop()


def org_from_database(db: Path) -> tuple[Org, Path]:
    """The org file a database was last run with, from its `org.loaded` record."""
    conn = open_reader(db)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'org.path'").fetchone()
    finally:
        conn.close()
    if row is None or not row[0]:
        raise BadInput(f"{db}: no org recorded in this database yet; pass the org file (conductor tui ORG --db {db})")
    path = Path(row[0])
    try:
        return load_org(path), path
    except BadInput as exc:
        raise BadInput(f"{db}: the org file it runs, {path}, cannot be read ({exc}); pass --org FILE") from None


def make_app(
    db: Path | str,
    *,
    org: Org | None = None,
    org_path: Path | str | None = None,
    run: bool = False,
    options: Any = None,
    clock: Callable[[], datetime] = utc_now,
    poll_interval: float = POLL_INTERVAL,
    theme: str = "textual-dark",
) -> ConductorApp:
    """The control room over `db`: attached (run=False) or with the scheduler in this process (run=True).

    `options` are the scheduler's (an EngineOptions, or a dict of its fields, imported only in its thread).

    The first picture of the org is read here, before the app starts, so the first frame shows it at once;
    everything after that is read by the app's poll, off the UI thread.
    """
    path = Path(db)
    if org is None:
        org, found = org_from_database(path)
        org_path = org_path or found
    reader = StoreReader(path, org)
    first = reader.first()
    runner = None
    if run:
        runner = EngineRunner(org, path, options, org_path=org_path or "")
    return ConductorApp(org=org, reader=reader, desk=FounderDesk(path, org), first=first, runner=runner,
                        clock=clock, poll_interval=poll_interval, theme=theme)
