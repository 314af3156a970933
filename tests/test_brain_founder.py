"""The founder's hand on the brain (edit, pin, revert) and the `conductor brain` commands.

Versions are immutable: reverting writes a new version equal to an older one, and no row of brain_versions is
ever updated or deleted (triggers refuse it; a test compares every row before and after the founder's writes).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brain_support import run_lab
from conductor.brain.attribution.outcome import outcome_verdict
from conductor.brain.document import render_markdown
from conductor.cli.main import app
from conductor.errors import BadInput
from conductor.services import brain
from conductor.store import open_database

runner = CliRunner()


def lab_with_a_full_brain() -> Path:
    """The first seed's 45-day lab run whose newest brain has a strategy, lessons that failed, and
    open questions: what these tests edit. Found, not assumed, so a change in what the simulated agents decide
    moves the fixture to another seed instead of emptying it. 45 days: a decision is judged beyond noise only
    once its metric has two placebo weeks behind it (`brain.attribution.placebo`), so a 16-day run's brain
    has no lesson that failed."""
    for seed in range(1, 9):
        path = run_lab(45, seed)
        conn = open_database(path)
        try:
            newest = brain.version(conn, "lab").brain()
        finally:
            conn.close()
        if newest.strategy and newest.failed and newest.open_questions:
            return path
    raise AssertionError("no lab run of seeds 1-8 leaves a brain with every section")


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    """A private copy of a 16-day lab run with a full brain (the run itself is shared)."""
    source = lab_with_a_full_brain()
    target = tmp_path / "lab.db"
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


def rows(conn: sqlite3.Connection) -> list[tuple]:
    return [tuple(r) for r in conn.execute("SELECT * FROM brain_versions ORDER BY venture, version")]


def test_revert_writes_a_new_version_and_never_touches_old_rows(db: Path) -> None:
    conn = open_database(db)
    before = rows(conn)
    latest = max(r[1] for r in before if r[0] == "lab")
    event = brain.revert(conn, "lab", 1)
    assert event.payload["by"] == "founder" and event.payload["reverted_from"] == 1
    after = rows(conn)
    assert after[: len(before)] == before or set(before) <= set(after)  # every old row unchanged
    assert len(after) == len(before) + 1
    new = brain.version(conn, "lab")
    assert new.version == latest + 1 and new.parent == latest and new.author == "founder"
    assert new.document == brain.version(conn, "lab", 1).document and new.reverted_from == 1
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE brain_versions SET document = '{}' WHERE venture = 'lab' AND version = 1")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("DELETE FROM brain_versions WHERE venture = 'lab'")
    assert rows(conn) == after
    conn.close()


def test_editing_by_hand_checks_evidence_and_keeps_history(db: Path) -> None:
    conn = open_database(db)
    current = brain.version(conn, "lab")
    text = render_markdown(current.brain())
    assert brain.edit_version(conn, "lab", text) == (None, 0)  # unchanged text: no version
    known = sorted(current.brain().decision_ids())[0]
    edited = text.replace("## Rules the founder set\n", "## Rules the founder set\n- Never discount over 20%.\n")
    edited = edited.replace("## What worked\n", f"## What worked\n- hire.contractor: founder says so\n"
                                                f"  evidence: #{known}, #999999\n")
    event, dropped = brain.edit_version(conn, "lab", edited)
    assert event is not None and dropped == 1
    record = brain.version(conn, "lab")
    assert record.author == "founder" and record.version == current.version + 1
    doc = record.brain()
    assert "Never discount over 20%." in doc.rules
    assert doc.worked[0].decision_ids == (known,)
    # The evidence is what the store measured for that decision, not what the founder typed.
    outcome = json.loads(conn.execute("SELECT outcome FROM decisions WHERE id = ?", (known,)).fetchone()[0] or "{}")
    evidence = doc.worked[0].evidence[0]
    assert evidence.metric == outcome.get("metric")
    assert evidence.success == {"worked": True, "failed": False}.get(outcome_verdict(outcome) or "")
    with pytest.raises(BadInput, match="unknown section"):
        brain.edit_version(conn, "lab", "## Wins\n- x\n")
    conn.close()


def test_pin_and_unpin(db: Path) -> None:
    conn = open_database(db)
    brain.pin(conn, "lab", 1)
    assert [v.pinned for v in brain.versions(conn, "lab")][:2] == [True, False]
    assert conn.execute("SELECT version FROM brain_pins WHERE venture = 'lab'").fetchone()[0] == 1
    brain.unpin(conn, "lab")
    assert conn.execute("SELECT count(*) FROM brain_pins").fetchone()[0] == 0
    with pytest.raises(BadInput, match="not pinned"):
        brain.unpin(conn, "lab")
    with pytest.raises(BadInput, match="no brain version 99"):
        brain.pin(conn, "lab", 99)
    with pytest.raises(BadInput, match="no such venture"):
        brain.versions(conn, "nope")
    assert brain.check_venture(conn, "Lab") == "lab"
    conn.close()


def test_every_brain_command_has_help_with_an_example() -> None:
    result = runner.invoke(app, ["brain", "--help"])
    assert result.exit_code == 0
    for command in ("log", "show", "diff", "quality", "edit", "pin", "revert"):
        assert command in result.output
        sub = runner.invoke(app, ["brain", command, "--help"])
        assert sub.exit_code == 0 and "Example: conductor brain" in sub.output, command


def test_commands_read_write_and_speak_json(db: Path, tmp_path: Path) -> None:
    args = ["--db", str(db)]
    log = runner.invoke(app, ["brain", "log", "lab", *args, "--json"])
    assert log.exit_code == 0, log.output
    versions = json.loads(log.output)["versions"]
    assert versions[0]["version"] == 1 and versions[0]["author"] == "synthesis"
    show = runner.invoke(app, ["brain", "show", "lab", "1", *args, "--json"])
    assert json.loads(show.output)["document"]["worked"] is not None
    text = runner.invoke(app, ["brain", "show", "lab", *args])
    assert text.exit_code == 0 and "## What worked" in text.output and "Lab brain v" in text.output
    diff = runner.invoke(app, ["brain", "diff", "lab", "1", "2", *args, "--json"])
    data = json.loads(diff.output)
    assert data["old"] == 1 and data["new"] == 2 and isinstance(data["lines"], list)
    pretty = runner.invoke(app, ["brain", "diff", "lab", "1", "2", *args, "--lines"])
    assert pretty.exit_code == 0 and "Lab brain v1 -> v2" in pretty.output and "--- lab v1" in pretty.output
    quality = runner.invoke(app, ["brain", "quality", *args, "--json"])
    assert json.loads(quality.output)[0]["venture"] == "lab"
    edited = tmp_path / "brain.md"
    edited.write_text("## Strategy\nGrow carefully.\n", encoding="utf-8")
    wrote = runner.invoke(app, ["brain", "edit", "lab", "--file", str(edited), *args])
    assert wrote.exit_code == 0 and "by the founder" in wrote.output
    pinned = runner.invoke(app, ["brain", "pin", "lab", "2", *args])
    assert pinned.exit_code == 0 and "pinned lab brain v2" in pinned.output
    assert runner.invoke(app, ["brain", "pin", "lab", "--off", *args]).exit_code == 0
    reverted = runner.invoke(app, ["brain", "revert", "lab", "1", *args])
    assert reverted.exit_code == 0 and "equal to v1" in reverted.output


def test_edit_without_a_file_opens_the_editor(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`brain edit VENTURE` opens $EDITOR on the newest version's text and writes what was saved there."""
    editor = tmp_path / "editor.py"
    editor.write_text("import pathlib, sys\n"
                      "pathlib.Path(sys.argv[1]).write_text('## Strategy\\nWritten in the editor.\\n')\n",
                      encoding="utf-8")
    args = ["brain", "edit", "lab", "--db", str(db)]
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" "{editor}"')
    wrote = runner.invoke(app, args)
    assert wrote.exit_code == 0, wrote.output
    assert "by the founder" in wrote.output
    shown = runner.invoke(app, ["brain", "show", "lab", "--db", str(db)])
    assert "Written in the editor." in shown.output
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" -c pass')  # closes without saving
    unsaved = runner.invoke(app, args)
    assert unsaved.exit_code == 0 and "closed without saving" in unsaved.output
    monkeypatch.setenv("EDITOR", f'"{sys.executable}" -c "raise SystemExit(3)"')  # the editor fails
    failed = runner.invoke(app, args)
    lines = [line for line in failed.output.splitlines() if line.strip()]
    assert failed.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: cannot edit"), failed.output


@pytest.mark.parametrize("argv, message", [
    (["brain", "show", "nope"], "error: venture 'nope': no such venture"),
    (["brain", "show", "lab", "99"], "error: venture 'lab': no brain version 99"),
    (["brain", "diff", "lab", "1", "99"], "error: venture 'lab': no brain version 99"),
    (["brain", "pin", "lab", "1", "--off"], "error: --off takes no version"),
])
def test_bad_input_is_one_line_and_exit_2(db: Path, argv: list[str], message: str) -> None:
    result = runner.invoke(app, [*argv, "--db", str(db)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message)


def test_model_written_text_cannot_drive_the_terminal(db: Path) -> None:
    conn = open_database(db)
    brain.edit_version(conn, "lab", "## Strategy\nGrow \x1b]0;pwned\x07now \x1b[2J.\n")
    conn.close()
    shown = runner.invoke(app, ["brain", "show", "lab", "--db", str(db)])
    assert "\x1b" not in shown.output and "Grow" in shown.output


def test_an_edit_loses_nothing_the_founder_did_not_remove(db: Path) -> None:
    """Text typed over a heading is refused with its line; a section the text leaves out keeps the newest
    version's content; only a section emptied on purpose (its heading kept, "(none)" under it) is emptied."""
    conn = open_database(db)
    newest = brain.version(conn, "lab").brain()
    assert newest.strategy and newest.failed and newest.open_questions, "the fixture's brain must have content"
    text = render_markdown(newest)
    typed_over = "Focus on SEO" + text  # typed on the first line, before "## Strategy"
    with pytest.raises(BadInput, match=r"line 1: 'Focus on SEO## Strategy' is outside any section"):
        brain.edit_version(conn, "lab", typed_over)
    event, _ = brain.edit_version(conn, "lab", "## Strategy\nFocus on SEO.\n")
    assert event is not None
    saved = brain.version(conn, "lab").brain()
    assert saved.strategy == "Focus on SEO."
    assert [lesson.key for _, lesson in saved.lessons()] == [lesson.key for _, lesson in newest.lessons()]
    assert saved.open_questions == newest.open_questions and saved.rules == newest.rules
    text = render_markdown(saved)
    failed = text.split("## What failed\n")[1].split("\n## ")[0]
    event, _ = brain.edit_version(conn, "lab", text.replace(failed, "(none)\n"))
    assert event is not None
    emptied = brain.version(conn, "lab").brain()
    assert emptied.failed == () and emptied.open_questions == newest.open_questions
    conn.close()
