"""The command line's foundation: help, version, `org check`/`schema`, `init`, exit codes, import hygiene."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import conductor
from conductor.cli.main import app
from conductor.store.schema import APPLICATION_ID, SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
STUDIO = REPO / "orgs" / "studio.toml"
BROKEN = Path(__file__).parent / "orgs" / "broken"
BROKEN_FILES = sorted(p for p in BROKEN.glob("*.toml") if p.name != "EXPECTATIONS.toml")

VENTURES = {"inkwell": "Inkwell", "ledgerly": "Ledgerly", "tidepool": "Tidepool"}
ROLES = ("ceo", "cto", "cmo", "sales", "support", "finance")
AGENT_IDS = ["platform", *(f"{v}-{r}" for v in VENTURES for r in ROLES)]

# Wide enough that rich never wraps a tree line or a help row in the middle of what we look for.
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "CONDUCTOR_DB": None}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=ENV)


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def run_module(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=60
    )


# --- help and version ---------------------------------------------------------------------------------------


def test_version_prints_the_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"conductor {conductor.__version__}"
    assert result.stderr == ""


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("init", "org", "version"):
        assert f" {command} " in result.stdout, command


def test_no_command_prints_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout and "init" in result.stdout


@pytest.mark.parametrize("args", [["org", "check", "--help"], ["init", "--help"], ["version", "--help"]])
def test_command_help_has_an_example(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Example:" in result.stdout
    assert "conductor" in result.stdout.split("Example:", 1)[1]


def test_org_group_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["org", "--help"])
    assert result.exit_code == 0, result.output
    assert "check" in result.stdout and "schema" in result.stdout
    assert "Example:" in result.stdout


def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --- org check ----------------------------------------------------------------------------------------------


def test_org_check_studio_lists_ventures_and_every_agent(runner: CliRunner) -> None:
    result = runner.invoke(app, ["org", "check", str(STUDIO)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in VENTURES.values():
        assert name in out, name
    assert len(AGENT_IDS) == 19
    for agent_id in AGENT_IDS:
        assert agent_id in out, agent_id
    assert "3 ventures, 19 agents" in out
    assert result.stderr == ""


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_org_check_broken_file_exits_2_with_error_lines(runner: CliRunner, path: Path) -> None:
    result = runner.invoke(app, ["org", "check", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines, "a broken file must say what is wrong on stderr"
    for line in lines:
        assert line.startswith("error: "), line
        assert str(path) in line, line
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_org_check_missing_file_or_directory_is_one_line(
    runner: CliRunner, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "nope.toml" if kind == "missing" else tmp_path
    result = runner.invoke(app, ["org", "check", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: ")
    assert ("no such file" if kind == "missing" else "is a directory") in lines[0]
    assert "Traceback" not in result.output


def test_org_schema_prints_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(app, ["org", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert "ventures" in schema["properties"]
    assert schema.get("type") == "object"


# --- init ---------------------------------------------------------------------------------------------------


def _counts(db: Path) -> tuple[int, int, int, int]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return (
            conn.execute("SELECT count(*) FROM events WHERE kind = 'org.loaded'").fetchone()[0],
            conn.execute("SELECT count(*) FROM events").fetchone()[0],
            conn.execute("SELECT count(*) FROM agents").fetchone()[0],
            conn.execute("SELECT count(*) FROM ventures").fetchone()[0],
        )
    finally:
        conn.close()


def test_init_writes_org_and_database_and_is_idempotent(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "studio"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    org_file, db = target / "org.toml", target / "conductor.db"
    assert org_file.read_bytes() == STUDIO.read_bytes()
    assert db.exists()
    assert "wrote" in result.stdout and "ready" in result.stdout
    assert _counts(db) == (1, 1, 19, 3)

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert sorted(r[0] for r in conn.execute("SELECT id FROM agents")) == sorted(AGENT_IDS)
        assert dict(conn.execute("SELECT id, name FROM ventures").fetchall()) == VENTURES
    finally:
        conn.close()

    # A second init keeps an edited org file and records nothing new for unchanged content.
    edited = org_file.read_text(encoding="utf-8") + "\n# my notes\n"
    org_file.write_text(edited, encoding="utf-8")
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 0, again.output
    assert "kept" in again.stdout
    assert org_file.read_text(encoding="utf-8") == edited
    assert _counts(db) == (1, 1, 19, 3)


def test_init_into_an_existing_file_is_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "occupied"
    path.write_text("mine\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ")
    assert path.read_text(encoding="utf-8") == "mine\n"
    assert "Traceback" not in result.output


def test_init_next_to_a_foreign_database_refuses_and_leaves_it(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "studio"
    target.mkdir()
    foreign = target / "conductor.db"
    raw = sqlite3.connect(foreign)
    raw.execute("CREATE TABLE x (a)")
    raw.commit()
    raw.close()
    before = foreign.read_bytes()
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2, result.output
    assert any(line.startswith(f"error: {foreign}: ") for line in result.stderr.splitlines())
    assert foreign.read_bytes() == before


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command-line shell is not installed")
def test_init_database_reads_back_with_the_sqlite3_shell(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    shell = subprocess.run(
        ["sqlite3", str(tmp_path / "conductor.db"), "PRAGMA journal_mode;", "PRAGMA user_version;"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shell.returncode == 0, shell.stderr
    mode, version = shell.stdout.split()
    assert mode == "wal"
    assert int(version) == SCHEMA_VERSION > 0


# --- as a real process --------------------------------------------------------------------------------------


def test_python_dash_m_conductor_version() -> None:
    proc = run_module("-m", "conductor", "version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"conductor {conductor.__version__}"


def test_python_dash_m_conductor_org_check() -> None:
    proc = run_module("-m", "conductor", "org", "check", "orgs/studio.toml")
    assert proc.returncode == 0, proc.stderr
    assert "Inkwell" in proc.stdout and "tidepool-finance" in proc.stdout


def test_python_dash_m_conductor_broken_file_has_no_traceback() -> None:
    path = BROKEN / "not_utf8.toml"
    proc = run_module("-m", "conductor", "org", "check", str(path))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}: ")
    assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_import_does_not_pull_in_textual_or_litellm() -> None:
    code = (
        "import sys, conductor.cli.main; "
        "heavy = sorted(m for m in ('textual', 'litellm') if m in sys.modules); "
        "assert not heavy, heavy"
    )
    proc = run_module("-c", code)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("argv", [
    ["status", "--bogus"],
    ["inbox", "show", "not-a-number"],
    ["no-such-command"],
    ["run"],
])
def test_usage_errors_are_one_line_with_exit_code_2(argv: list[str], tmp_path: Path) -> None:
    result = run_module("-m", "conductor", *argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
