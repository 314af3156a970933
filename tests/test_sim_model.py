"""The simulated model: reads only its messages, answers real prompts validly, misbehaves at its configured
rates on first attempts only, recovers on retry, reviews like its role, and learns only through the prompt."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conductor.brain.port import retry_message
from conductor.engine.contract import OutputError, parse_agent_output, parse_review_output
from conductor.engine.prompts import (
    Item,
    ReviewContext,
    WakeContext,
    policy_line,
    review_messages,
    wake_messages,
)
from conductor.org import Org, load_org
from conductor.sim.model import PROFILES, Profile, parse_profile, respond

ROOT = Path(__file__).resolve().parents[1]
ORG: Org = load_org(ROOT / "orgs" / "studio.toml")
PERFECT = PROFILES["perfect"]
STANDARD = PROFILES["standard"]

ADS_WORKED = """What worked:
- campaign.launch channel=ads: signups +18% (decisions #12, #19)

What failed:
- campaign.launch channel=community: signups -6% (decision #23)"""


def wake(agent_id: str, **overrides: Any) -> list[dict[str, str]]:
    venture, agent = ORG.agent(agent_id)  # type: ignore[misc]
    metric = venture.metric(agent.owns_metric)
    assert metric is not None
    start = metric.initial or 10.0
    fields: dict[str, Any] = {
        "org_name": ORG.name,
        "agent_id": agent.id,
        "role": agent.role,
        "mission": agent.mission,
        "venture_id": venture.id,
        "venture_name": venture.name,
        "stage": venture.stage,
        "goal": venture.goal,
        "reports_to": agent.reports_to,
        "reports": [a.id for a in venture.agents if a.reports_to == agent.id],
        "owned_metric": metric.name,
        "metric_unit": metric.unit,
        "metric_direction": metric.direction,
        "metric_values": [start, start * 1.01, start * 0.98],
        "other_metrics": {m.name: m.initial or 0.0 for m in venture.metrics if m.name != metric.name},
        "kinds": [ORG.kind(k) for k in agent.decision_kinds],
        "policy_line": policy_line(ORG),
        "now": "2026-01-05 09:00",
        "reason": "heartbeat",
    }
    fields.update(overrides)
    return wake_messages(WakeContext(**fields))


def review(reviewer_id: str, kind: str, params: dict[str, Any], round_no: int = 1, **overrides: Any) -> list[dict]:
    venture, agent = ORG.agent(reviewer_id)  # type: ignore[misc]
    kind_spec = ORG.kind(kind)
    assert kind_spec is not None
    fields: dict[str, Any] = {
        "org_name": ORG.name,
        "reviewer_id": agent.id,
        "reviewer_role": agent.role,
        "reviewer_mission": agent.mission,
        "venture_name": venture.name,
        "author_id": f"{venture.id}-cmo",
        "author_role": "CMO",
        "decision_id": 88,
        "kind": kind_spec,
        "params": params,
        "rationale": "signups are flat; a campaign should lift them.",
        "expected": {"metric": "signups", "direction": "up", "size": 0.05},
        "confidence": 0.7,
        "round": round_no,
        "max_rounds": ORG.engine.max_review_rounds,
        "history": [],
    }
    fields.update(overrides)
    return review_messages(ReviewContext(**fields))


def varied_wakes(n: int, seed: int = 1) -> list[tuple[str, list[dict[str, str]]]]:
    """n different wake-up prompts across every agent of the studio."""
    rng = random.Random(seed)
    agents = [a.id for _, a in ORG.agents()]
    out = []
    for i in range(n):
        agent_id = agents[i % len(agents)]
        values = [round(rng.uniform(50, 150), 1) for _ in range(rng.randint(2, 7))]
        extra: dict[str, Any] = {"metric_values": values, "now": f"2026-01-{i % 28 + 1:02d} {i % 24:02d}:00"}
        if i % 5 == 0:
            extra["tasks"] = [Item(100 + i, "Summarise what moved the metric this week")]
        if i % 7 == 0:
            extra["messages"] = [Item(None, "from the founder: keep spend small this week")]
        out.append((agent_id, wake(agent_id, **extra)))
    return out


def allowed(agent_id: str) -> set[str]:
    return set(ORG.agent(agent_id)[1].decision_kinds)  # type: ignore[index]


# --- profiles -------------------------------------------------------------------------------------------


def test_parse_profile_names_prefixes_and_overrides() -> None:
    assert parse_profile("standard") is STANDARD
    assert parse_profile("sim/careless") is PROFILES["careless"]
    tuned = parse_profile("sim/standard:invalid_json=0.2,sleep_ms=50")
    assert isinstance(tuned, Profile)
    assert (tuned.name, tuned.invalid_json, tuned.sleep_ms) == ("standard", 0.2, 50.0)
    assert tuned.schema_violation == STANDARD.schema_violation
    perfect = PROFILES["perfect"]
    assert (
        perfect.invalid_json,
        perfect.schema_violation,
        perfect.low_confidence,
        perfect.risky,
        perfect.over_budget,
    ) == (0, 0, 0, 0, 0)
    careless = PROFILES["careless"]
    assert careless.invalid_json >= 2.5 * STANDARD.invalid_json


@pytest.mark.parametrize(
    "model", ["nonsense", "sim/nonsense", "", "standard:bogus=1", "standard:invalid_json=2", "standard:sleep_ms=abc"]
)
def test_parse_profile_rejects_unknown(model: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_profile(model)
    if "nonsense" in model or not model:
        assert all(name in str(err.value) for name in PROFILES)


# --- determinism and accounting -------------------------------------------------------------------------


def test_same_prompt_same_answer_and_seed_text_matters() -> None:
    messages = wake("inkwell-cmo")
    first, again = respond(messages, STANDARD), respond(messages, STANDARD)
    assert first == again
    changed = wake("inkwell-cmo", now="2026-01-06 09:00")
    texts = {respond(changed, STANDARD).text, respond(wake("inkwell-cmo", now="2026-01-07 09:00"), STANDARD).text}
    assert first.text not in texts
    assert respond(messages, PROFILES["careless"]).text != first.text


def test_tokens_and_latency_are_reported() -> None:
    messages = wake("ledgerly-cto")
    reply = respond(messages, STANDARD)
    prompt_chars = sum(len(m["content"]) for m in messages)
    assert abs(reply.prompt_tokens - prompt_chars // 4) <= 2
    assert reply.completion_tokens == max(1, len(reply.text) // 4)
    assert 0.5 * STANDARD.latency_ms < reply.latency_ms < 3 * STANDARD.latency_ms


# --- wake-ups -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["perfect", "standard", "careless"])
def test_kinds_the_prompt_says_are_still_being_measured_are_not_proposed(profile: str) -> None:
    """A kind at its `max_in_window` would be refused: the model reads the line and picks another kind, or none."""
    proposed: Counter[str] = Counter()
    for i in range(60):
        for agent_id, busy in (("inkwell-cmo", ["campaign.launch until 2026-01-20 (#31)"]),
                               ("inkwell-cto", ["feature.ship until 2026-01-25 (#40)",
                                                "reliability.fix until 2026-01-22 (#41)"])):
            messages = wake(agent_id, busy=busy, metric_values=[100, 100 - i, 90 + i % 4],
                            now=f"2026-01-{i % 28 + 1:02d} {i % 24:02d}:00")
            assert "would be refused" in messages[1]["content"]
            text = respond(messages, PROFILES[profile]).text
            try:
                output = parse_agent_output(text, ORG)
            except OutputError:
                continue
            proposed.update(d.kind for d in output.decisions)
    assert proposed["campaign.launch"] == proposed["feature.ship"] == proposed["reliability.fix"] == 0, proposed
    assert proposed["content.publish"] > 0 and proposed["onboarding.improve"] > 0, proposed


@pytest.mark.parametrize("agent_id", [a.id for a in ORG.venture("inkwell").agents])  # type: ignore[union-attr]
def test_every_role_answers_validly_with_its_own_kinds(agent_id: str) -> None:
    kinds_seen: set[str] = set()
    for i in range(25):
        messages = wake(
            agent_id,
            metric_values=[100, 100 - i, 90 + i % 4],
            now=f"2026-01-{i + 1:02d} 09:00",
            tasks=[Item(12, "Plan next week")],
        )
        output = parse_agent_output(respond(messages, PERFECT).text, ORG)
        assert len(output.decisions) <= 2
        for decision in output.decisions:
            assert decision.kind in allowed(agent_id)
            assert 0.55 <= decision.confidence <= 1
            kinds_seen.add(decision.kind)
            kind = ORG.kind(decision.kind)
            assert kind is not None
            if kind.spend_param:
                assert decision.params[kind.spend_param] <= ORG.escalation.spend_threshold
            # The agent's own metric, unless the kind's description says which metric it moves (as a person
            # reading "marketing buys signups" would aim an allocation to marketing at sign-ups).
            named = {m for m in ("signups", "activation", "backlog", "conversion", "churn")
                     if m in kind.description.lower()}
            aimed = decision.expected_effect.metric
            assert aimed == ORG.agent(agent_id)[1].owns_metric or any(n in aimed for n in named), aimed  # type: ignore[index]
            assert decision.reversible == (
                decision.kind not in {"stage.change", "customer.commitment", "security.change"}
            )
        assert all(t.task_id == 12 for t in output.completed_tasks)
        venture = ORG.agent(agent_id)[0]  # type: ignore[index]
        ids = {a.id for a in venture.agents}
        assert all(t.to in ids for t in output.tasks)
        assert all(m.to in ids for m in output.messages)
    assert kinds_seen, f"{agent_id} never decided anything in 25 wake-ups"


def test_first_attempts_misbehave_at_the_configured_rates_and_retries_recover() -> None:
    n = 300
    faults: Counter[str] = Counter()
    escalating: Counter[str] = Counter()
    for agent_id, messages in varied_wakes(n):
        reply = respond(messages, STANDARD)
        try:
            output = parse_agent_output(reply.text, ORG)
        except OutputError as exc:
            faults["json" if "not valid JSON" in str(exc) else "schema"] += 1
            retry = [*messages, {"role": "assistant", "content": reply.text}, retry_message(str(exc))]
            recovered = parse_agent_output(respond(retry, STANDARD).text, ORG)  # raises if it did not recover
            assert all(d.kind in allowed(agent_id) for d in recovered.decisions)
            continue
        for d in output.decisions:
            kind = ORG.kind(d.kind)
            assert kind is not None and d.kind in allowed(agent_id)
            if d.kind in ORG.escalation.always:
                escalating["risky"] += 1
            if kind.spend_param and d.params[kind.spend_param] > ORG.escalation.spend_threshold:
                escalating["over_budget"] += 1
            if d.confidence < ORG.escalation.confidence_floor:
                escalating["low_confidence"] += 1
    # configured 4% each: expect about 12 of 300; allow 1%..10%
    assert 3 <= faults["json"] <= 30, faults
    assert 3 <= faults["schema"] <= 30, faults
    assert escalating["risky"] > 0 and escalating["over_budget"] > 0 and escalating["low_confidence"] > 0
    assert sum(escalating.values()) < 0.4 * n


def test_perfect_never_misbehaves() -> None:
    for agent_id, messages in varied_wakes(120, seed=2):
        output = parse_agent_output(respond(messages, PERFECT).text, ORG)
        for d in output.decisions:
            kind = ORG.kind(d.kind)
            assert kind is not None and d.kind not in ORG.escalation.always
            assert d.kind in allowed(agent_id)
            assert d.confidence >= ORG.escalation.confidence_floor
            if kind.spend_param:
                assert d.params[kind.spend_param] <= ORG.escalation.spend_threshold


def test_careless_misbehaves_more_than_standard() -> None:
    def failures(profile: Profile) -> int:
        bad = 0
        for _, messages in varied_wakes(120, seed=3):
            try:
                parse_agent_output(respond(messages, profile).text, ORG)
            except OutputError:
                bad += 1
        return bad

    assert failures(PROFILES["careless"]) > 1.8 * failures(STANDARD)


def test_revision_sets_revises_and_follows_the_feedback() -> None:
    returned = Item(
        88,
        'campaign.launch {"budget": 2000, "channel": "ads", "days": 14}: inkwell-finance: '
        "Cut budget to 300: 2000 will not pay back.",
    )
    output = parse_agent_output(respond(wake("inkwell-cmo", revisions=[returned]), PERFECT).text, ORG)
    revised = [d for d in output.decisions if d.revises == 88]
    assert len(revised) == 1
    assert revised[0].kind == "campaign.launch"
    assert revised[0].params == {"budget": 300, "channel": "ads", "days": 14}

    vague = Item(90, "feature.ship feature=export area=core effort_days=12: make it smaller")
    output = parse_agent_output(respond(wake("inkwell-cto", revisions=[vague]), PERFECT).text, ORG)
    revised = [d for d in output.decisions if d.revises == 90]
    assert revised and revised[0].kind == "feature.ship"
    assert revised[0].params["effort_days"] < 12


def test_an_option_sent_back_as_failed_is_replaced_not_shrunk() -> None:
    """"The brief says channel=ads failed; pick an option that has worked": the author takes another channel
    (the best-known, most of the time) and keeps the budget, rather than a smaller bet on the channel that
    failed."""
    returned = Item(88, 'campaign.launch {"budget": 300, "channel": "ads", "days": 14}: inkwell-finance: '
                        "The venture brief says channel=ads failed before; pick an option that has worked.")
    brief = ("Inkwell brain v4: what this venture has learned.\n\nWhat worked:\n"
             "- campaign.launch channel=seo: signups +12% over 4 decisions (worked)")
    channels = Counter()
    for i in range(40):
        messages = wake("inkwell-cmo", revisions=[returned], venture_brief=brief, now=f"2026-01-{i % 28 + 1:02d} 09:00")
        output = parse_agent_output(respond(messages, PERFECT).text, ORG)
        revised = [d for d in output.decisions if d.revises == 88]
        assert len(revised) == 1 and revised[0].params["channel"] != "ads"
        assert revised[0].params["budget"] == 300
        channels[revised[0].params["channel"]] += 1
    assert channels.most_common(1)[0][0] == "seo", channels


def test_a_reviewer_sends_back_what_the_brief_says_clearly_failed_not_a_small_miss() -> None:
    """A lesson that failed over three decisions sends the option back; one decision that missed by two points
    (beyond its interval, but one small look) does not: it has not failed the way a lesson has."""
    params = {"channel": "ads", "budget": 200, "days": 14}
    failed = "What failed:\n- campaign.launch channel=ads: signups -12% over 3 decisions (failed)"
    small = ("Memories most relevant to you now (newest and most important kept):\n- [01-20 inkwell-cmo] #12 "
             "campaign.launch budget=200 channel=ads days=14: signups -2.0% against forecast over 14 days "
             "(95% -3.9% to -0.1%) (failed)")
    sent_back = approved = 0
    for i in range(40):
        clear = parse_review_output(respond(review("inkwell-finance", "campaign.launch", params, venture_brief=failed,
                                                   decision_id=100 + i), PERFECT).text)
        sent_back += clear.verdict == "revise" and "channel=ads failed" in clear.feedback
        once = parse_review_output(respond(review("inkwell-finance", "campaign.launch", params, venture_brief=small,
                                                  decision_id=100 + i), PERFECT).text)
        approved += "failed" not in once.feedback
    assert sent_back == 40 and approved == 40


def test_rejected_verdict_is_not_repeated() -> None:
    verdict = Item(5, "rejected: discount.offer percent=40 segment=new: too deep a discount")
    for i in range(30):
        messages = wake("inkwell-sales", verdicts=[verdict], now=f"2026-01-{i + 1:02d} 09:00")
        output = parse_agent_output(respond(messages, PERFECT).text, ORG)
        assert "#5" in output.summary
        for d in output.decisions:
            assert not (d.kind == "discount.offer" and d.params.get("segment") == "new")


def test_ceo_delegates_to_its_reports_sometimes() -> None:
    reports = {a.id for a in ORG.venture("ledgerly").agents if a.reports_to == "ledgerly-ceo"}  # type: ignore[union-attr]
    delegated = 0
    for i in range(60):
        output = parse_agent_output(
            respond(wake("ledgerly-ceo", now=f"2026-03-{i % 28 + 1:02d} {i % 24:02d}:00"), PERFECT).text, ORG
        )
        assert all(t.to in reports for t in output.tasks)
        delegated += bool(output.tasks)
    assert 5 <= delegated <= 40


# --- learning through the prompt ------------------------------------------------------------------------


def channel_counts(brief: str, n: int = 100) -> Counter[str]:
    counts: Counter[str] = Counter()
    for i in range(n):
        messages = wake(
            "tidepool-cmo",
            venture_brief=brief,
            metric_values=[4, 4 + i % 7, 5, 3 + i % 5],
            now=f"2026-02-{i % 28 + 1:02d} {i % 24:02d}:00",
        )
        for d in parse_agent_output(respond(messages, PERFECT).text, ORG).decisions:
            if d.kind == "campaign.launch":
                counts[d.params["channel"]] += 1
    return counts


def test_brief_steers_choices_toward_what_worked() -> None:
    with_brief, without = channel_counts(ADS_WORKED), channel_counts("")
    total, total_without = sum(with_brief.values()), sum(without.values())
    assert total >= 30 and total_without >= 30
    assert with_brief["ads"] / total > 0.6, with_brief
    assert with_brief["community"] / total < 0.05, with_brief
    # without a brief, choices spread over the channels
    assert without["ads"] / total_without < 0.35, without
    assert len([c for c, k in without.items() if k > 0]) >= 5, without


def test_outcome_lines_steer_too() -> None:
    outcomes = [
        Item(45, "campaign.launch channel=email budget=300 days=14: signups +9.0% (worked)"),
        Item(46, "campaign.launch channel=seo budget=300 days=14: signups -5.0% (failed)"),
    ]
    counts: Counter[str] = Counter()
    for i in range(80):
        messages = wake(
            "inkwell-cmo",
            outcomes=outcomes,
            metric_values=[140, 138 - i % 9, 135],
            now=f"2026-04-{i % 28 + 1:02d} 09:00",
        )
        for d in parse_agent_output(respond(messages, PERFECT).text, ORG).decisions:
            if d.kind == "campaign.launch":
                counts[d.params["channel"]] += 1
    assert counts["email"] > 0.6 * sum(counts.values()), counts
    assert counts["seo"] == 0, counts


# --- reviews --------------------------------------------------------------------------------------------


def test_finance_cuts_a_big_budget_on_round_one() -> None:
    params = {"channel": "ads", "budget": 2000, "days": 14}
    out = parse_review_output(respond(review("inkwell-finance", "campaign.launch", params), PERFECT).text)
    assert out.verdict == "revise"
    assert "budget" in out.feedback.lower()
    assert re.search(r"\b\d{3}\b", out.feedback)
    small = parse_review_output(
        respond(review("inkwell-finance", "campaign.launch", {**params, "budget": 250}), PERFECT).text
    )
    assert small.verdict == "approve"


def test_reviews_parse_and_sometimes_revise_on_later_rounds() -> None:
    verdicts: dict[int, Counter[str]] = {1: Counter(), 2: Counter()}
    for i in range(150):
        for round_no in (1, 2):
            params = {"feature": f"feature {i}", "area": "core", "effort_days": 3 + i % 8}
            text = respond(review("tidepool-ceo", "feature.ship", params, round_no), STANDARD).text
            try:
                verdicts[round_no][parse_review_output(text).verdict] += 1
            except OutputError:
                verdicts[round_no]["unusable"] += 1
    first, second = verdicts[1], verdicts[2]
    assert 0.15 < first["revise"] / 150 < 0.5, first
    assert 0.05 < second["revise"] / 150 < 0.4, second
    assert first["approve"] > first["revise"]
    assert 0 < first["unusable"] + second["unusable"] < 48  # configured 8%: about 24 of 300


def test_review_retry_recovers() -> None:
    params = {"channel": "ads", "budget": 500, "days": 14}
    recovered = 0
    for i in range(200):
        messages = review("inkwell-finance", "campaign.launch", {**params, "days": 1 + i % 60})
        text = respond(messages, STANDARD).text
        try:
            parse_review_output(text)
        except OutputError as exc:
            retry = [*messages, {"role": "assistant", "content": text}, retry_message(str(exc))]
            parse_review_output(respond(retry, STANDARD).text)
            recovered += 1
    assert recovered > 0


# --- synthesis ------------------------------------------------------------------------------------------


def test_synthesis_turns_outcome_lines_into_lessons() -> None:
    prompt = (
        "# Synthesis request\nVenture: Inkwell\n\n# New memories\n"
        "- [outcome] decision #45 campaign.launch channel=ads: signups +12.0% (worked)\n"
        "- [outcome] decision #46 campaign.launch channel=ads: signups +8.0% (worked)\n"
        "- [outcome] decision #47 campaign.launch channel=community: signups -3.0% (failed)\n"
        "- [note] a customer asked about Substack import\n"
    )
    data = json.loads(respond([{"role": "user", "content": prompt}], PERFECT).text.strip("`").removeprefix("json"))
    assert set(data) == {"strategy", "worked", "failed", "customer_facts", "open_questions", "rules"}
    assert data["worked"][0]["evidence"] == [45, 46]
    assert "channel=ads" in data["worked"][0]["lesson"]
    assert data["worked"][0]["delta"] == pytest.approx(0.10)
    assert data["failed"] == [
        {"lesson": "campaign.launch channel=community: signups -3.0%", "evidence": [47], "delta": -0.03}
    ]


# --- hygiene and litellm --------------------------------------------------------------------------------


SIM = ROOT / "src" / "conductor" / "sim"
MODEL_FILES = sorted(p.relative_to(SIM).as_posix() for p in (SIM / "model").glob("*.py"))
STDLIB = {"__future__", "json", "random", "re", "zlib", "dataclasses", "typing", "functools"}


def test_the_model_package_is_what_the_hygiene_test_covers() -> None:
    assert not (SIM / "model.py").exists()
    assert {"model/__init__.py", "model/reader.py", "model/wake.py", "model/synthesis.py"} <= set(MODEL_FILES)


@pytest.mark.parametrize("name", [*MODEL_FILES, "provider.py"])
def test_sim_model_reads_nothing_but_its_messages(name: str) -> None:
    source = (SIM / name).read_text(encoding="utf-8")
    for forbidden in ("conductor.store", "conductor.sim.market", "sqlite", "os.environ", "open(", "getenv",
                      "import os", "pathlib", "import time", "datetime"):
        assert forbidden not in source, f"{name} mentions {forbidden}"
    assert not re.search(r"^\s*global\s", source, re.MULTILINE), f"{name} writes a global"
    if name.startswith("model/"):
        imports = re.findall(r"^\s*(?:from|import) (\S+)", source, re.MULTILINE)
        outside = {i for i in imports if not i.startswith("conductor.sim.model.")}
        assert outside <= STDLIB, imports


async def test_through_litellm_the_sim_provider_answers() -> None:
    from conductor.engine.provider import call_model

    messages = wake("inkwell-cmo")
    result = await call_model("sim/perfect", messages, org=ORG)
    parse_agent_output(result.text, ORG)
    assert result.text == respond(messages, PERFECT).text
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert result.latency_ms == respond(messages, PERFECT).latency_ms


async def test_through_litellm_an_unknown_profile_is_not_retried() -> None:
    from conductor.engine.provider import ProviderFault, RetryPolicy, call_model

    with pytest.raises(ProviderFault) as err:
        await call_model("sim/nonsense", wake("inkwell-cmo"), retry=RetryPolicy(base_delay_s=0.01))
    assert err.value.retryable is False
    assert err.value.attempts == 1


def test_sync_completion_through_litellm() -> None:
    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    messages = wake("tidepool-support")
    response = litellm.completion(model="sim/standard", messages=messages)
    assert response.choices[0].message.content == respond(messages, STANDARD).text
    assert response.usage.prompt_tokens > 0


def test_mangled_prompts_never_crash_the_model() -> None:
    rng = random.Random(11)
    briefs = ["# What worked\n- channel=ads budget=400 worked; channel=seo failed", ADS_WORKED, "stop ads"]
    bases = [
        wake(
            a.id,
            venture_brief=rng.choice(briefs),
            revisions=[Item(9, "campaign.launch budget=abc: cut it")],
            verdicts=[Item(1, "rejected")],
            outcomes=[Item(2, "signups +5%")],
        )
        for _, a in ORG.agents()
    ]
    bases.append(review("inkwell-finance", "campaign.launch", {"channel": "ads", "budget": 900, "days": 3}))
    for profile in (PROFILES["careless"], PERFECT):
        for _ in range(300):
            messages = rng.choice(bases)
            lines = messages[-1]["content"].splitlines()
            op = rng.randrange(4)
            if op == 0:
                lines = [line for line in lines if rng.random() > 0.3]
            elif op == 1:
                lines = lines[: rng.randrange(len(lines) + 1)]
            elif op == 2:
                old, new = rng.choice(["..", ", ", "/", ":", "(", ")", "$", "#", "-", "{"]), rng.choice(["", "x", "{"])
                lines = [line.replace(old, new) for line in lines]
            else:
                rng.shuffle(lines)
            reply = respond([*messages[:-1], {"role": "user", "content": "\n".join(lines)}], profile)
            assert reply.text and reply.completion_tokens > 0
    assert respond([], PERFECT).text


def test_registration_is_idempotent_and_keeps_other_providers() -> None:
    from types import SimpleNamespace

    from conductor.sim.provider import SimProvider, register_sim_provider

    other = {"provider": "mine", "custom_handler": object()}
    fake = SimpleNamespace(custom_provider_map=[other])
    register_sim_provider(fake)
    register_sim_provider(fake)
    assert fake.custom_provider_map[0] is other
    assert [e["provider"] for e in fake.custom_provider_map] == ["mine", "sim"]
    assert isinstance(fake.custom_provider_map[1]["custom_handler"], SimProvider)
