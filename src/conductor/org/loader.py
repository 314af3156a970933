"""Reading an org file: size and TOML syntax, then limits, the models and cross-references, each problem with
its place on one line (see `org.limits` for the sizes an org file may have)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from conductor.errors import BadInput
from conductor.org.checks import Problem, check_org
from conductor.org.limits import MAX_FILE_BYTES, clip, deep_nesting, key_path, limit_problem
from conductor.org.models import Org


class OrgFileError(BadInput):
    """An org file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(self.lines()[0] if problems else f"{path}: invalid org file")

    def lines(self) -> list[str]:
        """One line per problem; a key path or reason quoting a huge value is cut, so each line stays short."""
        return [f"{self.path}: {clip(p.path, 100) + ': ' if p.path else ''}{clip(p.reason, 150)}"
                for p in self.problems]


def format_loc(loc: tuple[int | str, ...]) -> str:
    """('ventures', 1, 'agents', 3, 'owns_metric') -> 'ventures[1].agents[3].owns_metric'."""
    return key_path(loc)


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see `conductor org schema`)"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(format_loc(loc), message))
    return problems


def parse_org(data: dict, source: Path | str = "<org>") -> Org:
    """Validate already-parsed TOML data into an Org, raising OrgFileError with every problem.

    The limits come first and stop at the first value past one: a value nested 300 deep or a megabyte long
    would otherwise reach the models and their messages.
    """
    beyond = limit_problem(data, format_loc)
    if beyond is not None:
        raise OrgFileError(source, [beyond])
    try:
        org = Org.model_validate(data)
    except ValidationError as exc:
        raise OrgFileError(source, _pydantic_problems(exc)) from None
    problems = check_org(org)
    if problems:
        raise OrgFileError(source, problems)
    return org


def load_org(path: Path | str) -> Org:
    """Read and validate an org file. Every failure is an OrgFileError naming the file and the key path."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # never more: the file may be huge, or endless
    except FileNotFoundError:
        raise OrgFileError(path, [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise OrgFileError(path, [Problem("", "is a directory, not an org file")]) from None
    except OSError as exc:
        raise OrgFileError(path, [Problem("", f"cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise OrgFileError(path, [Problem("", f"larger than {MAX_FILE_BYTES:,} bytes, the most an org file may be")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise OrgFileError(path, [Problem("", f"not UTF-8 text (line {line}, column {column})")]) from None
    return parse_org(_parse_toml(path, text.removeprefix("\ufeff")), path)


def _parse_toml(path: Path, text: str) -> dict:
    """TOML to data. A byte-order mark was already stripped (editors on Windows write one; it is harmless)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OrgFileError(path, [Problem("", f"invalid TOML: {exc}")]) from None
    except RecursionError:  # the parser recurses per nesting level: find where the file nests too deeply
        raise OrgFileError(path, [deep_nesting(text)]) from None


def org_json_schema() -> dict:
    """The JSON Schema of an org file, for editor completion (e.g. with taplo or Even Better TOML)."""
    schema = Org.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Conductor organization file"
    return schema
