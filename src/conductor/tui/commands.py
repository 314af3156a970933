"""The command palette (ctrl+p): every action of the control room by name, so nothing needs its key remembered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from textual.app import SystemCommand

from conductor.tui.panes import PANES


def control_room_commands(app: Any) -> Iterable[SystemCommand]:
    """One command per action of the control room, each switching to its pane first."""
    room = app.room

    def on_pane(pane: str, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await room.action_show_pane(pane)
            widget = {"activity": "#activity-log", "inbox": "#inbox-table", "brain": "#brain-table",
                      "org": "#org-tree"}[pane]
            target = room.pane(pane) if action in ("filter", "verbose") else room.query_one(widget)
            app.call_later(getattr(target, f"action_{action}"))
        return run

    def show(pane: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await room.action_show_pane(pane)
        return run

    for i, (pane, title) in enumerate(PANES, 1):
        yield SystemCommand(f"Show {title}", f"pane {i}", show(pane))
    actions = (
        ("Approve the selected escalation", "inbox: a", "inbox", "approve"),
        ("Reject the selected escalation with a note", "inbox: r", "inbox", "reject"),
        ("Amend the selected decision's parameters", "inbox: e", "inbox", "amend"),
        ("Open the selected escalation", "inbox: enter", "inbox", "open"),
        ("Filter the activity", "activity: /", "activity", "filter"),
        ("Show every kind of event", "activity: v", "activity", "verbose"),
        ("Follow new events", "activity: G", "activity", "follow"),
        ("Open the selected event", "activity: enter", "activity", "open"),
        ("Pause or resume the selected agent or venture", "org: space", "org", "pause_toggle"),
        ("Wake the selected agent now", "org: w", "org", "wake"),
        ("Add a directive for the selected venture", "org: d", "org", "directive"),
        ("Open the selected brain version", "brain: enter", "brain", "open"),
        ("Mark a brain version to compare", "brain: space", "brain", "mark"),
        ("Compare brain versions", "brain: c", "brain", "compare"),
        ("Write a founder brain version", "brain: w", "brain", "write"),
        ("Pin or unpin the selected brain version", "brain: p", "brain", "pin"),
        ("Revert the brain to the selected version", "brain: R", "brain", "revert"),
    )
    for title, help_text, pane, action in actions:
        yield SystemCommand(title, help_text, on_pane(pane, action))
    yield SystemCommand("Pause or resume the whole organization", "P: the clock stops too", app.action_pause_org)
    yield SystemCommand("Faster simulated clock (half the seconds a day)", "+", lambda: app.action_pace(0.5))
    yield SystemCommand("Slower simulated clock (twice the seconds a day)", "-", lambda: app.action_pace(2))
    yield SystemCommand("Switch light and dark theme", "t", app.action_toggle_theme)
    yield SystemCommand("Show the keys of this pane", "?", app.action_help)
