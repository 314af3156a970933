"""The control room's parts on their own: the first frame, the activity stream (filter, follow mode, text a
model wrote shown as plain text), help, the command palette, quitting, the amendment form's parsing, and the
small formatters."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conductor.errors import BadInput
from conductor.org import load_org
from conductor.services.queries import EventRow
from conductor.services.setup import record_org
from conductor.store import NewEvent, commit_events, open_database
from conductor.store.lock import RunLock
from conductor.text import compact_number as number
from conductor.tui.format import bar, clock_label, money, short_time, until
from conductor.tui.screens.amend import changed_params, parse_value
from conductor.tui.widgets.activity_filter import ActivityFilter
from conductor.tui.widgets.status_bar import StatusBar
from tui_support import DUO, FIXED_NOW, control_room_app, settle

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def duo_db(tmp_path: Path) -> Path:
    """The duo org recorded, and a few events as the engine would write them."""
    db = tmp_path / "duo.db"
    conn = open_database(db)
    record_org(conn, load_org(DUO), DUO)
    commit_events(conn, [
        NewEvent("agent.woke", {"reason": "first wake-up of this run"}, venture="duo", agent="duo-lead", sim_time=at(0)),
        NewEvent("agent.concluded", {"summary": "[bold red]boom[/] \x1b[2Jcleared?\x1b]0;pwned\x07 done",
                                     "next_wake": at(6)}, venture="duo", agent="duo-lead", sim_time=at(0)),
        NewEvent("agent.woke", {"reason": "first wake-up of this run"}, venture="duo", agent="duo-ops", sim_time=at(0)),
        NewEvent("metric.recorded", {"metric": "revenue", "value": 10.0, "at": at(0), "day": 0}, venture="duo",
                 sim_time=at(0)),
    ])
    conn.close()
    return db


def add_events(db: Path, count: int, start_hour: float = 1) -> None:
    conn = open_database(db)
    commit_events(conn, [NewEvent("agent.concluded", {"summary": f"step {i}", "next_wake": at(start_hour + 6)},
                                  venture="duo", agent="duo-ops", sim_time=at(start_hour)) for i in range(count)])
    conn.close()


def static_text(widget: Any) -> str:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def row_text(log: Any, index: int) -> str:
    return "".join(segment.text for segment in log._render_row(log._visible[index], 120, False))


async def test_the_first_frame_shows_the_org_from_the_database_before_any_poll(duo_db: Path) -> None:
    app = control_room_app(duo_db, poll_interval=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        room = app.room
        assert {a.id for a in room.agents} == {"duo-lead", "duo-ops", "platform"}
        assert room.query_one("#activity-log").visible_count == 4  # org.loaded and three; the market tick is hidden
        assert room.query_one("#status-bar").status.org == "Duo"
        await pilot.press("5")  # built on first view, from what was read before the first frame
        assert set(room.query_one("#org-tree").rows) == {"duo-lead", "duo-ops", "platform"}


async def test_model_text_is_shown_as_plain_text_without_terminal_escapes(duo_db: Path) -> None:
    app = control_room_app(duo_db)
    async with app.run_test(size=(120, 30)):
        log = app.room.query_one("#activity-log")
        text = row_text(log, 2)
        assert "[bold red]boom[/]" in text, "markup in a summary is shown literally"
        assert "\x1b" not in text and "pwned" not in text and "cleared?" in text


async def test_filter_by_agent_kind_and_words(duo_db: Path) -> None:
    app = control_room_app(duo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.room.query_one("#activity-log")
        await pilot.press("slash", *"a:duo-ops", "enter")
        assert [r.agent for r in log._visible] == ["duo-ops"]
        assert app.focused is log
        await pilot.press("slash", *"k:concluded")  # / again edits the filter in place
        assert log.filter.text == "a:duo-ops k:concluded"
        assert log.visible_count == 0
        await pilot.press("escape")  # clears the filter and goes back to the stream
        assert log.visible_count == 4 and app.focused is log
        await pilot.press("v")  # every kind, the market tick included
        assert log.visible_count == 5


async def test_follow_mode_stops_when_the_founder_scrolls_up_and_resumes_with_G(duo_db: Path) -> None:
    add_events(duo_db, 60)
    app = control_room_app(duo_db)
    async with app.run_test(size=(100, 24)) as pilot:
        log = app.room.query_one("#activity-log")
        assert log.follow and log.cursor == log.visible_count - 1
        await pilot.press("k", "k")
        assert not log.follow
        held = log.selected
        add_events(duo_db, 5, start_hour=2)
        await settle(pilot)
        assert log.selected == held, "new events do not move the view while not following"
        assert log.unseen == 5
        await pilot.press("G")
        assert log.follow and log.selected == log._visible[-1] and log.selected.summary == "step 4"


async def test_enter_opens_the_event_with_its_wake_up(duo_db: Path) -> None:
    app = control_room_app(duo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("k", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "EventDetailScreen"
        shown = static_text(app.screen.query_one("#event-text"))
        assert "agent.concluded" in shown and "Woken by" in shown and "first wake-up of this run" in shown
        await pilot.press("escape")
        assert app.screen is app.room


async def test_help_lists_the_keys_of_the_pane_in_front(duo_db: Path) -> None:
    app = control_room_app(duo_db)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("2")
        pane, rows = app.help_rows()
        assert pane == "Inbox"
        mine = {(keys, what) for group, keys, what in rows if group == "Inbox"}
        assert {("a", "Approve"), ("r", "Reject"), ("e", "Amend")} <= mine
        assert any(what == "Quit" for group, _, what in rows if group == "Everywhere")
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("5")
        assert {what for group, _, what in app.help_rows()[1] if group == "Org"} >= {"Pause/resume", "Wake now",
                                                                                    "Directive"}


async def test_the_command_palette_lists_every_action(duo_db: Path) -> None:
    app = control_room_app(duo_db)
    async with app.run_test(size=(100, 30)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for expected in ("Show Inbox", "Approve the selected escalation", "Reject the selected escalation with a note",
                         "Amend the selected decision's parameters", "Filter the activity",
                         "Pause or resume the selected agent or venture", "Wake the selected agent now",
                         "Add a directive for the selected venture", "Compare brain versions",
                         "Write a founder brain version", "Pin or unpin the selected brain version",
                         "Revert the brain to the selected version", "Pause or resume the whole organization",
                         "Faster simulated clock (half the seconds a day)",
                         "Slower simulated clock (twice the seconds a day)"):
            assert expected in titles, expected


async def test_quit_is_immediate_when_no_agent_is_working(tmp_path: Path) -> None:
    db = tmp_path / "idle.db"
    conn = open_database(db)
    record_org(conn, load_org(DUO), DUO)
    conn.close()
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("q")
        await settle(pilot)
        assert not app.is_running


async def test_quit_asks_first_while_agents_are_working(duo_db: Path) -> None:
    lock = RunLock(duo_db).acquire()  # as if a headless run were live: duo-ops woke and is still working
    app = control_room_app(duo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.working_agents() == ["duo-ops"]
        await pilot.press("q")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert app.screen.focused.id == "no", "the safe answer is focused"
        await pilot.press("n")
        assert app.screen is app.room and app.is_running
    lock.release()


def test_amendment_values_are_typed_by_the_decision_kind() -> None:
    org = load_org(DUO)
    ad = org.kind("ad.buy")
    assert ad is not None
    assert parse_value("budget", ad.params["budget"], "300") == 300
    assert parse_value("budget", ad.params["budget"], "2.5") == 2.5
    with pytest.raises(BadInput, match="budget: 'lots' is not a number"):
        parse_value("budget", ad.params["budget"], "lots")
    assert changed_params(ad, {"budget": 800}, {"budget": "800"}) == {}
    assert changed_params(ad, {"budget": 800}, {"budget": "450"}) == {"budget": 450}


def test_activity_filter_terms() -> None:
    def event(kind: str, agent: str | None, summary: str, **payload: Any) -> EventRow:
        return EventRow(id=1, ts="", sim_time=None, venture="duo", agent=agent, kind=kind, summary=summary,
                        payload=payload)

    woke = event("agent.woke", "duo-lead", "woke: the founder")
    call = event("call.recorded", "duo-lead", "wake sim $0.01", ok=True)
    retry = event("call.recorded", "duo-lead", "wake sim failed", ok=False, error="invalid output")
    assert ActivityFilter.parse("").matches(woke)
    assert not ActivityFilter.parse("").matches(call), "plain calls are bookkeeping"
    assert ActivityFilter.parse("").matches(retry), "a failed call is a retry, and shown"
    assert ActivityFilter.parse("k:call").matches(call)
    assert ActivityFilter.parse("a:lead founder").matches(woke)
    assert not ActivityFilter.parse("v:other").matches(woke)
    assert not ActivityFilter.parse("agent:ops").matches(woke)


def test_formatters() -> None:
    assert short_time(at(30), START) == "d2 15:00"
    assert clock_label(at(30), START) == "day 2 · Tue 06 Jan 15:00"
    assert until(at(30), START + timedelta(hours=3)) == "in 1d 3h"
    assert until(at(1), START + timedelta(hours=3)) == "overdue"
    assert money(0.0042) == "$0.0042" and money(60) == "$60" and money(1234.5) == "$1,234"
    assert number(27750) == "27.8k" and number(1857) == "1,857" and number(42.29) == "42.3"
    assert bar(0.5, 4) == "██  " and bar(2, 3) == "███"
    assert FIXED_NOW.tzinfo is UTC


async def test_events_that_arrive_before_the_activity_pane_is_built_are_shown_once_it_is() -> None:
    """The first poll can land between the pane's creation and its compose (seen under load in CI)."""
    from textual.app import App, ComposeResult

    from conductor.tui.widgets.activity import ActivityPane
    from conductor.tui.widgets.activity_log import ActivityLog

    early = EventRow(id=7, ts="", sim_time=at(1), venture="duo", agent="duo-lead", kind="agent.concluded",
                     summary="an early conclusion", payload={"summary": "an early conclusion"})
    pane = ActivityPane(["duo"], START, id="activity-pane")
    pane.append([early])  # not composed yet: nothing to show it in, and no error

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield pane

    async with Host().run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        log = pane.query_one(ActivityLog)
        assert [r.id for r in log._rows] == [7]
        assert "an early conclusion" in row_text(log, 0)


async def test_the_org_pane_shows_the_stage_an_executed_stage_change_set(duo_db: Path) -> None:
    """The org file gives a venture its first stage; once a `stage.change` has run, the Org pane shows the
    stage the log has (as `conductor status` does), not the file's."""
    from conductor.services.queries import status

    app = control_room_app(duo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        chart = app.room.query_one("#org-tree")
        first = load_org(DUO).ventures[0].stage
        assert f"· {first}" in str(chart.venture_nodes["duo"].label)
        conn = open_database(duo_db)
        commit_events(conn, [NewEvent("venture.stage", {"stage": "scale", "decision_id": 1}, venture="duo",
                                      sim_time=at(2))])
        (venture,) = status(conn, duo_db).ventures
        conn.close()
        assert venture.stage == "scale"
        for _ in range(400):  # a deadline for the app's poll thread, not a duration
            await settle(pilot, 1)
            if "· scale" in str(chart.venture_nodes["duo"].label):
                break
            await asyncio.sleep(0.025)
        assert "· scale" in str(chart.venture_nodes["duo"].label)


async def test_an_urgent_escalation_rings_the_terminal_bell_once(duo_db: Path, tmp_path: Path) -> None:
    """The founder may be in another window: a new urgent escalation rings the bell and raises a desktop
    notification (here a command standing in for notify-send); a low one does neither."""
    import sys

    app = control_room_app(duo_db)
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    shown = tmp_path / "desktop.txt"
    record = f"import sys, pathlib; pathlib.Path({str(shown)!r}).write_text(' '.join(sys.argv[1:]))"
    app.desktop_command = lambda: [sys.executable, "-c", record]  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        conn = open_database(duo_db)
        for urgency in (1, 2):
            commit_events(conn, [NewEvent("escalation.opened", {"kind": "agent_stuck", "reason": f"urgency {urgency}",
                                                                "urgency": urgency, "expires": None, "detail": {}},
                                          venture="duo", agent="duo-lead", sim_time=at(2))])
            for _ in range(400):  # a deadline for the app's poll thread, not a duration
                await settle(pilot, 1)
                if len(app.room.inbox_items) == urgency:
                    break
                await asyncio.sleep(0.025)
            assert len(app.room.inbox_items) == urgency
            assert len(rings) == urgency - 1
        conn.close()
        for _ in range(400):  # the notification runs in a worker thread
            if shown.exists():
                break
            await asyncio.sleep(0.025)
    assert shown.read_text().startswith("conductor 1 urgent escalation: #") and "(duo-lead)" in shown.read_text()


async def test_an_escalation_about_to_lapse_warns_the_founder_once(duo_db: Path) -> None:
    """Attached to a run in another process nothing holds the clock: an escalation within six simulated hours
    of its expiry warns (and rings) once; one further off does not."""
    app = control_room_app(duo_db)
    rings: list[None] = []
    app.bell = lambda: rings.append(None)  # type: ignore[method-assign]
    warned: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (warned.append(str(message)), notify(message, **kw))  # type: ignore[method-assign]
    conn = open_database(duo_db)
    commit_events(conn, [NewEvent("escalation.opened", {"kind": "decision", "reason": r, "urgency": 1,
                                                        "expires": e, "detail": {"kind": "vendor.sign"}},
                                  venture="duo", agent="duo-lead", sim_time=at(0)) for r, e in
                         (("soon", at(4)), ("later", at(30)))])
    conn.close()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(400):  # a deadline for the app's poll thread, not a duration
            await settle(pilot, 1)
            if any("expires" in w for w in warned):
                break
            await asyncio.sleep(0.025)
        for _ in range(3):
            await settle(pilot, 2)
    lapse = [w for w in warned if "snooze it with z" in w]
    assert len(lapse) == 1 and "(vendor.sign) expires in" in lapse[0]
    assert len(rings) == 1


async def test_attached_in_the_founders_seat_the_room_shows_the_hold_and_warns_of_no_lapse(duo_db: Path) -> None:
    """`conductor attach` holds the founder's seat, so the run in the other process stops its simulated clock at
    a decision escalation's expiry: the room says what the clock waits for instead of warning of a lapse."""
    app = control_room_app(duo_db)
    app.founder_seat = True
    warned: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (warned.append(str(message)), notify(message, **kw))  # type: ignore[method-assign]
    conn = open_database(duo_db)
    (opened,) = commit_events(conn, [NewEvent(
        "escalation.opened", {"kind": "decision", "reason": "due", "urgency": 1, "expires": at(4),
                              "detail": {"kind": "vendor.sign"}}, venture="duo", agent="duo-lead", sim_time=at(0))])
    # The other process's clock stands at the expiry, holding.
    commit_events(conn, [NewEvent("clock.advanced", {"day": 0}, sim_time=at(4))])
    conn.close()
    with RunLock(duo_db):  # a scheduler is running on the database (in this process, as far as the lock tells)
        async with app.run_test(size=(120, 40)) as pilot:
            bar = app.room.query_one(StatusBar)
            for _ in range(400):  # a deadline for the app's poll thread, not a duration
                await settle(pilot, 1)
                if bar.holding:
                    break
                await asyncio.sleep(0.025)
            assert bar.holding == f"waiting for your verdict on escalation #{opened.id}"
    assert not [w for w in warned if "snooze it with z" in w]
