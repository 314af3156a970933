"""Opening the one SQLite file safely.

A file that is not ours (not SQLite, another application's database, or one written by a newer conductor)
is recognised from its header bytes and a read-only look before anything writes to it, so it is left
byte-identical. The same look runs `PRAGMA quick_check`, so a damaged file is refused before anything is
appended to it. Our own files are put in WAL mode and migrated forward inside one transaction.

Only `open_database(create=True)` (init, run, demo, the control room with an org) may turn an empty file
into a database; readers never create, never migrate and never switch the journal mode.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from conductor.errors import BadInput, ConductorError
from conductor.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB = "conductor.db"
BUSY_TIMEOUT_MS = 10_000
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(ConductorError):
    """The database cannot be used right now (locked, read-only, full, damaged): exit code 1."""


class ForeignDatabase(BadInput):
    """The file is not a conductor database, or is one from a newer conductor: exit code 2, file untouched."""


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    """`--db` wins, then `CONDUCTOR_DB`, then `./conductor.db`."""
    return Path(db or os.environ.get("CONDUCTOR_DB") or DEFAULT_DB)


def _header_check(path: Path) -> None:
    """Reject a foreign file from its first 100 bytes, without opening it with SQLite at all."""
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except PermissionError:
        raise StoreError(f"{path}: permission denied (cannot read the database)") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a database file") from None
    if not header:
        return  # An empty file is an empty SQLite database: we may make it ours.
    if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
        raise ForeignDatabase(f"{path}: not a SQLite database; left untouched (choose another --db)")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id not in (0, APPLICATION_ID):
        raise ForeignDatabase(
            f"{path}: a SQLite database of another application (application_id {app_id:#x}); left untouched"
        )


def _friendly(path: Path, exc: sqlite3.Error) -> ConductorError:
    """Turn SQLite's terse messages into a line that says what to do."""
    text = str(exc)
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"{path}: the database or its directory is read-only; choose a writable --db")
    if "unable to open" in lowered:
        return StoreError(f"{path}: cannot open the database file (does the directory exist and is it writable?)")
    if "locked" in lowered or "busy" in lowered:
        return StoreError(
            f"{path}: the database is locked by another process (waited {BUSY_TIMEOUT_MS // 1000} s); try again"
        )
    if "disk is full" in lowered or "disk i/o" in lowered:
        return StoreError(f"{path}: the disk is full or failing ({text}); free space and run again")
    if "malformed" in lowered or "not a database" in lowered:
        return StoreError(f"{path}: the database file is damaged ({text}); restore it from a backup")
    return StoreError(f"{path}: database error: {text}")


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _stamp(path: Path) -> tuple[int, int, bool]:
    """What changes when another process writes: the file's size and mtime, and whether a WAL file exists."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns, _sidecar(path, "-wal").exists()


def inspection_connection(path: Path) -> sqlite3.Connection:
    """A read-only connection for looking at a file that may be damaged or not ours (`conductor doctor`).

    When no -wal file exists nobody has the database open for writing, and it is opened `immutable`, which
    creates no -wal/-shm files either: looking leaves the directory exactly as it was.
    """
    flag = "mode=ro" if _sidecar(path, "-wal").exists() else "immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?{flag}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)


def _inspect(path: Path, *, immutable: bool) -> tuple[int, int, bool]:
    """(application_id, user_version, has_tables) through a read-only connection, after a `quick_check`.

    `immutable` opens the file without its -wal/-shm files, so looking at a file nobody has open (no -wal
    file) creates none: a damaged or foreign file is left exactly as it was, sidecars included.
    """
    flag = "immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{flag}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        if (app_id == APPLICATION_ID or not has_tables) and not _checked_unchanged(path):
            _quick_check(path, conn)  # never read a whole file that is not ours
            _checked[str(path.resolve())] = _identity(path)
        return app_id, version, has_tables
    finally:
        conn.close()


# Files this process has checked, with their identity then (`_identity`). `conductor run` opens its database twice
# (the command, then the run's writer), and a check reads the whole file: half a second at a million events.
_checked: dict[str, tuple[int, int, int]] = {}


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _checked_unchanged(path: Path) -> bool:
    """Checked by this process, or closed cleanly by a run that checked it, and the file not written to since
    (a write, or a replacement, moves its size or mtime or inode; in WAL mode only a checkpoint writes the file
    itself, and a -wal file beside it means writes that are not in the file yet)."""
    identity = _identity(path)
    if _checked.get(str(path.resolve())) == identity:
        return True
    return not _pending_wal(path) and _closed_clean(path) == identity


def _pending_wal(path: Path) -> bool:
    """A -wal file with frames in it: writes not yet in the database file (an empty one, which a read-only
    connection leaves behind, holds none)."""
    try:
        return _sidecar(path, "-wal").stat().st_size > 0
    except OSError:
        return False


# A run that checked the file when it opened it, and closed it last with everything checkpointed, notes the
# file's identity then in this sidecar: the next start finds the file exactly as that run left it and skips
# the check, which reads every page (half a second at a million events, and it grows with the log). A copy,
# a restore, an edit or any later write moves the identity, and the check runs again.
CLOSED_CLEAN = ".closed"


def _closed_clean(path: Path) -> tuple[int, int, int] | None:
    try:
        fields = _sidecar(path, CLOSED_CLEAN).read_text(encoding="ascii").split()
        return int(fields[0]), int(fields[1]), int(fields[2])
    except (OSError, ValueError, IndexError):
        return None


def note_clean_close(db: str | os.PathLike[str]) -> bool:
    """After a run that opened (and so checked) `db` has closed its last connection: note the file as it is now,
    so the next open need not read it all again. Nothing is noted while the -wal file beside it holds frames
    (another connection is open, or the last close could not checkpoint). True if noted."""
    path = Path(db)
    if _pending_wal(path) or not path.exists():
        return False
    record = _sidecar(path, CLOSED_CLEAN)
    partial = _sidecar(path, CLOSED_CLEAN + ".tmp")
    try:
        partial.write_text("{} {} {}\n".format(*_identity(path)), encoding="ascii")
        os.replace(partial, record)
    except OSError:
        return False
    return True


def _quick_check(path: Path, conn: sqlite3.Connection) -> None:
    """Refuse a damaged file before anything is appended to it (a write would only bury the damage)."""
    result = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if result != "ok":
        detail = result.replace("*** in database main ***", "").strip()[:120]
        raise StoreError(f"{path}: the database file is damaged ({detail}); restore it from a backup")


def _probe(path: Path) -> tuple[int, int, bool]:
    """`_inspect` without creating sidecar files when none exist, and without mistaking a concurrent write
    for damage: if the file changed (or a WAL appeared) while it was read as immutable, look again normally."""
    before = _stamp(path)
    try:
        return _inspect(path, immutable=not before[2])
    except (sqlite3.DatabaseError, StoreError):
        if before[2] or _stamp(path) == before:
            raise
    return _inspect(path, immutable=False)


def _check_ours(path: Path, app_id: int, version: int, has_tables: bool) -> None:
    if app_id == 0 and has_tables:
        raise ForeignDatabase(f"{path}: a SQLite database that is not conductor's (it has other tables); left untouched")
    if app_id not in (0, APPLICATION_ID):
        raise ForeignDatabase(f"{path}: a SQLite database of another application (application_id {app_id:#x})")
    if version > SCHEMA_VERSION:
        raise ForeignDatabase(
            f"{path}: written by a newer conductor (schema {version}; this one knows up to {SCHEMA_VERSION}); "
            "upgrade conductor to open it"
        )


def _empty(path: Path, what: str = "an empty file") -> BadInput:
    return BadInput(f"{path}: {what}, not a conductor database; left untouched "
                    "(`conductor init` or `conductor run ORG --db FILE` makes one)")


def _check_current(path: Path, version: int, has_tables: bool) -> None:
    """For readers and for commands that never create: the file must already be a conductor database."""
    if version == 0 and not has_tables:
        raise _empty(path, "an empty SQLite database")
    if version < SCHEMA_VERSION:
        raise StoreError(f"{path}: written by an older conductor (schema {version}; this one uses "
                         f"{SCHEMA_VERSION}); a write such as `conductor run` upgrades it; left untouched")


def migrate(conn: sqlite3.Connection, path: Path | str = "<db>") -> int:
    """Apply every migration the file lacks, all in one transaction; returns the schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated while we waited.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, SCHEMA_VERSION):
            for statement in _split_sql(MIGRATIONS[number]):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (`BEGIN ... END;`) whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _durability(conn: sqlite3.Connection) -> str:
    """The org's `[engine] synchronous`, as its last `org.loaded` recorded it ("normal" before any)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'store.synchronous'").fetchone()
    return str(row[0]) if row else "normal"


def open_database(
    db: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """Open (and if needed create and migrate) the conductor database for reading and writing.

    Raises ForeignDatabase (file untouched) or StoreError with a one-line reason; never a raw sqlite3 error.
    """
    path = resolve_db_path(db)
    exists = path.exists()
    if exists:
        _header_check(path)
        if not os.access(path, os.W_OK):
            raise StoreError(f"{path}: the database file is read-only; choose a writable --db")
        if path.stat().st_size > 0:
            try:
                app_id, version, has_tables = _probe(path)
            except sqlite3.Error as exc:
                raise _friendly(path, exc) from None
            _check_ours(path, app_id, version, has_tables)
            if not create and version == 0 and not has_tables:
                raise _empty(path, "an empty SQLite database")
        elif not create:
            raise _empty(path)
    elif not create:
        raise BadInput(f"{path}: no conductor database here (run `conductor init` or `conductor run` first)")
    elif not path.parent.exists():
        raise BadInput(f"{path}: the directory {path.parent} does not exist")
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=check_same_thread
        )
    except sqlite3.Error as exc:
        raise _friendly(path, exc) from None
    try:
        _configure(conn)
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, path)
        if _durability(conn) == "full":  # the org asked for commits that survive a power loss
            conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as exc:
        conn.close()
        raise _friendly(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(db: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """A read-only connection for the UI and CLI: it can never write, so it can never corrupt.

    It never creates, migrates or repairs either: an empty file, an older schema or a damaged file is a
    one-line error and the file (with its -wal/-shm, or their absence) stays byte-identical.
    """
    path = resolve_db_path(db)
    if not path.exists():
        raise BadInput(f"{path}: no conductor database here (run `conductor init` or `conductor run` first)")
    _header_check(path)
    if path.stat().st_size == 0:
        raise _empty(path)
    try:
        app_id, version, has_tables = _probe(path)
        _check_ours(path, app_id, version, has_tables)
        _check_current(path, version, has_tables)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        _configure(conn)
    except sqlite3.Error as exc:
        raise _friendly(path, exc) from None
    return conn


def friendly_error(path: Path, exc: sqlite3.Error) -> ConductorError:
    """SQLite's error as the one line a person can act on (for callers outside the store)."""
    return _friendly(path, exc)
