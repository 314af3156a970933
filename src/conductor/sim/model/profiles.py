"""Profiles: how often the simulated model misbehaves, and how slow it pretends to be."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    """How often the simulated model misbehaves on a first attempt, and how slow it pretends to be."""

    name: str
    invalid_json: float
    schema_violation: float
    low_confidence: float
    risky: float
    over_budget: float
    latency_ms: float
    sleep_ms: float = 0.0
    # Above 0: a wake-up draws by who wakes, when and why, not by its whole prompt (`draw_basis`), salted by
    # this number: common random numbers, so two runs with the same salt that differ only in what agents are
    # told differ in what they knew, not in their luck. The evaluation sets it per seed
    # (`conductor.eval.run.common_draws`: seed + 1), so the arms of one seed share draws and seeds do not; 0
    # everywhere else.
    common_draws: float = 0.0


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 0.04, 0.04, 0.08, 0.10, 0.05, latency_ms=1800.0),
    "careless": Profile("careless", 0.12, 0.12, 0.24, 0.30, 0.15, latency_ms=1400.0),
    "perfect": Profile("perfect", 0.0, 0.0, 0.0, 0.0, 0.0, latency_ms=900.0),
}

_RATES = ("invalid_json", "schema_violation", "low_confidence", "risky", "over_budget")
_SETTABLE = tuple(f.name for f in fields(Profile) if f.name != "name")


@dataclass(frozen=True)
class SimReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    tool_calls: tuple[dict[str, str], ...] = ()  # {"id", "name", "arguments"}: tools it asks to call first


def _override(model: str, item: str) -> tuple[str, float]:
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or key not in _SETTABLE:
        raise ValueError(f"bad simulated model override {item.strip()!r} in {model!r}; settable: {', '.join(_SETTABLE)}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"override {key!r} in {model!r} must be a number, not {value.strip()!r}") from None
    if number != number or number < 0 or (key in _RATES and number > 1):
        limit = "between 0 and 1" if key in _RATES else "0 or more"
        raise ValueError(f"override {key!r} in {model!r} must be {limit}, not {value.strip()!r}")
    return key, number


def parse_profile(model: str) -> Profile:
    """The profile a model string names: "standard", "sim/careless", "standard:invalid_json=0.2,sleep_ms=50"."""
    text = (model or "").strip()
    if text.lower().startswith("sim/"):
        text = text[4:]
    name, _, overrides = text.partition(":")
    name = name.strip().lower()
    base = PROFILES.get(name)
    if base is None:
        raise ValueError(
            f"unknown simulated model profile {name!r} (from {model!r}); known profiles: "
            f"{', '.join(PROFILES)}; write e.g. 'sim/standard' or 'sim/standard:invalid_json=0.2,sleep_ms=50'"
        )
    # Any, not float: replace() checks each keyword against its field, and _override lets through only the
    # float fields (_SETTABLE), never the str `name`, which mypy cannot see in a dict built at run time.
    changes: dict[str, Any] = dict(_override(model, item) for item in overrides.split(",") if item.strip())
    return replace(base, **changes) if changes else base
