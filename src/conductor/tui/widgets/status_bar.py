"""The line at the top: which org, running or not, the org clock, spend today, what needs the founder."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from conductor.services.queries import Status
from conductor.text import VERDICT_WAIT
from conductor.tui.format import clock_label, money


class StatusBar(Widget):
    """Reads nothing itself: the app sets `status` (and `engine`, in-process) from each poll."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--org", "status-bar--running", "status-bar--stopped", "status-bar--paused", "status-bar--alert",
        "status-bar--dim",
    }

    status: reactive[Status | None] = reactive(None, always_update=True)
    engine: reactive[str] = reactive("")
    wall: reactive[datetime | None] = reactive(None)
    holding: reactive[str] = reactive("")  # why the simulated clock waits for the founder (Engine.holding)
    pace: reactive[float | None] = reactive(None)  # real seconds per simulated day, for a run in this room
    # the inbox's own count (snoozed ones left out), set with the inbox so the header and the tab agree
    inbox_count: reactive[int | None] = reactive(None)

    def __init__(self, org_name: str, origin: datetime | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.org_name = org_name
        self.origin = origin

    def _run_state(self, status: Status | None) -> tuple[str, str]:
        """(label, component class) for running / paused / stopped."""
        if self.engine == "starting":
            # the scheduler's thread is importing litellm (seconds) before its first wave: say what it waits for
            return ("◌ starting: loading the model library" if self.size.width >= 110 else "◌ starting…"), \
                "status-bar--paused"
        if self.engine == "failed":
            return "✖ engine failed", "status-bar--alert"
        if status is None:
            return "…", "status-bar--dim"
        if status.paused:
            return "‖ paused" + (" · clock stopped" if self.holding and self.size.width >= 110 else ""), \
                "status-bar--paused"
        if self.holding:
            held = self.holding.removeprefix(VERDICT_WAIT)
            return ("⏸ clock waits for you: " + held) if self.size.width >= 110 else "⏸ waits for you", \
                "status-bar--alert"
        if status.run.running:
            return "● running", "status-bar--running"
        reason = (status.run.stop_reason or "").split(":")[0]
        wide = self.size.width >= 110
        return ("○ stopped" + (f" ({reason})" if reason and wide else "")), "status-bar--stopped"

    def render(self) -> Text:
        status = self.status
        wide = self.size.width >= 110
        style = self.get_component_rich_style
        dim = style("status-bar--dim")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {status.org if status and status.org else self.org_name}", style("status-bar--org"))
        text.append(" │ ", dim)
        label, cls = self._run_state(status)
        text.append(label, style(cls))
        text.append(" │ ", dim)
        if self.wall is not None and self.origin is None:
            text.append(f"{self.wall:%a %d %b %H:%M:%S}")
        else:
            clock = clock_label(status.clock if status else None, self.origin)
            text.append(clock if wide else clock.split(" · ")[0] + (f" {clock[-5:]}" if " · " in clock else ""))
            if self.pace and wide:
                text.append(f" ({self.pace:g} s/day)", dim)
        text.append(" │ ", dim)
        if status is not None:
            budget = f"/{money(status.budget_per_day)}" if status.budget_per_day is not None else ""
            text.append(("spend today " if wide else "") + f"{money(status.spend_today)}{budget}")
            text.append(" │ ", dim)
            open_ = status.open_escalations if self.inbox_count is None else self.inbox_count
            text.append(f"{open_} escalation{'s' if open_ != 1 else ''}" if wide else f"⚑ {open_}",
                        style("status-bar--alert") if status.urgent_escalations else "")
            text.append(" │ ", dim)
            stuck = len(status.stuck_agents)
            text.append(f"{stuck} stuck" if wide else f"✖ {stuck}", style("status-bar--alert") if stuck else "")
        return text
