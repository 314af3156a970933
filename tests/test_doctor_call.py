"""`conductor doctor --call`: each model is called once, through a stub OpenAI-compatible server on 127.0.0.1,
and the check says whether it answered the JSON asked for, and why not when the server failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stub_openai import StubOpenAI, ok, status

REPO = Path(__file__).resolve().parents[1]
DUO = Path(__file__).resolve().parent / "orgs" / "duo.toml"


def doctor(tmp_path: Path, base: str) -> tuple[int, list[dict]]:
    text = DUO.read_text().replace('model = "sim/perfect"', 'model = "openai/stub"')
    text += f'\n[models."openai/stub"]\napi_base = "{base}"\napi_key_env = "STUB_KEY"\n'
    org = tmp_path / "duo.toml"
    org.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "CONDUCTOR_DB"))}
    env.update(STUB_KEY="sk-stub-doctor-123456", PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, "-m", "conductor", "doctor", "--org", str(org), "--db",
                           str(tmp_path / "none.db"), "--call", "--json"], env=env, capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    return done.returncode, [c for c in json.loads(done.stdout) if c["check"].startswith("call ")]


def test_doctor_calls_each_model_once_and_says_it_answered(tmp_path: Path) -> None:
    with StubOpenAI(lambda hit: ok({"ok": True})) as stub:
        _, calls = doctor(tmp_path, stub.base_url)
        assert len(stub.hits) == 1 and '{"ok": true}' in stub.hits[0].prompt
    assert [(c["check"], c["status"]) for c in calls] == [("call openai/stub", "ok")]
    assert calls[0]["detail"].startswith("answered valid JSON in ")


def test_doctor_says_why_a_model_failed(tmp_path: Path) -> None:
    with StubOpenAI(lambda hit: status(500, "model qwen not loaded")) as stub:
        code, calls = doctor(tmp_path, stub.base_url)
    assert code == 1 and calls[0]["status"] == "fail" and "model qwen not loaded" in calls[0]["detail"]
    assert "sk-stub-doctor-123456" not in json.dumps(calls)
