"""Dot paths into a JSON answer (`data.items.0.count`), as a metric source names the number it wants.

The grammar is checked when the org file is loaded (`org.checks`), so a typo is one line at start-up rather
than a refused reading every day; the engine walks the parsed path through each answer. Written here, below
both, because the org file and the engine need the same reading of it.
"""

from __future__ import annotations

import re

MAX_PATH_CHARS = 200
# A segment is a key (no dot, no space or control character) or a list index; a negative index counts from
# the end, so `series.-1.value` is the latest point of a time series.
_SEGMENT = re.compile(r"[^.\s\x00-\x1f\x7f]+")
INDEX = re.compile(r"-?\d+")
PATH_EXAMPLE = "data.items.0.count"


def path_problem(text: str) -> str | None:
    """Why `text` is not a dot path, in words for the org file's reader, or None when it is one."""
    if not text:
        return f"the path is empty; name the number in the JSON answer ({PATH_EXAMPLE})"
    if len(text) > MAX_PATH_CHARS:
        return f"a path of {len(text)} characters; at most {MAX_PATH_CHARS}"
    for n, segment in enumerate(text.split("."), start=1):
        if not segment:
            return f"path '{text}' has an empty part: join keys and list indexes with single dots ({PATH_EXAMPLE})"
        if not _SEGMENT.fullmatch(segment):
            return f"path '{text}': part {n} holds a space or a control character"
    return None


def parse_path(text: str) -> tuple[str, ...]:
    """The parts of a dot path; ValueError (with `path_problem`'s words) when it is not one.

    Parts stay strings: whether `0` is a list index or a key depends on the answer it is applied to.
    """
    problem = path_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return tuple(text.split("."))
