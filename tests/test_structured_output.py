"""How the answer's JSON is asked for, per model (`[models."M"] structured_output`), seen from a stub server.

`json_schema` sends each agent's own schema: an enum of its kinds (a `const` per variant), each kind's params
with their types, choices and ranges, and no length limits (a grammar-constrained server compiles a length
limit into a grammar that grows with it). `json_object` asks for any object, `off` for nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stub_openai import StubOpenAI, ok

REPO = Path(__file__).resolve().parents[1]
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"


def run(tmp_path: Path, mode: str) -> list[dict[str, Any]]:
    with StubOpenAI(lambda hit: ok({"summary": "nothing new"})) as stub:
        text = DUO.read_text().replace('model = "sim/perfect"', 'model = "openai/stub"')
        text += f'\n[models."openai/stub"]\napi_base = "{stub.base_url}"\napi_key_env = "STUB_KEY"\n' \
                f'structured_output = "{mode}"\n'
        org = tmp_path / f"{mode}.toml"
        org.write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CONDUCTOR_DB"))}
        env.update(STUB_KEY="sk-stub-schema-123456", PYTHONPATH=str(REPO / "src"))
        done = subprocess.run([sys.executable, "-m", "conductor", "run", str(org), "--db", str(tmp_path / f"{mode}.db"),
                               "--days", "0.2"], env=env, capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return [h.body for h in stub.hits]


def test_json_schema_sends_each_agents_own_kinds_and_params_without_length_limits(tmp_path: Path) -> None:
    bodies = run(tmp_path, "json_schema")
    by_agent = {}
    for body in bodies:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        agent = user.split("Agent id: ", 1)[1].split("\n", 1)[0]
        by_agent[agent] = body["response_format"]["json_schema"]["schema"]
    lead, ops = by_agent["duo-lead"], by_agent["duo-ops"]
    kinds = {v["properties"]["kind"]["const"] for v in lead["properties"]["decisions"]["items"]["anyOf"]}
    assert kinds == {"note.write", "ad.buy", "vendor.sign", "deploy.run"}
    assert {v["properties"]["kind"]["const"] for v in ops["properties"]["decisions"]["items"]["anyOf"]} == {
        "note.write", "ad.buy"}
    assert "maxLength" not in json.dumps(lead)
    good = {"summary": "buying", "decisions": [{"kind": "ad.buy", "params": {"budget": 300}, "rationale": "r",
                                                "expected_effect": {"metric": "revenue", "direction": "up",
                                                                    "size": 0.05}, "confidence": 0.8}]}
    jsonschema.validate(good, ops)
    for bad in ({"kind": "vendor.sign", "params": {"vendor": "x"}},  # a kind the ops agent may not take
                {"params": {"budget": 20000}},  # above the kind's max
                {"params": {"budget": 300, "channel": "tv"}},  # a parameter the kind does not have
                {"expected_effect": {"metric": "revenue", "direction": "up", "size": 5}}):  # 500 %, not a share
        wrong = {**good, "decisions": [{**good["decisions"][0], **bad}]}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, ops)


@pytest.mark.parametrize(("mode", "expected"), [("json_object", {"type": "json_object"}), ("off", None)])
def test_json_object_and_off(tmp_path: Path, mode: str, expected: dict[str, Any] | None) -> None:
    bodies = run(tmp_path, mode)
    assert bodies and all(body.get("response_format") == expected for body in bodies)
