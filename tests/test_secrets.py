"""A planted API key reaches the provider and nothing else: no row, no database byte, no log, export or screenshot.

`conductor run` runs the duo org in a subprocess against the stub OpenAI server, with OPENAI_API_KEY set to a
planted fake key and OPENAI_BASE_URL pointing at the stub. The stub checks the key arrives as the bearer
token on every request, and makes the provider as leaky as real ones are: a 401 whose message quotes the
key, and a transient 500 that echoes it. Then every place a key could end up is searched for it (and for
its distinctive middle, to catch a partly masked copy): every table and row, the raw bytes of the database
and its -wal and -shm files, the run's log, `conductor export` in both formats, the CLI's views of the
escalation, `conductor doctor`, and SVG screenshots of the control room.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conductor.cli.main import app
from screenshots import take_screenshots
from stub_openai import Hit, Reply, StubOpenAI, ok, status

REPO = Path(__file__).resolve().parent.parent
DUO = REPO / "tests" / "orgs" / "duo.toml"
MODEL = "openai/stub-model"
MARK = f"PLANTED{secrets.token_hex(8)}"
KEY = f"sk-test-{MARK}-{secrets.token_hex(12)}"


def script(hit: Hit) -> Reply:
    if hit.agent == "duo-ops":  # a provider that quotes the key it was given, as a 401 often does
        return status(401, f"Incorrect API key provided: {hit.headers.get('authorization', '')[7:]}. You can find "
                           "your API key at https://platform.example/account/api-keys.")
    if hit.agent == "duo-lead" and not any(h.agent == "duo-lead" for h in hit_log[:-1]):
        return status(500, f"upstream error for key {KEY}")  # transient: the retry succeeds
    return ok({"summary": "working", "decisions": [{
        "kind": "note.write", "params": {"text": "weekly notes"}, "rationale": "Keep a record.",
        "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})


hit_log: list[Hit] = []


def recording(hit: Hit) -> Reply:
    hit_log.append(hit)
    return script(hit)


def env(stub: StubOpenAI) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("CONDUCTOR_DB",)}
    e.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=stub.base_url, OPENAI_API_BASE=stub.base_url, COLUMNS="160",
             PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])))
    return e


def conductor(*args: str, env_: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conductor", *args], env=env_, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def leaked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run the org with the planted key; return everything it wrote or printed, by where it came from."""
    work = tmp_path_factory.mktemp("secrets")
    org = work / "duo.toml"
    org.write_text(DUO.read_text() + f'\n[prices."{MODEL}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
    db = work / "c.db"
    with StubOpenAI(recording, max_seconds=300) as stub:
        e = env(stub)
        run = conductor("run", str(org), "--db", str(db), "--days", "1", "--model", MODEL, env_=e, timeout=240)
        assert run.returncode == 0, run.stderr[-2000:]
        (work / "run.log").write_text(run.stdout + run.stderr)
        hits = list(stub.hits)
    e = {**e, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    outputs = {}
    cli = CliRunner(env=e)  # in this process, with the key in its environment
    for name, args in {
        "export json": ("export", "--db", str(db), "--out", str(work / "export-json")),
        "export csv": ("export", "--db", str(db), "--format", "csv", "--out", str(work / "export-csv")),
        "inbox list": ("inbox", "list", "--state", "all", "--db", str(db)),
        "events": ("events", "--db", str(db), "--limit", "100000"),
        "events json": ("events", "--json", "--db", str(db), "--limit", "100000"),
        "agents": ("agents", "--db", str(db)),
        "status": ("status", "--db", str(db)),
        "spend": ("spend", "--db", str(db)),
        "doctor": ("doctor", "--db", str(db), "--org", str(org)),
    }.items():
        result = cli.invoke(app, list(args))
        assert result.exit_code in (0, 1), f"{name}: {result.output}"  # doctor exits 1 on a failed check
        outputs[name] = result.output
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM escalations")]
    conn.close()
    for escalation in ids:
        result = cli.invoke(app, ["inbox", "show", str(escalation), "--db", str(db)])
        outputs[f"inbox show {escalation}"] = result.output
    shots = work / "shots"
    take_screenshots(db, shots, env=e)
    return {"work": work, "db": db, "hits": hits, "outputs": outputs, "escalations": ids, "shots": shots}


def assert_clean(where: str, data: bytes | str) -> None:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    for needle in (KEY, MARK):
        assert needle.encode() not in raw, f"the planted key is in {where}"


def test_the_stub_received_the_planted_key(leaked: dict) -> None:
    hits = leaked["hits"]
    assert len(hits) >= 3
    assert all(h.headers.get("authorization") == f"Bearer {KEY}" for h in hits)


def test_the_key_is_in_no_row_of_any_table(leaked: dict) -> None:
    conn = sqlite3.connect(leaked["db"])
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"events", "calls", "escalations"} <= set(tables)
        rows = 0
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                rows += 1
                assert_clean(f"table {table}", repr(tuple(row)))
        assert rows > 20
        # The faults that carried the key did land: redacted, not dropped.
        (failure,) = [r[0] for r in conn.execute("SELECT json_extract(payload, '$.reason') FROM events "
                                                 "WHERE kind = 'agent.stuck'")]
        assert "AuthenticationError (401)" in failure and "[redacted]" in failure
    finally:
        conn.close()


def test_the_key_is_in_no_byte_of_the_database_files_or_the_log(leaked: dict) -> None:
    db: Path = leaked["db"]
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)] + [leaked["work"] / "run.log"]
    assert any(p.name.endswith("-wal") for p in files) or db.exists()
    for path in files:
        assert_clean(path.name, path.read_bytes())


def test_the_key_is_in_no_export_no_cli_output_and_no_screenshot(leaked: dict) -> None:
    work: Path = leaked["work"]
    exported = list((work / "export-json").iterdir()) + list((work / "export-csv").iterdir())
    assert len(exported) >= 4
    for path in exported:
        assert_clean(f"export {path.name}", path.read_bytes())
    for name, text in leaked["outputs"].items():
        assert_clean(f"`conductor {name}`", text)
    assert "[redacted]" in leaked["outputs"]["events json"]  # the quoted key is there, made harmless
    shots = list(leaked["shots"].iterdir())
    assert len(shots) >= 2
    for path in shots:
        assert path.read_text().startswith("<svg")
        assert_clean(f"screenshot {path.name}", path.read_bytes())
