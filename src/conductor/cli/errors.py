"""One place that turns failures into one line on stderr and the documented exit code.

0 ok, 1 operational error (locked or damaged database, provider down), 2 bad usage or bad input.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from conductor.errors import ConductorError

P = ParamSpec("P")
R = TypeVar("R")


def fail(lines: list[str], code: int) -> typer.Exit:
    for line in lines:
        # One line each, never wrapped, never styled: scripts grep stderr.
        sys.stderr.write(f"error: {line}\n")
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
        except sqlite3.Error as exc:  # anything the store did not already translate
            raise fail([f"database error: {exc}"], 1) from None
        except KeyboardInterrupt:
            raise fail(["interrupted"], 130) from None

    return wrapper
