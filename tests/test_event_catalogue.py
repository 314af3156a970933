"""The event catalogue (`conductor.events`): every kind the product writes has one model, one version and one
text, every payload a run writes fits its model, and a log written by the previous release replays."""

from __future__ import annotations

import ast
import gzip
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conductor import events as catalogue
from conductor.cli.run_cmd import run_headless
from conductor.engine.state import EngineState
from conductor.org import load_org
from conductor.services.queries import event_summary
from conductor.store import NewEvent, StoredEvent, commit_events, open_database
from conductor.store.rebuild import projection_differences

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "conductor"
STUDIO = ROOT / "orgs" / "studio.toml"
# 726 events of a 6-day studio run (and a resumed run, and four founder commands) written by commit d0e05dd,
# the release before the catalogue, with that release's own code; see docs/architecture.md.
PREVIOUS_RELEASE = Path(__file__).parent / "data" / "previous_release_events.jsonl.gz"

KIND = re.compile(r"^[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*$")
# The helpers an event is made with, and which argument holds its kind.
EMITTERS = {"_event": 0, "event": 0, "NewEvent": 0, "_write": 1}


def _constants(node: ast.AST | None) -> set[str]:
    """The string constants an expression can evaluate to (a constant, or a conditional of constants)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _constants(node.body) | _constants(node.orelse)
    return set()


def emitted_kinds() -> set[str]:
    """Every kind passed to an emit helper anywhere in src, read from the source (not from a run)."""
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))]
    named: dict[str, set[str]] = {}  # names assigned kind-shaped strings: ORG_LOADED, `kind = "a" if x else "b"`
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                found = {k for k in _constants(node.value) if KIND.match(k)}
                if found:
                    named.setdefault(node.targets[0].id, set()).update(found)
    kinds: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in EMITTERS:
                continue
            position = EMITTERS[name]
            arg = next((k.value for k in node.keywords if k.arg == "kind"), None)
            if arg is None and len(node.args) > position:
                arg = node.args[position]
            if isinstance(arg, ast.Name):
                kinds |= named.get(arg.id, set())
            else:
                kinds |= {k for k in _constants(arg) if KIND.match(k)}
    return kinds


def test_every_kind_the_source_emits_is_catalogued() -> None:
    kinds = emitted_kinds()
    assert len(kinds) >= 35, sorted(kinds)  # the scan still finds the emit sites
    assert {"org.loaded", "founder.paused", "founder.resumed", "brain.synthesis_failed", "agent.woke"} <= kinds
    assert sorted(kinds - set(catalogue.CATALOGUE)) == []


def test_every_projected_kind_is_catalogued() -> None:
    from conductor.store.projections import PROJECTORS

    assert sorted(set(PROJECTORS) - set(catalogue.CATALOGUE)) == []


@pytest.fixture(scope="module")
def studio_events(tmp_path_factory: pytest.TempPathFactory) -> list[sqlite3.Row]:
    db = tmp_path_factory.mktemp("catalogue") / "studio.db"
    run_headless(STUDIO, db, days=3, live=False)
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


def test_every_kind_a_studio_run_writes_is_catalogued_and_every_payload_fits(studio_events: list[sqlite3.Row]
                                                                             ) -> None:
    kinds = {r["kind"] for r in studio_events}
    assert len(kinds) >= 15
    assert sorted(kinds - set(catalogue.CATALOGUE)) == []
    for r in studio_events:
        assert catalogue.validate(r["kind"], json.loads(r["payload"])) is not None, r["id"]


def _one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text and "\r" not in text


@pytest.mark.parametrize("kind", sorted(catalogue.CATALOGUE))
def test_every_kind_has_a_version_a_valid_example_and_a_one_line_text(kind: str) -> None:
    entry = catalogue.spec(kind)
    assert entry is not None and entry.kind == kind and entry.version >= 1
    assert 0 < len(entry.label) <= 11  # the Activity pane's kind column
    assert entry.example, f"{kind} has no example payload"
    assert catalogue.validate(kind, dict(entry.example)) is not None
    assert _one_line(catalogue.text(kind, entry.example))
    assert "None" not in catalogue.text(kind, entry.example)
    # An empty or malformed payload (a hand-written or damaged log) still reads, and never raises.
    assert _one_line(catalogue.text(kind, {}))
    assert _one_line(catalogue.text(kind, {"decision_id": [1], "reason": {"x": 1}, "day": "x", "cost": "free"}))


def test_a_kind_the_catalogue_does_not_know_reads_generically_and_is_not_refused() -> None:
    assert catalogue.spec("future.kind") is None
    assert catalogue.text("future.kind", {"b": 2, "a": "x\ny", "nested": {"k": 1}, "by": "founder"}) == "b=2, a=x y"
    assert catalogue.text("future.kind", {}) == "future.kind"
    assert catalogue.validate("future.kind", {"anything": object()}) is None
    catalogue.check("future.kind", {"anything": 1})


def test_a_known_kind_with_a_bad_payload_is_refused_with_one_line() -> None:
    with pytest.raises(catalogue.PayloadError, match=r"^decision\.updated payload does not fit its model: .*state"):
        catalogue.check("decision.updated", {"decision_id": 1})
    with pytest.raises(catalogue.PayloadError, match=r"metric\.recorded"):
        catalogue.check("metric.recorded", {"metric": "mrr", "value": "lots", "at": "2026-01-05"})


def test_newer_fields_are_kept_and_older_payloads_without_them_validate() -> None:
    """A newer release's extra key is kept (not refused); a payload from before an optional field validates."""
    woke = catalogue.validate("agent.woke", {"reason": "heartbeat", "a_field_from_the_future": [1, 2]})
    assert woke is not None and woke.model_extra == {"a_field_from_the_future": [1, 2]}
    assert catalogue.validate("agent.woke", {"reason": "heartbeat"}) is not None  # no inputs, no redoes
    assert catalogue.validate("review.requested", {"decision_id": 3, "round": 1, "author": "a"}) is not None


def test_the_cli_and_the_control_room_say_the_same_words() -> None:
    from datetime import UTC, datetime

    from conductor.services.queries import EventRow
    from conductor.tui.summaries import describe

    for kind, entry in catalogue.CATALOGUE.items():
        payload = dict(entry.example)
        row = EventRow(id=1, ts="", sim_time=None, venture=None, agent=None, kind=kind, by=None,
                       summary=event_summary(kind, payload), payload=payload)
        cli, tui = row.summary, describe(row, datetime(2026, 1, 5, 9, tzinfo=UTC))
        if "next_wake" in payload or "until" in payload:  # only the clock's format differs
            continue
        assert tui == cli, kind


def _previous_release() -> list[dict[str, Any]]:
    with gzip.open(PREVIOUS_RELEASE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_a_log_written_by_the_previous_release_replays(tmp_path: Path) -> None:
    """Every payload validates (after its kind's upgrade), the events commit through today's write path into a
    fresh store, the projections rebuilt from them equal the ones written, and the engine folds them."""
    rows = _previous_release()
    assert len(rows) > 500 and [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    upgraded = []
    for r in rows:
        payload = catalogue.upgrade(r["kind"], r["payload"])
        assert catalogue.validate(r["kind"], payload) is not None, (r["id"], r["kind"])
        assert _one_line(catalogue.text(r["kind"], payload))
        upgraded.append(NewEvent(r["kind"], payload, venture=r["venture"], agent=r["agent"], sim_time=r["sim_time"]))

    conn = open_database(tmp_path / "replayed.db")
    try:
        stored: list[StoredEvent] = []
        for n in range(0, len(upgraded), 50):  # in batches, as a run commits
            stored += commit_events(conn, upgraded[n:n + 50])
        assert [e.id for e in stored] == [r["id"] for r in rows]
        assert projection_differences(conn) == []
        decisions = conn.execute("SELECT count(*), count(executed) FROM decisions").fetchone()
        proposed = sum(1 for r in rows if r["kind"] == "decision.proposed")
        assert decisions[0] == proposed > 0 and decisions[1] > 0
        assert conn.execute("SELECT count(*) FROM directives").fetchone()[0] == 1
    finally:
        conn.close()

    org = load_org(STUDIO)
    state = EngineState(org, org.start)
    for e in stored:
        state.observe(e)
    assert state.last_event_id == len(rows)
    assert len(state.decisions) == proposed
    assert state.metrics  # the market's series folded
