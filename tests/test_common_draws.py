"""Common random numbers for the evaluation's arms: the simulated model can draw by who wakes and when, so
two arms that differ only in what agents are told roll the same dice; everywhere else it draws by its prompt."""

from __future__ import annotations

from conductor.engine.provider import price_of
from conductor.eval.run import common_draws
from conductor.org import load_org
from conductor.sim.model import draw_basis
from conductor.sim.model.profiles import parse_profile
from conductor.sim.model.prompt import without_record_ids

WAKE = """# Your role
Role: Head of Sales
Agent id: ink-sales

# Venture brief
{brief}

# Now
Now: 2026-03-16T00:00:00.000000Z. You were woken by: heartbeat.

# Your metric
You own `trial_conversion`."""


def test_seeds_draw_apart_and_the_arms_of_one_seed_alike() -> None:
    from conductor.sim.model import respond

    told, untold = WAKE.format(brief="discount.offer segment=annual worked"), WAKE.format(brief="None.")
    messages = [{"role": "user", "content": told}]
    one, other = parse_profile("sim/standard:common_draws=102"), parse_profile("sim/standard:common_draws=103")
    latencies = {respond([{"role": "user", "content": p}], one).latency_ms for p in (told, untold)}
    assert len(latencies) == 1  # the same dice for both arms of a seed (the latency is drawn first)
    assert respond(messages, one).latency_ms != respond(messages, other).latency_ms


def test_a_wake_up_draws_alike_whatever_its_brief_says_only_when_asked() -> None:
    told, untold = WAKE.format(brief="discount.offer segment=annual worked"), WAKE.format(brief="None.")
    assert draw_basis(told, told, 2, "") == draw_basis(untold, untold, 2, "")
    assert draw_basis(told, told, 2, "") != draw_basis(told, told, 4, "")  # the second turn of a tool loop
    assert draw_basis(told, told, 3, "# Your previous answer could not be used: x") != draw_basis(told, told, 3, "")
    later = told.replace("2026-03-16", "2026-03-17")
    assert draw_basis(told, told, 2, "") != draw_basis(later, later, 2, "")
    review = "# Review request\nAgent id: ink-sales\nNow: 2026-03-16"
    assert draw_basis(review, review, 2, "") == without_record_ids(review)  # anything else: the whole text
    assert parse_profile("sim/standard").common_draws == 0.0
    assert parse_profile("sim/standard:common_draws=102").common_draws == 102.0


def test_the_evaluation_sets_common_draws_on_every_simulated_model_at_the_same_price() -> None:
    org = load_org("src/conductor/examples/studio.toml")
    crn = common_draws(org, 101)
    models = {crn.model, *(crn.model_for(a) for v in crn.ventures for a in v.agents), crn.model_for(crn.platform)}
    assert models and all(parse_profile(m).common_draws == 102.0 for m in models)  # salted by the seed
    for model in models:
        base = model.split(":")[0]
        assert price_of(crn, model, 1000, 100, None, 200) == price_of(org, base, 1000, 100, None, 200) > 0
    assert common_draws(crn, 101) == crn  # applied once
