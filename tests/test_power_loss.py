"""What survives a power loss: a consistent prefix of the log, never half a transaction.

The store runs SQLite in WAL mode with `synchronous = NORMAL` and the writer checkpoints itself (every 20,000
events), so between checkpoints every commit only appends frames to the `-wal` file and nothing is synced to
the disk. A power loss (unlike a killed process, whose writes the kernel still holds) can lose any tail of
those appended frames, or a frame in the middle when the page cache wrote them out of order. SQLite's
recovery keeps the frames up to the first one whose chained checksum fails, and only whole transactions.

This test builds that situation for real: `conductor run` is killed (SIGKILL) with its commits still in the
`-wal` file, and copies of the database are given a `-wal` cut at random byte offsets or with a random page
of it zeroed, as a disk would have them after the power came back. Every copy must open with an intact file,
hold the events 1..n of the original log unchanged (a prefix: the last commits may be lost), projections
equal to a rebuild from those events (they commit in the same transactions), and run again from there.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conductor.store.rebuild import projection_differences

ORG = Path(__file__).resolve().parent.parent / "orgs" / "studio.toml"
CUTS = 12
WAL_HEADER = 32
WAL_FRAME_HEADER = 24


def _events(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    return [(row[0], hashlib.sha256(repr(tuple(row)).encode()).hexdigest())
            for row in conn.execute("SELECT * FROM events ORDER BY id")]


def _open(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row  # as the store reads rows
    return conn


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[tuple[int, str]]]:
    """A studio run killed with at least 4 MB of commits in its `-wal`: (main file, wal file, its events)."""
    folder = tmp_path_factory.mktemp("power")
    db = folder / "run.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conductor", "run", str(ORG), "--days", "30", "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 300  # only a hang reaches it: the condition is the WAL's size
    try:
        while not (wal.exists() and wal.stat().st_size > 4_000_000):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "run ended early"
            assert time.monotonic() < deadline, "the run wrote no 4 MB of log"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = folder / "saved"
    saved.mkdir()
    shutil.copy(db, saved / "run.db")
    shutil.copy(wal, saved / "run.db-wal")
    probe = folder / "probe"
    probe.mkdir()
    shutil.copy(db, probe / "run.db")
    shutil.copy(wal, probe / "run.db-wal")
    with _open(probe / "run.db") as conn:
        events = _events(conn)
    assert len(events) > 100, len(events)
    return saved / "run.db", saved / "run.db-wal", events


def _after_power_loss(main: Path, wal: bytes, folder: Path) -> Path:
    folder.mkdir()
    db = folder / "run.db"
    shutil.copy(main, db)
    Path(f"{db}-wal").write_bytes(wal)
    return db


def _damaged_wals(wal: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """The `-wal` as a disk could hold it after a power loss: cut anywhere, or with one page's bytes zeroed."""
    out = []
    for _ in range(CUTS):
        cut = rng.randrange(WAL_HEADER, len(wal))
        out.append((f"cut at byte {cut}", wal[:cut]))
    for _ in range(CUTS // 2):
        start = rng.randrange(WAL_HEADER + WAL_FRAME_HEADER, len(wal) - 4096)
        out.append((f"4 KB zeroed at byte {start}", wal[:start] + bytes(4096) + wal[start + 4096:]))
    return out


def test_after_a_power_loss_the_log_is_an_intact_prefix_and_the_projections_match_it(
        killed_run: tuple[Path, Path, list[tuple[int, str]]], tmp_path: Path) -> None:
    main, wal_path, original = killed_run
    wal = wal_path.read_bytes()
    lengths = []
    for i, (how, damaged) in enumerate(_damaged_wals(wal, random.Random(7))):
        db = _after_power_loss(main, damaged, tmp_path / f"copy{i}")
        with _open(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", how
            events = _events(conn)
            assert events == original[: len(events)], f"{how}: the surviving log is not a prefix of the original"
            assert projection_differences(conn) == [], how
        lengths.append(len(events))
        print(f"{how}: {len(events)} of {len(original)} events survive")
    # The damage really cost commits (else this tested nothing), and not always all of them.
    assert min(lengths) < len(original) and max(lengths) > min(lengths)


def test_a_run_resumes_from_what_survived_a_power_loss(
        killed_run: tuple[Path, Path, list[tuple[int, str]]], tmp_path: Path) -> None:
    main, wal_path, original = killed_run
    wal = wal_path.read_bytes()
    db = _after_power_loss(main, wal[: len(wal) // 2], tmp_path / "half")
    with _open(db) as conn:
        survived = len(_events(conn))
    assert 0 < survived < len(original)
    done = subprocess.run([sys.executable, "-m", "conductor", "run", str(ORG), "--days", "1", "--db", str(db)],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr
    with _open(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(_events(conn)) > survived
        assert projection_differences(conn) == []
