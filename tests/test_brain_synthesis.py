"""Synthesis: the prompt, validation of the model's answer, and the engine writing versions as events.

The engine runs use the brain-lab org with the simulated model and market (no network). Failed and invalid
syntheses go through a stand-in for `provider.call_model` that only answers synthesis requests.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import conductor.engine.provider as provider
from brain_support import lab_org, run_lab
from conductor.brain.document import parse_document
from conductor.brain.memory import MemoryHit
from conductor.brain.synthesis import (
    DecisionFact,
    SynthesisInvalid,
    synthesis_messages,
    validate_document,
)
from conductor.engine.provider import CallResult
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.services import brain as brain_service
from conductor.store import open_database
from conductor.store.rebuild import projection_differences

FACTS = {
    12: DecisionFact(12, "ink", "campaign.launch", "signups", 0.08, True, "mrr", -0.01),
    13: DecisionFact(13, "ink", "campaign.launch", "signups", None, None),
    99: DecisionFact(99, "led", "campaign.launch", "signups", 0.2, True),
}


def test_validation_trusts_words_but_not_facts() -> None:
    answer = json.dumps({
        "strategy": "Search works.",
        "worked": [{"lesson": "campaign.launch channel=seo: signups +50%",
                    "evidence": [{"decision": 12, "delta": 0.5}, 13, 99, 4242]}],
        "failed": [{"lesson": "", "evidence": [12]}],
        "rules": ["No ads."],
    })
    checked = validate_document(answer, FACTS, venture="ink", previous=None)
    lesson = checked.document.worked[0]
    assert lesson.decision_ids == (12, 13)  # 99 is another venture's, 4242 does not exist
    assert lesson.evidence[0].delta == 0.08 and lesson.evidence[0].side_delta == -0.01  # measured, not claimed
    assert checked.dropped_evidence == 2 and checked.document.failed == ()
    platform = validate_document(answer, FACTS, venture=None, previous=None, versions={"ink": 4, "led": 2})
    provenance = platform.document.worked[0].provenance
    assert [(p.venture, p.version, p.decisions) for p in provenance] == [("ink", 4, 2), ("led", 2, 1)]
    previous = parse_document({"strategy": "keep"})
    with pytest.raises(SynthesisInvalid, match="erase"):
        validate_document("{}", FACTS, venture="ink", previous=previous)
    with pytest.raises(SynthesisInvalid, match="not JSON"):
        validate_document("Here is my answer", FACTS, venture="ink", previous=previous)


def test_the_prompt_holds_the_previous_version_and_only_the_new_memories() -> None:
    previous = parse_document({"worked": [{"text": "campaign.launch channel=seo: signups +3%", "evidence": [12]}]})
    new = [MemoryHit(30, "ink", "ink-cmo", "2026-01-09T09:00:00Z", "outcome",
                     "#12 campaign.launch channel=seo: signups +8.0% over 3 days (1 -> 1.08) (worked)", 6)]
    messages = synthesis_messages(org_name="Org", venture_id="ink", venture_name="Ink", goal="grow",
                                  metrics=[("signups", "up"), ("mrr", "up")], previous=previous, previous_version=3,
                                  memories=new, main_metric="mrr", facts=FACTS)
    prompt = messages[-1]["content"]
    assert prompt.startswith("# Synthesis request\nScope: venture\nVenture: Ink (ink)")
    assert "Brain version to write: 4 (previous: 3)" in prompt and "Main metric: mrr" in prompt
    assert '"text": "campaign.launch channel=seo: signups +3%"' in prompt
    assert "(worked) (meanwhile mrr -1.0%)" in prompt
    assert "## New memories since then (1, oldest first)" in prompt


@pytest.fixture(scope="module")
def lab() -> Path:
    return run_lab(16)


def test_the_engine_writes_versions_with_their_provenance(lab: Path) -> None:
    conn = sqlite3.connect(lab)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT version, parent, author, model, tokens, cost, memory_ids, document FROM brain_versions "
                        "WHERE venture = 'lab' ORDER BY version").fetchall()
    assert len(rows) >= 3
    consumed: list[int] = []
    for number, (version, parent, author, model, tokens, cost, memory_ids, document) in enumerate(rows, 1):
        assert version == number and parent == (number - 1 or None)
        assert author == "synthesis" and model == "sim/standard" and tokens > 0 and cost > 0
        ids = json.loads(memory_ids)
        assert ids and min(ids) > max(consumed, default=0)  # incremental: each memory is read once
        consumed += ids
        doc = parse_document(document)
        cited = doc.decision_ids()
        known = {r[0] for r in conn.execute(f"SELECT id FROM decisions WHERE venture = 'lab' AND id IN "
                                            f"({','.join(map(str, cited)) or '0'})")}
        assert cited == known  # every cited decision exists, in this venture
    assert set(consumed) <= {r[0] for r in conn.execute("SELECT id FROM memories WHERE venture = 'lab'")}
    calls = conn.execute("SELECT count(*), sum(ok) FROM calls WHERE purpose = 'synthesis'").fetchone()
    assert calls[0] >= len(rows) and calls[1] >= len(rows)
    stamped = conn.execute("SELECT count(*) FROM decisions WHERE brain_version IS NOT NULL").fetchone()[0]
    assert stamped > 0  # decisions carry the version in force
    platform = conn.execute("SELECT count(*) FROM brain_versions WHERE venture = 'platform'").fetchone()[0]
    assert platform >= 1
    assert projection_differences(conn) == []
    conn.close()


def _run(db: Path, days: int, fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider, "call_model", fake)
    org = lab_org(1)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(days=days)))
    asyncio.run(asyncio.wait_for(engine.run(), timeout=120))


def test_a_failed_synthesis_keeps_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = provider.call_model
    venture_calls: list[int] = []

    async def garbling(model: str, messages: list[dict[str, str]], **kw: Any) -> CallResult:
        """The real simulator, except that every venture synthesis after the first gets a useless answer."""
        if "Scope: venture" not in messages[-1]["content"] and "Scope: venture" not in messages[1]["content"]:
            return await real(model, messages, **kw)
        venture_calls.append(1)
        if len(venture_calls) == 1:
            return await real(model, messages, **kw)
        return CallResult(text="I would rather not.", model=model, prompt_tokens=100, completion_tokens=5,
                          cost=0.001, latency_ms=1.0)

    db = tmp_path / "fail.db"
    open_database(db).close()
    _run(db, 12, garbling, monkeypatch)
    conn = sqlite3.connect(db)
    failures = conn.execute("SELECT payload FROM events WHERE kind = 'brain.synthesis_failed'").fetchall()
    assert failures and "invalid answer" in json.loads(failures[0][0])["reason"]
    versions = conn.execute("SELECT venture, max(version) FROM brain_versions GROUP BY venture").fetchall()
    assert ("lab", 1) in versions  # the first version stands; nothing replaced or erased it
    bad_calls = conn.execute("SELECT count(*) FROM calls WHERE purpose = 'synthesis' AND ok = 0").fetchone()[0]
    assert bad_calls >= 4  # each attempt is a recorded call, with its cost
    conn.close()


def test_pinning_pauses_synthesis_and_keeps_the_pinned_version_in_force(tmp_path: Path) -> None:
    db = tmp_path / "pin.db"
    open_database(db).close()
    org = lab_org(1)
    asyncio.run(Engine(org, db, EngineOptions(until=org.start + timedelta(days=8))).run())
    conn = open_database(db)
    latest = conn.execute("SELECT max(version) FROM brain_versions WHERE venture = 'lab'").fetchone()[0]
    assert latest >= 1
    brain_service.pin(conn, "lab", 1)
    asyncio.run(Engine(org, db, EngineOptions(until=org.start + timedelta(days=16))).run())
    after = conn.execute("SELECT max(version) FROM brain_versions WHERE venture = 'lab'").fetchone()[0]
    assert after == latest  # no synthesis while pinned
    pin_at = conn.execute("SELECT id FROM events WHERE kind = 'brain.pinned'").fetchone()[0]
    used = {r[0] for r in conn.execute("SELECT DISTINCT brain_version FROM decisions WHERE id > ?", (pin_at,))}
    assert used == {1}
    conn.close()
