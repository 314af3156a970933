"""Small pure formatters shared by the panes: times on the org clock, money, bars, agent states.

No Textual here, so they are tested (and reused by the screenshots script) without an app. Times are always
read against the org clock (simulated or real), never the wall clock of the machine, so a snapshot of a
simulated run looks the same on every machine and every day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text

from conductor.store.events import parse_iso
from conductor.text import printable

ONE_DAY = timedelta(days=1)
EIGHTHS = " ▏▎▍▌▋▊▉█"

# The agent states of the Org pane, in the words of the product, with a glyph that survives monochrome.
STATE_GLYPHS = {
    "working": "●",
    "waiting for review": "◐",
    "sleeping": "○",
    "paused": "‖",
    "stuck": "✖",
    "budget_stopped": "$",
    "capped": "⧖",
    "interrupted": "◌",
}
STATE_LABELS = {"budget_stopped": "budget-stopped", "capped": "wake-capped"}


def plain(text: object, *, limit: int | None = None, one_line: bool = False, style: str = "") -> Text:
    """Model-written text as a rich Text: escapes stripped, and never parsed as markup."""
    return Text(printable(text, limit=limit, one_line=one_line), style=style)


def parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        return parse_iso(moment)
    except ValueError:
        return None


def day_number(moment: datetime, origin: datetime) -> int:
    """1 on the org clock's first calendar day (UTC): what a person calls 'day 1', and what 'today' means for
    spend, so d2 17:00 is followed by d3 01:00."""
    return (moment.date() - origin.date()).days + 1


def short_time(moment: str | None, origin: datetime | None) -> str:
    """'d3 09:00' on a simulated clock (days since the start), '01-07 09:00' on a real one."""
    when = parse(moment)
    if when is None:
        return "—"
    if origin is None:
        return when.strftime("%m-%d %H:%M")
    return f"d{day_number(when, origin)} {when:%H:%M}"


def clock_label(moment: str | None, origin: datetime | None) -> str:
    """The status bar's clock: 'day 3 · Wed 07 Jan 09:00' (simulated) or 'Wed 07 Jan 09:00' (real)."""
    when = parse(moment)
    if when is None:
        return "not started"
    text = f"{when:%a %d %b %H:%M}"
    return f"day {day_number(when, origin)} · {text}" if origin is not None else text


def span(delta: timedelta) -> str:
    """A duration in the two largest units: '1d 4h', '3h 05m', '12m'."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def until(moment: str | None, now: datetime | None) -> str:
    """How long until `moment` on the org clock: 'in 1d 4h', 'overdue', or 'no expiry'."""
    when = parse(moment)
    if when is None:
        return "no expiry"
    if now is None:
        return short_time(moment, None)
    if when <= now:
        return "overdue"
    return f"in {span(when - now)}"


def money(value: float | None) -> str:
    """Dollars with as many decimals as a small simulated spend needs to be more than $0.00."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude == 0:
        return "$0"
    if magnitude < 0.01:
        return f"${value:.4f}"
    if magnitude < 1000:
        return f"${value:,.0f}" if magnitude >= 10 and float(value).is_integer() else f"${value:,.2f}"
    return f"${value:,.0f}"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction` (clamped to 0..1), in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part else "")
    return text.ljust(width)


def state_label(state: str, *, short: bool = False) -> str:
    if short and state == "waiting for review":
        return "in review"
    return STATE_LABELS.get(state, state)


def state_glyph(state: str) -> str:
    return STATE_GLYPHS.get(state, "·")


def urgency_mark(urgency: int) -> str:
    """'!!!' for the most urgent; a person scans for the exclamation marks."""
    return "!" * max(1, min(int(urgency), 3))
