"""Start-up without folding the whole log: the engine's working memory folded up to an event, kept beside the
database, so a restart folds only the events after it.

`EngineState.observe` is a fold over the log in id order; a restart used to run it over every event ever
written (11 s at a million events here, `bench/startup.py`), and re-run every simulated market day. A snapshot
(`Folded`) is that fold's result at one event: the state, the simulated markets with how many of their
operations they have taken, and the two things `Engine._recover` carries across the fold (the verdicts still
waiting for a reaction, and whether any run ever started). Folding the rest of the log onto it gives exactly
what folding the whole log gives, because it *is* the same fold, stopped and resumed (`tests/test_snapshot.py`
compares them). What it holds is the engine's working memory, which forgets the decisions no rule reads any
more (`EngineState.memory_days`) and past days' spend: it grows with what the org did in the last half year
or so, not with the length of the log.

What a snapshot may be trusted for, and why it is a file beside the database and not a table in it:

* It is a cache. The log stays the truth: delete the file and the next start folds everything again. It is
  not in the database because it is rewritten whole, and the one SQLite file holds only what happened.
* It is Python pickle, which can run code when loaded, so only a snapshot this user's conductor wrote is
  loaded: each carries an HMAC under a key kept in the user's state directory (`key_path`). A database copied
  from someone else, with its snapshot, is folded from the log instead.
* It is only good for the code and the org file it was made with (`fingerprint`): another conductor version,
  another state or market module, or an edited org file, and the log is folded from the start.
* It names the event it was folded to by id and by content digest, so a database restored from a backup (or
  replaced) never meets a snapshot of another history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import conductor
from conductor.engine.state import EngineState
from conductor.store.events import StoredEvent, parse_iso

logger = logging.getLogger(__name__)

FORMAT = 1
_MAGIC = b"conductor-snapshot\n"
_SOURCES = ("engine/state.py", "engine/snapshot.py", "sim/market", "store/events.py")


@dataclass
class Folded:
    """The fold of the log up to `cursor`, and what `Engine._recover` needs to carry on from it."""

    state: EngineState
    cursor: int = 0
    first_run: bool = True
    unanswered: list[StoredEvent] = field(default_factory=list)
    # venture -> (its simulated market, how many of `state.market_log[venture]` it has taken)
    markets: dict[str, tuple[Any, int]] = field(default_factory=dict)


def unfolded_rows(conn: sqlite3.Connection, after: int) -> list[sqlite3.Row]:
    """The events after `after` that a restart folds: all of them but a trailing run of founder commands.

    Founder commands written after the last run's own events (while no engine ran) have not been acted on:
    the first poll observes them and reacts (executes, grants trust), so the fold must leave them out.
    """
    rows = conn.execute("SELECT * FROM events WHERE id > ? ORDER BY id", (after,)).fetchall()
    tail = len(rows)
    while tail and _by_founder(rows[tail - 1]["payload"]):
        tail -= 1
    return rows[:tail]


def _by_founder(payload: str) -> bool:
    # A substring test first: most payloads never mention the founder, and parsing each would cost more.
    return '"founder"' in payload and json.loads(payload).get("by") == "founder"


def fold(folded: Folded, rows: Sequence[sqlite3.Row], founder_kinds: Sequence[str]) -> None:
    """Observe `rows` (in id order) into `folded.state`, tracking what `_recover` acts on afterwards."""
    state = folded.state
    for row in rows:
        event = StoredEvent.from_row(row)
        if event.kind == "run.started":
            folded.first_run = False
        if event.kind == "escalation.resolved" and event.payload.get("escalation_id") in state.escalations:
            # A verdict whose reaction may never have reached the log (a kill between the two).
            folded.unanswered.append(event)
        elif event.kind == "trust.changed":
            folded.unanswered = [
                u for u in folded.unanswered
                if u.payload.get("detail", {}).get("agent") != event.payload["agent"]
                or u.payload.get("detail", {}).get("kind") != event.payload["kind"]]
        state.observe(event)
        if event.sim_time and event.kind not in founder_kinds:
            state.now = max(state.now, parse_iso(event.sim_time))
        folded.cursor = event.id


# -- where snapshots live, and who may trust them ---------------------------------------------------------------
def snapshot_path(db: Path) -> Path:
    return db.with_name(db.name + ".snapshot")


def key_path() -> Path:
    """The user's snapshot key: `$XDG_STATE_HOME/conductor/snapshot.key` (or `~/.local/state/...`)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "conductor" / "snapshot.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes()
    except OSError:
        return None  # no writable home: no snapshots, start-up folds the log as before
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(32))
    return path.read_bytes()


@cache
def code_fingerprint() -> str:
    """The conductor version and the source of every module whose objects a snapshot holds."""
    root = Path(conductor.__file__).parent
    digest = hashlib.sha256(f"{FORMAT}:{conductor.__version__}".encode())
    for name in _SOURCES:
        path = root / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(root).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def event_digest(conn: sqlite3.Connection, event_id: int) -> str | None:
    """What the snapshot's last event was, so another history with the same ids is told apart."""
    row = conn.execute("SELECT ts, kind, payload FROM events WHERE id = ?", (event_id,)).fetchone()
    if row is None:
        return None
    return hashlib.sha256(f"{row[0]}\x00{row[1]}\x00{row[2]}".encode()).hexdigest()


def encode(folded: Folded, org_digest: str, last_event: str) -> bytes | None:
    """The snapshot file's bytes, or None when this user has no key (and so keeps no snapshots).

    Pickling is the copy: done where the state is consistent (on the engine's loop between folds, or in the
    compacting thread that owns its own fold), and the bytes are written wherever is convenient.
    """
    key = _key(create=True)
    if key is None:
        return None
    header = f"{code_fingerprint()}\n{org_digest}\n{folded.cursor}\n{last_event}\n".encode()
    body = zlib.compress(pickle.dumps(folded, protocol=pickle.HIGHEST_PROTOCOL), 1)
    mac = hmac.new(key, header + body, hashlib.sha256).hexdigest().encode()
    return _MAGIC + mac + b"\n" + header + body


def write(db: Path, blob: bytes) -> bool:
    """Replace the snapshot atomically: a crash mid-write leaves the previous one."""
    path = snapshot_path(db)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as fh:
            fh.write(blob)
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("snapshot not written (%s): the next start folds the log from the last one", exc.strerror)
        temporary.unlink(missing_ok=True)
        return False
    return True


def load(db: Path, conn: sqlite3.Connection, org_digest: str, state_for: EngineState) -> Folded | None:
    """The snapshot beside `db`, if this user wrote it for this code, this org file and this log; else None.

    `state_for` is a fresh state for the org: its `org` goes into the loaded one (the org is not pickled).
    """
    try:
        data = snapshot_path(db).read_bytes()
    except OSError:
        return None
    key = _key(create=False)
    if key is None or not data.startswith(_MAGIC):
        return None
    mac, _, rest = data[len(_MAGIC):].partition(b"\n")
    if not hmac.compare_digest(mac, hmac.new(key, rest, hashlib.sha256).hexdigest().encode()):
        logger.warning("snapshot %s was not written by this user's conductor: folding the log instead",
                       snapshot_path(db))
        return None
    fingerprint, digest, cursor_text, last_event, body = rest.split(b"\n", 4)
    if fingerprint.decode() != code_fingerprint() or digest.decode() != org_digest:
        return None
    cursor = int(cursor_text)
    if event_digest(conn, cursor) != last_event.decode():
        return None
    folded = pickle.loads(zlib.decompress(body))  # authenticated above: this user wrote it
    if not isinstance(folded, Folded) or folded.cursor != cursor:
        return None
    folded.state.org = state_for.org
    return folded
