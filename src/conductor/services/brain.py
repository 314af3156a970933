"""The founder's hand on the brain, and the reads the CLI and the control room show.

Writes are events with `"by": "founder"` on the caller's own connection, like every founder command: a new
version written by hand, a pin (synthesis pauses for that venture and the pinned version is the one in force),
an unpin, and a revert, which writes a new version equal to an older one so history is never rewritten.
A running scheduler picks them up on its next poll. Evidence in a hand-written version is checked like a
synthesized one: decision ids that do not exist are dropped (and reported), and measured moves are attached.

Public API: `VersionInfo`, `VersionRecord`, `SynthesisFailure`, `venture_names`, `check_venture`, `versions`,
`version`, `failures`, `write_version`, `edit_version`, `pin`, `unpin`, `revert`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from conductor.brain.document import (
    PLATFORM,
    SECTIONS,
    BrainDocument,
    DocumentError,
    lost_headings,
    parse_document,
    parse_markdown,
    render_markdown,
)
from conductor.brain.synthesis import load_facts, validate_document
from conductor.errors import BadInput, ConductorError, NotFound
from conductor.store import NewEvent, StoredEvent, commit_events
from conductor.text import printable

if TYPE_CHECKING:
    from conductor.brain.quality import QualityRow


class VersionInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    venture: str
    version: int
    parent: int | None
    author: str
    model: str | None
    tokens: int
    cost: float
    memories: int
    created: str | None
    worked: int
    failed: int
    pinned: bool = False
    reverted_from: int | None = None


class VersionRecord(VersionInfo):
    memory_ids: list[int]
    document: dict[str, Any]

    def brain(self) -> BrainDocument:
        return parse_document(self.document)


class SynthesisFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: int
    at: str | None
    reason: str
    model: str | None


def venture_names(conn: sqlite3.Connection) -> dict[str, str]:
    names = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM ventures")}
    names[PLATFORM] = "Platform"
    return names


def check_venture(conn: sqlite3.Connection, venture: str) -> str:
    """The venture id (or 'platform'), or a one-line error naming the ones there are."""
    known = [r[0] for r in conn.execute("SELECT id FROM ventures ORDER BY id")]
    if venture == PLATFORM or venture in known:
        return venture
    lowered = {name.lower(): vid for vid, name in venture_names(conn).items()}
    if venture.lower() in lowered:
        return lowered[venture.lower()]
    raise NotFound(f"venture '{venture}': no such venture (known: {', '.join([*known, PLATFORM]) or 'none'})")


def _pinned(conn: sqlite3.Connection, venture: str) -> int | None:
    row = conn.execute("SELECT version FROM brain_pins WHERE venture = ?", (venture,)).fetchone()
    return int(row[0]) if row else None


_SELECT = (
    "SELECT b.venture, b.version, b.parent, b.author, b.model, b.tokens, b.cost, b.memory_ids, b.document, b.created, "
    "json_extract(e.payload, '$.reverted_from') FROM brain_versions b LEFT JOIN events e ON e.id = b.event_id "
)


def _record(row: sqlite3.Row | tuple, pinned: int | None) -> VersionRecord:
    document = json.loads(row[8])
    memory_ids = json.loads(row[7] or "[]")
    return VersionRecord(
        venture=row[0], version=row[1], parent=row[2], author=row[3], model=row[4], tokens=row[5], cost=row[6],
        memories=len(memory_ids), created=row[9], worked=len(document.get("worked") or []),
        failed=len(document.get("failed") or []), pinned=pinned == row[1], reverted_from=row[10],
        memory_ids=memory_ids, document=document,
    )


def versions(conn: sqlite3.Connection, venture: str) -> list[VersionInfo]:
    """Every version of one venture's brain, oldest first."""
    venture = check_venture(conn, venture)
    pinned = _pinned(conn, venture)
    rows = conn.execute(_SELECT + "WHERE b.venture = ? ORDER BY b.version", (venture,)).fetchall()
    return [VersionInfo(**_record(r, pinned).model_dump(exclude={"memory_ids", "document"})) for r in rows]


def version(conn: sqlite3.Connection, venture: str, number: int | None = None) -> VersionRecord:
    """One version (the newest when `number` is None)."""
    venture = check_venture(conn, venture)
    if number is None:
        row = conn.execute(_SELECT + "WHERE b.venture = ? ORDER BY b.version DESC LIMIT 1", (venture,)).fetchone()
        if row is None:
            raise BadInput(f"venture '{venture}' has no brain version yet (run the org for a few simulated days)")
    else:
        row = conn.execute(_SELECT + "WHERE b.venture = ? AND b.version = ?", (venture, number)).fetchone()
        if row is None:
            last = conn.execute("SELECT max(version) FROM brain_versions WHERE venture = ?", (venture,)).fetchone()[0]
            have = f"versions 1..{last}" if last else "no versions yet"
            raise NotFound(f"venture '{venture}': no brain version {number} ({have}; see `conductor brain log {venture}`)")
    return _record(row, _pinned(conn, venture))


def failures(conn: sqlite3.Connection, venture: str, limit: int = 20) -> list[SynthesisFailure]:
    """The newest syntheses that kept the previous version, and why."""
    venture = check_venture(conn, venture)
    where = "venture IS NULL AND json_extract(payload, '$.for') = 'platform'" if venture == PLATFORM else "venture = ?"
    params: tuple = () if venture == PLATFORM else (venture,)
    rows = conn.execute(
        f"SELECT id, sim_time, payload FROM events WHERE kind = 'brain.synthesis_failed' AND {where} "
        "ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
    out = []
    for r in rows:
        p = json.loads(r[2])
        out.append(SynthesisFailure(event_id=r[0], at=r[1], reason=printable(p.get("reason", ""), one_line=True),
                                    model=p.get("model")))
    return out


# -- the founder's writes ------------------------------------------------------------------------------------


def _write(conn: sqlite3.Connection, kind: str, payload: dict[str, Any], venture: str) -> StoredEvent:
    row = conn.execute("SELECT max(sim_time) FROM events WHERE sim_time IS NOT NULL").fetchone()
    event = NewEvent(kind, {**payload, "by": "founder"}, venture=None if venture == PLATFORM else venture,
                     sim_time=row[0] if row else None)
    try:
        return commit_events(conn, [event])[0]
    except sqlite3.IntegrityError:
        raise ConductorError(f"venture '{venture}': the running scheduler wrote a brain version at the same moment; "
                             "run the command again") from None


def _checked(conn: sqlite3.Connection, venture: str, document: BrainDocument) -> tuple[BrainDocument, int]:
    facts = load_facts(conn, document.decision_ids())
    versions_ = {r[0]: r[1] for r in conn.execute("SELECT venture, max(version) FROM brain_versions GROUP BY venture")}
    checked = validate_document(document, facts, venture=None if venture == PLATFORM else venture, previous=None,
                                versions=versions_)
    return checked.document, checked.dropped_evidence


def write_version(conn: sqlite3.Connection, venture: str, document: BrainDocument, *,
                  reverted_from: int | None = None) -> tuple[StoredEvent, int]:
    """A new version written by the founder; returns its event and how many evidence items were dropped.

    A revert copies the older document exactly; anything else has its evidence checked first.
    """
    venture = check_venture(conn, venture)
    latest = conn.execute("SELECT max(version) FROM brain_versions WHERE venture = ?", (venture,)).fetchone()[0]
    dropped = 0
    if reverted_from is None:
        document, dropped = _checked(conn, venture, document)
    payload: dict[str, Any] = {
        "version": (latest or 0) + 1, "parent": latest, "author": "founder", "model": None, "tokens": 0,
        "cost": 0.0, "memory_ids": [], "document": document.to_payload(), "dropped_evidence": dropped,
    }
    if reverted_from is not None:
        payload["reverted_from"] = reverted_from
    return _write(conn, "brain.version", payload, venture), dropped


def edit_version(conn: sqlite3.Connection, venture: str, text: str) -> tuple[StoredEvent | None, int]:
    """The founder's edit of the canonical markdown: a new version, or None when nothing changed."""
    venture = check_venture(conn, venture)
    try:
        edited = parse_markdown(text)
    except DocumentError as exc:
        raise BadInput(f"the edited brain: {exc}") from None
    latest_row = conn.execute("SELECT max(version) FROM brain_versions WHERE venture = ?", (venture,)).fetchone()[0]
    if latest_row is not None:
        current = version(conn, venture, latest_row).brain()
        # A section the text does not name is kept as the newest version has it: a file with only a Strategy
        # replaces the strategy, not the lessons learned (write a heading with (none) under it to empty one).
        untouched = {heading.lower() for heading in lost_headings(render_markdown(current), text)}
        if untouched:
            edited = edited.model_copy(update={name: getattr(current, name) for name, heading in SECTIONS
                                               if heading.lower() in untouched})
        if render_markdown(edited) == render_markdown(current):
            return None, 0
        # The editor shows no provenance lines; keep what a lesson had when the founder left it alone.
        old = {lesson.key: lesson for _, lesson in current.lessons()}
        fixed = {}
        for name in ("worked", "failed"):
            fixed[name] = tuple(
                lesson.model_copy(update={"provenance": old[lesson.key].provenance})
                if lesson.key in old and not lesson.provenance else lesson
                for lesson in getattr(edited, name))
        edited = edited.model_copy(update=fixed)
    return write_version(conn, venture, edited)


def pin(conn: sqlite3.Connection, venture: str, number: int | None = None) -> StoredEvent:
    """Pin a version (the newest by default): it stays in force and synthesis pauses for this venture."""
    record = version(conn, venture, number)
    return _write(conn, "brain.pinned", {"version": record.version}, record.venture)


def unpin(conn: sqlite3.Connection, venture: str) -> StoredEvent:
    venture = check_venture(conn, venture)
    if _pinned(conn, venture) is None:
        raise BadInput(f"venture '{venture}': its brain is not pinned")
    return _write(conn, "brain.unpinned", {}, venture)


def revert(conn: sqlite3.Connection, venture: str, to: int) -> StoredEvent:
    """A new version whose document equals version `to`: history only ever grows."""
    record = version(conn, venture, to)
    event, _ = write_version(conn, record.venture, record.brain(), reverted_from=record.version)
    return event


def quality(conn: sqlite3.Connection, venture: str | None = None) -> list[QualityRow]:
    """`conductor brain quality`: decision quality per venture and version in force, with the control comparison."""
    from conductor.brain.quality import decision_quality, load_decision_rows

    return decision_quality(load_decision_rows(conn, venture))
