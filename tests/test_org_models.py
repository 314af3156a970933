"""Models in the org file: `[models."MODEL"]` points a model string at a server, with its key by name.

`conductor run` on the duo org whose two agents use two models served by two stub OpenAI-compatible servers
on 127.0.0.1, each with its own key read from the environment variable the org file names: no OPENAI_*
variable is set, each server sees only its own agent's calls with its own key, and no key reaches the
database or the log. A variable that is not set is one clear reason on the agent's stuck escalation, and
`conductor doctor` names it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stub_openai import Hit, Reply, StubOpenAI, ok

REPO = Path(__file__).resolve().parents[1]
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"
LEAD_KEY, OPS_KEY = "sk-lead-9f8e7d6c5b4a3921", "sk-ops-1a2b3c4d5e6f7081"


def answer(hit: Hit) -> Reply:
    if hit.prompt.startswith("# Review request"):
        return ok({"verdict": "approve"})
    return ok({"summary": "at work", "decisions": [{
        "kind": "note.write", "params": {"text": f"note {hit.n}"}, "rationale": "Keep a record.",
        "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})


def org_file(tmp_path: Path, lead_base: str, ops_base: str) -> Path:
    text = DUO.read_text()
    text = text.replace('id = "duo-lead"\nrole = "Lead"', 'id = "duo-lead"\nrole = "Lead"\nmodel = "openai/lead-model"')
    text = text.replace('id = "duo-ops"\nrole = "Ops"', 'id = "duo-ops"\nrole = "Ops"\nmodel = "openai/ops-model"')
    assert text.count("openai/") == 2
    for model, base, env in (("openai/lead-model", lead_base, "DUO_LEAD_KEY"), ("openai/ops-model", ops_base, "DUO_OPS_KEY")):
        text += (f'\n[prices."{model}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n'
                 f'\n[models."{model}"]\napi_base = "{base}"\napi_key_env = "{env}"\ntemperature = 0.2\n'
                 'max_output_tokens = 900\ntimeout = "30s"\n')
    path = tmp_path / "duo.toml"
    path.write_text(text)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CONDUCTOR_DB", "DUO_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return {**env, **extra}


def conductor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conductor", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_two_models_at_two_servers_each_with_its_own_key_by_name(tmp_path: Path) -> None:
    with StubOpenAI(answer) as lead, StubOpenAI(answer) as ops:
        org = org_file(tmp_path, lead.base_url, ops.base_url)
        db = tmp_path / "models.db"
        proc = conductor("run", str(org), "--db", str(db), "--days", "0.5",
                         env=clean_env(DUO_LEAD_KEY=LEAD_KEY, DUO_OPS_KEY=OPS_KEY))
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert lead.hits and ops.hits
    assert {h.agent for h in lead.hits if h.agent} == {"duo-lead"}
    assert {h.agent for h in ops.hits if h.agent} == {"duo-ops"}
    assert all(h.headers.get("authorization") == f"Bearer {LEAD_KEY}" for h in lead.hits)
    assert all(h.headers.get("authorization") == f"Bearer {OPS_KEY}" for h in ops.hits)
    assert all(h.body["model"] == "lead-model" and h.body.get("temperature") == 0.2 for h in lead.hits)
    assert all(h.body.get("max_tokens") == 900 or h.body.get("max_completion_tokens") == 900 for h in lead.hits)
    conn = sqlite3.connect(db)
    try:
        calls = conn.execute("SELECT model, count(*), sum(ok) FROM calls GROUP BY model").fetchall()
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert {m for m, n, good in calls if n == good} >= {"openai/lead-model", "openai/ops-model"}, calls
    log = Path(str(db) + ".log").read_text()
    for key in (LEAD_KEY, OPS_KEY):
        assert key not in dump and key not in log and key not in proc.stdout + proc.stderr


def test_a_key_variable_that_is_not_set_is_named_where_the_founder_looks(tmp_path: Path) -> None:
    with StubOpenAI(answer) as lead, StubOpenAI(answer) as ops:
        org = org_file(tmp_path, lead.base_url, ops.base_url)
        db = tmp_path / "missing.db"
        env = clean_env(DUO_LEAD_KEY=LEAD_KEY)  # DUO_OPS_KEY is not set
        proc = conductor("run", str(org), "--db", str(db), "--days", "0.5", env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert ops.hits == [], "no call is made without its key"
        doctor = conductor("doctor", "--org", str(org), "--json", env=env)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)}
    assert checks["model openai/ops-model"]["status"] == "fail"
    assert "DUO_OPS_KEY" in checks["model openai/ops-model"]["detail"]
    assert checks["model openai/lead-model"]["status"] == "ok"
    conn = sqlite3.connect(db)
    try:
        stuck = [json.loads(p) for (p,) in conn.execute(
            "SELECT payload FROM events WHERE kind = 'escalation.opened' AND agent = 'duo-ops'")]
    finally:
        conn.close()
    assert stuck and "DUO_OPS_KEY" in stuck[0]["reason"] + json.dumps(stuck[0].get("detail", {}))


@pytest.mark.parametrize(("line", "where"), [('api_base = "ftp://x"', "api_base"),
                                             ('api_key_env = "sk-live-123"', "api_key_env"),
                                             ("temperature = 7", "temperature")])
def test_a_bad_model_setting_is_one_line_naming_it(tmp_path: Path, line: str, where: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(DUO.read_text() + f'\n[models."openai/x"]\n{line}\n')
    proc = conductor("doctor", "--org", str(path), env=clean_env())
    assert proc.returncode != 0
    lines = [x for x in (proc.stderr + proc.stdout).splitlines() if where in x]
    assert lines and "models" in lines[0], proc.stderr + proc.stdout


def test_the_readme_local_model_example_loads_as_written(tmp_path: Path) -> None:
    """The org-file lines of README's "Use a local model" section, put on top of a working org, load; doctor then
    names the key variable until it is set."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("#### Use a local model", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    top, _, tables = example.partition("\n\n")
    assert top.startswith('model = "openai/')
    org_text = DUO.read_text().replace('model = "sim/perfect"', top.split("#")[0].strip())
    path = tmp_path / "local.toml"
    path.write_text(org_text + "\n" + tables)
    from conductor.org import load_org

    org = load_org(path)
    assert org.model in org.models and org.models[org.model].api_key_env == "LOCAL_LLM_KEY"
    assert all(m.api_base and m.api_base.startswith("http://127.0.0.1:") for m in org.models.values())
    missing = conductor("doctor", "--org", str(path), "--json", env=clean_env())
    checks = {c["check"]: c for c in json.loads(missing.stdout)}
    assert "LOCAL_LLM_KEY" in checks[f"model {org.model}"]["detail"] and checks[f"model {org.model}"]["status"] == "fail"
    present = conductor("doctor", "--org", str(path), "--json", env=clean_env(LOCAL_LLM_KEY="local"))
    checks = {c["check"]: c for c in json.loads(present.stdout)}
    assert checks[f"model {org.model}"]["status"] == "ok"
