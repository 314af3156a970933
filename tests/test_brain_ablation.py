"""The ablation: with the brief withheld, decisions over the last 30 simulated days succeed less often.

Same org, same seeds, same simulated market and model; the only difference is `ablate_brief` (what
`conductor run --no-brief` sets): the brain is still synthesized, but no prompt shows it. The simulated model
reads nothing but its prompt and never sees the market's hidden state, so whatever it does better with the
brief it learned from the brief's text: lessons with their evidence, retrieved memories, the record of what
worked. Each seed is a different world (the market's hidden parameters are drawn from it).
"""

from __future__ import annotations

from brain_support import lab_org, run_lab, success_in_last

SEEDS = (1, 2, 3, 4, 5)
DAYS = 40
LAST = 30


def test_withholding_the_brief_lowers_decision_success() -> None:
    with_brief, without = [], []
    for seed in SEEDS:
        org = lab_org(seed)
        rate, n = success_in_last(run_lab(DAYS, seed), org, DAYS, LAST)
        rate_ablated, n_ablated = success_in_last(run_lab(DAYS, seed, ablate=True), org, DAYS, LAST)
        print(f"seed {seed}: with the brief {rate:.3f} (n={n})   without {rate_ablated:.3f} (n={n_ablated})")
        assert n >= 30 and n_ablated >= 30  # enough measured decisions to mean something
        with_brief.append(rate)
        without.append(rate_ablated)
    mean_with, mean_without = sum(with_brief) / len(SEEDS), sum(without) / len(SEEDS)
    print(f"mean over {len(SEEDS)} seeds: with the brief {mean_with:.3f}, without {mean_without:.3f}")
    assert mean_without < mean_with
