"""The answer contract against what small real models actually wrote (`tests/data/real-model/`): almost-JSON is
mended before it is called invalid, and what cannot be mended is refused with the offending line quoted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor.engine.contract import OutputError, extract_json, parse_agent_output
from conductor.org import load_org

DATA = Path(__file__).resolve().parent / "data" / "real-model"


def answers(name: str) -> list[str]:
    out = []
    for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        body = json.loads(line)["response"]
        out.append(body["choices"][0]["message"]["content"])
    return out


def test_a_bare_unquoted_value_is_mended_and_the_answer_accepted() -> None:
    """Qwen 0.5B's first answers wrote `"to": tally-ceo` (no quotes): the whole answer was refused, the retry
    quoted only a parser position, and the model copied its answer back three times."""
    org = load_org(DATA / "tally.toml")
    first = answers("qwen2.5-coder-0.5b")[:3]  # the first wake-up and its two retries
    for answer in first:
        assert '"to": tally-ceo' in answer
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer[answer.find("{"):answer.rfind("}") + 1])
        data = extract_json(answer)  # mended: the value is quoted now
        assert isinstance(data, dict) and data["tasks"][0]["to"] == "tally-ceo"
        # What is left is a real mistake, named for the retry: a percentage where a relative change belongs.
        with pytest.raises(OutputError, match=r"expected_effect\.size: 5 is not a relative change \(write 0\.05"):
            parse_agent_output(answer, org)
        fixed = answer.replace('"size": 5', '"size": 0.05')
        assert fixed != answer
        output = parse_agent_output(fixed, org)
        assert output.tasks and output.tasks[0].to == "tally-ceo"


def test_every_object_the_small_model_meant_is_read_and_then_judged_by_the_contract() -> None:
    """The six complete 0.5B answers are read as objects now (none was before), then judged by the contract,
    each refusal naming the field. The seventh repeated itself until the output limit cut it off: not mended
    (see the test below)."""
    org = load_org(DATA / "tally.toml")
    verdicts = []
    *complete, cut_off = answers("qwen2.5-coder-0.5b")
    with pytest.raises(OutputError, match="not valid JSON"):
        extract_json(cut_off)
    for answer in complete:
        assert isinstance(extract_json(answer), dict)
        try:
            parse_agent_output(answer, org)
            verdicts.append("accepted")
        except OutputError as exc:
            assert "not valid JSON" not in str(exc)
            verdicts.append(str(exc))
    # Three are whole decisions that claim a 5 (+500%) effect where a relative change belongs (they meant 5%):
    # refused for that alone, naming the field, so the retry can say what to write; the others lack fields.
    assert sum("expected_effect.size: 5 is not a relative change" in v for v in verdicts) >= 3
    assert any("Field required" in v for v in verdicts)
    assert "accepted" not in verdicts


def test_prose_is_refused_with_the_line_that_is_wrong() -> None:
    """SmolLM2 answered in prose: nothing to mend, and the retry quotes the line the parser stopped at."""
    refused = 0
    for answer in answers("smollm2-135m"):
        if "{" in answer:
            continue
        with pytest.raises(OutputError, match=r"not valid JSON .*; line 1: "):
            extract_json(answer)
        refused += 1
    assert refused >= 3


def test_an_answer_cut_off_at_the_output_limit_is_not_mended() -> None:
    """Closing a cut-off answer would keep the decisions before the cut and silently drop the rest."""
    whole = json.dumps({"summary": "two moves", "decisions": [{"kind": "a"}, {"kind": "b"}]})
    with pytest.raises(OutputError, match="not valid JSON"):
        extract_json(whole[: whole.index('{"kind": "b"') + 5])


def test_a_python_dict_and_a_trailing_comma_are_mended() -> None:
    assert extract_json("{'summary': 'ok', 'decisions': [], 'done': True, 'note': None}") == {
        "summary": "ok", "decisions": [], "done": True, "note": None}
    assert extract_json('{"summary": "ok", "decisions": [],}') == {"summary": "ok", "decisions": []}


def wake_answers_of_1_5b() -> list[tuple[str, str]]:
    """(agent id, answer) of every wake-up the 1.5B model answered (its first attempts; it never needed more)."""
    import re

    out = []
    for line in (DATA / "qwen2.5-coder-1.5b.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        user = next((m["content"] for m in row["request"]["messages"] if m["role"] == "user"), "")
        found = re.search(r"^Agent id: (\S+)", user, re.M)
        choices = (row.get("response") or {}).get("choices") or []
        if found and choices:
            out.append((found.group(1), choices[0]["message"]["content"]))
    return out


def test_the_per_agent_contract_takes_the_1_5b_answers_that_are_right_and_names_what_is_wrong_in_the_rest() -> None:
    """Every 1.5B wake-up answer was accepted before. Held to the agent's own kinds and to relative effects,
    those with a kind the agent may take and an effect written as a relative change are still accepted; the
    ones that wrote a percentage (10 for 10%) are refused naming the field and what to write."""
    org = load_org(DATA / "tally.toml")
    answers_ = wake_answers_of_1_5b()
    assert len(answers_) >= 12
    accepted = refused = 0
    for agent, answer in answers_:
        found = org.agent(agent)
        assert found is not None
        kinds = found[1].decision_kinds
        data = extract_json(answer)
        assert isinstance(data, dict)
        sizes = [abs(float(d["expected_effect"]["size"])) for d in data.get("decisions", [])]
        mine = all(d["kind"] in kinds for d in data.get("decisions", []))
        if mine and all(s <= 2 for s in sizes):
            parse_agent_output(answer, org, kinds, agent)
            accepted += 1
        else:
            with pytest.raises(OutputError, match=r"is not a relative change \(write 0\.05|may not take"):
                parse_agent_output(answer, org, kinds, agent)
            refused += 1
    assert accepted >= 5 and refused >= 1, (accepted, refused)


def test_a_kind_the_agent_may_not_take_a_percentage_and_an_unknown_parameter_are_each_named() -> None:
    org = load_org(DATA / "tally.toml")
    agent, answer = next((a, t) for a, t in wake_answers_of_1_5b() if '"campaign.launch"' in t and a == "tally-growth")
    found = org.agent(agent)
    assert found is not None
    kinds = found[1].decision_kinds
    data = extract_json(answer)
    assert isinstance(data, dict)
    decision = data["decisions"][0]
    decision["expected_effect"]["size"] = 0.05
    parse_agent_output(json.dumps(data), org, kinds, agent)  # the baseline is accepted

    other = next(k.id for k in org.decision_kinds if k.id not in kinds)
    cases = {
        "may not take": {**decision, "kind": other},
        "5 is not a relative change": {**decision, "expected_effect": {**decision["expected_effect"], "size": 5}},
        "unknown parameter 'audience'": {**decision, "params": {**decision["params"], "audience": "everyone"}},
    }
    for reason, bad in cases.items():
        with pytest.raises(OutputError, match=reason) as caught:
            parse_agent_output(json.dumps({**data, "decisions": [bad]}), org, kinds, agent)
        assert "decisions.0." in str(caught.value)
    with pytest.raises(OutputError, match=f"{agent} may not take '{other}' decisions \\(yours: "):
        parse_agent_output(json.dumps({**data, "decisions": [cases["may not take"]]}), org, kinds, agent)


def test_replayed_over_http_a_bare_value_never_makes_a_retry_and_every_retry_quotes_what_is_wrong(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stub OpenAI-compatible server on 127.0.0.1 answers every wake-up of the tally org with the captured 0.5B
    answers in turn, through litellm's real HTTP client. An answer whose only JSON fault was a bare value is
    mended, so no retry is about JSON there; every retry names the field or the line that is wrong."""
    import asyncio
    from datetime import timedelta

    from conductor.engine.provider import RetryPolicy
    from conductor.engine.scheduler import Engine, EngineOptions
    from stub_openai import Hit, Reply, StubOpenAI, ok

    captured = answers("qwen2.5-coder-0.5b")

    def replay(hit: Hit) -> Reply:
        if hit.prompt.startswith("# Review request"):
            return ok({"verdict": "approve"})
        return ok(captured[hit.n % len(captured)])

    monkeypatch.setenv("TALLY_KEY", "sk-local-replay-1234")
    model = "openai/qwen2.5-coder-0.5b"
    with StubOpenAI(replay) as stub:
        path = tmp_path / "tally.toml"
        path.write_text((DATA / "tally.toml").read_text()
                        + f'\n[models."{model}"]\napi_base = "{stub.base_url}"\napi_key_env = "TALLY_KEY"\n')
        org = load_org(path)
        engine = Engine(org, tmp_path / "tally.db", EngineOptions(
            until=org.start + timedelta(hours=12), retry=RetryPolicy(max_retries=1, timeout_s=30.0)), org_path=path)
        asyncio.run(asyncio.wait_for(engine.run(), 90))
    retries = [h for h in stub.hits
               if (h.body["messages"][-1].get("content") or "").startswith("# Your previous answer could not be used")]
    assert retries, "no answer was refused: the replay did not exercise the contract"
    assert any('"to": tally-ceo' in h.body["messages"][-2]["content"] for h in retries), "no bare value was replayed"
    for hit in retries:
        before = hit.body["messages"][-2]["content"]
        error = hit.body["messages"][-1]["content"]
        if '"to": tally-ceo' in before:
            assert "not valid JSON" not in error, error
        assert "decisions." in error or "tasks." in error or "line" in error, error
