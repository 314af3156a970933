"""Start-up snapshots (`conductor.engine.snapshot`): a restart that begins from one decides exactly what a
restart that folds the whole log decides, and a snapshot that this user's conductor did not write for this code,
this org file and this log is never loaded."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conductor.engine import snapshot
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.engine.state import EngineState
from conductor.org import load_org
from conductor.org.record import org_loaded_payload

STUDIO = Path(__file__).resolve().parents[1] / "orgs" / "studio.toml"
NEVER = 10**12


async def _run_to(db: Path, days: int, every: int) -> Engine:
    org = load_org(STUDIO)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(days=days), snapshot_every=every),
                    org_path=STUDIO)
    await engine.run()
    return engine


def _stream(db: Path) -> list[tuple[Any, ...]]:
    """Every event but the process's own pid: what the runs did, in order."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT kind, venture, agent, sim_time, payload FROM events ORDER BY id").fetchall()
    finally:
        conn.close()
    out = []
    for kind, venture, agent, sim_time, payload in rows:
        data = json.loads(payload)
        data.pop("pid", None)
        out.append((kind, venture, agent, sim_time, json.dumps(data, sort_keys=True)))
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Engine]]:
    """The same three runs (to days 2, 4 and 6), once keeping snapshots (renewed mid-run every 100 events and
    at every start that folds 5 or more), once never."""
    import asyncio

    root = tmp_path_factory.mktemp("snapshots")
    kept, folded = root / "kept.db", root / "folded.db"

    async def both() -> list[Engine]:
        engines = []
        for days in (2, 4, 6):
            engines.append(await _run_to(kept, days, every=5))
            await _run_to(folded, days, every=NEVER)
        return engines

    return kept, folded, asyncio.run(both())


def test_a_restart_from_a_snapshot_decides_what_a_full_fold_decides(pair: tuple[Path, Path, list[Engine]]) -> None:
    kept, folded, engines = pair
    assert not snapshot.snapshot_path(folded).exists()
    assert engines[0].snapshot_cursor > 0, "a long enough run renews its snapshot in the background"
    assert engines[1].loaded_snapshot > 0 and engines[2].loaded_snapshot > engines[1].loaded_snapshot
    assert _stream(kept) == _stream(folded)


def test_only_this_users_snapshot_for_this_code_org_and_log_is_loaded(
        pair: tuple[Path, Path, list[Engine]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept, folded, _ = pair
    org = load_org(STUDIO)
    digest = org_loaded_payload(org, STUDIO)["digest"]

    def load(db: Path, org_digest: str = digest) -> snapshot.Folded | None:
        conn = sqlite3.connect(db)
        conn.row_factory = sqlite3.Row
        try:
            return snapshot.load(db, conn, org_digest, EngineState(org, org.start))
        finally:
            conn.close()

    good = load(kept)
    assert good is not None and good.cursor > 0 and good.state.org is org
    assert load(kept, "another org file") is None

    original = snapshot.snapshot_path(kept).read_bytes()
    try:
        snapshot.snapshot_path(kept).write_bytes(original[:-40] + bytes(b ^ 1 for b in original[-40:]))
        assert load(kept) is None, "a changed byte fails the signature"
        snapshot.snapshot_path(kept).write_bytes(original)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "someone else"))
        assert load(kept) is None, "another user's key (or a copied file) is not trusted"
    finally:
        snapshot.snapshot_path(kept).write_bytes(original)
        monkeypatch.undo()

    # Another history with the same event ids (the unsnapshotted twin, or a restored backup) is folded anew.
    other = tmp_path / "other.db"
    with sqlite3.connect(folded) as source, sqlite3.connect(other) as target:
        source.backup(target)
    snapshot.snapshot_path(other).write_bytes(original)
    assert load(other) is None
