"""Making model-written text safe to show in a terminal.

Agents write rationales, summaries and notes; a model can put terminal escape sequences in them (to move the
cursor, retitle the window, hide text or fake a prompt). Everything that reaches the CLI or the control room
from the store goes through `printable` first, so output written by a model can never drive the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# CSI, OSC, DCS/PM/APC/SOS strings and two-byte escapes, then any other C0/C1 control except tab and newline.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"            # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"       # DCS, SOS, PM, APC ... ST
    r"|\x1b[@-Z\\-_]"                       # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"               # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object, *, limit: int | None = None, one_line: bool = False) -> str:
    """`text` with escape sequences and control characters removed, optionally cut to `limit` characters.

    `one_line` also folds newlines and tabs into spaces, for table cells and list rows.
    """
    s = text if isinstance(text, str) else str(text)
    if limit is not None and len(s) > limit * 4:
        s = s[: limit * 4]  # bound the regex work on enormous output before cleaning
    s = _CONTROLS.sub("", _ESCAPES.sub("", s))
    if one_line:
        s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return s


def compact_number(value: float) -> str:
    """3 significant figures with k/M suffixes, so a metric fits a narrow column (tables, panes, summaries)."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


VERDICT_WAIT = "waiting for your verdict on "


def waiting_for_verdict(escalation_id: int) -> str:
    """Why the simulated clock holds for the founder, in one wording: the scheduler's (`held_for_founder`) and
    a control room attached from another process, which reads the same from the log. The status bar shows what
    follows `VERDICT_WAIT`."""
    return f"{VERDICT_WAIT}escalation #{escalation_id}"


def with_note(head: str, note: object, sep: str = ": ") -> str:
    """`head`, then `sep` and the note, unless the note is empty or only repeats the head's last word.

    "expired" with the note "expired" reads "expired", not "expired: expired"; a note that says more is kept.
    """
    said = str(note or "").strip()
    last = head.split()[-1] if head.split() else ""
    if not said or said.strip(" .\"'").lower() == last.strip("()").lower():
        return head
    return f"{head}{sep}{said}"


def state_and_verdict(state: str, verdict: str | None) -> str:
    """An escalation's state with its verdict in brackets when it says something else ("approved", not
    "approved (approved)")."""
    return state + (f" ({verdict})" if verdict and verdict != state else "")


def expected_effect_text(expected: Mapping[str, Any] | None) -> str:
    """A decision's expected effect as the founder reads it: "mrr up by +3%", "churn_rate down by 2%"."""
    if not expected:
        return "not stated"
    metric = expected.get("metric", "?")
    direction = expected.get("direction", "?")
    size = expected.get("size")
    size_text = ""
    if isinstance(size, int | float) and not isinstance(size, bool) and direction in ("up", "down"):
        size_text = f" by {abs(size):.0%}" if direction == "down" else f" by {size:+.0%}"
    return f"{metric} {direction}{size_text}"


# The column names of the decision-quality table, one word a figure, shared by `conductor brain quality` and the
# control room's Metrics pane so the founder reads the same names in both.
QUALITY_COLUMN_LABELS: dict[str, str] = {
    "venture": "venture", "brain": "brain", "decisions": "decisions", "escalated": "escalated",
    "approved": "approved", "measured": "measured", "pending": "pending", "worked": "worked", "effect": "effect",
}
