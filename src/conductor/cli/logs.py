"""The run's log: a rotating text file beside the database, for reading after a night nobody watched.

The engine's modules log through `logging.getLogger(__name__)` and configure nothing (the package adds only a
`NullHandler`). Here, at the command line's edge, the commands that run or watch the engine (`run`, `demo`,
`tui`, `attach`, bare `conductor`) attach one file handler to the `conductor` logger for as long as they run,
and remove it after, so a command run in-process (a test's CliRunner) leaves no handler behind. Read commands
never come here, so they never create the file.

The file is `<database>.log` (`conductor.db.log`), beside SQLite's own `-wal` and `-shm`: one log per database,
found from the database's name alone (`conductor doctor` names it). Every line passes `redaction.redact` in the
formatter, the last step before the file, so no logger anywhere can write a credential; messages are made one
line so a model's words cannot forge a line. A log that cannot be written (a full disk, a read-only folder)
is dropped silently: it must neither stop the run nor print over the control room.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from conductor.redaction import redact
from conductor.text import printable

LOGGER = "conductor"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3  # conductor.db.log.1 ... .3: 20 MB at most
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

logger = logging.getLogger(__name__)


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


LogLevelOption = Annotated[
    LogLevel,
    typer.Option("--log-level", envvar="CONDUCTOR_LOG_LEVEL", case_sensitive=False,
                 help="What the log beside the database (<db>.log) keeps: DEBUG, INFO, WARNING or ERROR."),
]


def env_level() -> str:
    """The level CONDUCTOR_LOG_LEVEL asks for, where no --log-level option is offered (bare `conductor`)."""
    import os

    wanted = os.environ.get("CONDUCTOR_LOG_LEVEL", "").strip().upper()
    return wanted if wanted in LogLevel.__members__ else LogLevel.INFO.value


def log_path(db: Path) -> Path:
    """Where the log of `db` is: beside it, named after it (`conductor.db` -> `conductor.db.log`)."""
    return db.with_name(db.name + ".log")


class RedactingFormatter(logging.Formatter):
    """UTC times, one-line messages, and every credential removed from the whole line, traceback included."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message, one_line=True)
        return super().formatMessage(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def rotating_file(path: Path) -> logging.Handler:
    """A rotating file that never reports its own write errors (Python's default prints a traceback to stderr,
    which would land on the control room's screen and break the one-line errors of a full disk), not even when
    it is closed with a line still buffered.

    `logging.handlers` is imported here, not with this module: every command imports this module for its
    `--log-level` option, and only the ones that log need the handler.
    """
    from logging.handlers import RotatingFileHandler

    class QuietRotatingFileHandler(RotatingFileHandler):
        def handleError(self, record: logging.LogRecord) -> None:
            return None

        # `flush()` and `close()` write the last buffered line outside `emit`, where `handleError` never sees
        # it: on a full disk that line would end the command with a traceback instead of its one-line error.
        def flush(self) -> None:
            with contextlib.suppress(OSError):
                super().flush()

        def close(self) -> None:
            with contextlib.suppress(OSError):
                super().close()

    return QuietRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)


@contextmanager
def file_logging(db: Path, level: LogLevel | str = LogLevel.INFO) -> Iterator[Path]:
    """Log to `db`'s log file at `level` while the block runs; an error ending the block is its last line.

    The file is opened at the first line (`delay`), so a command that logs nothing creates nothing.
    """
    name = level.value if isinstance(level, LogLevel) else str(level).upper()
    path = log_path(db)
    handler = rotating_file(path)
    handler.setFormatter(RedactingFormatter())
    handler.setLevel(name)
    root = logging.getLogger(LOGGER)
    previous = root.level
    root.addHandler(handler)
    root.setLevel(name)
    try:
        yield path
    except KeyboardInterrupt:
        logger.warning("interrupted")
        raise
    except Exception as exc:
        logger.error("stopped on an error: %s", _one_line(exc))
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def _one_line(exc: BaseException) -> str:
    lines = getattr(exc, "lines", None)
    if callable(lines):  # a ConductorError: what the command printed
        return "; ".join(lines())
    return f"{type(exc).__name__}: {exc}"


def last_error(path: Path, *, tail_bytes: int = 256 * 1024) -> str | None:
    """The last ERROR line of a log file (read from its end only), or None."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - tail_bytes))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    errors = [line for line in text.splitlines() if line.split(" ", 2)[1:2] == ["ERROR"]]  # the level field only
    return errors[-1] if errors else None
