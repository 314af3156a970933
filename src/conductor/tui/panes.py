"""The five panes, in the order of their number keys: (id, title)."""

from __future__ import annotations

PANES: tuple[tuple[str, str], ...] = (
    ("activity", "Activity"), ("inbox", "Inbox"), ("brain", "Brain"), ("metrics", "Metrics"), ("org", "Org"),
)
