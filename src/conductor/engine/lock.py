"""One scheduler per database: an exclusive lock on a file beside it, released by the OS if the process dies.

A second `conductor run` on the same database refuses with the first one's pid instead of double-running
agents. flock is tied to the open file, so a SIGKILLed run leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from conductor.errors import ConductorError


class RunLocked(ConductorError):
    """Another scheduler is running on this database."""


class RunLock:
    def __init__(self, db: Path) -> None:
        self.path = db.with_name(db.name + ".run.lock")
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
