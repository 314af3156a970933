"""A planted API key reaches the provider and nothing else: no row, no database byte, no log, export or screen.

`conductor run` runs the duo org in a subprocess against the stub OpenAI server, with OPENAI_API_KEY set to a
planted fake key and OPENAI_BASE_URL pointing at the stub. The stub checks the key arrives as the bearer
token on every request, and makes the provider as leaky as real ones are: a 401 whose message quotes the
key, a transient 500 that echoes it, an answer whose decision kind is the key (so the contract's error quotes
it), and answers (a proxy that echoes what it was sent) carrying the key in plain form and strings shaped like
other providers' keys (Anthropic, AWS, GitHub, Slack, Google, a bearer token) in the summary, rationale,
parameters, a task and a message. A declared command prints the key and a shapeless token from its
environment (a tool result), and a metric file whose name holds a GitHub token is imported (a metric source).
Then every place a key could end up is searched for each of them (and for their distinctive middles, to catch
a partly masked copy): every table and row, the raw bytes of the database and its -wal and -shm files, the
run's log, `conductor export` in both formats, the CLI's views, `conductor doctor`, and the rendered text of
the control room's screens (a Pilot run of the app).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conductor.cli.main import app
from conductor.redaction import REDACTED, redact, redact_payload, refresh_credentials, remember_call_options
from conductor.store import NewEvent, OwnPayload, commit_events, open_database
from conductor.store.events import dump_payload
from screenshots import screen_text, take_screenshots
from stub_openai import Hit, Reply, StubOpenAI, ok, status

REPO = Path(__file__).resolve().parent.parent
DUO = REPO / "tests" / "orgs" / "duo.toml"
MODEL = "openai/stub-model"
MARK = f"PLANTED{secrets.token_hex(8)}"
KEY = f"sk-test-{MARK}-{secrets.token_hex(12)}"
# A credential of this process's environment with no recognisable shape: only knowing it can redact it.
DEPLOY_TOKEN = f"plain{secrets.token_hex(16)}"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SHAPED = {  # keys of other services, as a model or proxy might repeat them; random, so only a leak can match
    "anthropic": f"sk-ant-api03-{secrets.token_hex(24)}",
    "aws": "AKIA" + "".join(secrets.choice(_UPPER) for _ in range(16)),
    "github": f"ghp_{secrets.token_hex(18)}",
    "slack": f"xoxb-{secrets.randbelow(10**12)}-{secrets.token_hex(12)}",
    "google": f"AIza{secrets.token_hex(17)}X",
    "bearer token": f"eyJ{secrets.token_hex(24)}.{secrets.token_hex(12)}",
}
NEEDLES = {"the key": KEY, "its middle": MARK, "the deploy token": DEPLOY_TOKEN,
           **{name: value for name, value in SHAPED.items()},
           **{f"the middle of the {name} key": value[6:-6] for name, value in SHAPED.items()}}
CSV_NAME = f"stripe-export-{SHAPED['github']}.csv"
DEPLOY = '"sh", "-c", "cat > /dev/null; echo deployed with $OPENAI_API_KEY and $DEPLOY_TOKEN; echo warn $DEPLOY_TOKEN >&2"'


def leaky_answer() -> dict:
    """A valid answer that carries every planted key somewhere an agent's words go."""
    s = SHAPED
    return {
        "summary": f"working; the proxy says: key {KEY} accepted, Authorization: Bearer {s['bearer token']}",
        "decisions": [
            {"kind": "note.write", "params": {"text": f"aws {s['aws']} slack {s['slack']}"},
             "rationale": f"Keep a record of {s['anthropic']}.",
             "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9},
            {"kind": "deploy.run", "params": {"version": f"1.0-{s['google']}"}, "rationale": "Ship it.",
             "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}],
        "tasks": [{"to": "duo-ops", "title": "rotate keys", "body": f"rotate {s['github']} and {KEY}"}],
        "messages": [{"to": "duo-ops", "text": f"the key is {KEY}"}],
    }


def script(hit: Hit) -> Reply:
    if hit.agent == "duo-ops":  # a provider that quotes the key it was given, as a 401 often does
        return status(401, f"Incorrect API key provided: {hit.headers.get('authorization', '')[7:]}. You can find "
                           "your API key at https://platform.example/account/api-keys.")
    lead = sum(h.agent == "duo-lead" for h in hit_log)
    if hit.agent == "duo-lead" and lead == 1:
        return status(500, f"upstream error for key {KEY}")  # transient: the retry succeeds
    if hit.agent == "duo-lead" and lead == 2:  # refused by the contract, whose error quotes the kind: the key
        return ok({"summary": f"echo {KEY}", "decisions": [{
            "kind": KEY, "params": {}, "rationale": "x",
            "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})
    if hit.agent == "duo-lead" and lead == 3:
        return ok(leaky_answer())
    return ok({"summary": f"working with {SHAPED['anthropic']}", "decisions": [{
        "kind": "note.write", "params": {"text": "weekly notes"}, "rationale": "Keep a record.",
        "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.01}, "confidence": 0.9}]})


hit_log: list[Hit] = []


def recording(hit: Hit) -> Reply:
    hit_log.append(hit)
    return script(hit)


def env(stub: StubOpenAI) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("CONDUCTOR_DB",)}
    e.update(OPENAI_API_KEY=KEY, DEPLOY_TOKEN=DEPLOY_TOKEN, OPENAI_BASE_URL=stub.base_url,
             OPENAI_API_BASE=stub.base_url, COLUMNS="160",
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
    text = DUO.read_text().replace('"sh", "-c", "cat > /dev/null; echo deployed"', DEPLOY)
    assert DEPLOY in text
    org.write_text(text + f'\n[prices."{MODEL}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n')
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
    csv_file = work / CSV_NAME
    csv_file.write_text("venture,metric,value,at\nduo,revenue,120,2026-01-02\n")
    imported = cli.invoke(app, ["metric", "import", str(csv_file), "--db", str(db)])
    assert imported.exit_code == 0, imported.output
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
    take_screenshots(db, shots, keys=SCREENS, env=e)
    return {"work": work, "db": db, "hits": hits, "outputs": outputs, "escalations": ids, "shots": shots}


# Activity, every kind; its first event's detail; the inbox and the stuck escalation's detail; brain, metrics, org.
SCREENS = ("v", "enter", "escape", "2", "enter", "escape", "3", "4", "5")


def assert_clean(where: str, data: bytes | str) -> None:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    for name, needle in NEEDLES.items():
        assert needle.encode() not in raw, f"{name} is in {where}"


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


def test_every_planted_key_was_stored_redacted_not_dropped(leaked: dict) -> None:
    """What carried a key is kept, with the key made harmless: the founder still sees what happened."""
    conn = sqlite3.connect(leaked["db"])
    try:
        def payloads(kind: str) -> list[str]:
            return [r[0] for r in conn.execute("SELECT payload FROM events WHERE kind = ? ORDER BY id", (kind,))]

        assert any("key [redacted] accepted, Authorization: Bearer [redacted]" in p
                   for p in payloads("agent.concluded"))  # an answer (the proxy echoing the key)
        (deployed,) = [json.loads(p)["result"] for p in payloads("decision.executed") if '"command":"deploy"' in p]
        assert deployed["stdout"].strip() == "deployed with [redacted] and [redacted]"  # a tool result
        assert deployed["stderr"].strip() == "warn [redacted]"
        errors = [r[0] for r in conn.execute("SELECT error FROM calls WHERE error IS NOT NULL")]
        assert any("unknown decision kind '[redacted]'" in e for e in errors)  # an error quoting the key
        assert any("the key is [redacted]" in p for p in payloads("message.sent"))
        assert any("rotate [redacted] and [redacted]" in p for p in payloads("task.created"))
        sources = {json.loads(p)["source"] for p in payloads("metric.recorded")}
        assert "csv:stripe-export-[redacted].csv" in sources  # a metric source
    finally:
        conn.close()


def test_the_control_room_shows_no_key_on_any_screen(leaked: dict) -> None:
    """A Pilot run of the app over the database: the rendered text of every screen it was taken through."""
    shots = sorted(leaked["shots"].iterdir())
    assert len(shots) == len(SCREENS) + 1
    texts = {path.name: screen_text(path.read_text()) for path in shots}
    for name, text in texts.items():
        assert text.count("\n") > 20, f"{name} rendered no screen"
        assert_clean(f"the control room's screen {name}", text)
    everything = "\n".join(texts.values())
    assert "duo-lead" in everything and "[redacted]" in everything  # the agents' words are shown, made harmless


# -- the store's one door, without a run -------------------------------------------------------------------
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
                derandomize="FUZZ_EXAMPLES" not in os.environ)
AROUND = st.text(alphabet=st.sampled_from(list("ab Z9_-.:;\"'\\/@=\n\t\x01é€{}[]")), max_size=12)


def test_the_store_redacts_every_string_of_every_payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested, in a list, as a key, after an escape: whoever built the event, what is written is clean."""
    monkeypatch.setenv("DEPLOY_TOKEN", DEPLOY_TOKEN)
    refresh_credentials()
    try:
        conn = open_database(tmp_path / "door.db")
        payload = {"summary": f"proxy said\n{KEY}", "n": 3, "ok": True, "ratio": 0.5,
                   "params": {"deep": [f"id:{SHAPED['aws']}", {"k": f'"{SHAPED["github"]}"'}], SHAPED["slack"]: 1},
                   "stdout": f"deployed with {DEPLOY_TOKEN}", "auth": f"Authorization: Bearer {SHAPED['bearer token']}"}
        (stored,) = commit_events(conn, [NewEvent("test.outside", payload, agent="duo-lead")])
        (row,) = conn.execute("SELECT payload FROM events WHERE id = ?", (stored.id,)).fetchone()
        conn.close()
    finally:
        monkeypatch.delenv("DEPLOY_TOKEN")
        refresh_credentials()
    assert_clean("the stored row", row)
    assert_clean("the event handed back to the producer", repr(stored.payload))
    assert stored.payload == json.loads(row)
    assert stored.payload["summary"] == "proxy said\n[redacted]" and stored.payload["n"] == 3
    assert stored.payload["params"] == {"deep": ["id:[redacted]", {"k": '"[redacted]"'}], "[redacted]": 1}
    assert stored.payload["auth"] == "Authorization: Bearer [redacted]"
    assert stored.agent == "duo-lead"


def test_our_own_values_are_left_alone() -> None:
    """Names, ids, times and models that merely look a little like keys are not credentials."""
    payload = {"to_agent": "sk-marketing-lead", "task_id": 12, "idempotency_key": "decision-12",
               "metric": "monthly_recurring_revenue", "at": "2026-01-05T09:00:00.000000Z",
               "model": "openai/gpt-4o-mini", "reason": "your heartbeat (your metric moved)",
               "prompt_tokens": 1050, "note": "the task_id_2024 is done; risk-assessment-2026-q1 next"}
    assert redact_payload(payload, dump_payload(payload)) is None
    own = OwnPayload(next_wake="2026-01-05T09:00:00.000000Z", reason="nothing new", agent="ghp_notakeyjustaname")
    assert redact_payload(own, dump_payload(own), own=True) is None  # own payloads: no shape scan


def test_a_known_credential_goes_even_from_an_own_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", DEPLOY_TOKEN)
    refresh_credentials()
    try:
        own = OwnPayload(model=f"proxy/{DEPLOY_TOKEN}")
        assert redact_payload(own, dump_payload(own), own=True) == {"model": "proxy/[redacted]"}
    finally:
        monkeypatch.delenv("DEPLOY_TOKEN")
        refresh_credentials()


def test_credentials_in_the_call_configuration_are_known() -> None:
    password, key = f"pw{secrets.token_hex(8)}", f"cfg{secrets.token_hex(10)}"
    remember_call_options(f"https://user:{password}@proxy.example/v1", {"api_key": key, "temperature": "0.2"})
    assert redact(f"failed for {password} and {key}") == f"failed for {REDACTED} and {REDACTED}"
    assert redact("temperature 0.2") == "temperature 0.2"


@FUZZ
@given(before=AROUND, after=AROUND, which=st.sampled_from(sorted(SHAPED)), as_key=st.booleans())
def test_no_surrounding_text_hides_a_key_from_the_store(before: str, after: str, which: str, as_key: bool) -> None:
    """The quick test of a payload's JSON (escapes, quotes, non-ASCII around the key) never lets through what
    the full redaction of its strings catches, and a key not glued to a word is always caught."""
    secret = SHAPED[which]
    text = before + ("Bearer " if which == "bearer token" else "") + secret + after
    payload = {text: 1} if as_key else {"summary": [text]}
    cleaned = redact_payload(payload, dump_payload(payload))
    stored = payload if cleaned is None else cleaned
    assert stored == ({redact(text): 1} if as_key else {"summary": [redact(text)]})
    glued = re.match(r"[A-Za-z0-9]", before[-1:]) or re.match(r"[A-Za-z0-9]", after[:1])
    if not glued:
        assert secret not in dump_payload(stored)
