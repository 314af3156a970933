"""The ablation: with the brief withheld, decisions over the last 30 simulated days succeed less often.

Same org, same seeds, same simulated market and model; the only difference is `ablate_brief` (what
`conductor run --no-brief` sets): the brain is still synthesized, but no prompt shows it. The simulated model
reads nothing but its prompt and never sees the market's hidden state, so whatever it does better with the
brief it learned from the brief's text: lessons with their evidence, retrieved memories, the record of what
worked. Each seed is a different world (the market's hidden parameters are drawn from it).

"Succeed" is the product's own verdict ("worked": the effect's 95 % interval above zero against a forecast).
The test also prints the truth beside it, read from the market's hidden parameters as `conductor eval` reads
them: how good the options chosen were, between the average option of their lever (0) and the best (1). At
this size (5 seeds, 40 days) that figure is too noisy to assert either way (measured +0.022 with the brief
against -0.044 without under one attribution, +0.047 against +0.092 under the next); whether the brief pays
is measured where it can be, in MRR over 20 seeds and 90 days (`conductor eval`, docs/compounding.md).
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


def test_withholding_the_brief_lowers_decision_success() -> None:
    with_brief, without = [], []
    for seed in SEEDS:
        org = lab_org(seed)
        db, ablated = run_lab(DAYS, seed), run_lab(DAYS, seed, ablate=True)
        rate, n = success_in_last(db, org, DAYS, LAST)
        rate_ablated, n_ablated = success_in_last(ablated, org, DAYS, LAST)
        quality, _ = option_quality_in_last(db, org, DAYS, LAST)
        quality_ablated, _ = option_quality_in_last(ablated, org, DAYS, LAST)
        print(f"seed {seed}: with the brief {rate:.3f} (n={n})   without {rate_ablated:.3f} (n={n_ablated});"
              f" true option quality {quality:+.3f} vs {quality_ablated:+.3f}")
        assert n >= 30 and n_ablated >= 30  # enough measured decisions to mean something
        with_brief.append(rate)
        without.append(rate_ablated)
    mean_with, mean_without = sum(with_brief) / len(SEEDS), sum(without) / len(SEEDS)
    print(f"mean over {len(SEEDS)} seeds: with the brief {mean_with:.3f}, without {mean_without:.3f}")
    assert mean_without < mean_with
