"""One scheduler per database: an exclusive lock on a file beside it, released by the OS if the process dies.

A second `conductor run` on the same database refuses with the first one's pid instead of double-running
agents. flock is tied to the open file, so a SIGKILLed run leaves no stale lock behind.

The lock belongs to the database file, so it lives with the store: the CLI takes it around a run, and
`services.queries` asks `lock_held` whether a scheduler is running (the lock is the truth, not the log).

The founder's seat works the same way the other way round: a control room attached from another process holds
a shared lock on a second file beside the database, and the scheduler asks whether anyone holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from conductor.errors import ConductorError


class RunLocked(ConductorError):
    """Another scheduler is running on this database."""


def lock_path(db_path: Path) -> Path:
    """The lock file beside a database."""
    return db_path.with_name(db_path.name + ".run.lock")


def lock_held(lock: Path, *, shared: bool = False) -> bool | None:
    """Whether some process holds an exclusive flock on the file (or, with `shared`, any flock at all):
    /proc/locks where it exists, else a probe.

    None when it cannot be told (the file cannot be opened for the probe).
    """
    try:
        inode = lock.stat().st_ino
    except OSError:
        return False
    modes = ("WRITE", "READ") if shared else ("WRITE",)
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                # "1: FLOCK  ADVISORY  WRITE 18582 fe:00:2228657 0 EOF"; blocked waiters read "1: -> FLOCK ..."
                if (len(parts) >= 6 and parts[1] == "FLOCK" and parts[3] in modes
                        and parts[5].rsplit(":", 1)[-1] == str(inode)):
                    return True
        return False
    except OSError:
        pass
    # No /proc (macOS): a non-blocking probe that is released at once. An exclusive probe is refused by any
    # holder; a shared one only by an exclusive holder.
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if shared else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing the descriptor drops a probe lock we may have taken
    return False


def founder_seat_path(db_path: Path) -> Path:
    """The file a control room attached to a run in another process holds a shared lock on."""
    return db_path.with_name(db_path.name + ".founder")


def founder_attached(db_path: Path) -> bool:
    """Whether a control room in another process is open on this database (`FounderSeat`).

    Asked by the scheduler before it lets simulated time run on: a stat when nobody ever attached, so a headless
    run pays nothing for it.
    """
    seat = founder_seat_path(db_path)
    return seat.exists() and bool(lock_held(seat, shared=True))


class FounderSeat:
    """Held by `conductor attach` for as long as its window is open: tells the scheduler in the other process that
    a founder is at the keyboard, so simulated time waits for their verdicts as it does in `conductor tui`.

    A shared flock, so several rooms may attach at once; the OS drops it when the room's process ends, however it
    ends, so a crashed room never leaves the clock holding for nobody.
    """

    def __init__(self, db: Path) -> None:
        self.path = founder_seat_path(db)
        self._fd: int | None = None

    def __enter__(self) -> FounderSeat:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
            # Blocking: the only exclusive holder is another process's momentary probe.
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:
            # A read-only directory: the room still opens; the clock simply does not wait for it.
            return self
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


class RunLock:
    def __init__(self, db: Path) -> None:
        self.path = lock_path(db)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConductorError(f"{self.path}: cannot create the run lock ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(
                f"{self.path.with_suffix('').with_suffix('')}: another conductor run (pid {holder}) is already "
                "running on this database; stop it first, or use `conductor attach` to watch it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
