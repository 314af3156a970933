"""Coercing model-written decision parameters into numbers and choices: model output is untrusted and untyped.

Shared by both market versions. Nothing here raises on bad input: a value that cannot be used becomes None
(or a default), and the lever that asked refuses the decision with a reason.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping

METRICS: tuple[str, ...] = (
    "signups",
    "activation_rate",
    "paying_customers",
    "mrr",
    "arpu",
    "churn_rate",
    "support_backlog",
)

# Used when the org file gives a metric no initial value: a small venture with some history.
DEFAULT_INITIAL: dict[str, float] = {
    "signups": 10.0,
    "activation_rate": 20.0,
    "paying_customers": 50.0,
    "arpu": 20.0,
    "churn_rate": 5.0,
    "support_backlog": 5.0,
}



def clamp(x: float, lo: float, hi: float) -> float:
    """Clamp, mapping NaN to the lower bound so nothing non-finite ever leaves the market."""
    if x != x:  # NaN
        return lo
    return lo if x < lo else hi if x > hi else x


def as_seed(seed: object) -> int:
    if isinstance(seed, bool):
        return int(seed)
    if isinstance(seed, int):
        return seed
    if isinstance(seed, float) and math.isfinite(seed):
        return int(seed)
    return zlib.crc32(str(seed).encode())


NUMBER_RE = re.compile(
    r"^[\s$€£]*([-+]?\d[\d,_]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)\s*(%|usd|dollars|days?|h|hours?)?\s*$"
)


def number(value: object) -> float | None:
    """A finite number from a number or a numeric string ("$1,200", "20%", "14 days"); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            x = float(value)
        except OverflowError:  # an int too large for a float
            return None
    elif isinstance(value, str):
        m = NUMBER_RE.match(value.strip().lower())
        if not m:
            return None
        try:
            x = float(m.group(1).replace(",", "").replace("_", ""))
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def text(value: object) -> str:
    """Lower-cased, trimmed text from a string or a plain scalar; anything nested becomes empty."""
    if isinstance(value, str):
        return value.strip().lower()[:500]
    if isinstance(value, float):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    return ""


def match(value: object, choices: tuple[str, ...], words: tuple[tuple[str, str], ...]) -> str | None:
    """The choice a free-text value means: exact, then by keyword; None if it means none of them."""
    said = text(value)
    if not said:
        return None
    norm = said.replace("-", "_").replace(" ", "_")
    if norm in choices:
        return norm
    found = keyword(said, words)
    if found is not None:
        return found
    for choice in choices:
        if choice in norm:
            return choice
    return None


def keyword(said: str, words: tuple[tuple[str, str], ...]) -> str | None:
    """The first keyword found in `said`: short words must be whole words ("ads" is not in "leads")."""
    tokens = set(re.split(r"[^a-z0-9]+", said))
    for word, choice in words:
        if (word in tokens) if len(word) <= 3 else (word in said):
            return choice
    return None


def effort(value: object, default: int, hi: int) -> int:
    x = number(value)
    return int(clamp(round(x), 1, hi)) if x is not None else default


def sanitize_initial(initial: Mapping[str, object]) -> dict[str, float]:
    """The starting values, with missing or unusable ones filled in and mrr made consistent with arpu."""
    out: dict[str, float] = {}
    for name, default in DEFAULT_INITIAL.items():
        x = number(initial.get(name))
        out[name] = max(0.0, x) if x is not None else default
    paying = float(round(min(out["paying_customers"], 1e9)))
    out["paying_customers"] = paying
    if number(initial.get("arpu")) is None:
        mrr = number(initial.get("mrr"))
        if mrr is not None and mrr > 0 and paying > 0:
            out["arpu"] = mrr / paying
    out["arpu"] = clamp(out["arpu"], 0.5, 1e5)
    out["activation_rate"] = clamp(out["activation_rate"], 0.5, 95.0)
    out["churn_rate"] = clamp(out["churn_rate"], 0.1, 60.0)
    out["signups"] = min(out["signups"], 1e7)
    out["support_backlog"] = min(out["support_backlog"], 1e7)
    mrr = number(initial.get("mrr"))
    out["mrr"] = clamp(mrr, 0.0, 1e12) if mrr is not None else round(paying * out["arpu"], 2)
    return {name: out[name] for name in METRICS}


def accept(note: str) -> dict[str, object]:
    return {"accepted": True, "note": note}


def refuse(note: str) -> dict[str, object]:
    return {"accepted": False, "note": note}
