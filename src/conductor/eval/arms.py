"""The arms of the evaluation: each differs from `full` in one thing, named here once.

Engine arms run the organization: the same org file, seed and simulated model, with the brief, the platform
insights or the brief's wording changed, or with a share of wake-ups given an older brain version (the
concurrent control that lets brain versions be compared at the same calendar time). Reference arms do not
run the organization at all: they replay the full arm's decisions through the market with other options.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    name: str
    description: str
    ablate_brief: bool = False
    ablate_insights: bool = False
    paraphrase: bool = False
    control_share: float = 0.0
    control_lag: int = 1
    no_tools: bool = False


# Versions back for the older control: the studio writes a version every two days or so per venture (about
# 50 a venture in 90 days), and neighbours are too alike to tell apart.
OLDER = 7

ENGINE_ARMS: dict[str, Arm] = {arm.name: arm for arm in (
    Arm("full", "the organization as shipped: venture brief and platform insights in every prompt"),
    Arm("no-brief", "the brief withheld from every prompt (memory off)", ablate_brief=True),
    Arm("no-insights", "the venture brief without the platform insights (transfer off)", ablate_insights=True),
    Arm("paraphrase", "the brief rewritten in other words before every prompt", paraphrase=True),
    Arm("no-tools", "no tool is offered to any agent (the market's analytics, feedback and queue unread)",
        no_tools=True),
    Arm("control", "30 % of wake-ups see the previous brain version (concurrent control)", control_share=0.3),
    Arm("control-blind", "as control, with the brief withheld: versions must show no difference",
        ablate_brief=True, control_share=0.3),
    Arm("control-older", f"30 % of wake-ups see the version {OLDER} versions before the one in force (about two "
        "weeks older in the studio): does the brain of now beat the brain of a fortnight ago?",
        control_share=0.3, control_lag=OLDER),
    Arm("control-older-blind", "as control-older, with the brief withheld: versions must show no difference",
        ablate_brief=True, control_share=0.3, control_lag=OLDER),
)}
REFERENCE_ARMS: dict[str, str] = {
    "do-nothing": "the full arm's days with no decision executed",
    "random": "the full arm's decisions with every option drawn at random",
    "oracle": "the full arm's decisions with the option that the market's hidden parameters say is best",
}
DEFAULT_ARMS = ("full", "no-brief", "no-insights")
