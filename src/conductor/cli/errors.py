"""One place that turns failures into one line on stderr and the documented exit code.

0 ok, 1 operational error (locked or damaged database, provider down), 2 bad usage or bad input.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from conductor.errors import ConductorError
from conductor.text import printable

P = ParamSpec("P")
R = TypeVar("R")


def fail(lines: list[str], code: int) -> typer.Exit:
    for line in lines:
        # One line each, never wrapped, never styled: scripts grep stderr. Messages quote what was given (an
        # id, a CSV cell): control characters and escapes in it must not break the line or drive the terminal.
        sys.stderr.write(f"error: {printable(line, one_line=True)}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that a ConductorError becomes `error: ...` lines and its exit code, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConductorError as exc:
            raise fail(exc.lines(), exc.exit_code) from None
        except sqlite3.Error as exc:  # anything the store did not already translate: the same friendly line
            from conductor.store import friendly_error, resolve_db_path

            db = kwargs.get("db")  # the command's `--db`: a path, or None (then CONDUCTOR_DB or the default)
            path = resolve_db_path(db if isinstance(db, str | os.PathLike) else None)
            raise fail([str(friendly_error(path, exc))], 1) from None
        except OverflowError:  # an id or count past SQLite's 64-bit integers: no such row can exist
            raise fail(["a number given is out of range (at most 9223372036854775807)"], 2) from None
        except KeyboardInterrupt:
            raise fail(["interrupted"], 130) from None

    return wrapper
