"""Prompts laid out for provider caching, and cached input in the spend ledger.

A provider caches the longest prompt prefix it has seen (OpenAI and DeepSeek by themselves, Anthropic at a
marked breakpoint), so a wake-up prompt is ordered from what changes least to what changes most: one system
block every agent of the org shares byte for byte, then what the agent's role and its venture's brain version
fix, then what is new. Measured on the studio example (a real run of the simulated organisation, every
wake-up prompt as the model received it, litellm's token counter), and checked part by part on one context.
Cached tokens come from the provider's usage (here a stub OpenAI-compatible server on 127.0.0.1 that reports
`prompt_tokens_details.cached_tokens`) and are priced at the org file's cached-input rate.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conductor.brain.brief import named_kinds
from conductor.cli.main import app
from conductor.engine import provider
from conductor.engine.prompts import (
    VOLATILE_HEADING,
    Item,
    WakeContext,
    policy_line,
    wake_messages,
    with_cache_breakpoints,
)
from conductor.engine.provider import RetryPolicy, cache_saving, call_model, load_litellm
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import Org, load_org
from conductor.services import queries
from conductor.store.database import open_reader
from conductor.store.rebuild import projection_differences
from stub_openai import Hit, Reply, StubOpenAI, ok

STUDIO = Path(__file__).resolve().parents[1] / "src" / "conductor" / "examples" / "studio.toml"
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"
DAYS = 12
MODEL = "openai/stub-model"


def tokens(text: str) -> int:
    return int(load_litellm().token_counter(model="gpt-4o", text=text))


@pytest.fixture(scope="module")
def studio_prompts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, list[dict[str, Any]]]]]:
    """(agent id, messages) of every wake-up ("wakes") and every review ("reviews") of a 12-day studio run, in the
    order the model received them."""
    import conductor.sim.direct as direct
    from conductor.eval.arms import ENGINE_ARMS
    from conductor.eval.run import run_engine

    seen: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {"wakes": [], "reviews": []}
    real = direct.respond

    def spy(messages: list, profile: object, tools: list | None = None) -> object:
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        if len(messages) == 2 and user.startswith("# Your role"):
            seen["wakes"].append((user.split("Agent id: ", 1)[1].split("\n", 1)[0], [dict(m) for m in messages]))
        elif user.startswith("# Review request"):
            seen["reviews"].append((user.split("Reviewer: ", 1)[1].split(" ", 1)[0], [dict(m) for m in messages]))
        return real(messages, profile, tools)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(direct, "respond", spy)
        org = load_org(STUDIO)
        run_engine(org, STUDIO, tmp_path_factory.mktemp("cache") / "studio.db", DAYS, ENGINE_ARMS["full"], 7)
    return seen


@pytest.fixture(scope="module")
def studio_wakes(studio_prompts: dict[str, list[tuple[str, list[dict[str, Any]]]]]
                 ) -> list[tuple[str, list[dict[str, Any]]]]:
    return studio_prompts["wakes"]


def test_every_agent_of_the_studio_shares_one_system_block_of_at_least_1024_tokens(studio_wakes: list) -> None:
    org = load_org(STUDIO)
    systems = {messages[0]["content"] for _, messages in studio_wakes}
    agents = {agent for agent, _ in studio_wakes}
    assert len(agents) >= len(org.agents()), f"only {sorted(agents)} woke"
    assert len(systems) == 1, f"{len(systems)} different system blocks across {len(agents)} agents"
    block = systems.pop()
    assert tokens(block) >= 1024, f"the shared system block is {tokens(block)} tokens"
    assert all(f"- {k.id}:" in block for k in org.decision_kinds), "the block describes every kind of the org"


def test_consecutive_wake_ups_of_one_agent_share_at_least_70_percent_as_a_byte_identical_prefix(
        studio_wakes: list) -> None:
    last: dict[str, str] = {}
    shared = total = pairs = 0
    for agent, messages in studio_wakes:
        text = "\n".join(m["content"] for m in messages)
        if agent in last:
            prefix = os.path.commonprefix([last[agent], text])  # noqa: RUF071 (characters, not paths)
            shared += tokens(prefix)
            total += tokens(text)
            pairs += 1
        last[agent] = text
    assert pairs >= 50, f"only {pairs} pairs of consecutive wake-ups"
    assert shared / total >= 0.70, f"consecutive wake-ups share {shared / total:.1%} of their tokens as a prefix"


def test_a_wake_up_brief_names_no_lever_its_agent_cannot_pull(studio_wakes: list) -> None:
    """The brief and the platform insights are for the agent reading them: a line about kinds the agent cannot
    take is left out (its memories, retrieved for it, may still mention them). Every token of it would be
    paid for at every wake-up."""
    org = load_org(STUDIO)
    known = {k.id for k in org.decision_kinds}
    own = {agent.id: set(agent.decision_kinds) for _, agent in org.agents()}
    checked = 0
    for agent, messages in studio_wakes:
        user = messages[1]["content"]
        insights = user.split("# Platform insights", 1)[1].split("# Founder directives", 1)[0]
        brief = user.split("# Venture brief", 1)[1].split(VOLATILE_HEADING, 1)[0]
        brief = brief.split("Memories most relevant to you now", 1)[0]
        brief = "\n\n".join(part for part in brief.split("\n\n") if not part.startswith("Rules the founder set"))
        for line in (insights + brief).splitlines():  # the founder's own words are never left out
            named = named_kinds(line, known)
            if line.startswith("- ") and named:
                assert named & own[agent], f"{agent} was shown {line!r}"
                checked += 1
    assert checked >= 20, f"only {checked} brief lines named a kind"


def test_a_reviewer_sees_what_its_brief_says_of_the_kind_under_review(studio_prompts: dict) -> None:
    """A finance lead cannot launch campaigns, but judges them: a review's brief keeps the lines about the
    kind under review and leaves out the rest, the reviewer's own levers included."""
    org = load_org(STUDIO)
    known = {k.id for k in org.decision_kinds}
    own = {agent.id: set(agent.decision_kinds) for _, agent in org.agents()}
    about_subject = 0
    for reviewer, messages in studio_prompts["reviews"]:
        user = messages[1]["content"]
        kind = user.split("\nKind: ", 1)[1].split(" ", 1)[0]
        brief = user.split("# Venture brief", 1)[1].split("Memories most relevant to you now", 1)[0]
        for line in brief.splitlines():
            named = named_kinds(line, known)
            if line.startswith("- ") and named:
                assert kind in named, f"{reviewer} reviewing {kind} was shown {line!r}"
                about_subject += kind not in own[reviewer]
    assert about_subject >= 5, f"only {about_subject} lines about a kind under review that is not the reviewer's"


def _context(**overrides: Any) -> WakeContext:
    org = load_org(STUDIO)
    venture, agent = org.agents()[0]
    fields: dict[str, Any] = dict(
        org_name=org.name, agent_id=agent.id, role=agent.role, mission=agent.mission, venture_id=venture.id,
        venture_name=venture.name, stage=venture.stage, goal=venture.goal, reports_to=agent.reports_to, reports=[],
        owned_metric=agent.owns_metric, metric_unit="USD", metric_direction="up", metric_values=[1.0, 2.0],
        other_metrics={"signups": 3.0}, kinds=[k for k in org.decision_kinds if k.id in agent.decision_kinds],
        org_kinds=org.decision_kinds, policy_line=policy_line(org), now="2026-01-05 09:00", reason="heartbeat",
        venture_brief="Inkwell brain v3: what this venture has learned.\n\nWhat worked:\n- campaign.launch channel=seo",
    )
    fields.update(overrides)
    return WakeContext(**fields)


def test_only_what_is_new_at_a_wake_up_comes_after_the_volatile_heading() -> None:
    """Changing anything that is new at each wake-up leaves the prompt identical up to `# Now`; changing the brief
    changes it before; the system block never changes with the agent's own state."""
    base = wake_messages(_context())
    stable = base[1]["content"].split(f"\n\n{VOLATILE_HEADING}\n", 1)[0]
    volatile = dict(now="2026-01-06 10:00", reason="a message from inkwell-ceo", metric_values=[5.0, 1.0],
                    other_metrics={"signups": 9.0}, tasks=[Item(4, "look at churn")],
                    messages=[Item(5, "hello")], outcomes=[Item(6, "campaign.launch: mrr +2%")],
                    verdicts=[Item(7, "approved")], revisions=[Item(8, "too expensive")],
                    busy=["campaign.launch until 2026-01-09 (#3)"])
    for name, value in volatile.items():
        changed = wake_messages(_context(**{name: value}))
        assert changed[0] == base[0], f"{name} changed the system block"
        assert changed[1]["content"].startswith(stable + f"\n\n{VOLATILE_HEADING}\n"), f"{name} changed the prefix"
        assert changed != base, f"{name} is not shown at all"
    rebriefed = wake_messages(_context(venture_brief="Inkwell brain v4: what this venture has learned."))
    assert not rebriefed[1]["content"].startswith(stable)
    other = load_org(STUDIO).agents()[5][1]
    assert wake_messages(_context(agent_id=other.id, role=other.role))[0] == base[0]


def test_cache_breakpoints_mark_the_system_block_and_the_stable_part_and_keep_the_text() -> None:
    messages = wake_messages(_context())
    marked = with_cache_breakpoints(messages)
    assert marked[0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    stable, volatile = marked[1]["content"]
    assert stable["cache_control"] == {"type": "ephemeral"} and "cache_control" not in volatile
    assert volatile["text"].startswith(VOLATILE_HEADING)
    for plain, parts in zip(messages, marked, strict=True):
        assert "".join(p["text"] for p in parts["content"]) == plain["content"]
    retry = [*messages, {"role": "assistant", "content": "{"}, {"role": "user", "content": "# Your previous answer"}]
    assert with_cache_breakpoints(retry)[2:] == retry[2:], "only the first user message is split"


@pytest.mark.parametrize(("model", "marked"), [("anthropic/claude-sonnet-4-5", True), ("openai/gpt-4o", False)])
def test_only_models_that_cache_at_breakpoints_get_them(model: str, marked: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = load_litellm()
    sent: list[Any] = []

    async def capture(**kwargs: Any) -> Any:
        sent.append(kwargs["messages"])
        return litellm.ModelResponse(choices=[{"message": {"role": "assistant", "content": "{}"}}],
                                     usage={"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11})

    monkeypatch.setattr(litellm, "acompletion", capture)
    asyncio.run(call_model(model, wake_messages(_context()), retry=RetryPolicy(max_retries=0)))
    assert isinstance(sent[0][0]["content"], list) is marked


# --- cached tokens in the ledger ------------------------------------------------------------------------------

PROMPT, COMPLETION, CACHED = 1000, 50, 800


@pytest.fixture
def duo(tmp_path: Path) -> Org:
    path = tmp_path / "duo.toml"
    path.write_text(DUO.read_text() + f'\n[prices."{MODEL}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n'
                    "cached_input_per_mtok = 0.1\n")
    return load_org(path)


def answer(hit: Hit) -> Reply:
    body = {"summary": "at work", "decisions": [{
        "kind": "note.write", "params": {"text": f"note {hit.n}"}, "rationale": "Keep a record.",
        "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]}
    return ok(body, usage=(PROMPT, COMPLETION), cached=CACHED)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_cached_tokens_reported_by_the_provider_are_priced_and_shown_in_spend_and_metrics(
        duo: Org, tmp_path: Path, stream: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stub-key")
    db = tmp_path / "cache.db"
    policy = RetryPolicy(max_retries=1, timeout_s=30.0, base_delay_s=0.01, stream=stream)
    with StubOpenAI(answer) as stub:
        engine = Engine(duo, db, EngineOptions(until=duo.start + timedelta(hours=20), model=MODEL,
                                               api_base=stub.base_url, retry=replace(policy)))
        asyncio.run(asyncio.wait_for(engine.run(), 60))
    conn = open_reader(db)
    try:
        rows = conn.execute("SELECT prompt_tokens, cached_tokens, cost, cache_saved FROM calls WHERE ok").fetchall()
        payloads = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM events WHERE kind = 'call.recorded'")]
        assert projection_differences(conn) == []
    finally:
        conn.close()
    assert rows and all(tuple(r[:2]) == (PROMPT, CACHED) for r in rows)
    price = ((PROMPT - CACHED) * 1.0 + CACHED * 0.1 + COMPLETION * 2.0) / 1e6
    assert all(r[2] == pytest.approx(price) and r[3] == pytest.approx(CACHED * 0.9 / 1e6) for r in rows)
    assert all(p["cached_tokens"] == CACHED for p in payloads if p["ok"])

    runner = CliRunner()
    spent = runner.invoke(app, ["spend", "--by", "agent", "--json", "--db", str(db)])
    assert spent.exit_code == 0, spent.output
    ledger = [queries.SpendRow.model_validate(r) for r in json.loads(spent.stdout)]
    assert sum(r.cached_tokens for r in ledger) == CACHED * len(rows)
    assert sum(r.cache_saved for r in ledger) == pytest.approx(CACHED * 0.9 / 1e6 * len(rows))
    shown = runner.invoke(app, ["metrics", "--json", "--db", str(db)])
    assert shown.exit_code == 0, shown.output
    use = queries.MetricsReport.model_validate_json(shown.stdout).model_calls
    assert use.cached_tokens == CACHED * len(rows) and use.cache_share == pytest.approx(CACHED / PROMPT)
    assert use.cache_saved == pytest.approx(CACHED * 0.9 / 1e6 * len(rows))
    table = runner.invoke(app, ["metrics", "--db", str(db)], env={"COLUMNS": "120"})
    assert "80% from the provider's cache" in table.stdout


def test_without_a_cached_price_the_org_claims_no_saving_and_litellm_prices_known_models() -> None:
    org = load_org(DUO)
    assert cache_saving(org, "sim/perfect", 1000) == 0.0  # the org prices it, with no cached rate
    info = load_litellm().get_model_info("gpt-4o")
    expected = 1000 * (info["input_cost_per_token"] - info["cache_read_input_token_cost"])
    assert cache_saving(None, "gpt-4o", 1000) == pytest.approx(expected) and expected > 0
    assert cache_saving(None, "openai/some-private-model", 1000) == 0.0
    assert provider.cached_tokens_of(None) == 0


def test_the_simulated_provider_serves_the_shared_system_block_from_its_cache_and_nothing_else() -> None:
    """No state across calls: the same messages always report the same cached tokens (a resumed run prices its
    calls as the unbroken one did)."""
    from conductor.sim.direct import MIN_CACHED_TOKENS, cached_tokens

    messages = wake_messages(_context())
    system_tokens = len(messages[0]["content"]) // 4
    assert system_tokens >= MIN_CACHED_TOKENS
    assert cached_tokens(messages, 10_000) == system_tokens
    assert cached_tokens([{"role": "system", "content": "short"}, messages[1]], 10_000) == 0
    assert cached_tokens([messages[1]], 10_000) == 0
    result = asyncio.run(call_model("sim/perfect", messages, org=load_org(STUDIO)))
    assert result.cached_tokens == system_tokens and result.cache_saved > 0


def test_a_simulated_model_is_called_in_process_without_litellm_and_answers_as_through_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine calls `sim/...` directly (no litellm import at start-up, no per-call work); through litellm's
    custom provider the same messages get the same answer, usage and price."""
    messages = wake_messages(_context())
    org = load_org(STUDIO)
    litellm = load_litellm()
    through = asyncio.run(call_model("sim/standard", messages, org=org, extra={"temperature": 0}))

    async def refuse(**kwargs: Any) -> Any:
        raise AssertionError("litellm was called for a simulated model")

    monkeypatch.setattr(litellm, "acompletion", refuse)
    direct = asyncio.run(call_model("sim/standard", messages, org=org))
    assert (direct.text, direct.prompt_tokens, direct.completion_tokens, direct.cached_tokens) == (
        through.text, through.prompt_tokens, through.completion_tokens, through.cached_tokens)
    assert direct.cost == pytest.approx(through.cost) and direct.latency_ms == through.latency_ms
    with pytest.raises(provider.ProviderFault, match="sim/nonsense"):
        asyncio.run(call_model("sim/nonsense", messages, org=org))
