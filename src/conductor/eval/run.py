"""One evaluation run: an engine arm of the org on one seed, in its own process and its own database.

`run_one` is what a worker process executes. It runs the engine on the simulated clock to the horizon and
returns plain data: each venture's daily MRR, counts, and, for the full arm, the reference policies replayed
from its decision log and each measured decision's true effect (for grading attribution). Arms with a concurrent
control also get each decision's true effect (one market replay per measured decision), so that brain versions
are compared on what their decisions really did, beside what attribution measured.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from conductor.eval.arms import ENGINE_ARMS, Arm
from conductor.eval.replay import (
    MarketLog,
    estimates_chooser,
    measured_options,
    new_market,
    oracle_chooser,
    random_chooser,
    read_market_logs,
    replay,
    true_effect,
)
from conductor.org import Org, load_org
from conductor.sim.direct import is_simulated

MRR = "mrr"


def arm_org(org: Org, arm: Arm) -> Org:
    """The org as an arm runs it: the concurrent control's share set when the arm asks for one."""
    if not arm.control_share:
        return org
    brain = org.brain
    if "control_share" not in type(brain).model_fields:
        raise RuntimeError("this build has no concurrent control ([brain] control_share)")
    if arm.control_lag != 1 and "control_lag" not in type(brain).model_fields:
        raise RuntimeError("this build has no older control ([brain] control_lag)")
    return org.model_copy(update={"brain": brain.model_copy(update={"control_share": arm.control_share,
                                                                    "control_lag": arm.control_lag})})


def common_draws(org: Org, seed: int) -> Org:
    """The org with every simulated model drawing by moment (the profile's `common_draws`, salted by the seed so
    that seeds stay independent draws of the model's luck), priced as before.

    Why: the arms of one seed differ in what agents are told, and with draws seeded by the whole prompt every
    wake-up of one arm draws afresh from the other's, so luck, compounded over 90 days, swamps what the
    difference in knowledge did. Drawn by who wakes, when and why, two agents in the same moment of two arms
    roll the same dice and differ in what they knew (common random numbers, as the market's noise already
    is). The comparison stays paired and unbiased; only its noise shrinks. Runs outside an evaluation keep the
    default draws."""

    def crn(model: str | None) -> str | None:
        if model is None or not is_simulated(model) or "common_draws" in model:
            return model
        return f"{model}{',' if ':' in model else ':'}common_draws={seed + 1}"

    prices = {**org.prices, **{crn(k) or k: v for k, v in org.prices.items() if is_simulated(k)}}
    ventures = [v.model_copy(update={"agents": [a.model_copy(update={"model": crn(a.model)}) for a in v.agents]})
                for v in org.ventures]
    return org.model_copy(update={
        "model": crn(org.model), "prices": prices, "ventures": ventures,
        "platform": org.platform.model_copy(update={"model": crn(org.platform.model)}),
        "brain": org.brain.model_copy(update={"model": crn(org.brain.model)})})


def _brief_transform(arm: Arm, seed: int) -> Callable[[str], str] | None:
    if not arm.paraphrase:
        return None
    from conductor.eval.paraphrase import paraphrase_brief

    return lambda text: paraphrase_brief(text, seed=seed)


def run_engine(org: Org, org_path: Path, db: Path, days: int, arm: Arm, seed: int) -> None:
    """Run `org` as `arm` to `days` on the simulated clock, writing `db`."""
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.store import open_database

    open_database(db).close()
    org = common_draws(org, seed)
    options = EngineOptions(until=org.start + timedelta(days=days), ablate_brief=arm.ablate_brief,
                            no_tools=arm.no_tools)
    if arm.ablate_insights or arm.paraphrase:
        options = replace(options, ablate_insights=arm.ablate_insights, brief_transform=_brief_transform(arm, seed))
    engine = Engine(org, db, options, org_path=org_path)
    asyncio.run(engine.run())


def _series(log: MarketLog, metric: str = MRR) -> dict[int, float]:
    return {day: values[metric] for day, values in sorted(log.recorded.items()) if metric in values}


def _replayed(series: dict[int, dict[str, float]], metric: str = MRR) -> dict[int, float]:
    return {day: values[metric] for day, values in sorted(series.items()) if metric in values}


def references(org: Org, logs: dict[str, MarketLog], seed: int, db: Path | None = None
               ) -> dict[str, dict[str, dict[int, float]]]:
    """Reference arm -> venture -> day -> MRR, replayed from the full arm's decision log (with `db`, also the
    policy that follows the run's own measurements: `estimates`)."""
    out: dict[str, dict[str, dict[int, float]]] = {"do-nothing": {}, "random": {}, "oracle": {}}
    follow = estimates_chooser(measured_options(db), seed) if db is not None else None
    if follow is not None:
        out["estimates"] = {}
    for venture, log in sorted(logs.items()):
        out["do-nothing"][venture] = _replayed(replay(org, log, applies=False))
        out["random"][venture] = _replayed(replay(org, log, choose=random_chooser(seed)))
        out["oracle"][venture] = _replayed(replay(org, log, choose=oracle_chooser))
        if follow is not None:
            out["estimates"][venture] = _replayed(replay(org, log, choose=follow))
    return out


def graded_decisions(org: Org, db: Path, logs: dict[str, MarketLog]) -> list[dict[str, Any]]:
    """Every decision whose outcome was measured: the attributed effect and verdict beside its true effect."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        executed = {json.loads(p)["decision_id"]: json.loads(p) for (p,) in conn.execute(
            "SELECT payload FROM events WHERE kind = 'decision.executed'")}
        rows = conn.execute("SELECT d.id, d.venture, d.kind, json_extract(e.payload, '$.outcome') FROM events e "
                            "JOIN decisions d ON d.id = json_extract(e.payload, '$.decision_id') "
                            "WHERE e.kind = 'decision.outcome' ORDER BY e.id").fetchall()
    finally:
        conn.close()
    baselines = {v: replay(org, log) for v, log in logs.items()}
    graded = []
    for decision_id, venture, kind, raw in rows:
        outcome = json.loads(raw) if raw else {}
        done = executed.get(decision_id, {})
        day = done.get("day")
        metric = outcome.get("metric")
        window = int(outcome.get("window_days") or 0)
        if day is None or not metric or window <= 0 or venture not in logs:
            continue
        moved_market = isinstance(done.get("market"), dict) and bool(done.get("ok"))
        truth = (true_effect(org, logs[venture], decision_id, metric, day + 1, day + window, baselines[venture])
                 if moved_market else 0.0)
        measured = outcome.get("effect", outcome.get("delta_pct"))
        verdict = outcome.get("verdict") or ("worked" if outcome.get("success") else "failed")
        graded.append({"id": decision_id, "venture": venture, "kind": kind, "metric": metric, "window": window,
                       "measured": measured, "verdict": verdict, "true": truth, "moved_market": moved_market,
                       "good_direction": outcome.get("good_direction", "up")})
    return graded


def run_one(org_path: str, seed: int, arm_name: str, days: int, workdir: str, grade: bool) -> dict[str, Any]:
    """Run one arm on one seed; plain data back (see the module docstring). Executed in a worker process."""
    arm = ENGINE_ARMS[arm_name]
    org = arm_org(load_org(org_path).reseeded(seed), arm)
    db = Path(workdir) / f"seed{seed}-{arm_name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    run_engine(org, Path(org_path), db, days, arm, seed)
    elapsed = time.perf_counter() - started
    logs = read_market_logs(db)
    result: dict[str, Any] = {
        "seed": seed, "arm": arm_name, "days": days, "db": str(db), "seconds": round(elapsed, 1),
        "mrr": {venture: _series(log) for venture, log in sorted(logs.items())},
        "traits": {v.id: new_market(org, v.id).params.trait for v in org.ventures},
    }
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        result["executed"] = conn.execute("SELECT count(*) FROM events WHERE kind = 'decision.executed'").fetchone()[0]
        result["decisions"] = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
        result["brain_versions"] = conn.execute("SELECT count(*) FROM brain_versions").fetchone()[0]
    finally:
        conn.close()
    graded = graded_decisions(org, db, logs) if grade or arm.control_share else None
    if grade:
        result["references"] = references(org, logs, seed, db)
        result["graded"] = graded
    if arm.control_share:
        result["control"] = control_effects(db, graded)
    return result


def control_effects(db: Path, graded: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every measured decision's brief arm, the version in force, and its effect the good way (for comparing
    brain versions with the concurrent control); with `graded`, also its true effect the good way (replayed
    without it), which the measured effect only estimates."""
    from conductor.brain.quality import load_decision_rows

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = load_decision_rows(conn)
    finally:
        conn.close()
    truths = true_effects_the_good_way(graded or [])
    return [{"venture": r.venture, "arm": r.arm, "period": r.period, "effect": r.normalized_delta,
             "true": truths.get(r.id)}
            for r in rows if r.success is not None and r.normalized_delta is not None]


def true_effects_the_good_way(graded: list[dict[str, Any]]) -> dict[int, float]:
    """Decision id -> its true effect, signed so that + is the good way for its metric (as measured effects are:
    a backlog that fell by 5 % is +0.05); decisions without a replayed truth are left out."""
    return {int(g["id"]): (float(g["true"]) if g.get("good_direction", "up") == "up" else -float(g["true"]))
            for g in graded if isinstance(g.get("true"), int | float)}
