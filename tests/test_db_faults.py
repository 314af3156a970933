"""Database faults: a write lock held by another process, a read-only file, a full disk.

Each fault gets a clear one-line error (never a traceback), leaves the file intact (`PRAGMA integrity_check`,
projections equal to a rebuild from the events), and once it clears the run resumes where it stopped.

The full disk is a real one when the tests may mount a small tmpfs (root on Linux); otherwise the run gets a
file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored), which SQLite sees as the same "disk is full" error.
The read-only file is a read-only tmpfs mount under root (root ignores file modes), else a chmod.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import conductor.store.database as database
import conductor.store.writer as writer
from conductor.cli.main import app
from conductor.org import load_org
from conductor.store.events import iso
from conductor.store.rebuild import projection_differences

REPO = Path(__file__).resolve().parent.parent
DUO = REPO / "tests" / "orgs" / "duo.toml"
STUDIO = REPO / "src" / "conductor" / "examples" / "studio.toml"
HOLD = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); " \
       "print('locked', flush=True); sys.stdin.readline(); c.execute('ROLLBACK')"


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert all(w in lines[0] for w in words), lines[0]


def intact(db: Path) -> int:
    """Integrity ok and projections equal a rebuild; returns the number of events."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.row_factory = sqlite3.Row
        assert projection_differences(conn) == []
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def resumed_runs(db: Path) -> list[bool]:
    conn = sqlite3.connect(db)
    try:
        return [json.loads(r[0])["resumed"] for r in conn.execute("SELECT payload FROM events "
                                                                  "WHERE kind = 'run.started' ORDER BY id")]
    finally:
        conn.close()


@contextlib.contextmanager
def write_lock(db: Path, *, release_after: float | None = None) -> Iterator[subprocess.Popen]:
    """Another process holds the database's write lock until the block ends (or `release_after` seconds)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "locked"

    def release() -> None:
        if proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, ValueError):
                proc.stdin.write("\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            proc.wait(timeout=10)

    timer = threading.Timer(release_after, release) if release_after is not None else None
    if timer is not None:
        timer.start()
    try:
        yield proc
    finally:
        if timer is not None:
            timer.cancel()
        release()


@pytest.fixture
def duo_db(tmp_path: Path) -> Path:
    db = tmp_path / "c.db"
    code, _, err = cli("run", str(DUO), "--db", str(db), "--days", "1")
    assert code == 0, err
    return db


# -- a locked database -----------------------------------------------------------------------------------------
def test_a_brief_lock_is_waited_out(duo_db: Path) -> None:
    before = intact(duo_db)
    with write_lock(duo_db, release_after=1.0):
        started = time.monotonic()
        code, _, err = cli("metric", "record", "duo", "revenue", "125", "--db", str(duo_db))
        waited = time.monotonic() - started
    assert code == 0, err
    assert waited >= 0.8, "the command went through while another process held the write lock"
    with write_lock(duo_db, release_after=1.0):
        code, _, err = cli("run", str(DUO), "--db", str(duo_db), "--days", "2")
    assert code == 0, err
    assert intact(duo_db) > before + 1 and resumed_runs(duo_db) == [False, True]


def test_a_lock_that_persists_is_a_clear_error_and_the_run_resumes_after(
    duo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (database, writer):  # wait 0.3 s instead of 10 s, so the test is quick
        monkeypatch.setattr(module, "BUSY_TIMEOUT_MS", 300, raising=False)
    before = intact(duo_db)
    with write_lock(duo_db):
        code, _, err = cli("run", str(DUO), "--db", str(duo_db), "--days", "2")
        assert code == 1
        one_error_line(err, str(duo_db), "locked by another process")
        code, _, err = cli("metric", "record", "duo", "revenue", "125", "--db", str(duo_db))
        assert code == 1
        one_error_line(err, str(duo_db), "locked by another process")
    assert intact(duo_db) == before, "nothing was written while the lock was held"
    code, _, err = cli("run", str(DUO), "--db", str(duo_db), "--days", "2")
    assert code == 0, err
    assert intact(duo_db) > before and resumed_runs(duo_db) == [False, True]


# -- read-only and full: a small tmpfs when we may mount one ------------------------------------------------------
def can_mount() -> bool:
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/conductor-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    return ok


MOUNT = can_mount() and not os.environ.get("CONDUCTOR_TEST_NO_MOUNT")  # force the fallback


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@contextlib.contextmanager
def read_only(db: Path, tmp_path: Path) -> Iterator[Path]:
    """`db` copied where it cannot be written (a read-only mount, or a chmod when not root); yields the copy."""
    if MOUNT:
        with tmpfs(tmp_path / "ro", "16m") as mount:
            target = mount / db.name
            shutil.copyfile(db, target)
            remount(mount, "ro")
            try:
                yield target
            finally:
                remount(mount, "rw")
        return
    if os.geteuid() == 0:
        pytest.skip("running as root without permission to mount: a read-only file cannot be simulated")
    target = tmp_path / "ro" / db.name
    target.parent.mkdir()
    shutil.copyfile(db, target)
    target.chmod(0o444)
    try:
        yield target
    finally:
        target.chmod(0o644)


def test_a_read_only_database_is_refused_untouched_and_resumes_once_writable(duo_db: Path, tmp_path: Path) -> None:
    before = intact(duo_db)
    with read_only(duo_db, tmp_path) as ro:
        original = ro.read_bytes()
        code, _, err = cli("run", str(DUO), "--db", str(ro), "--days", "2")
        assert code == 1
        one_error_line(err, str(ro), "read-only")
        code, _, err = cli("inbox", "list", "--db", str(ro))
        if code != 0:  # a WAL file on read-only media cannot even be read by SQLite: still one clear line
            one_error_line(err, str(ro), "cannot open")
        assert ro.read_bytes() == original
        writable = tmp_path / "writable.db"
        shutil.copyfile(ro, writable)
    code, _, err = cli("run", str(DUO), "--db", str(writable), "--days", "2")
    assert code == 0, err
    assert intact(writable) > before and resumed_runs(writable) == [False, True]


def run_until_full(org: Path, db: Path, days: int, *, fsize: int | None) -> subprocess.CompletedProcess:
    def limit() -> None:  # runs in the child before exec
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    return subprocess.run([sys.executable, "-m", "conductor", "run", str(org), "--db", str(db), "--days", str(days)],
                          capture_output=True, text=True, timeout=240, cwd=REPO, env=env, preexec_fn=limit)


def test_a_full_disk_stops_the_run_with_one_line_and_it_resumes_once_space_is_freed(tmp_path: Path) -> None:
    days = 12
    with contextlib.ExitStack() as stack:
        if MOUNT:
            where = stack.enter_context(tmpfs(tmp_path / "small", "3m"))
            fsize = None
        else:
            where, fsize = tmp_path, 2_500_000
        db = where / "c.db"
        full = run_until_full(STUDIO, db, days, fsize=fsize)
        assert full.returncode == 1, f"the run did not hit the limit: {full.stderr[-500:]}"
        one_error_line(full.stderr, str(db), "disk is full")
        written = intact(db)
        assert written > 100
        if MOUNT:
            remount(where, "size=256m")  # space is freed
        resumed = run_until_full(STUDIO, db, days, fsize=None)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert intact(db) > written
        conn = sqlite3.connect(db)
        try:
            last = conn.execute("SELECT max(sim_time) FROM events").fetchone()[0]
            stopped = json.loads(conn.execute("SELECT payload FROM events WHERE kind = 'run.stopped' "
                                              "ORDER BY id DESC LIMIT 1").fetchone()[0])
        finally:
            conn.close()
        assert resumed_runs(db)[-1] is True
        assert stopped["reason"].startswith("finished")
        assert last >= iso(load_org(STUDIO).start + timedelta(days=days - 1))


# -- read commands never write; a damaged file is refused before anything is appended -----------------------------
READS = [
    ["status"], ["agents"], ["metrics"], ["spend"], ["events"], ["inbox", "list"], ["inbox", "show", "1"],
    ["brain", "log", "duo"], ["brain", "show", "duo"], ["brain", "diff", "duo", "1", "2"], ["brain", "quality"],
    ["directive", "list"], ["export", "--out", "{tmp}/export"], ["attach"],
]
WRITES = [
    ["pause"], ["resume", "duo"], ["wake", "duo-lead"], ["metric", "record", "duo", "revenue", "1"],
    ["directive", "add", "duo", "ship it"], ["inbox", "approve", "1"], ["brain", "pin", "duo"],
]
SIDECARS = ("-wal", "-shm", "-journal", ".run.lock")


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real database after a one-day run of the duo, its WAL checkpointed into the file."""
    db = tmp_path_factory.mktemp("real") / "c.db"
    code, _, err = cli("run", str(DUO), "--db", str(db), "--days", "1")
    assert code == 0, err
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db.read_bytes()


def damaged(data: bytes) -> bytes:
    """Pages in the middle of a real database overwritten with junk, as a failing disk or a stray write leaves it."""
    page = int.from_bytes(data[16:18], "big") or 65536
    pages = len(data) // page
    out = bytearray(data)
    for number in range(pages // 3, pages // 3 + 3):
        out[number * page:(number + 1) * page] = b"\x5a" * page
    return bytes(out)


def bad_file(kind: str, real: bytes, where: Path) -> Path:
    db = where / f"{kind}.db"
    db.write_bytes({"empty": b"", "text": b"name,revenue\nduo,125\n" * 20, "damaged": damaged(real)}[kind])
    return db


def assert_untouched(db: Path, before: bytes) -> None:
    assert db.read_bytes() == before, "the command changed the file"
    made = [s for s in SIDECARS if db.with_name(db.name + s).exists()]
    assert not made, f"the command created {made}"


@pytest.mark.parametrize("kind", ["empty", "text", "damaged"])
@pytest.mark.parametrize("argv", READS + WRITES, ids=lambda a: " ".join(a[:2]))
def test_a_command_on_an_unusable_file_changes_no_byte_and_names_it(argv: list[str], kind: str, real_db: bytes,
                                                                    tmp_path: Path) -> None:
    db = bad_file(kind, real_db, tmp_path)
    before = db.read_bytes()
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = cli(*args, "--db", str(db))
    assert code != 0
    one_error_line(err, str(db))
    assert_untouched(db, before)


@pytest.mark.parametrize("kind", ["empty", "text", "damaged"])
def test_doctor_on_an_unusable_file_fails_and_changes_no_byte(kind: str, real_db: bytes, tmp_path: Path) -> None:
    db = bad_file(kind, real_db, tmp_path)
    before = db.read_bytes()
    code, out, _ = cli("doctor", "--db", str(db), "--org", str(DUO), "--json")
    assert code == 1
    assert any(c["status"] == "fail" for c in json.loads(out))
    assert_untouched(db, before)


def test_run_on_a_damaged_database_writes_nothing(real_db: bytes, tmp_path: Path) -> None:
    db = bad_file("damaged", real_db, tmp_path)
    before = db.read_bytes()
    code, _, err = cli("run", str(DUO), "--db", str(db), "--days", "3")
    assert code == 1
    one_error_line(err, str(db), "damaged")
    assert_untouched(db, before)


def test_run_still_makes_a_database_of_an_empty_file_and_reads_then_work(tmp_path: Path) -> None:
    """Only the commands that must create do: `run` (and init, demo) on an empty file makes it a database."""
    db = tmp_path / "c.db"
    db.touch()
    code, _, err = cli("run", str(DUO), "--db", str(db), "--days", "1")
    assert code == 0, err
    assert intact(db) > 0
    code, _, err = cli("status", "--db", str(db))
    assert code == 0, err


@pytest.mark.parametrize("argv", [["wake", "nobody"], ["pause", "nobody"], ["inbox", "show", "999"],
                                  ["inbox", "approve", "999"], ["brain", "log", "nowhere"],
                                  ["directive", "add", "nowhere", "x"], ["brain", "show", "duo", "999"],
                                  ["metrics", "nowhere"], ["agents", "--venture", "nowhere"]],
                         ids=lambda a: " ".join(a[:2]))
def test_an_unknown_id_names_the_database_it_was_looked_for_in(argv: list[str], real_db: bytes, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(real_db)
    code, _, err = cli(*argv, "--db", str(db))
    assert code == 2
    one_error_line(err, argv[-1] if argv[-1] != "x" else argv[-2], f"(in {db})")


def test_a_file_damaged_after_this_process_checked_it_is_checked_again(real_db: bytes, tmp_path: Path) -> None:
    """`conductor run` opens its database twice and checks it once; a file written to in between (here, damaged
    by another program) is checked again and refused."""
    from conductor.store import open_database
    from conductor.store.database import StoreError

    db = tmp_path / "c.db"
    db.write_bytes(real_db)
    open_database(db).close()
    for sidecar in SIDECARS:
        db.with_name(db.name + sidecar).unlink(missing_ok=True)
    db.write_bytes(damaged(db.read_bytes()))
    with pytest.raises(StoreError, match="damaged"):
        open_database(db)


def test_a_run_that_closed_cleanly_spares_the_next_open_the_full_check_but_not_a_later_damage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads every page (it grows with the log), so a run notes the file as it closed it, and the next
    open skips the check while the file is exactly that. Any later write moves the file's identity: checked again."""
    from conductor.store import database, open_reader
    from conductor.store.database import StoreError

    db = tmp_path / "c.db"
    code, _, err = cli("run", str(DUO), "--db", str(db), "--days", "1")
    assert code == 0, err
    assert db.with_name(db.name + database.CLOSED_CLEAN).exists()
    checks: list[Path] = []
    real_check = database._quick_check
    monkeypatch.setattr(database, "_quick_check", lambda path, conn: (checks.append(path), real_check(path, conn)))
    database._checked.clear()  # forget what this process checked: as a new process would
    open_reader(db).close()
    assert checks == []
    pending = sqlite3.connect(db)  # a write left in the WAL (another connection still open): checked
    pending.execute("INSERT INTO meta(key, value) VALUES ('test.pending', '1')")
    pending.commit()
    open_reader(db).close()
    assert checks == [db]
    pending.close()
    for sidecar in SIDECARS:
        db.with_name(db.name + sidecar).unlink(missing_ok=True)
    db.write_bytes(damaged(db.read_bytes()))
    with pytest.raises(StoreError, match="damaged"):
        open_reader(db)
    assert checks == [db, db]
