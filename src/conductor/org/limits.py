"""How big an org file may be: explicit limits, checked before the models see the data.

An org file is written by a person, but it may come from anywhere (a pasted gist, a generated file, a file
truncated or filled with junk). Without limits, a deeply nested value exhausts Python's stack inside the TOML
parser, a megabyte-long key is echoed whole in an error line, and `inf` passes as a budget. So:

- the file is at most `MAX_FILE_BYTES`;
- arrays and tables nest at most `MAX_DEPTH` levels (the studio example uses 6);
- a key is at most `MAX_KEY_CHARS` characters, a string value at most `MAX_STRING_CHARS` (names have their
  own, smaller limit on the models);
- numbers are finite (no `inf`, no `nan`) and integers fit in 64 bits, as the TOML specification asks.

Each violation is one `Problem` with the key path where it is, cut short so the line stays readable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from conductor.org.checks import Problem, key

MAX_FILE_BYTES = 1_048_576
MAX_DEPTH = 32
MAX_KEY_CHARS = 128
MAX_STRING_CHARS = 10_000
_INT64 = (-(2**63), 2**63 - 1)


def _walk(data: Any) -> Iterator[tuple[tuple[str | int, ...], Any, str | None]]:
    """(key path, value, the key itself when the value sits in a table) for every value, without recursion:
    the data may be nested as deeply as the parser allowed, far past what a recursive walk survives."""
    stack: list[tuple[tuple[str | int, ...], Any, str | None]] = [((), data, None)]
    while stack:
        loc, value, name = stack.pop()
        yield loc, value, name
        if len(loc) > MAX_DEPTH:
            continue  # reported by the caller; nothing deeper needs looking at
        if isinstance(value, dict):
            stack.extend(((*loc, k), v, k) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*loc, i), v, None) for i, v in reversed(list(enumerate(value))))


def _problem_with(value: Any, name: str | None, depth: int) -> str | None:
    """Why one value breaks a limit, or None."""
    if depth > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep (arrays and tables)"
    if name is not None and len(name) > MAX_KEY_CHARS:
        return f"key of {len(name):,} characters; at most {MAX_KEY_CHARS}"
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        return f"text of {len(value):,} characters; at most {MAX_STRING_CHARS:,}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value}: not a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        return "integer out of range (at most 64 bits)"
    return None


def limit_problem(data: dict[str, Any], where: Any) -> Problem | None:
    """The first value in file order that breaks a limit; `where` turns a key path into its text."""
    for loc, value, name in _walk(data):
        reason = _problem_with(value, name, len(loc))
        if reason is not None:
            return Problem(where(loc), reason)
    return None


_TOKENS = re.compile(r"\"\"\"|'''|\"|'|#|\[|\]|\{|\}|=|\n")
_BASIC_STRING_END = re.compile(r'(?:[^"\\\n]|\\.)*"')


def _skip_string(text: str, quote: str, at: int) -> int:
    """The index just past the string that opened with `quote` right before `at` (best effort)."""
    if len(quote) == 3:
        end = text.find(quote, at)
        return len(text) if end < 0 else end + 3
    if quote == '"':
        match = _BASIC_STRING_END.match(text, at)
        return match.end() if match else at
    end = text.find("'", at)
    return len(text) if end < 0 else end + 1


def deep_nesting(text: str) -> Problem:
    """Where a file too deep for the TOML parser nests past `MAX_DEPTH`: its line and the key it sets.

    Only called after the parser gave up (Python's stack ran out), so it need not be fast; it skips strings
    and comments so brackets inside them do not count.
    """
    depth, i, line, table, statement, assigned = 0, 0, 1, "", 0, ""
    while (match := _TOKENS.search(text, i)) is not None:
        token, i = match.group(), match.end()
        if token == "\n":
            line += 1
            if depth == 0:
                statement, assigned = i, ""
        elif token in ('"""', "'''", '"', "'"):
            end = _skip_string(text, token, i)
            line += text.count("\n", i, end)
            i = end
        elif token == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif token == "=" and depth == 0 and not assigned:
            assigned = text[statement:match.start()].strip()
        elif token in "[{":
            if depth == 0 and token == "[" and not text[statement:match.start()].strip():
                close = text.find("]", i)
                table = text[i:close if close >= 0 else i].strip("[] ")
                i = close + 1 if close >= 0 else i
                continue
            depth += 1
            if depth > MAX_DEPTH:
                path = ".".join(part for part in (table, assigned) if part)
                return Problem(path, f"nested more than {MAX_DEPTH} levels deep (arrays and tables), line {line}")
        elif token in "]}":
            depth = max(depth - 1, 0)
    return Problem("", f"nested more than {MAX_DEPTH} levels deep (arrays and tables)")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis: an error line quotes a key or value, never all of it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_path(loc: tuple[str | int, ...]) -> str:
    """('ventures', 1, 'agents') -> 'ventures[1].agents', each key cut short so the path stays readable."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            segment = key(clip(part, 40))
            out += f".{segment}" if out else segment
    return out
