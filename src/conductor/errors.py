"""Errors a person can act on.

Every failure that reaches the command line is one of these: a single line that says where (file, key path,
id) and why, and the exit code the CLI uses for it. Tracebacks are for bugs, never for bad input.
"""

from __future__ import annotations


class ConductorError(Exception):
    """An operational failure (exit code 1): the input was fine but something around it was not."""

    exit_code = 1

    def lines(self) -> list[str]:
        """The one-line messages to print, one per problem."""
        return [str(self)]


class BadInput(ConductorError):
    """The user gave us something we cannot accept (exit code 2): a bad file, id, value or argument."""

    exit_code = 2


class NotFound(BadInput):
    """An id the database does not hold (agent, venture, escalation, event, brain version): exit code 2.

    The usual cause is the wrong database, so the command line adds which file it looked in.
    """
