"""From runs to figures: the pre-registered endpoints, computed from plain run data (pure, no I/O).

Endpoints, fixed before any run (docs/compounding.md says why each):

1. **Total MRR at the horizon**, full vs each ablation, paired by seed: mean difference, 95 % t interval, p.
2. **Share of the random→oracle gap closed** by the full arm at the horizon, and over each half of the run
   (MRR gained within the half, full vs random vs oracle on the same decisions): learning shows as a larger
   share in the second half. Beside it (a diagnostic, not an endpoint), the share closed by a policy that
   always follows the run's own measurements (`estimates`).
3. **Transfer**: full vs no-insights on the ventures that share a latent trait with another venture, as the
   mean relative MRR difference per venture at the horizon, paired by seed.
4. **Attribution against ground truth**: Spearman correlation of measured and true effects over decisions
   with a closed window, and how often a decision with no true effect was called "worked".
5. **Paraphrase**: the share of full's advantage over no-brief that the paraphrased-brief arm keeps.
6. **Versions against the concurrent control** (control arms): decisions shown the version in force against
   those shown the control in the same periods; with the brief withheld (control-blind) there must be none.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from conductor.eval.stats import paired, spearman


def horizon_total(mrr: dict[str, dict[Any, float]], day: int) -> float:
    """Total MRR over ventures on `day` (keys may be ints or, after JSON, strings)."""
    return sum(_at(series, day) for series in mrr.values())


def _at(series: dict[Any, float], day: int) -> float:
    if day in series:
        return float(series[day])
    if str(day) in series:
        return float(series[str(day)])
    days = sorted(int(d) for d in series)
    before = [d for d in days if d <= day]
    return float(series.get(before[-1], series.get(str(before[-1]), 0.0))) if before else 0.0


def arm_totals(runs: list[dict[str, Any]], days: int) -> dict[int, dict[str, float]]:
    """seed -> arm (engine and reference) -> total MRR at the horizon."""
    out: dict[int, dict[str, float]] = {}
    for run in runs:
        row = out.setdefault(run["seed"], {})
        row[run["arm"]] = horizon_total(run["mrr"], days)
        for name, mrr in (run.get("references") or {}).items():
            row[name] = horizon_total(mrr, days)
    return out


def comparison(totals: dict[int, dict[str, float]], treatment: str, control: str) -> dict[str, Any] | None:
    seeds = sorted(s for s, row in totals.items() if treatment in row and control in row)
    if not seeds:
        return None
    diffs = [totals[s][treatment] - totals[s][control] for s in seeds]
    return {"treatment": treatment, "control": control, "seeds": seeds, **paired(diffs).as_dict()}


def _closure(full: float, random: float, oracle: float) -> float | None:
    gap = oracle - random
    return (full - random) / gap if abs(gap) > 1e-9 else None


def gap_closure(runs: list[dict[str, Any]], days: int) -> dict[str, Any] | None:
    """Share of the random→oracle gap the full arm closes: at the horizon, and within each half."""
    full = [r for r in runs if r["arm"] == "full" and r.get("references")]
    if not full:
        return None
    half = days // 2
    per_seed = []
    sums = {"horizon": [0.0, 0.0, 0.0], "first": [0.0, 0.0, 0.0], "second": [0.0, 0.0, 0.0]}
    for run in full:
        refs = run["references"]
        arms = (run["mrr"], refs["random"], refs["oracle"])
        end = [horizon_total(m, days) for m in arms]
        mid = [horizon_total(m, half) for m in arms]
        start = [horizon_total(m, 0) for m in arms]
        spans = {"horizon": end, "first": [m - s for m, s in zip(mid, start, strict=True)],
                 "second": [e - m for e, m in zip(end, mid, strict=True)]}
        row = {"seed": run["seed"]}
        for key, (f, r, o) in spans.items():
            row[key] = _closure(f, r, o)
            sums[key] = [a + b for a, b in zip(sums[key], (f, r, o), strict=True)]
        per_seed.append(row)
    pooled = {key: _closure(*vals) for key, vals in sums.items()}
    # The policy that follows the run's own measurements, where the runs carry it: how much of the gap
    # exploiting attribution alone would close (the rest is the measurements' fault, not the agents').
    follow = [r for r in full if "estimates" in r["references"]]
    if follow and len(follow) == len(full):
        est = sum(horizon_total(r["references"]["estimates"], days) for r in follow)
        pooled["estimates"] = _closure(est, sums["horizon"][1], sums["horizon"][2])
    return {"per_seed": per_seed, "pooled": pooled, "half_day": half}


def transfer(runs: list[dict[str, Any]], days: int) -> dict[str, Any] | None:
    """full vs no-insights on ventures sharing a latent trait: mean relative MRR difference, paired by seed."""
    by_seed: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["arm"]] = run
    diffs, seeds, counted = [], [], 0
    for seed, arms in sorted(by_seed.items()):
        if "full" not in arms or "no-insights" not in arms:
            continue
        traits = arms["full"].get("traits") or {}
        sizes = Counter(traits.values())
        shared = [v for v, t in traits.items() if sizes[t] > 1]
        rel = []
        for v in shared:
            a = _at(arms["full"]["mrr"].get(v, {}), days)
            b = _at(arms["no-insights"]["mrr"].get(v, {}), days)
            if b > 0:
                rel.append(a / b - 1.0)
        if rel:
            diffs.append(sum(rel) / len(rel))
            seeds.append(seed)
            counted += len(rel)
    if not diffs:
        return None
    return {"seeds": seeds, "ventures": counted, **paired(diffs).as_dict()}


def attribution(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    graded = [g for r in runs if r["arm"] == "full" for g in r.get("graded") or []]
    usable = [g for g in graded if isinstance(g.get("measured"), int | float) and isinstance(g.get("true"), int | float)]
    if not usable:
        return None
    null = [g for g in usable if g["true"] == 0.0]
    worked_null = sum(1 for g in null if g["verdict"] == "worked")
    verdicts = Counter(g["verdict"] for g in usable)
    moved = [g for g in usable if g["moved_market"]]
    return {
        "decisions": len(usable),
        "spearman": spearman([g["measured"] for g in usable], [g["true"] for g in usable]),
        "spearman_market_decisions": spearman([g["measured"] for g in moved], [g["true"] for g in moved]),
        "no_true_effect": len(null),
        "no_true_effect_called_worked": worked_null / len(null) if null else None,
        "verdicts": dict(sorted(verdicts.items())),
    }


def paraphrase_share(totals: dict[int, dict[str, float]]) -> dict[str, Any] | None:
    seeds = sorted(s for s, row in totals.items() if {"full", "no-brief", "paraphrase"} <= set(row))
    if not seeds:
        return None
    full = sum(totals[s]["full"] - totals[s]["no-brief"] for s in seeds) / len(seeds)
    para = sum(totals[s]["paraphrase"] - totals[s]["no-brief"] for s in seeds) / len(seeds)
    versus = comparison(totals, "full", "no-brief")
    # A share of an advantage that is not there is noise over noise (it printed 2,886 % once): computed only
    # when full is ahead of no-brief beyond chance.
    shown = versus is not None and full > 0 and versus["p"] < 0.05
    return {"seeds": seeds, "full_advantage": full, "paraphrase_advantage": para,
            "share_kept": para / full if shown else None,
            "full_vs_no_brief_p": versus["p"] if versus is not None else None,
            "paraphrase_vs_no_brief": comparison(totals, "paraphrase", "no-brief")}


def version_control(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per control arm: decisions shown the version in force against those shown the control in the same
    periods, pooled over ventures and seeds (Welch), and how many single-version comparisons were clear.

    Only periods (seed, venture, version in force) with decisions on both sides count: a period without any
    control (with `control_lag` 7, a venture's first seven versions, which have no version that old) would
    put early decisions on one side only, and the comparison would measure the calendar again."""
    from conductor.brain.quality import welch

    out: dict[str, Any] = {}
    for arm in sorted({r["arm"] for r in runs if r.get("control") is not None}):
        periods: dict[tuple[int, str, int], dict[str, list[dict[str, Any]]]] = {}
        for r in runs:
            if r["arm"] != arm:
                continue
            for c in r["control"]:
                if c["period"] is not None:
                    side = "current" if c["arm"] == "current" else "control"
                    periods.setdefault((r.get("seed", 0), c["venture"], c["period"]),
                                       {"current": [], "control": []})[side].append(c)
        paired = {key: sides for key, sides in periods.items() if sides["current"] and sides["control"]}
        rows = [c for sides in paired.values() for side in sides.values() for c in side]
        current = [c["effect"] for c in rows if c["arm"] == "current"]
        control = [c["effect"] for c in rows if c["arm"] != "current"]
        found = welch(current, control)
        clear = {"ahead": 0, "behind": 0, "not enough evidence": 0}
        for sides in paired.values():
            one = welch([c["effect"] for c in sides["current"]], [c["effect"] for c in sides["control"]])
            enough = one is not None and min(len(sides["current"]), len(sides["control"])) >= 8
            key = ("ahead" if one[1] > 0 else "behind" if one[2] < 0 else "not enough evidence") if enough and one \
                else "not enough evidence"
            clear[key] += 1
        out[arm] = {"current": len(current), "control": len(control),
                    "difference": found[0] if found else None, "low": found[1] if found else None,
                    "high": found[2] if found else None, "versions": clear, "truth": _true_control(rows)}
    return out or None


def _true_control(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same comparison on the true effects (ground truth, replayed) of the decisions that have one: what the
    measured comparison would show, on those decisions, if attribution were exact."""
    from conductor.brain.quality import welch

    current = [c["true"] for c in rows if c["arm"] == "current" and isinstance(c.get("true"), int | float)]
    control = [c["true"] for c in rows if c["arm"] != "current" and isinstance(c.get("true"), int | float)]
    found = welch(current, control)
    if found is None:
        return None
    return {"current": len(current), "control": len(control), "difference": found[0], "low": found[1],
            "high": found[2]}


def activity(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Executed decisions per run of each arm, and each arm's paired ratio to the full arm's. An arm that acts
    less can lose MRR for that alone in a market where acting pays on average: the ratio says whether a
    difference in MRR came with a difference in how much was done (docs/compounding.md)."""
    by_seed: dict[int, dict[str, int]] = defaultdict(dict)
    for run in runs:
        if run.get("executed") is not None:
            by_seed[run["seed"]][run["arm"]] = int(run["executed"])
    arms = sorted({arm for row in by_seed.values() for arm in row})
    if "full" not in arms:
        return None
    out: dict[str, Any] = {}
    for arm in arms:
        counts = [row[arm] for row in by_seed.values() if arm in row]
        ratios = [row["full"] / row[arm] for row in by_seed.values() if arm in row and "full" in row and row[arm]]
        out[arm] = {"mean_executed": sum(counts) / len(counts),
                    "full_over_arm": sum(ratios) / len(ratios) if ratios else None, "seeds": len(counts)}
    return out


def evaluate(runs: list[dict[str, Any]], days: int) -> dict[str, Any]:
    """Every endpoint that the arms present in `runs` allow."""
    totals = arm_totals(runs, days)
    comparisons = [c for c in (comparison(totals, "full", other) for other in
                               ("no-brief", "no-insights", "paraphrase", "no-tools", "random", "do-nothing", "oracle")) if c]
    return {
        "days": days,
        "totals": {str(s): row for s, row in sorted(totals.items())},
        "comparisons": comparisons,
        "gap_closure": gap_closure(runs, days),
        "transfer": transfer(runs, days),
        "attribution": attribution(runs),
        "paraphrase": paraphrase_share(totals),
        "version_control": version_control(runs),
        "activity": activity(runs),
    }
