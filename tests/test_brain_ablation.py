"""The ablation: with the brief withheld, decisions over the last 30 simulated days choose worse options.

Same org, same seeds, same simulated market and model; the only difference is `ablate_brief` (what
`conductor run --no-brief` sets): the brain is still synthesized, but no prompt shows it. The simulated model
reads nothing but its prompt and never sees the market's hidden state, so whatever it does better with the
brief it learned from the brief's text: lessons with their evidence, retrieved memories, the record of what
worked. Each seed is a different world (the market's hidden parameters are drawn from it).

The endpoint is the truth, read here from the market's hidden parameters (as `conductor eval` reads them, and
never an agent): how good the options chosen were, between the average option of their lever (0) and the
best (1). The product's own "worked" share is printed but not asserted: it is what attribution says of the
decisions, and an organization that concentrates on its best options makes them harder to tell apart (their
windows overlap), so that share can fall as the choices get better.
"""

from __future__ import annotations

from pathlib import Path

from brain_support import lab_org, run_lab, success_in_last
from conductor.eval.replay import new_market, read_market_logs
from conductor.org.models import Org
from conductor.sim.market import OPTION_LEVERS

SEEDS = (1, 2, 3, 4, 5)
DAYS = 40
LAST = 30


def option_quality_in_last(db: Path, org: Org, days: int, last: int) -> tuple[float, int]:
    """(mean quality, decisions) of the options executed in the last `last` days: per lever, 0 for the
    average option's true effect and 1 for the best one's."""
    total, n = 0.0, 0
    for venture, log in read_market_logs(db).items():
        params, day = new_market(org, venture).params, 0
        for op in log.ops:
            if op[0] == "step":
                day = op[1]
                continue
            spec = OPTION_LEVERS.get(op[1])
            option = str(op[2].get(spec.param, "")).lower() if spec is not None else ""
            if day < days - last or spec is None or option not in spec.options:
                continue
            values = [params.goodness(op[1], o) for o in spec.options]
            mean = sum(values) / len(values)
            total += (params.goodness(op[1], option) - mean) / (max(values) - mean + 1e-9)
            n += 1
    return total / max(n, 1), n


def test_withholding_the_brief_lowers_the_quality_of_the_options_chosen() -> None:
    with_brief, without = [], []
    for seed in SEEDS:
        org = lab_org(seed)
        db, ablated = run_lab(DAYS, seed), run_lab(DAYS, seed, ablate=True)
        quality, n = option_quality_in_last(db, org, DAYS, LAST)
        quality_ablated, n_ablated = option_quality_in_last(ablated, org, DAYS, LAST)
        rate, _ = success_in_last(db, org, DAYS, LAST)
        rate_ablated, _ = success_in_last(ablated, org, DAYS, LAST)
        print(f"seed {seed}: option quality with the brief {quality:+.3f} (n={n}), without {quality_ablated:+.3f} "
              f"(n={n_ablated}); measured 'worked' share {rate:.3f} vs {rate_ablated:.3f}")
        assert n >= 30 and n_ablated >= 30  # enough decisions with options to mean something
        with_brief.append(quality)
        without.append(quality_ablated)
    mean_with, mean_without = sum(with_brief) / len(SEEDS), sum(without) / len(SEEDS)
    print(f"mean over {len(SEEDS)} seeds: with the brief {mean_with:+.3f}, without {mean_without:+.3f}")
    assert mean_without < mean_with
