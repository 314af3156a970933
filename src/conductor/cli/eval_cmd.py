"""`conductor eval`: paired seeds, arms in parallel processes, a fixed endpoint, a table and a JSON file."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from conductor.cli.errors import cli_errors
from conductor.errors import BadInput


def parse_seeds(text: str) -> list[int]:
    """`1-6`, `3,9,12` or a mix (`1-4,10`): the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            span = range(int(lo), int(hi) + 1) if sep else range(int(lo), int(lo) + 1)
        except ValueError:
            raise BadInput(f"--seeds {text!r}: write seeds as 1-6 or 3,9,12") from None
        seeds += [s for s in span if s not in seeds]
    if not seeds:
        raise BadInput(f"--seeds {text!r}: no seed in it")
    return seeds


def _money(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"${x:,.0f}"


def _share(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def seed_table(report: dict[str, Any], arms: list[str]) -> Table:
    table = Table(title=f"Total MRR at day {report['days']}, per seed", title_justify="left")
    table.add_column("seed", justify="right")
    columns = [*arms, *(a for a in ("do-nothing", "random", "oracle") if any(a in r for r in report["totals"].values()))]
    for arm in columns:
        table.add_column(arm, justify="right")
    for seed, row in report["totals"].items():
        table.add_row(seed, *(_money(row.get(arm)) for arm in columns))
    return table


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for c in report["comparisons"]:
        lines.append(f"{c['treatment']} − {c['control']}: mean {_money(c['mean'])} (95% {_money(c['low'])} to "
                     f"{_money(c['high'])}), p = {c['p']:.3g}, ahead on {c['positive']} of {c['n']} seeds")
    act = report.get("activity") or {}
    others = [f"{arm} {v['full_over_arm']:.2f}" for arm, v in act.items() if arm != "full" and v["full_over_arm"]]
    if others:
        lines.append(f"executed decisions, full / arm (paired mean): {', '.join(others)}; full executed "
                     f"{act['full']['mean_executed']:,.0f} per run")
    gap = report.get("gap_closure")
    if gap:
        pooled = gap["pooled"]
        lines.append(f"gap random→oracle closed by full: {_share(pooled['horizon'])} at the horizon; "
                     f"{_share(pooled['first'])} of the first half's gain, {_share(pooled['second'])} of the second's")
        if "estimates" in pooled:
            lines.append(f"a policy always taking the option the run's own measurements ranked best would close "
                         f"{_share(pooled['estimates'])}")
    t = report.get("transfer")
    if t:
        lines.append(f"platform insights, ventures sharing a trait ({t['ventures']}): full vs no-insights "
                     f"{t['mean']:+.1%} MRR (95% {t['low']:+.1%} to {t['high']:+.1%}), p = {t['p']:.3g}")
    a = report.get("attribution")
    if a:
        null = a["no_true_effect_called_worked"]
        lines.append(f"attribution vs ground truth: Spearman {a['spearman']:.2f} over {a['decisions']} decisions; "
                     f"no-effect decisions called worked: {_share(null)} of {a['no_true_effect']}")
    p = report.get("paraphrase")
    if p:
        if p["share_kept"] is not None:
            lines.append(f"paraphrased brief keeps {_share(p['share_kept'])} of full's advantage over no-brief")
        else:
            c = p["paraphrase_vs_no_brief"]
            lines.append(f"paraphrased brief − no-brief: {_money(c['mean'])} (95% {_money(c['low'])} to "
                         f"{_money(c['high'])}), p = {c['p']:.3g}; no share is computed: full's own advantage over "
                         f"no-brief is not beyond chance (p = {p['full_vs_no_brief_p']:.3g})")
    for arm, v in (report.get("version_control") or {}).items():
        if v["difference"] is None:
            continue
        lines.append(f"{arm}: version in force − control {v['difference'] * 100:+.1f} pts (95% {v['low'] * 100:+.1f} "
                     f"to {v['high'] * 100:+.1f}) over {v['current']} vs {v['control']} decisions; single versions: "
                     f"{v['versions']['ahead']} ahead, {v['versions']['behind']} behind, "
                     f"{v['versions']['not enough evidence']} not enough evidence")
        if (t := v.get("truth")) is not None:
            lines.append(f"{arm}, by true effects (replayed): version in force − control {t['difference'] * 100:+.2f} "
                         f"pts (95% {t['low'] * 100:+.2f} to {t['high'] * 100:+.2f}) over {t['current']} vs "
                         f"{t['control']} decisions")
    return lines


def reused_runs(path: Path, days: int) -> list[dict[str, Any]]:
    """The runs of an earlier report, refused in one line if it is not one or was made for another horizon."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs = data["runs"]
        made_for = data["report"]["days"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"--reuse {path}: not a report written by conductor eval ({type(exc).__name__})") from None
    if made_for != days:
        raise BadInput(f"--reuse {path}: made for --days {made_for}, not {days}")
    return list(runs)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    @cli_errors
    def eval_command(
        org_file: Annotated[Path | None, typer.Argument(help="The org file (default: the example studio).",
                                                        show_default=False)] = None,
        seeds: Annotated[str, typer.Option(help="Paired seeds: 1-6, or 3,9,12.")] = "1-6",
        days: Annotated[int, typer.Option(help="The horizon in simulated days.")] = 90,
        arms: Annotated[str, typer.Option(help="Engine arms, comma-separated: full, no-brief, no-insights, "
                                          "paraphrase, no-tools, control, control-blind.")] = "full,no-brief,no-insights",
        jobs: Annotated[int, typer.Option(help="Worker processes.")] = 2,
        out: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("eval.json"),
        workdir: Annotated[Path | None, typer.Option(help="Keep each run's database here (default: a "
                                                     "temporary folder, removed at the end).",
                                                     show_default=False)] = None,
        reuse: Annotated[Path | None, typer.Option(help="A report written before with the same org and days: "
                                                   "its runs are kept and only the missing (seed, arm) pairs run, "
                                                   "e.g. to add an arm.", show_default=False)] = None,
    ) -> None:
        """Run the org on paired seeds in arms and compare them on total MRR at the horizon.

        Reference policies (do nothing, random options, the oracle) are replays of the full arm's decisions.
        Example: conductor eval --seeds 1-20 --days 90 --arms full,no-brief,no-insights,paraphrase
        """
        from conductor.cli.main import example_org_path
        from conductor.eval.arms import ENGINE_ARMS
        from conductor.eval.parallel import run_all
        from conductor.eval.report import evaluate
        from conductor.org import load_org

        org_path = org_file or example_org_path()
        load_org(org_path)  # a bad file is refused before any process starts
        chosen = [a.strip() for a in arms.split(",") if a.strip()]
        unknown = [a for a in chosen if a not in ENGINE_ARMS]
        if unknown:
            raise BadInput(f"--arms: unknown arm {unknown[0]!r}; known: {', '.join(ENGINE_ARMS)}")
        if "full" not in chosen:
            chosen.insert(0, "full")
        if days < 2:
            raise BadInput(f"--days {days}: must be at least 2")
        if jobs < 1:
            raise BadInput(f"--jobs {jobs}: must be at least 1")
        seed_list = parse_seeds(seeds)
        kept = reused_runs(reuse, days) if reuse is not None else []
        done = {(r["seed"], r["arm"]) for r in kept}
        console = Console()
        with tempfile.TemporaryDirectory(prefix="conductor-eval-") as tmp:
            where = workdir or Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            fresh = run_all(str(org_path), seed_list, chosen, days, where, jobs, console, skip=done)
        runs = sorted(kept + fresh, key=lambda r: (r["seed"], r["arm"]))
        chosen = [*dict.fromkeys([*chosen, *(r["arm"] for r in kept)])]
        report = evaluate(runs, days)
        report["org"] = str(org_path)
        report["arms"] = chosen
        out.write_text(json.dumps({"report": report, "runs": runs}, indent=1, default=str))
        console.print(seed_table(report, chosen))
        for line in summary_lines(report):
            console.print(line)
        console.print(f"[dim]JSON: {out}[/]")
