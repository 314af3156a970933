"""The simulated market's instruments: an in-process MCP server whose answers only a tool call reveals, and a
simulated model that looks things up before deciding and reads the answers."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
from pathlib import Path

from conductor.engine.actions import ActionRunner
from conductor.engine.tools import ToolHub
from conductor.org.loader import load_org
from conductor.sim.market import make_market
from conductor.sim.model.lookup import plan, read_lookups
from conductor.sim.model.prompt import parse_kind
from conductor.sim.model.situation import Wake
from conductor.sim.tools import analytics_text, feedback_text, support_queue_text

REPO = Path(__file__).resolve().parents[1]
STUDIO = REPO / "orgs" / "studio.toml"


def stepped_market(days: int = 20):
    market = make_market(2, "acme", 11, {"signups": 40, "activation_rate": 30, "paying_customers": 100, "mrr": 4900,
                                         "arpu": 49, "churn_rate": 4, "support_backlog": 12})
    for day in range(days):
        market.apply("campaign", {"channel": "seo", "budget": 500, "days": 14}, day * 2)
        market.apply("campaign", {"channel": "ads", "budget": 500, "days": 14}, day * 2 + 1)
        market.step()
    return market


def test_analytics_report_only_options_that_ran_and_are_the_same_whatever_is_decided_today() -> None:
    market = stepped_market()
    report = analytics_text(market, "campaign", 28, "campaign.launch")
    lines = {line.split(":")[0]: line for line in report.splitlines()[1:]}
    assert "booked days" in lines["- campaign.launch channel=seo"]
    assert "booked days" in lines["- campaign.launch channel=ads"]
    assert "no data" in lines["- campaign.launch channel=email"]
    market.apply("campaign", {"channel": "email", "budget": 900, "days": 14}, 999)  # executed this instant
    assert analytics_text(market, "campaign", 28, "campaign.launch") == report, "a decision of today shows tomorrow"
    assert feedback_text(market) == feedback_text(market) and support_queue_text(market) == support_queue_text(market)


def test_sign_ups_by_source_rank_channels_as_their_hidden_effects_do_more_often_than_not() -> None:
    """Two channels run side by side every day: the one that brings more people gets more tags, in most
    markets (last-touch credit and counting noise blur it; a channel that keeps people away still gets some)."""
    right = 0
    for seed in range(40):
        market = make_market(2, "acme", seed, {"signups": 40, "activation_rate": 30, "paying_customers": 100,
                                               "mrr": 4900, "arpu": 49, "churn_rate": 4, "support_backlog": 12})
        for day in range(28):
            market.apply("campaign", {"channel": "seo", "budget": 500, "days": 7}, day * 2)
            market.apply("campaign", {"channel": "ads", "budget": 500, "days": 7}, day * 2 + 1)
            market.step()
        lifts = {}
        for line in analytics_text(market, "campaign", 28).splitlines()[1:]:
            if "channel=seo" in line or "channel=ads" in line:
                option = line.split("=")[1].split(":")[0]
                lifts[option] = float(line.split(": ")[1].split("%")[0])
        truth = market.params.effects["campaign"]
        right += (max(lifts, key=lifts.get) == max(("seo", "ads"), key=truth.get))
    assert 26 <= right < 40, right


def test_analytics_read_only_what_the_business_recorded_never_the_hidden_market() -> None:
    """Every report is the same when the market's hidden parameters and effects are swapped for another
    market's after the days were recorded: it reads the recorded metrics, tags and decision days alone."""
    market = stepped_market(40)
    for day in range(40, 60):
        market.apply("feature", {"area": ["core", "mobile"][day // 7 % 2], "effort_days": 5}, 1000 + day)
        market.apply("support", {"action": "docs", "hours": 20}, 2000 + day)
        market.step()
    reports = {lever: analytics_text(market, lever, 56) for lever in ("campaign", "feature", "support", "discount")}
    other = make_market(2, "acme", 99, {"signups": 40, "activation_rate": 30, "paying_customers": 100,
                                        "mrr": 4900, "arpu": 49, "churn_rate": 4, "support_backlog": 12})
    market.params, market.effects = other.params, []
    assert {lever: analytics_text(market, lever, 56) for lever in reports} == reports
    feature = {line.split(":")[0]: line for line in reports["feature"].splitlines()[1:]}
    assert "activation_rate" in feature["- feature area=core"] and "no data" in feature["- feature area=reporting"]


def test_a_dashboard_compares_the_week_after_each_decision_with_the_week_before() -> None:
    market = stepped_market(30)
    market.apply("feature", {"area": "mobile", "effort_days": 5}, 500)
    taken = market.day
    for _ in range(7):
        market.step()
    obs = market.observed
    before = sum(obs[d]["activation_rate"] for d in range(taken - 6, taken + 1)) / 7
    after = sum(obs[d]["activation_rate"] for d in range(taken + 1, taken + 8)) / 7
    expected = 100 * (after / before - 1)
    line = next(line for line in analytics_text(market, "feature", 28).splitlines() if "area=mobile" in line)
    assert f"{expected:+.1f}% activation_rate" in line and "1 decision in 1 week)" in line


def test_the_market_server_speaks_mcp_and_leaves_logging_alone() -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    org = load_org(STUDIO)
    actions = ActionRunner(org)
    for venture in org.ventures:
        actions.market(venture, org.venture_seed(venture))
    assert (list(root.handlers), root.level) == before

    async def talk() -> tuple[list[str], str]:
        hub = ToolHub(org, builtins={"market": actions.market_tools})
        try:
            names = [t.name for t in await hub.tools("market")]
            venture = org.ventures[0].id
            out = await hub.call("market", "analytics", {"venture": venture, "lever": "feature"})
            nobody = await hub.call("market", "feedback", {"venture": "nobody"})
            return names, out.text + "\n" + nobody.text
        finally:
            await hub.close()

    names, text = asyncio.run(talk())
    assert names == ["analytics", "feedback", "support_queue"]
    assert "feature.ship by area" in text and "no venture 'nobody' here" in text
    assert (list(root.handlers), root.level) == before


def _wake(*kind_lines: str) -> Wake:
    w = Wake(metrics={"signups": True, "support_backlog": False, "activation_rate": True})
    w.kinds = [k for k in (parse_kind(line) for line in kind_lines) if k is not None]
    return w


CAMPAIGN = ("- campaign.launch: Launch a campaign. Params: channel (string, one of seo/content/ads/partnerships/"
            "community/email), budget (number, 0..5000). Spends: budget.")


def test_the_simulated_model_looks_up_what_bears_on_its_levers_only() -> None:
    tools = [{"type": "function", "function": {
        "name": "market__analytics", "description": "Attributed results per option of one lever",
        "parameters": {"type": "object", "properties": {
            "venture": {"type": "string"}, "lever": {"type": "string", "enum": ["campaign", "feature"]}}}}},
        {"type": "function", "function": {"name": "market__support_queue", "description": "The open tickets",
                                          "parameters": {"type": "object", "properties": {}}}}]
    w = _wake(CAMPAIGN)
    assert w.kinds, "the kind line parses"
    prompt = "Venture: Acme (acme), stage: launch"
    calls = [c for seed in range(20) for c in plan(w, prompt, tools, random.Random(seed))]
    assert calls and {c["name"] for c in calls} == {"market__analytics"}
    assert {json.loads(c["arguments"])["lever"] for c in calls} == {"campaign"}
    assert {json.loads(c["arguments"])["venture"] for c in calls} == {"acme"}


def test_looked_up_lifts_become_evidence_weighed_by_their_noise() -> None:
    w = _wake(CAMPAIGN)
    read_lookups("\n".join([
        "- campaign.launch channel=seo: +30.0% signups (+/- 5%, 40 decision-days)",
        "- campaign.launch channel=ads: -20.0% signups (+/- 5%, 40 decision-days)",
        "- campaign.launch channel=email: +4.0% signups (+/- 20%, 2 decision-days)",
        "- campaign.launch channel=community: no data (not run in these days)",
        "- support.improve action=docs: -30.0% support_backlog (+/- 5%, 9 decision-days)",
        "- support.improve action=macros: -5.0% support_backlog (+/- 5%, 9 decision-days)"]), w)
    scores = w.know.scores("campaign.launch", "channel")
    assert scores["seo"] > 2 and scores["ads"] < -2 and "community" not in scores
    assert abs(scores.get("email", 0.0)) < 0.1, "read against the others: within its noise of their mean"
    assert w.know.scores("support.improve", "action")["docs"] > 0, "fewer tickets is better"


def test_an_option_alone_on_its_metric_says_nothing() -> None:
    """A number with nothing to compare it with is not evidence. Sign-ups tagged by last touch are credited to
    whatever channel ran, harmful or not: the first channel tried, alone in its table, read as "it worked",
    locked the model onto whichever channel it happened to try first. Budget areas move different metrics, so
    each is alone on its own, where the change around its decisions is mostly the metric's trend. Beside
    another option on the same metric, an option is compared as before."""
    line = "- campaign.launch channel={}: {} signups (+/- 0.1%, 40 booked days, 300 sign-ups tagged)"
    alone = _wake(CAMPAIGN)
    read_lookups("\n".join([
        line.format("seo", "+1.9%"), "- campaign.launch channel=ads: no data (not booked in these days)",
        "- budget.allocate area=support: -20.0% support_backlog (+/- 2%, 3 decisions in 3 weeks)",
        "- budget.allocate area=marketing: -5.0% signups (+/- 2%, 3 decisions in 3 weeks)"]), alone)
    assert alone.know.scores("campaign.launch", "channel") == {}
    assert alone.know.scores("budget.allocate", "area") == {}
    both = _wake(CAMPAIGN)
    read_lookups("\n".join([line.format("seo", "+1.9%"), line.format("ads", "+6.4%"),
                            "- budget.allocate area=support: -20.0% support_backlog (+/- 2%, 3 decisions in 3 weeks)",
                            "- budget.allocate area=product: -2.0% support_backlog (+/- 2%, 3 decisions in 3 weeks)"]),
                 both)
    scores = both.know.scores("campaign.launch", "channel")
    assert scores["ads"] > 0 > scores["seo"]
    areas = both.know.scores("budget.allocate", "area")
    assert areas["support"] > 0 > areas["product"], "fewer tickets is better"


def test_tools_check_lists_the_simulators_tools() -> None:
    done = subprocess.run([sys.executable, "-m", "conductor", "tools", "check", str(STUDIO), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    servers = json.loads(done.stdout)["servers"]
    assert [s["id"] for s in servers] == ["market"] and servers[0]["ok"]
    assert [t["name"] for t in servers[0]["tools"]] == ["analytics", "feedback", "support_queue"]
    assert len(servers[0]["agents"]) == 18
