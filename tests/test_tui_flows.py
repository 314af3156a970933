"""Whole keyboard flows in the control room, checked in the database and in the prompts the engine builds.

Each test runs the duo org's scheduler with a scripted model (no provider) until an escalation is waiting,
drives the control room with the keyboard only, then runs the scheduler again on the same database and looks
at what it did: executed the approved decision, passed the rejection note on, skipped a paused agent, put a
directive in its agents' next prompts.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tui_support import (
    Scripted,
    control_room_app,
    decision,
    lead_proposes,
    run_engine,
    section,
    settle,
)


def rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def founder_events(db: Path, kind: str) -> list[dict[str, Any]]:
    return [json.loads(r["payload"]) for r in rows(db, "SELECT payload FROM events WHERE kind = ? ORDER BY id", kind)
            if json.loads(r["payload"]).get("by") == "founder"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "duo.db"


async def escalate(db: Path, monkeypatch: pytest.MonkeyPatch, *decisions: dict[str, Any]) -> Scripted:
    """Run the duo org for three hours: duo-lead proposes, the policy escalates, nobody has answered yet."""
    fake = Scripted(lead_proposes(*decisions))
    await run_engine(db, 3, fake=fake, monkeypatch=monkeypatch)
    assert rows(db, "SELECT count(*) AS n FROM escalations WHERE state = 'pending'")[0]["n"] == len(decisions)
    return fake


async def test_approve_with_one_key_and_the_scheduler_executes_it(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await escalate(db, monkeypatch, decision("vendor.sign", {"vendor": "Acme"}))
    (escalation,) = rows(db, "SELECT * FROM escalations WHERE state = 'pending'")
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")  # open the inbox: the most urgent escalation is selected
        await settle(pilot)
        assert app.focused.id == "inbox-table"
        await pilot.press("a")  # one keystroke approves it
        await settle(pilot)
        assert app.room.query_one("#inbox-table").row_count == 0
    (verdict,) = founder_events(db, "escalation.resolved")
    assert verdict["escalation_id"] == escalation["id"] and verdict["verdict"] == "approved"
    assert rows(db, "SELECT state FROM decisions WHERE id = ?", escalation["decision_id"])[0]["state"] == "escalated"

    await run_engine(db, 6, fake=fake, monkeypatch=monkeypatch)
    (executed,) = rows(db, "SELECT * FROM decisions WHERE id = ?", escalation["decision_id"])
    assert executed["state"] == "executed"
    assert rows(db, "SELECT count(*) AS n FROM events WHERE kind = 'decision.executed' AND "
                    "json_extract(payload, '$.decision_id') = ?", escalation["decision_id"])[0]["n"] == 1


async def test_reject_asks_for_a_note_that_reaches_the_agents_next_prompt(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await escalate(db, monkeypatch, decision("vendor.sign", {"vendor": "Acme"}))
    note = "Not Acme: their last contract overran by a month."
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "r")
        await settle(pilot)
        assert app.screen.query_one("#prompt-input").has_focus
        await pilot.press(*note)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.room
    (verdict,) = founder_events(db, "escalation.resolved")
    assert verdict["verdict"] == "rejected" and verdict["note"] == note

    before = len(fake.prompts("duo-lead"))
    await run_engine(db, 12, fake=fake, monkeypatch=monkeypatch)
    later = fake.prompts("duo-lead")[before:]
    assert later, "duo-lead should wake again after the verdict"
    verdicts = section(later[0], "Founder verdicts on your escalations")
    assert "vendor.sign rejected" in verdicts and note in verdicts


async def test_amend_validates_against_the_decision_kind_then_approves_the_change(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await escalate(db, monkeypatch, decision("ad.buy", {"budget": 800}))
    (escalation,) = rows(db, "SELECT * FROM escalations WHERE state = 'pending'")
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "e")
        await settle(pilot)
        field = app.screen.query_one("#param-budget")
        assert field.has_focus and field.value == "800"
        await pilot.press(*["backspace"] * 3, *"20000", "enter")  # above the kind's max of 10000
        await settle(pilot)
        error = str(app.screen.query_one("#amend-error").render())
        assert "at most 10000" in error
        assert founder_events(db, "escalation.resolved") == []
        await pilot.press(*["backspace"] * 5, *"300", "enter")
        await settle(pilot)
        assert app.screen is app.room
    (verdict,) = founder_events(db, "escalation.resolved")
    assert verdict["verdict"] == "approved" and verdict["amended"] == {"budget": 300}

    await run_engine(db, 6, fake=fake, monkeypatch=monkeypatch)
    (done,) = rows(db, "SELECT * FROM decisions WHERE id = ?", escalation["decision_id"])
    assert done["state"] == "executed" and json.loads(done["params"]) == {"budget": 300}


async def test_pause_an_agent_and_it_skips_its_heartbeats(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Scripted(lead_proposes())
    await run_engine(db, 1, fake=fake, monkeypatch=monkeypatch)
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        tree = app.room.query_one("#org-tree")
        await pilot.press("j", "j", "j")  # root, venture, duo-lead, duo-ops
        assert tree.cursor_node.data.id == "duo-ops"
        await pilot.press("space")
        await settle(pilot)
        assert tree.rows["duo-ops"].state == "paused"
    (paused,) = founder_events(db, "founder.paused")
    assert paused == {"scope": "agent", "target": "duo-ops", "by": "founder"}
    pause_id = rows(db, "SELECT max(id) AS id FROM events")[0]["id"]

    await run_engine(db, 30, fake=fake, monkeypatch=monkeypatch)
    heartbeat_kinds = ("agent.woke", "agent.idle")
    marks = ",".join("?" * len(heartbeat_kinds))
    count = "SELECT count(*) AS n FROM events WHERE id > ? AND agent = ? AND kind IN (" + marks + ")"
    assert rows(db, count, pause_id, "duo-ops", *heartbeat_kinds)[0]["n"] == 0
    assert rows(db, count, pause_id, "duo-lead", *heartbeat_kinds)[0]["n"] >= 4  # a 6h heartbeat over a day


async def test_a_directive_reaches_the_next_prompt_of_every_agent_of_the_venture(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Scripted(lead_proposes())
    await run_engine(db, 1, fake=fake, monkeypatch=monkeypatch)
    text = "No paid ads until revenue doubles."
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5", "j", "d")  # the Duo venture, then d
        await settle(pilot)
        await pilot.press(*text, "enter")
        await settle(pilot)
        assert app.screen is app.room
    (directive,) = founder_events(db, "directive.added")
    assert directive["text"] == text

    seen = {agent: len(fake.prompts(agent)) for agent in ("duo-lead", "duo-ops")}
    await run_engine(db, 12, fake=fake, monkeypatch=monkeypatch)
    for agent, before in seen.items():
        following = fake.prompts(agent)[before:]
        assert following, f"{agent} should wake for the new directive"
        assert text in section(following[0], "Founder directives")


async def test_in_process_scheduler_executes_an_approval_and_quit_asks_first(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`conductor tui`: the scheduler runs in the app (its own thread); the UI only writes founder events."""
    import asyncio
    from datetime import timedelta

    import conductor.engine.jobs as jobs_module
    from conductor.engine.scheduler import EngineOptions
    from conductor.org import load_org
    from conductor.services.setup import record_org
    from conductor.store import open_database
    from conductor.tui.widgets.status_bar import StatusBar
    from tui_support import DUO, SCRIPTED_MODEL

    fake = Scripted(lead_proposes(decision("vendor.sign", {"vendor": "Acme"})))
    monkeypatch.setattr(jobs_module, "call_model", fake)
    org = load_org(DUO)
    conn = open_database(db)
    record_org(conn, org, DUO)
    conn.close()
    # A slow clock (a simulated day takes a minute) keeps the escalation open while the founder acts.
    options = EngineOptions(model=SCRIPTED_MODEL, pace=60.0, poll_interval=0.05, until=org.start + timedelta(days=3))
    app = control_room_app(db, org=org, org_path=DUO, run=True, options=options)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.room.agents, "the first frame shows the org before the scheduler starts"

        async def until(check: Any, what: str) -> None:
            for _ in range(400):  # a deadline, for the scheduler's thread
                await settle(pilot, 1)
                if check():
                    return
                await asyncio.sleep(0.025)
            pytest.fail(f"timed out waiting for {what}")

        await until(lambda: rows(db, "SELECT count(*) AS n FROM escalations WHERE state = 'pending'")[0]["n"] == 1,
                    "the escalation")
        await pilot.press("2")
        await until(lambda: app.room.query_one("#inbox-table").row_count == 1, "the inbox to show it")
        await pilot.press("a")
        (escalation,) = rows(db, "SELECT * FROM escalations")
        await until(lambda: rows(db, "SELECT state FROM decisions WHERE id = ?",
                                 escalation["decision_id"])[0]["state"] == "executed", "the execution")
        # `+` and `-` pace the simulated clock of the scheduler in this room, and the header says so.
        assert app.runner is not None and app.runner.engine is not None
        await pilot.press("plus")
        await settle(pilot)
        assert app.runner.engine.opts.pace == 30.0 and app.room.query_one(StatusBar).pace == 30.0
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert app.runner.engine.opts.pace == 120.0
        await pilot.press("q")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen", "quitting while the scheduler runs asks first"
        await pilot.press("y")
    assert app.runner is not None
    app.runner.stop()
    assert await asyncio.to_thread(app.runner.join, 20)
    assert rows(db, "SELECT json_extract(payload, '$.reason') AS r FROM events WHERE kind = 'run.stopped'")


async def test_brain_versions_compare_write_pin_and_revert(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conductor.brain.document import parse_document
    from conductor.services import brain
    from conductor.store import open_database

    await run_engine(db, 1, fake=Scripted(lead_proposes()), monkeypatch=monkeypatch)
    conn = open_database(db)
    brain.write_version(conn, "duo", parse_document({"strategy": "Sell to agencies.", "rules": ["No ads."]}))
    brain.write_version(conn, "duo", parse_document({"strategy": "Sell to agencies and studios.",
                                                     "rules": ["No ads.", "Reply within a day."]}))
    conn.close()
    app = control_room_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await settle(pilot)
        table = app.room.query_one("#brain-table")
        assert [r.version for r in table.versions] == [2, 1]
        await pilot.press("c")  # the selected version (v2) against its parent
        await settle(pilot)
        assert type(app.screen).__name__ == "BrainDiffScreen"
        items = str(app.screen.query_one("#brain-diff-items").content)
        assert "+ Reply within a day." in items and "Sell to agencies and studios." in items
        await pilot.press("escape", "p")  # pin v2
        await settle(pilot)
        assert table.versions[0].pinned
        await pilot.press("j", "R")  # revert to v1: a new version, v3, equal to v1
        await settle(pilot)
        assert [r.version for r in table.versions] == [3, 2, 1]
        assert table.versions[0].reverted_from == 1
        await pilot.press("w")  # edit the newest (v3) in the founder's editor
        await settle(pilot)
        editor = app.screen.query_one("#brain-editor")
        editor.text = editor.text.replace("No ads.", "No paid ads before March.")
        await pilot.press("ctrl+s")  # the changes against the newest version are shown before anything is written
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        shown = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "- No ads." in shown and "+ No paid ads before March." in shown
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is app.room
        assert [r.version for r in table.versions] == [4, 3, 2, 1] and table.versions[0].author == "founder"
        # From an older selection (v2) the editor still opens the newest version: saving it as it stands
        # writes nothing, where starting from v2 would have undone v4's rule.
        await pilot.press("j", "j", "w")
        await settle(pilot)
        assert "No paid ads before March." in app.screen.query_one("#brain-editor").text
        editor = app.screen.query_one("#brain-editor")
        editor.text = "Focus on SEO" + editor.text  # typed into the first heading: refused, the editor stays
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "outside any section" in str(app.screen.query_one("#brain-write-error").content)
        editor.text = editor.text.removeprefix("Focus on SEO").replace("## Rules the founder set\n", "")
        await pilot.press("ctrl+s")  # a heading deleted by accident: its section would go with it
        await settle(pilot)
        assert "'## Rules the founder set' heading is gone" in str(app.screen.query_one("#brain-write-error").content)
        await pilot.press("escape")
        await settle(pilot)
        assert [r.version for r in table.versions] == [4, 3, 2, 1]
    conn = open_database(db)
    try:
        assert brain.version(conn, "duo").brain().rules == ("No paid ads before March.",)
        kinds = [r[0] for r in conn.execute("SELECT kind FROM events WHERE json_extract(payload, '$.by') = 'founder' "
                                             "AND kind LIKE 'brain.%' ORDER BY id")]
    finally:
        conn.close()
    assert kinds == ["brain.version", "brain.version", "brain.pinned", "brain.version", "brain.version"]


async def test_three_similar_escalations_are_approved_together_in_three_keys(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`2` `A` `y`: the inbox, approve every open escalation like the selected one (same kind, same agent, same
    kind of decision) after seeing them listed, and confirm. One of another kind stays open."""
    await escalate(db, monkeypatch, *(decision("ad.buy", {"budget": b}) for b in (900, 800, 700)),
                   decision("vendor.sign", {"vendor": "Acme"}))
    buys = {r["id"] for r in rows(db, "SELECT e.id FROM escalations e JOIN decisions d ON d.id = e.decision_id "
                                      "WHERE e.state = 'pending' AND d.kind = 'ad.buy'")}
    assert len(buys) == 3
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        table = app.room.query_one("#inbox-table")
        assert table.selected.decision_kind == "ad.buy", "the most urgent is one of the three"
        await pilot.press("A")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        listed = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert all(f"#{i}" in listed for i in buys)
        await pilot.press("y")
        await settle(pilot, 6)
        assert table.row_count == 1 and table.selected.decision_kind == "vendor.sign"
    approved = {v["escalation_id"] for v in founder_events(db, "escalation.resolved") if v["verdict"] == "approved"}
    assert approved == buys


async def test_an_open_detail_follows_the_log_while_it_is_open(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detail's counter and state stay true: when the CLI decides the escalation on screen, the title says
    it is no longer open and the counter drops; n goes on to one still open."""
    import asyncio

    from conductor.org import load_org
    from conductor.services.founder import resolve_escalation
    from conductor.store import open_database
    from tui_support import DUO

    await escalate(db, monkeypatch, *(decision("ad.buy", {"budget": b}) for b in (900, 800)))
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "enter")
        await settle(pilot)
        screen = app.screen
        assert type(screen).__name__ == "InboxDetailScreen"
        shown = screen.current
        assert "(1 of 2)" in str(screen.query_one("#detail-title").content)
        conn = open_database(db)
        resolve_escalation(conn, shown, "rejected", note="decided in another terminal", org=load_org(DUO))
        conn.close()
        for _ in range(400):  # a deadline for the app's poll thread, not a duration
            await settle(pilot, 1)
            if "no longer open" in str(screen.query_one("#detail-title").content):
                break
            await asyncio.sleep(0.025)
        assert "no longer open" in str(screen.query_one("#detail-title").content)
        assert screen.ids and shown not in screen.ids
        await pilot.press("n")
        await settle(pilot)
        assert screen.current == screen.ids[0] and "(1 of 1)" in str(screen.query_one("#detail-title").content)


async def test_a_reply_reaches_the_agent_and_leaves_the_escalation_open(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`m` answers the agent behind an escalation without deciding it: it stays pending, and the agent wakes
    to read the founder's words in its next prompt."""
    fake = await escalate(db, monkeypatch, decision("vendor.sign", {"vendor": "Acme"}))
    (escalation,) = rows(db, "SELECT * FROM escalations WHERE state = 'pending'")
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "m")
        await settle(pilot)
        await pilot.press(*"Which plan, and for how long?", "enter")
        await settle(pilot)
        assert app.room.query_one("#inbox-table").row_count == 1
    assert rows(db, "SELECT state FROM escalations WHERE id = ?", escalation["id"])[0]["state"] == "pending"
    (reply,) = founder_events(db, "message.sent")
    assert reply["to"] == "duo-lead" and reply["escalation_id"] == escalation["id"]

    await run_engine(db, 6, fake=fake, monkeypatch=monkeypatch)
    later = fake.prompts("duo-lead")[-1]
    assert f"from founder: about escalation #{escalation['id']}: Which plan, and for how long?" in later


async def test_a_snoozed_escalation_leaves_the_inbox_and_expires_a_day_later(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`z` sets the selected escalation aside for a simulated day: out of the inbox, its expiry a day later, so
    it cannot lapse while out of sight; the scheduler keeps to the new expiry."""
    from datetime import timedelta

    from conductor.org import load_org
    from conductor.store import parse_iso
    from conductor.tui.widgets.status_bar import StatusBar
    from tui_support import DUO

    fake = await escalate(db, monkeypatch, decision("ad.buy", {"budget": 900}))
    (before,) = rows(db, "SELECT * FROM escalations WHERE state = 'pending'")
    app = control_room_app(db)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("2", "z")
        await settle(pilot, 6)
        assert app.room.query_one("#inbox-table").row_count == 0
        bar = app.room.query_one(StatusBar)  # the header counts what the inbox shows, as the tab does
        assert bar.inbox_count == 0 and "⚑ 0" in str(bar.render())
    (after,) = rows(db, "SELECT * FROM escalations WHERE id = ?", before["id"])
    assert parse_iso(after["expires"]) - parse_iso(before["expires"]) == timedelta(days=1)
    first_expiry_hours = (parse_iso(before["expires"]) - load_org(DUO).start) / timedelta(hours=1)
    await run_engine(db, first_expiry_hours + 2, fake=fake, monkeypatch=monkeypatch)
    assert rows(db, "SELECT state FROM escalations WHERE id = ?", before["id"])[0]["state"] == "pending"
    await run_engine(db, first_expiry_hours + 26, fake=fake, monkeypatch=monkeypatch)
    assert rows(db, "SELECT state FROM escalations WHERE id = ?", before["id"])[0]["state"] == "expired"
