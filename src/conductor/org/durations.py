"""Durations as people write them in org files: "90s", "30m", "4h", "1d", "2w", "1h30m"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
DURATION_PATTERN = r"^(\d+(\.\d+)?[smhdw])+$"


def parse_duration(text: object) -> timedelta:
    """Parse "4h" or "1h30m" into a timedelta; raise ValueError with the accepted forms otherwise."""
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected a duration string such as '4h' or '1d', got {text!r}")
    compact = text.strip().lower().replace(" ", "")
    if not compact or not re.fullmatch(DURATION_PATTERN, compact):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit s, m, h, d or w, e.g. '4h' or '1d'")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest org-file spelling of a duration, for summaries ("1d", "4h", "1h30m")."""
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
