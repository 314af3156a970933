"""A concurrent control for brain versions: a seeded share of wake-ups sees an older version (or none).

Comparing v7's decisions in week 7 with v1's in week 1 measures the calendar, not the brain. With
`[brain] control_share` above 0, each wake-up of a venture agent is assigned an arm by a draw seeded only by
the org's seed, the agent and the simulated time, so it is reproducible and does not depend on thread timing
or on how many other draws happened before it (the engine's shared rng is never touched). The arm and the
version actually shown are recorded on `agent.woke` and on every decision proposed in that wake-up; the
comparison itself is `brain.quality.compare_to_control`.

The older version is `[brain] control_lag` versions back (1: the previous one). A busy venture writes a
version every day or two, so neighbours differ by a few lessons and their decisions cannot be told apart;
a longer lag asks the question a founder has, whether the brain of now beats the brain of a few weeks ago.

Public API: `BriefChoice`, `control_arm(...)`, `shown_version(...)`, `brief_choice(...)`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Arm = Literal["current", "previous", "none"]


@dataclass(frozen=True)
class BriefChoice:
    """Which brief a wake-up got: its arm, the version shown (None: none) and the version in force."""

    arm: Arm = "current"
    version: int | None = None
    in_force: int | None = None


def control_arm(seed: int, agent_id: str, at_iso: str, share: float, control: str) -> Arm:
    """The arm of one wake-up: the control (`control`: previous or none) with probability `share`."""
    if share <= 0:
        return "current"
    draw = random.Random(f"{seed}:control:{agent_id}:{at_iso}").random()
    if draw >= share:
        return "current"
    return "none" if control == "none" else "previous"


def shown_version(arm: Arm, in_force: int | None, lag: int = 1) -> int | None:
    """The version a wake-up of `arm` is shown: the one in force, the one `lag` versions before it, or none.
    For the previous arm, None means there is no version that old yet: the keeper then shows the version in
    force and records the wake-up as current, since a brief without any version is no older version."""
    if in_force is None or arm == "none":
        return None if arm == "none" else in_force
    if arm == "previous":
        return in_force - lag if in_force > lag else None
    return in_force


def brief_choice(arm: Arm, in_force: int | None, lag: int = 1) -> BriefChoice:
    """The drawn arm made into what the wake-up gets. A previous arm with no version `lag` back yet sees the
    version in force and is recorded as current: shown no version at all, it would be a "none" control
    recorded as an older version (with a lag of 7, a venture's first two weeks)."""
    shown = shown_version(arm, in_force, lag)
    if arm == "previous" and shown is None:
        return BriefChoice("current", in_force, in_force)
    return BriefChoice(arm, shown, in_force)
