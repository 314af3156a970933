"""One line per event for the Activity pane, in the product's words.

The words are the event catalogue's (`conductor.events.text`), the same `conductor events` prints; this pane
only shows the times a payload holds on its own clock ('d3 09:00') and allows a longer line than the CLI's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conductor import events as catalogue
from conductor.services.queries import EventRow
from conductor.text import printable
from conductor.tui.format import short_time


def describe(event: EventRow, origin: datetime | None) -> str:
    def when(moment: Any) -> str:
        return short_time(moment, origin)

    return printable(catalogue.text(event.kind, event.payload, when), one_line=True, limit=400)
