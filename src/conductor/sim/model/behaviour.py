"""What the simulated model does when it has a choice: every probability and size, named and explained.

One frozen `Behaviour` holds them, so a reader can see why the model acts as it does and a test can change one
number without patching code. `BEHAVIOUR` is the one instance `respond` uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    # -- how much each source of evidence counts (a lesson's strength is multiplied by its source's weight) --
    brief_weight: float = 1.0  # the venture brief: this venture's own, synthesised lessons
    insights_weight: float = 0.7  # platform insights: other ventures' lessons, a weaker guide here
    directive_weight: float = 1.5  # a founder directive outweighs what the brief says
    outcome_weight: float = 1.0  # an outcome of this agent's own recent decision
    rejection_weight: float = 1.0  # the founder rejected exactly this option
    loose_kind_weight: float = 0.5  # a kind named by one loose word ("discounts") is less certain than its id
    loose_option_weight: float = 0.5  # an option named with no kind anywhere near it may belong to another kind
    max_count: int = 5  # a lesson's count stops adding strength beyond this many decisions: a pooled estimate
    # over many decisions is one estimate, and a bigger effect seen on fewer should still win
    big_effect: float = 0.10  # each 10% of effect adds one unit of strength: a bigger win is a stronger lesson
    max_effect_gain: float = 3.0  # up to three units (a 30% effect): beyond that, sizes are not believed
    effect_floor: float = 0.3  # what a lesson without a number (or with a tiny one) weighs, in those units
    noise_effect: float = 0.005  # a move smaller than half a percent says nothing either way

    # -- looking things up (tools the request offers) --
    look_up: float = 0.85  # chance a wake-up with tools that fit its kinds looks something up first
    max_lookups: int = 2  # tool calls it makes at most, all in one turn
    lookup_weight: float = 1.0  # a looked-up number counts like an outcome of its own
    lookup_min_z: float = 1.0  # a lift within one noise band of zero says little (its strength is cut)
    lookup_weak: float = 0.2  # what such a small lift weighs, per unit of its z-score
    lookup_max: float = 3.0  # the most one looked-up line can weigh
    standings_min_se: float = 0.5  # a brief's estimates are read as no surer than half a point (in percent)
    stranger_trust: float = 0.5  # how far another venture's table counts before there is enough to compare

    # -- exploiting what the prompt says worked --
    exploit_best: float = 0.7  # chance to take the best-known option of a choice parameter (else explore)
    explore_untried: float = 0.8  # when exploring, chance to try an option nothing has been said of yet
    exploit_number: float = 0.8  # chance to reuse a numeric value that worked (else draw a fresh one)
    number_jitter: float = 0.15  # a reused number moves by up to this share, so neighbours get tried
    exploit_text: float = 0.6  # chance to reuse a free-text value that worked
    kind_gain: float = 1.5  # a kind's draw weight grows by this per unit of positive evidence
    kind_penalty: float = 0.4  # and shrinks by this per unit of negative evidence
    kind_floor: float = 0.15  # but a failed kind keeps this weight: evidence can be wrong
    confidence: tuple[float, float] = (0.6, 0.9)  # the confidence of an ordinary decision
    confidence_bonus: float = 0.05  # more confident when repeating what worked
    revision_bonus: float = 0.04  # and when answering a reviewer's concrete feedback
    confidence_cap: float = 0.92  # never certain

    # -- how many new decisions per wake-up: chance of (none, at most one); the rest take two --
    after_revision_extra: float = 0.2  # chance of one new decision beside a revision
    when_content: tuple[float, float] = (0.5, 0.9)  # recent outcomes good, nothing pending, metric not slipping
    when_slipping: tuple[float, float] = (0.08, 0.65)  # the owned metric is slipping: act more
    otherwise: tuple[float, float] = (0.15, 0.8)  # everything else
    trend_band: float = 0.02  # a metric within ±2% over the window is flat

    # -- numbers --
    spend_cap: float = 0.9  # an ordinary spend stays under this share of the founder's threshold
    over_budget: tuple[float, float] = (1.2, 2.5)  # an over-budget decision spends this multiple of the threshold
    low_confidence: tuple[float, float] = (0.2, 0.45)  # the confidence of an unsure decision
    size_when_weak: tuple[float, float] = (0.02, 0.12)  # expected effect when the metric is not already rising
    size_when_strong: tuple[float, float] = (0.02, 0.06)  # smaller when it is
    strong_trend: float = 0.05  # a metric up more than 5% over the window is rising

    # -- tasks and messages --
    complete_named_task: float = 0.75  # chance to complete a task that names a kind just taken
    complete_task: float = 0.55  # chance to complete any other task
    delegate_manager: float = 0.35  # chance a manager delegates a task to a report
    delegate_other: float = 0.1  # chance anyone else with reports does
    ask_manager: float = 0.06  # chance an agent without reports asks its manager for a budget call
    reply_message: float = 0.5  # chance to answer a message from the manager or a report
    report_slipping: float = 0.3  # chance to tell the manager when the metric slips
    report_otherwise: float = 0.12  # chance to send the manager a note otherwise

    # -- reviews --
    finance_spend_limit: float = 350.0  # a finance reviewer cuts spends above this on round one
    finance_percent_limit: float = 25.0  # and discounts deeper than this
    revise_feature: float = 0.3  # chance a feature gets sent back to be scoped down
    revise_low_confidence: float = 0.5  # chance a decision under 0.6 confidence gets sent back
    revise_any: float = 0.1  # chance any other decision gets generic feedback on round one
    revise_later_round: float = 0.2  # chance a later round is still not convinced
    review_against: float = 1.0  # a reviewer sends an option back when the brief weighs at least this much
    # against it (a failed lesson over two decisions of -3 % or more, a table's option a noise band below the
    # others), not whenever it ranks below the average: an option in the middle of its table has not failed

    # -- synthesis --
    lesson_min_decisions: int = 2  # one decision is a question, not a lesson
    lesson_recent: int = 8  # evidence kept per lesson: markets drift, old wins say little
    lesson_worked_effect: float = 0.01  # a lesson worked when its mean effect, the good way, is at least 1%
    unclear_weight: float = 0.3  # an "unclear" outcome counts with its effect at this weight, never as a win
    side_cost: float = 0.01  # a lesson that cost the main metric more than a point on average failed
    side_penalty: float = 0.2  # how far below zero such a lesson is pushed
    max_lessons: int = 8  # lessons per section
    platform_good: float = 0.6  # a venture's smoothed win rate at or above this: the pattern held there
    platform_bad: float = 0.4  # at or below this: it failed there

    # -- presentation --
    fenced_json: float = 0.1  # chance to wrap an answer in a ```json fence, as chat models do


BEHAVIOUR = Behaviour()


def weigh(z: dict[str, float], b: Behaviour) -> dict[str, float]:
    """Signed strengths of a table's options from their z-scores: within `lookup_min_z` an option weighs
    `lookup_weak` per unit; the surest one weighs at most `lookup_max` and the others keep their proportion to
    it (so a table of two clear winners still says which is ahead)."""
    out = {o: v if abs(v) >= b.lookup_min_z else b.lookup_weak * v for o, v in z.items()}
    top = max((abs(v) for v in out.values()), default=0.0)
    scale = b.lookup_max / top if top > b.lookup_max else 1.0
    return {o: v * scale for o, v in out.items()}
