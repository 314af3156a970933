"""Wording a new user tripped on: words said twice, an expected effect in two dialects, column names that differ
between the control room and the CLI, a help text with the wrong default, a README example that fails, a diff
that runs backwards, and lesson evidence whose sign reads as a contradiction."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conductor import events as catalogue
from conductor.brain.document import BrainDocument, Evidence, Lesson, parse_markdown, render_markdown
from conductor.cli.main import app
from conductor.services import queries as q
from conductor.store import NewEvent, commit_events, open_database
from conductor.text import QUALITY_COLUMN_LABELS, expected_effect_text, state_and_verdict, with_note
from conductor.tui.data import BrainVersionRow
from conductor.tui.widgets.brain import older_first
from conductor.tui.widgets.metrics import QUALITY_COLUMNS
from test_cli_commands import ENV, build_db

REPO = Path(__file__).resolve().parent.parent


def text_of(kind: str, payload: dict[str, Any]) -> str:
    return catalogue.text(kind, payload)


# 1. a note that repeats the verdict is said once ------------------------------------------------------------------

def test_a_note_that_repeats_the_verdict_is_said_once() -> None:
    assert with_note("decision #7 → expired", "expired") == "decision #7 → expired"
    assert with_note("expired", " Expired. ") == "expired"
    assert with_note("escalation #9 expired", "nobody acted before it expired") == (
        "escalation #9 expired: nobody acted before it expired")
    assert with_note("approved", "") == "approved"
    assert state_and_verdict("approved", "approved") == "approved"
    assert state_and_verdict("expired", "rejected") == "expired (rejected)"


def test_event_texts_do_not_double_the_verdict() -> None:
    updated = text_of("decision.updated", {"decision_id": 7, "state": "expired", "final": True, "note": "expired"})
    assert updated == "decision #7 → expired"
    resolved = text_of("escalation.resolved", {"escalation_id": 9, "verdict": "approved", "note": "approved"})
    assert resolved == "escalation #9 approved"
    kept = text_of("escalation.resolved", {"escalation_id": 9, "verdict": "approved", "note": "go ahead"})
    assert kept == "escalation #9 approved: go ahead"


@pytest.fixture
def decided_db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The CLI tests' miniature run, with its decision escalation approved and the decision expired by policy."""
    path = tmp_path / "c.db"
    ids = build_db(path)
    conn = open_database(path)
    try:
        commit_events(conn, [
            NewEvent("escalation.resolved", {"escalation_id": ids["escalation"], "verdict": "approved",
                                             "note": "approved", "escalation_kind": "decision",
                                             "decision_id": ids["decision"], "by": "founder"},
                     venture="duo", agent="duo-lead", sim_time="2026-01-05T10:00:00.000000Z"),
            NewEvent("decision.updated", {"decision_id": ids["decision"], "state": "expired", "final": True,
                                          "note": "expired"},
                     venture="duo", agent="duo-lead", sim_time="2026-01-05T10:00:00.000000Z"),
        ])
    finally:
        conn.close()
    return path, ids


def test_inbox_show_says_approved_once_and_the_effect_as_the_room_does(decided_db: tuple[Path, dict[str, int]]) -> None:
    path, ids = decided_db
    result = CliRunner(env=ENV).invoke(app, ["inbox", "show", str(ids["escalation"]), "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "approved (approved)" not in result.stdout and "· approved" in result.stdout
    assert "expired: expired" not in result.stdout
    # 3. the room's words for the expected effect, not the raw fraction
    assert "revenue up by +5%" in result.stdout and "by 0.05" not in result.stdout
    conn = open_database(path)
    try:
        steps = [s.text for s in q.escalation(conn, ids["escalation"]).review]
    finally:
        conn.close()
    assert "expired" in steps and "expired: expired" not in steps


# 3. one formatter for the expected effect ---------------------------------------------------------------------------

def test_expected_effect_reads_the_same_everywhere() -> None:
    assert expected_effect_text({"metric": "mrr", "direction": "up", "size": 0.032}) == "mrr up by +3%"
    assert expected_effect_text({"metric": "churn_rate", "direction": "down", "size": 0.02}) == "churn_rate down by 2%"
    assert expected_effect_text({"metric": "mrr", "direction": "up"}) == "mrr up"
    assert expected_effect_text({}) == "not stated"


# 4. evidence whose sign is bad news says so ---------------------------------------------------------------------------

def test_failed_evidence_with_a_positive_move_says_it_was_worse() -> None:
    assert Evidence(decision_id=12, metric="churn_rate", delta=0.04, success=False).describe() == (
        "#12 churn_rate +4.0% (worse)")
    assert Evidence(decision_id=13, metric="support_backlog", delta=-0.1, success=True).describe() == (
        "#13 support_backlog -10.0% (better)")
    assert Evidence(decision_id=14, metric="signups", delta=0.04, success=True).describe() == "#14 signups +4.0%"
    assert Evidence(decision_id=15, metric="signups", delta=0.04).describe() == "#15 signups +4.0%"


def test_the_worse_tag_survives_the_founders_edit() -> None:
    doc = BrainDocument(failed=(Lesson(text="triage: backlog up", evidence=(
        Evidence(decision_id=12, metric="support_backlog", delta=0.198, success=False),
        Evidence(decision_id=13, metric="support_backlog", delta=0.1, side_metric="mrr", side_delta=0.01,
                 success=False),
    )),))
    text = render_markdown(doc)
    assert "#12 support_backlog +19.8% (worse)" in text and "#13 support_backlog +10.0% (mrr +1.0%) (worse)" in text
    assert render_markdown(parse_markdown(text)) == text


# 5. the quality table's columns have one set of names -------------------------------------------------------------------

def test_the_room_and_the_cli_name_the_quality_columns_alike(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    build_db(path)
    result = CliRunner(env=ENV).invoke(app, ["brain", "quality", "--db", str(path)])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if line.lstrip().startswith("venture"))
    assert header.split() == list(QUALITY_COLUMN_LABELS.values())
    assert set(QUALITY_COLUMNS) <= set(QUALITY_COLUMN_LABELS)


# 6. demo --help says where the database goes -----------------------------------------------------------------------------

def test_demo_help_gives_the_real_db_default() -> None:
    result = CliRunner(env={**ENV, "COLUMNS": "300"}).invoke(app, ["demo", "--help"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "./conductor.db" not in flat
    assert "temporary directory" in flat


# 7. the README's --set example works on the studio ------------------------------------------------------------------------

def test_readme_set_examples_name_a_studio_kind_with_that_parameter() -> None:
    studio = tomllib.loads((REPO / "orgs" / "studio.toml").read_text())
    params = {k["id"]: set(k.get("params", {})) for k in studio["decision_kinds"]}
    found = 0
    for line in (REPO / "README.md").read_text().splitlines():
        m = re.search(r"--set (\w+)=\S+\s+#(.*)", line)
        if not m:
            continue
        found += 1
        named = [kind for kind in params if kind in m.group(2)]
        assert named, f"the README's --set example does not say which kind it applies to: {line.strip()}"
        assert all(m.group(1) in params[kind] for kind in named), line
    assert found


# 8. the diff of two marked versions runs older -> newer ------------------------------------------------------------------

def _row(venture: str, version: int, created: str) -> BrainVersionRow:
    return BrainVersionRow(venture, version, version - 1 or None, "synthesis", None, created, 0, 0.0)


def test_two_marked_versions_compare_older_to_newer_whatever_the_marking_order() -> None:
    v1, v2 = _row("inkwell", 1, "2026-01-06T09:00:00Z"), _row("inkwell", 2, "2026-01-08T09:00:00Z")
    assert older_first(v2, v1) == (v1, v2)
    assert older_first(v1, v2) == (v1, v2)
    other = _row("platform", 5, "2026-01-07T09:00:00Z")
    assert older_first(v2, other) == (other, v2)
