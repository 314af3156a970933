"""The evaluation harness: replays that reproduce a run, reference policies, ground truth, statistics, the CLI.

The figures themselves (does the full arm beat no-brief over 20 seeds?) come from `conductor eval` and are
reported in docs/compounding.md; these tests check that the machinery computing them is right.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conductor.cli.main import app, example_org_path
from conductor.eval.arms import ENGINE_ARMS
from conductor.eval.replay import oracle_chooser, random_chooser, read_market_logs, replay, true_effect
from conductor.eval.report import evaluate, gap_closure, paraphrase_share
from conductor.eval.run import run_one
from conductor.eval.stats import paired, spearman, t_quantile
from conductor.org import load_org

STUDIO = example_org_path()
DAYS = 12


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_one(str(STUDIO), 5, "full", DAYS, str(tmp_path_factory.mktemp("eval")), True)


def test_replaying_a_runs_log_reproduces_every_recorded_metric(full_run: dict) -> None:
    org = load_org(STUDIO).reseeded(5)
    logs = read_market_logs(full_run["db"])
    assert set(logs) == {"inkwell", "ledgerly", "tidepool"}
    for log in logs.values():
        assert any(op[0] == "apply" for op in log.ops)
        replayed = replay(org, log)
        for day, values in log.recorded.items():
            assert replayed[day] == values, (log.venture, day)


def test_reference_policies_change_only_the_options(full_run: dict) -> None:
    org = load_org(STUDIO).reseeded(5)
    log = read_market_logs(full_run["db"])["inkwell"]
    nothing = replay(org, log, applies=False)
    chosen: list[tuple[str, dict]] = []

    def spy(lever: str, params: dict, decision_id: int, market: object) -> dict:
        out = oracle_chooser(lever, dict(params), decision_id, market)  # type: ignore[arg-type]
        chosen.append((lever, out))
        return out

    replay(org, log, choose=spy)
    applies = [op for op in log.ops if op[0] == "apply"]
    assert len(chosen) == len(applies)
    for (lever, params), op in zip(chosen, applies, strict=True):
        assert lever == op[1]
        assert set(params) == set(op[2]) | set(params)  # the same amounts; only the option may differ
    assert nothing[DAYS] != replay(org, log)[DAYS]
    randomly = random_chooser(5)
    assert replay(org, log, choose=randomly) == replay(org, log, choose=random_chooser(5))  # seeded


def test_true_effects_are_zero_for_a_decision_the_market_never_saw(full_run: dict) -> None:
    org = load_org(STUDIO).reseeded(5)
    log = read_market_logs(full_run["db"])["ledgerly"]
    assert true_effect(org, log, 10**9, "signups", 1, DAYS) == 0.0
    applied = [op[3] for op in log.ops if op[0] == "apply"]
    effects = [true_effect(org, log, d, "mrr", 1, DAYS) for d in applied[:5]]
    assert all(isinstance(e, float) and math.isfinite(e) for e in effects)


def test_the_full_arm_carries_references_and_graded_decisions(full_run: dict) -> None:
    assert set(full_run["references"]) == {"do-nothing", "random", "oracle", "estimates"}
    assert full_run["executed"] > 0 and full_run["decisions"] >= full_run["executed"]
    for graded in full_run["graded"]:
        assert graded["verdict"] in ("worked", "failed", "unclear")
        assert isinstance(graded["true"], float)
    report = evaluate([full_run], DAYS)
    assert report["gap_closure"]["per_seed"][0]["seed"] == 5
    json.dumps(report)


def test_the_estimates_policy_tries_each_option_then_follows_the_best_measured_by_that_day() -> None:
    from types import SimpleNamespace

    from conductor.eval.replay import estimates_chooser
    from conductor.sim.market import OPTION_LEVERS

    spec = OPTION_LEVERS["discount"]
    measured = {"v": [(3, "discount", o, 0.01 * i) for i, o in enumerate(spec.options)]
                + [(9, "discount", spec.options[0], 0.5), (9, "campaign", "seo", 9.0)]}
    choose = estimates_chooser(measured, seed=1)

    def pick(day: int, decision_id: int) -> str:
        market = SimpleNamespace(venture_id="v", day=day)
        return choose("discount", {"segment": "x", "percent": 20}, decision_id, market)["segment"]  # type: ignore[arg-type]

    assert {pick(2, i) for i in range(40)} == set(spec.options)  # nothing measured yet: each untried option
    assert {pick(5, i) for i in range(10)} == {spec.options[-1]}  # all measured: the best by day 5
    assert {pick(9, i) for i in range(10)} == {spec.options[0]}  # a newer measurement changes the ranking
    assert choose("pricing", {"price": 30}, 1, SimpleNamespace(venture_id="v", day=9)) == {"price": 30}


def test_gap_closure_is_the_share_of_the_random_to_oracle_gap() -> None:
    def series(start: float, mid: float, end: float) -> dict:
        return {"v": {0: start, 5: mid, 10: end}}

    run = {"seed": 1, "arm": "full", "mrr": series(100, 110, 150),
           "references": {"random": series(100, 105, 110), "oracle": series(100, 125, 190), "do-nothing": series(100, 100, 100)}}
    gap = gap_closure([run], 10)
    assert gap is not None
    assert gap["pooled"]["horizon"] == pytest.approx((150 - 110) / (190 - 110))
    assert gap["pooled"]["first"] == pytest.approx((10 - 5) / (25 - 5))
    assert gap["pooled"]["second"] == pytest.approx((40 - 5) / (65 - 5))


def test_a_share_of_the_briefs_advantage_is_computed_only_when_there_is_one() -> None:
    """Kept share = paraphrase's advantage over no-brief / full's; with no advantage beyond chance the ratio is
    noise over noise (2,886 % once), so none is given and the comparison itself is reported instead."""
    ahead = {s: {"full": 110.0 + s % 3, "no-brief": 100.0, "paraphrase": 105.0 + s % 2} for s in range(1, 11)}
    shown = paraphrase_share(ahead)
    assert shown is not None and shown["share_kept"] == pytest.approx(
        sum(105.0 + s % 2 - 100.0 for s in range(1, 11)) / sum(110.0 + s % 3 - 100.0 for s in range(1, 11)))
    level = {s: {"full": 100.0 + (1 if s % 2 else -1), "no-brief": 100.0, "paraphrase": 103.0} for s in range(1, 11)}
    hidden = paraphrase_share(level)
    assert hidden is not None and hidden["share_kept"] is None and hidden["full_vs_no_brief_p"] > 0.05
    assert hidden["paraphrase_vs_no_brief"]["mean"] == pytest.approx(3.0)


def test_paired_statistics_match_textbook_values() -> None:
    assert t_quantile(0.975, 19) == pytest.approx(2.093, abs=1e-3)
    assert t_quantile(0.975, 5) == pytest.approx(2.571, abs=1e-3)
    result = paired([1.0, 2.0, 3.0, 4.0, 5.0])
    assert result.mean == 3.0 and result.positive == 5
    assert result.low == pytest.approx(3.0 - 2.776 * math.sqrt(2.5) / math.sqrt(5), abs=1e-3)
    assert result.p == pytest.approx(0.01324, abs=1e-4)  # t = 4.243 on 4 degrees of freedom
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_every_arm_differs_from_full_in_one_named_way() -> None:
    full = ENGINE_ARMS["full"]
    for name, arm in ENGINE_ARMS.items():
        changed = [f for f in ("ablate_brief", "ablate_insights", "paraphrase", "control_share", "control_lag",
                               "no_tools")
                   if getattr(arm, f) != getattr(full, f)]
        assert name == "full" or changed, name
        assert arm.description


def test_eval_refuses_bad_arguments_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "other.json").write_text('{"report": {"days": 30}, "runs": []}')
    (tmp_path / "junk.json").write_text("not json")
    for args, needle in ((["--arms", "full,nope"], "unknown arm 'nope'"), (["--seeds", "x-y"], "--seeds"),
                         (["--days", "1"], "--days 1"), (["--jobs", "0"], "--jobs 0"),
                         (["--reuse", str(tmp_path / "junk.json")], "not a report written by conductor eval"),
                         (["--reuse", str(tmp_path / "other.json")], "made for --days 30, not 90")):
        result = runner.invoke(app, ["eval", *args, "--out", str(tmp_path / "e.json")])
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output
        assert not (tmp_path / "e.json").exists()


def test_an_arm_database_is_a_normal_conductor_database(full_run: dict) -> None:
    conn = sqlite3.connect(full_run["db"])
    try:
        started = json.loads(conn.execute("SELECT payload FROM events WHERE kind = 'run.started'").fetchone()[0])
    finally:
        conn.close()
    assert started["market_version"] == 2 and started["studio_seed"] == load_org(STUDIO).reseeded(5).seed


def test_versions_are_compared_with_the_control_made_in_the_same_periods() -> None:
    import random

    from conductor.eval.report import version_control

    rng = random.Random(3)

    def rows(lift: float) -> list[dict]:
        out = []
        for period in (1, 2, 3):
            for _ in range(30):
                out.append({"venture": "v", "arm": "current", "period": period, "effect": lift + rng.gauss(0, 0.02)})
            for _ in range(12):
                out.append({"venture": "v", "arm": "previous", "period": period, "effect": rng.gauss(0, 0.02)})
        return out

    result = version_control([{"arm": "control", "control": rows(0.03)}, {"arm": "control-blind", "control": rows(0.0)}])
    assert result is not None
    seen, blind = result["control"], result["control-blind"]
    assert seen["low"] > 0 and seen["versions"]["ahead"] == 3
    assert blind["low"] < 0 < blind["high"] and blind["versions"]["ahead"] == 0
    assert seen["truth"] is None  # no ground truth in these rows: nothing is claimed about it


def test_periods_without_a_control_are_left_out_of_the_comparison() -> None:
    """With an older control, a venture's first versions have no version that old and so no control: their
    decisions are all "current". Early decisions doing better (or worse) than later ones must not read as the
    version in force beating the control; only periods with both sides count."""
    import random

    from conductor.eval.report import version_control

    rng = random.Random(7)
    rows = []
    for period in range(1, 8):  # no control yet, and a calendar effect: early periods did better
        rows += [{"venture": "v", "arm": "current", "period": period, "effect": 0.05 + rng.gauss(0, 0.01)}
                 for _ in range(40)]
    for period in range(8, 12):  # both sides, no difference between them
        for arm, n in (("current", 30), ("previous", 12)):
            rows += [{"venture": "v", "arm": arm, "period": period, "effect": rng.gauss(0, 0.01)} for _ in range(n)]
    found = version_control([{"arm": "control-older", "seed": 1, "control": rows}])
    assert found is not None
    seen = found["control-older"]
    assert seen["current"] == 4 * 30 and seen["control"] == 4 * 12
    assert seen["low"] < 0 < seen["high"]
    assert sum(seen["versions"].values()) == 4


def test_versions_are_also_compared_on_true_effects_where_the_run_has_them() -> None:
    """Measured effects that cannot tell the arms apart, true effects that can: the comparison on the truth is
    reported beside the measured one, each with its own interval."""
    import random

    from conductor.eval.report import version_control

    rng = random.Random(5)
    rows = []
    for period in (1, 2):
        for arm, truth in (("current", 0.01), ("previous", 0.0)):
            for _ in range(200 if arm == "current" else 80):
                true = truth + rng.gauss(0, 0.002)
                rows.append({"venture": "v", "arm": arm, "period": period, "effect": true + rng.gauss(0, 0.2),
                             "true": true})
    rows.append({"venture": "v", "arm": "previous", "period": 2, "effect": 0.0, "true": None})  # no replay
    found = version_control([{"arm": "control", "control": rows}])
    assert found is not None
    seen = found["control"]
    assert seen["low"] < 0 < seen["high"]
    assert seen["truth"]["low"] > 0 and seen["truth"]["control"] == 160 and seen["control"] == 161


@pytest.mark.parametrize("arm", ["no-insights", "paraphrase"])
def test_an_arm_changes_what_every_wake_up_prompt_shows(arm: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The arm's difference must reach the prompts the model reads (a wrapper that only some paths take would
    make an arm identical to full)."""
    import conductor.sim.direct as direct
    from conductor.eval.arms import ENGINE_ARMS
    from conductor.eval.run import run_engine

    prompts: list[str] = []
    real = direct.respond

    def spy(messages: list, profile: object, tools: list | None = None) -> object:
        if len(messages) == 2 and "# Your role" in messages[1]["content"]:
            prompts.append(messages[1]["content"])
        return real(messages, profile, tools)

    monkeypatch.setattr(direct, "respond", spy)
    org = load_org(STUDIO).reseeded(5)
    org = org.model_copy(update={"brain": org.brain.model_copy(update={"platform_every": timedelta(days=2),
                                                                       "synthesis_threshold": 20})})
    run_engine(org, STUDIO, tmp_path / "arm.db", 16, ENGINE_ARMS[arm], 5)
    late = [p for p in prompts if "brain v" in p.split("# Venture brief", 1)[-1][:200]]
    assert late, "no wake-up saw a brain version: the run is too short to test the arm"
    for prompt in late:
        insights = prompt.split("# Platform insights\n", 1)[1].split("\n# ", 1)[0].strip()
        brief = prompt.split("# Venture brief\n", 1)[1].split("\n# Now", 1)[0]
        if arm == "no-insights":
            assert insights == "None yet.", insights
        else:  # the brief's own words are gone: its header, its sections, its verdict tags
            assert "what this venture has learned" not in brief and "brain version" in brief, brief[:200]
            assert "What worked:" not in brief and "What failed:" not in brief and " (worked)" not in brief


def test_the_report_says_how_much_each_arm_did_beside_what_it_earned() -> None:
    """An arm that acts less can lose MRR for that alone: the report pairs executed decisions by seed."""
    runs = [{"seed": 1, "arm": "full", "executed": 90}, {"seed": 1, "arm": "no-brief", "executed": 100},
            {"seed": 2, "arm": "full", "executed": 110}, {"seed": 2, "arm": "no-brief", "executed": 100}]
    from conductor.eval.report import activity

    act = activity(runs)
    assert act is not None
    assert act["full"]["mean_executed"] == 100 and act["full"]["full_over_arm"] == 1.0
    assert act["no-brief"]["full_over_arm"] == pytest.approx((0.9 + 1.1) / 2)
    assert activity([{"seed": 1, "arm": "no-brief", "executed": 3}]) is None


def test_true_effects_are_signed_the_good_way_like_measured_ones() -> None:
    from conductor.eval.run import true_effects_the_good_way

    graded = [{"id": 1, "true": 0.04, "good_direction": "up"}, {"id": 2, "true": -0.05, "good_direction": "down"},
              {"id": 3, "true": None, "good_direction": "up"}]
    assert true_effects_the_good_way(graded) == {1: 0.04, 2: 0.05}
