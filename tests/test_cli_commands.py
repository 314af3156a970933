"""The headless commands over a small hand-made database: --json shapes, tables, exit codes, escapes, help."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import TypeAdapter
from typer.testing import CliRunner

from conductor.cli.doctor_cmd import DoctorCheck
from conductor.cli.main import app
from conductor.org import load_org
from conductor.services import queries as q
from conductor.services.setup import record_org
from conductor.store import NewEvent, commit_events, open_database

REPO = Path(__file__).resolve().parent.parent
DUO = Path(__file__).parent / "orgs" / "duo.toml"
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "CONDUCTOR_DB": None}
EVIL = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x9b2J"  # retitle the window, colour, 8-bit CSI clear screen
T0 = "2026-01-05T09:00:00.000000Z"
T1 = "2026-01-05T15:00:00.000000Z"


def build_db(path: Path) -> dict[str, int]:
    """A finished duo run in miniature: a decision escalation, a stuck agent, calls, metrics, escape sequences."""
    org = load_org(DUO)
    conn = open_database(path)
    try:
        record_org(conn, org, DUO)

        def put(kind: str, payload: dict[str, Any], *, agent: str | None = None, at: str = T0) -> int:
            venture = "duo" if agent or kind.startswith(("metric", "directive")) else None
            return commit_events(conn, [NewEvent(kind, payload, venture=venture, agent=agent, sim_time=at)])[0].id

        put("run.started", {"pid": 999_999, "model": "sim/perfect", "resumed": False, "origin": T0})
        put("agent.woke", {"reason": "first wake-up of this run"}, agent="duo-lead")
        put("call.recorded", {"model": "sim/perfect", "purpose": "wake", "prompt_tokens": 1000,
                              "completion_tokens": 200, "cost": 0.25, "latency_ms": 10, "ok": True}, agent="duo-lead")
        put("agent.concluded", {"summary": f"signed a vendor {EVIL}", "next_wake": T1, "decisions": 1},
            agent="duo-lead")
        put("metric.recorded", {"metric": "revenue", "value": 100.0, "at": T0, "day": 0, "source": "sim"})
        decision = put("decision.proposed", {
            "kind": "vendor.sign", "params": {"vendor": f"Acme{EVIL}"}, "rationale": f"cheaper hosting {EVIL}",
            "expected": {"metric": "revenue", "direction": "up", "size": 0.05}, "confidence": 0.7,
            "reversible": False, "brain_version": 3, "state": "proposed"}, agent="duo-lead")
        escalation = put("escalation.opened", {
            "kind": "decision", "decision_id": decision, "reason": "vendor.sign always needs the founder",
            "urgency": 2, "expires": "2026-01-06T09:00:00.000000Z", "detail": {
                "kind": "vendor.sign", "params": {"vendor": f"Acme{EVIL}"}, "rationale": f"cheaper hosting {EVIL}",
                "expected": {"metric": "revenue", "direction": "up", "size": 0.05}, "confidence": 0.7,
                "reversible": False, "brain_version": 3, "gates": ["always"], "review": [], "spend": 0.0,
                "cost_so_far": 0.25, "if_nobody_acts": "after 1 day it is rejected"}}, agent="duo-lead")
        put("decision.updated", {"decision_id": decision, "state": "escalated", "route": "always"}, agent="duo-lead")
        put("agent.woke", {"reason": "first wake-up of this run"}, agent="duo-ops")
        put("agent.stuck", {"reason": "no valid JSON after 3 tries", "next_wake": T1}, agent="duo-ops")
        stuck = put("escalation.opened", {
            "kind": "agent_stuck", "urgency": 2, "reason": "duo-ops is stuck: no valid JSON after 3 tries",
            "expires": None, "detail": {"transcript": [{"role": "assistant", "content": f"garbage {EVIL}"}],
                                        "failure": "no valid JSON"}}, agent="duo-ops")
        put("directive.added", {"text": "keep costs down", "by": "founder"})
        put("run.stopped", {"reason": "finished"}, at=T1)
    finally:
        conn.close()
    return {"decision": decision, "escalation": escalation, "stuck": stuck}


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "c.db"
    return path, build_db(path)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=ENV)


def invoke(runner: CliRunner, db: Path, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--db", str(db)])
    return result


# --- --json output validates against the documented models ----------------------------------------------------

LIST_COMMANDS: list[tuple[list[str], Any]] = [
    (["agents"], list[q.AgentRow]),
    (["events"], list[q.EventRow]),
    (["events", "--kind", "escalation"], list[q.EventRow]),
    (["inbox", "list"], list[q.InboxItem]),
    (["inbox", "list", "--state", "all"], list[q.InboxItem]),
    (["spend", "--by", "agent"], list[q.SpendRow]),
    (["directive", "list"], list[q.DirectiveRow]),
    (["doctor", "--org", str(DUO)], list[DoctorCheck]),
]


@pytest.mark.parametrize(("args", "shape"), LIST_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_list_json_validates_against_its_model(runner: CliRunner, db: tuple[Path, dict[str, int]], args: list[str],
                                               shape: Any) -> None:
    result = invoke(runner, db[0], *args, "--json")
    assert result.exit_code == 0, result.output
    rows = TypeAdapter(shape).validate_json(result.stdout)
    assert rows, f"{args}: expected at least one row"


def test_metrics_json_has_the_metric_rows_and_the_model_calls_cache_figures(
        runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    result = invoke(runner, db[0], "metrics", "--json")
    assert result.exit_code == 0, result.output
    report = q.MetricsReport.model_validate_json(result.stdout)
    assert report.metrics, "expected at least one metric row"
    assert report.model_calls.calls >= 1 and report.model_calls.cached_tokens == 0
    assert report.model_calls.cache_share == 0.0 and report.model_calls.cache_saved == 0.0


def test_status_json_says_stopped_with_spend_budget_escalations_and_stuck(runner: CliRunner,
                                                                         db: tuple[Path, dict[str, int]]) -> None:
    result = invoke(runner, db[0], "status", "--json")
    assert result.exit_code == 0, result.output
    status = q.Status.model_validate_json(result.stdout)
    assert status.org == "Duo" and status.clock_kind == "sim" and status.day == "2026-01-05"
    assert status.run.running is False and status.run.stop_reason == "finished" and status.run.pid == 999_999
    assert status.spend_today == pytest.approx(0.25) and status.budget_per_day == pytest.approx(10.0)
    assert status.open_escalations == 2 and status.urgent_escalations == 2
    assert status.stuck_agents == ["duo-ops"]


def test_inbox_show_json_has_everything_needed_to_decide(runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    path, ids = db
    result = invoke(runner, path, "inbox", "show", str(ids["escalation"]), "--json")
    assert result.exit_code == 0, result.output
    item = q.EscalationDetail.model_validate_json(result.stdout)
    assert item.decision_id == ids["decision"] and item.decision_kind == "vendor.sign"
    assert item.confidence == 0.7 and item.reversible is False and item.brain_version == 3
    assert item.expected_effect == {"metric": "revenue", "direction": "up", "size": 0.05}
    assert item.cost_so_far == 0.25 and item.if_nobody_acts == "after 1 day it is rejected"
    assert [s.kind for s in item.review] == ["decision.proposed", "decision.updated"]
    stuck = q.EscalationDetail.model_validate_json(
        invoke(runner, path, "inbox", "show", str(ids["stuck"]), "--json").stdout)
    assert stuck.transcript and stuck.transcript[0]["content"].startswith("garbage")
    assert stuck.if_nobody_acts == "it stays in the inbox until you act"


def test_agents_derive_state_from_the_log(runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    rows = TypeAdapter(list[q.AgentRow]).validate_json(invoke(runner, db[0], "agents", "--json").stdout)
    by_id = {a.id: a for a in rows}
    assert by_id["duo-ops"].state == "stuck"
    assert by_id["duo-lead"].state == "sleeping" and by_id["duo-lead"].next_wake == T1
    assert by_id["duo-lead"].spend_today == pytest.approx(0.25)


# --- model-written text never reaches the terminal raw ---------------------------------------------------------


@pytest.mark.parametrize("args", [["agents"], ["events"], ["inbox", "show", "ESC"], ["inbox", "show", "STUCK"],
                                  ["agents", "--json"], ["events", "--json"], ["inbox", "show", "ESC", "--json"]])
def test_no_terminal_escape_survives_in_output(runner: CliRunner, db: tuple[Path, dict[str, int]],
                                               args: list[str]) -> None:
    path, ids = db
    args = [str(ids["escalation"]) if a == "ESC" else str(ids["stuck"]) if a == "STUCK" else a for a in args]
    result = invoke(runner, path, *args)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout and "\x07" not in result.stdout
    assert "\\u001b" not in result.stdout  # nor escaped inside JSON, for a script that prints a field
    assert "Acme" in result.stdout or "signed a vendor" in result.stdout or "garbage" in result.stdout


# --- writes, verdicts and exit codes ---------------------------------------------------------------------------


def test_approve_with_amendment_is_typed_and_written_once(runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    path, ids = db
    result = invoke(runner, path, "inbox", "approve", str(ids["escalation"]), "--set", "vendor=Globex")
    assert result.exit_code == 0, result.output
    assert "no scheduler is running" in result.stdout
    again = invoke(runner, path, "inbox", "approve", str(ids["escalation"]))
    assert again.exit_code == 2 and again.stderr.strip() == f"error: escalation #{ids['escalation']}: already approved"
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT payload FROM events WHERE kind = 'escalation.resolved'").fetchall()
    conn.close()
    assert len(rows) == 1
    payload = json.loads(rows[0][0])
    assert payload["amended"] == {"vendor": "Globex"} and payload["by"] == "founder"


@pytest.mark.parametrize(("args", "message"), [
    (["inbox", "approve", "ESC", "--set", "price=3"], "vendor.sign has no parameter 'price'"),
    (["inbox", "approve", "ESC", "--set", "novalue"], "--set 'novalue': use key=value"),
    (["inbox", "approve", "424242"], "escalation #424242: no such escalation"),
    (["inbox", "show", "424242"], "escalation #424242: no such escalation"),
    (["inbox", "respond", "424242", "how much?"], "escalation #424242: no such escalation"),
    (["inbox", "respond", "ESC", "  "], "the reply: say something"),
    (["inbox", "snooze", "ESC", "--for", "soon"], "--for 'soon':"),
    (["inbox", "snooze", "424242"], "escalation #424242: no such escalation"),
    (["inbox", "reject", "ESC", "--note", "  "], "--note: say why"),
    (["inbox", "list", "--state", "open"], "--state open: use one of"),
    (["agents", "--venture", "nope"], "--venture nope: no such venture"),
    (["metrics", "nope"], "venture 'nope': no such venture"),
    (["directive", "add", "nope", "text"], "venture 'nope': no such venture"),
    (["directive", "list", "nope"], "venture 'nope': no such venture"),
    (["events", "--venture", "nope"], "--venture nope: no such venture"),
    (["events", "--agent", "nobody"], "--agent nobody: no such agent"),
    (["pause", "nobody"], "'nobody': no agent or venture by that id"),
    (["wake", "duo"], "'duo' is a venture; wake takes an agent id"),
    (["events", "--since", "yesterday"], "--since 'yesterday': not a time"),
    (["spend", "--by", "model"], "--by model: use agent, venture or day"),
    (["export", "--format", "xml"], "--format xml: use json or csv"),
    (["metric", "record", "duo", "revenue", "lots"], "value 'lots' is not a number"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(runner: CliRunner, db: tuple[Path, dict[str, int]],
                                                     args: list[str], message: str) -> None:
    path, ids = db
    args = [str(ids["escalation"]) if a == "ESC" else a for a in args]
    result = invoke(runner, path, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_a_missing_database_is_exit_2_and_not_created(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    for args in (["status"], ["inbox", "approve", "1"], ["wake", "a"]):
        result = invoke(runner, missing, *args)
        assert result.exit_code == 2 and "no conductor database here" in result.stderr, args
    assert not missing.exists()


def test_usage_errors_exit_2(runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    assert invoke(runner, db[0], "inbox", "show", "abc").exit_code == 2
    assert invoke(runner, db[0], "inbox", "reject", "1").exit_code == 2  # --note is required


def test_pause_resume_wake_and_directives_write_founder_events(runner: CliRunner,
                                                               db: tuple[Path, dict[str, int]]) -> None:
    path, _ = db
    for args in (["pause", "duo-ops"], ["pause", "duo"], ["pause"], ["resume"], ["wake", "duo-lead"],
                 ["directive", "add", "duo", "ship weekly"]):
        result = invoke(runner, path, *args)
        assert result.exit_code == 0, (args, result.output)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    kinds = [(r["kind"], json.loads(r["payload"]).get("scope"), json.loads(r["payload"]).get("target"))
             for r in conn.execute("SELECT * FROM events WHERE json_extract(payload, '$.by') = 'founder' "
                                   "AND kind LIKE 'founder.%' ORDER BY id")]
    assert kinds == [
        ("founder.paused", "agent", "duo-ops"), ("founder.paused", "venture", "duo"), ("founder.paused", "org", None),
        ("founder.resumed", "org", None), ("founder.resumed", "venture", "duo"), ("founder.resumed", "agent", "duo-ops"),
        ("founder.wake", None, "duo-lead"),
    ]
    assert conn.execute("SELECT count(*) FROM agents WHERE paused = 1").fetchone()[0] == 0
    assert [r[0] for r in conn.execute("SELECT text FROM directives ORDER BY id")] == ["keep costs down", "ship weekly"]
    conn.close()


def test_export_writes_every_table_as_json_and_csv(runner: CliRunner, db: tuple[Path, dict[str, int]],
                                                   tmp_path: Path) -> None:
    for fmt in ("json", "csv"):
        out = tmp_path / f"out-{fmt}"
        result = invoke(runner, db[0], "export", "--format", fmt, "--out", str(out), "--json")
        assert result.exit_code == 0, result.output
        files = json.loads(result.stdout)["files"]
        assert {f["table"] for f in files} == {"decisions", "escalations", "brain_versions", "metrics", "spend"}
        for f in files:
            assert Path(f["path"]).is_file()
    decisions = json.loads((tmp_path / "out-json" / "decisions.json").read_text())
    assert decisions[0]["kind"] == "vendor.sign" and decisions[0]["expected_effect"]["metric"] == "revenue"
    header = (tmp_path / "out-csv" / "escalations.csv").read_text().splitlines()[0]
    assert header.startswith("id,kind,state,venture,agent,decision_id")


def test_doctor_fails_with_exit_1_on_a_damaged_database(runner: CliRunner, db: tuple[Path, dict[str, int]]) -> None:
    path, _ = db
    ok = invoke(runner, path, "doctor", "--org", str(DUO), "--json")
    assert ok.exit_code == 0, ok.output
    checks = {c.check: c for c in TypeAdapter(list[DoctorCheck]).validate_json(ok.stdout)}
    assert checks["integrity"].status == "ok" and checks["journal"].detail == "WAL"
    assert checks["model sim/perfect"].status == "ok"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 3: page * 3 + 200] = b"\xff" * 200  # trash a b-tree page
    path.write_bytes(bytes(data))
    bad = invoke(runner, path, "doctor", "--org", str(DUO), "--json")
    assert bad.exit_code == 1
    assert any(c.status == "fail" for c in TypeAdapter(list[DoctorCheck]).validate_json(bad.stdout))


def test_doctor_names_a_missing_api_key_without_printing_secrets(runner: CliRunner, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    org = tmp_path / "org.toml"
    org.write_text(DUO.read_text().replace('model = "sim/perfect"', 'model = "anthropic/claude-3-5-haiku-20241022"'))
    db = tmp_path / "d.db"
    conn = open_database(db)
    conn.close()
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = CliRunner(env={**ENV, "ANTHROPIC_API_KEY": None}).invoke(app, ["doctor", "--org", str(org), "--db", str(db),
                                                                           "--json"])
    assert result.exit_code == 1, result.output
    checks = {c.check: c for c in TypeAdapter(list[DoctorCheck]).validate_json(result.stdout)}
    assert checks["model anthropic/claude-3-5-haiku-20241022"].detail == "missing: ANTHROPIC_API_KEY"
    secret = "sk-ant-test-not-a-real-key-123456"
    present = CliRunner(env={**ENV, "ANTHROPIC_API_KEY": secret}).invoke(
        app, ["doctor", "--org", str(org), "--db", str(db)])
    assert present.exit_code == 0, present.output
    assert "credentials present" in present.stdout and secret not in present.stdout


# --- help: every command has an example ------------------------------------------------------------------------


def _walk(command: Any, path: list[str]) -> list[list[str]]:
    """Every command path under a (typer-built) click group; groups have a `commands` mapping."""
    found = [path]
    commands = getattr(command, "commands", None)
    if isinstance(commands, dict):
        for name, sub in sorted(commands.items()):
            found += _walk(sub, [*path, name])
    return found


COMMAND_PATHS = _walk(typer.main.get_command(app), [])[1:]


def test_the_walk_finds_the_headless_commands() -> None:
    names = {" ".join(p) for p in COMMAND_PATHS}
    expected = {"status", "agents", "events", "inbox list", "inbox show", "inbox approve", "inbox reject", "metrics",
                "metric record", "metric import", "directive add", "directive list", "pause", "resume", "wake",
                "export", "doctor", "spend", "run"}
    assert expected <= names, expected - names


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p))
def test_every_command_help_has_an_example(runner: CliRunner, path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.stdout, f"`conductor {' '.join(path)} --help` has no Example: line"
    assert "conductor" in result.stdout.split("Example:", 1)[1]


# --- import hygiene of the commands themselves -----------------------------------------------------------------


@pytest.mark.parametrize("args", [["status"], ["agents"], ["events"], ["inbox", "list"], ["inbox", "show", "ESC"],
                                  ["metrics"], ["spend"], ["directive", "list"], ["export", "--out", "OUT"],
                                  ["doctor", "--org", str(DUO)], ["wake", "duo-lead"]])
def test_headless_commands_never_import_textual_or_litellm(db: tuple[Path, dict[str, int]], tmp_path: Path,
                                                           args: list[str]) -> None:
    path, ids = db
    args = [str(ids["escalation"]) if a == "ESC" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    code = (
        "import sys\n"
        "from conductor.cli.main import app\n"
        "try:\n"
        f"    app({[*args, '--db', str(path)]!r}, standalone_mode=False)\n"
        "finally:\n"
        "    heavy = sorted(m for m in ('textual', 'litellm') if m in sys.modules)\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr, proc.stderr


@pytest.mark.parametrize("args", [["status"], ["agents"], ["metrics"], ["spend"]])
def test_the_console_script_runs_the_read_only_views_without_the_rest_of_the_cli(
        db: tuple[Path, dict[str, int]], args: list[str]) -> None:
    """`conductor status` and the other views start from an app that holds only them: no other command module,
    no org schema, no store writer is imported, and the output is the whole app's, byte for byte."""
    path, _ = db
    code = (
        "import sys\n"
        f"sys.argv = ['conductor', *{[*args, '--db', str(path)]!r}]\n"
        "from conductor.cli.entry import run\n"
        "try:\n"
        "    run()\n"
        "finally:\n"
        "    loaded = sorted(m for m in ('conductor.cli.main', 'conductor.cli.doctor_cmd', 'conductor.org.models',\n"
        "                                'conductor.store.writer', 'textual', 'litellm') if m in sys.modules)\n"
        "    print('LOADED', loaded, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    for extra in ([], ["--json"]):
        fast = subprocess.run([sys.executable, "-c", code.replace("'--db'", f"*{extra!r}, '--db'")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert fast.returncode == 0, fast.stderr
        assert "LOADED []" in fast.stderr, fast.stderr
        whole = CliRunner(env={**ENV, "COLUMNS": "100"}).invoke(app, [*args, *extra, "--db", str(path)])
        assert whole.exit_code == 0, whole.output
        assert fast.stdout == whole.stdout


def test_status_reads_the_budget_the_run_recorded_without_the_org_file(runner: CliRunner,
                                                                       db: tuple[Path, dict[str, int]]) -> None:
    path, _ = db
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE meta SET value = '/nowhere/org.toml' WHERE key = 'org.path'")
        conn.commit()
    finally:
        conn.close()
    result = invoke(runner, path, "status", "--json")
    assert result.exit_code == 0, result.output
    assert q.Status.model_validate_json(result.stdout).budget_per_day == pytest.approx(10.0)


# --- shell completion ------------------------------------------------------------------------------------------


def test_shell_completion_offers_the_new_subcommands() -> None:
    """What `--install-completion` installs: the shell asks the program itself through _CONDUCTOR_COMPLETE."""
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env.update({"_CONDUCTOR_COMPLETE": "complete_bash", "COMP_WORDS": "conductor inbox ", "COMP_CWORD": "2"})
    proc = subprocess.run([sys.executable, "-c", "from conductor.cli.main import app; app(prog_name='conductor')"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["list", "show", "approve", "reject", "snooze", "respond"]
    # Named, not detected: detection reads the process tree, which has no shell in it under some CI runners.
    script = subprocess.run([sys.executable, "-m", "conductor", "--show-completion", "bash"], env=env | {
        "_CONDUCTOR_COMPLETE": "", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "complete" in script.stdout


def test_docs_list_every_json_field() -> None:
    """docs/cli-json.md documents every field of every --json model, so the documented shape is the real one."""
    from conductor.brain.quality import ControlComparison, QualityRow

    doc = (REPO / "docs" / "cli-json.md").read_text()
    models = [q.Status, q.RunState, q.VentureStatus, q.AgentRow, q.EventRow, q.InboxItem, q.EscalationDetail,
              q.ReviewStep, q.MetricRow, q.MetricsReport, q.ModelUse, q.SpendRow, q.DirectiveRow, q.DecisionRow, DoctorCheck, QualityRow,
              ControlComparison]
    for model in models:
        assert f"### {model.__name__}" in doc, model.__name__
        section = doc.split(f"### {model.__name__}", 1)[1].split("\n### ", 1)[0]
        for name in model.model_fields:
            assert f"| `{name}` |" in section, f"{model.__name__}.{name} is not in docs/cli-json.md"
