"""One scheduler per database: an exclusive lock on a file beside it, released by the OS if the process dies.

A second `conductor run` on the same database refuses with the first one's pid instead of double-running
agents. flock is tied to the open file, so a SIGKILLed run leaves no stale lock behind.

The lock belongs to the database file, so it lives with the store: the CLI takes it around a run, and
`services.queries` asks `lock_held` whether a scheduler is running (the lock is the truth, not the log).
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


def lock_held(lock: Path) -> bool | None:
    """Whether some process holds an exclusive flock on the file: /proc/locks where it exists, else a probe.

    None when it cannot be told (the file cannot be opened for the probe).
    """
    try:
        inode = lock.stat().st_ino
    except OSError:
        return False
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                # "1: FLOCK  ADVISORY  WRITE 18582 fe:00:2228657 0 EOF"; blocked waiters read "1: -> FLOCK ..."
                if (len(parts) >= 6 and parts[1] == "FLOCK" and parts[3] == "WRITE"
                        and parts[5].rsplit(":", 1)[-1] == str(inode)):
                    return True
        return False
    except OSError:
        pass
    # No /proc (macOS): a shared, non-blocking probe that is released at once.
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing the descriptor drops a probe lock we may have taken
    return False


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
