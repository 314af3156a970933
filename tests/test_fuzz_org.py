"""Org files, fuzzed: every mutation of a valid file is either still valid or one clean error per problem.

Hypothesis mutates tests/orgs/duo.toml two ways: as text (lines dropped, duplicated, swapped, cut short,
values replaced by junk, bytes that are not UTF-8) and as data (any key deleted or set to any TOML value,
written back as TOML). `conductor org check` must exit 0, or exit 2 with only `error: ...` lines on stderr
and never a traceback; `conductor run` on a bad file must refuse before touching the database.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conductor.cli.main import app
from conductor.store import open_database

DUO_TEXT = (Path(__file__).resolve().parent / "orgs" / "duo.toml").read_text()
DUO_DATA = tomllib.loads(DUO_TEXT)
# CI tries a fixed, modest set; FUZZ_EXAMPLES=1000 searches longer with fresh random inputs.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- a small TOML writer (no dependency): everything as inline tables and arrays -------------------------------
def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in data.items()) + "\n"


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a TOML document (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


def set_path(data: Any, path: tuple, value: Any, delete: bool) -> None:
    for key in path[:-1]:
        data = data[key]
    if delete:
        if isinstance(data, dict):
            del data[path[-1]]
        else:
            data.pop(path[-1])
    else:
        data[path[-1]] = value


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SCALARS = st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), TEXT,
                    st.sampled_from(["", "0s", "-1d", "99999999d", "sim/perfect", "duo", "duo-lead", "note.write",
                                     "shell", "sim", "record", "always", "1e308", "nan"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


@st.composite
def data_mutation(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(DUO_DATA))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = paths(doc)
        if not all_paths:
            break
        path = draw(st.sampled_from(all_paths))
        set_path(doc, path, draw(VALUES), delete=draw(st.booleans()))
    return to_toml(doc)


JUNK_VALUES = ["", '""', "[", "{", "-1", "1e999", "nan", '"x', "true", "0", '"1d"', "[[]]"]


@st.composite
def text_mutation(draw: st.DrawFn) -> bytes:
    lines = DUO_TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "junk", "value"]))
        if op == "drop" and len(lines) > 1:
            lines.pop(i)
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "junk":
            lines.insert(i, draw(TEXT) + "\n")
        elif "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(st.sampled_from(JUNK_VALUES))}\n"
    raw = "".join(lines).encode()
    cut = draw(st.one_of(st.none(), st.integers(0, len(raw))))
    if cut is not None:
        raw = raw[:cut]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return raw


def check_clean(result: Any, what: str) -> None:
    assert "Traceback" not in result.output + result.stderr, f"{what}: {result.output}{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 0:
        return
    assert result.exit_code == 2, f"{what}: exit {result.exit_code}: {result.stderr}"
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@FUZZ
@given(source=st.one_of(data_mutation(), text_mutation()))
def test_org_check_on_any_mutation_is_ok_or_a_clean_error(source: str | bytes, runner: CliRunner,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("org") / "org.toml"
    path.write_bytes(source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass"))
    check_clean(runner.invoke(app, ["org", "check", str(path)]), "org check")


@pytest.fixture(scope="module")
def existing_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("db") / "c.db"
    open_database(db).close()
    return db


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 25))
@given(source=data_mutation())
def test_run_with_a_bad_org_file_writes_nothing(source: str, runner: CliRunner, existing_db: Path,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("org") / "org.toml"
    path.write_text(source, encoding="utf-8", errors="surrogatepass")
    before = existing_db.read_bytes()
    check = runner.invoke(app, ["org", "check", str(path)])
    if check.exit_code == 0:
        return  # a valid mutation: running it would be a normal run, not a failed command
    result = runner.invoke(app, ["run", str(path), "--db", str(existing_db), "--days", "1"])
    check_clean(result, "run")
    assert result.exit_code == 2
    assert existing_db.read_bytes() == before, "a refused run changed the database"
    conn = sqlite3.connect(existing_db)
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    finally:
        conn.close()



# -- hostile files: deep, huge, non-finite, with a byte-order mark ------------------------------------------------
def one_short_line(result: Any, path: Path, *words: str) -> str:
    """Exit 2 and exactly one `error:` line under 300 characters that names the file (and `words`)."""
    check_clean(result, "org check")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"{len(lines)} lines: {result.stderr[:500]}"
    assert len(lines[0]) < 300, f"a line of {len(lines[0]):,} characters: {lines[0][:300]}"
    assert lines[0].startswith(f"error: {path}: "), lines[0]
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def nested(depth: int, opener: str) -> str:
    """A value nested `depth` levels: arrays (`[[[...]]]`) or inline tables (`{a = {a = ...}}`)."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return "{a = " * depth + "1" + "}" * depth


HOSTILE = {
    "5,000 nested arrays": (DUO_TEXT + f"\nx = {nested(5000, '[')}\n", ["x", "nested more than"]),
    "5,000 nested arrays after brackets in strings and comments": (
        DUO_TEXT + "\n# ]]] }}} [[[\nnote = \"]]]}}}\"\nlit = '[[[{{{'\nx = " + nested(5000, "[") + "\n",
        ["ventures.agents.x:", "nested more than", "line 105"]),
    "3,000 nested inline tables": (f"x = {nested(3000, '{')}\n" + DUO_TEXT, ["x", "nested more than", "line 1"]),
    "40 nested arrays (parsed, then refused)": (f"x = {nested(40, '[')}\n" + DUO_TEXT, ["x[0]", "nested more than"]),
    "a 1 MB unknown key": (DUO_TEXT.replace("name =", "n" * 1_000_000 + " = 1\nname =", 1), ["nnnn…", "key of"]),
    "a 3 MB name": (DUO_TEXT.replace('name = "', 'name = "' + "N" * 3_000_000, 1), ["larger than 1,048,576 bytes"]),
    "a 500 kB mission": (DUO_TEXT.replace('mission = "', 'mission = "' + "M" * 500_000, 1),
                         ["platform.mission", "text of 500,0"]),
    "a 300-character name": (DUO_TEXT.replace('name = "', 'name = "' + "N" * 300, 1), ["name:", "at most 200"]),
    "budget_per_day = inf": (DUO_TEXT.replace("budget_per_day = 10.0", "budget_per_day = inf", 1),
                             ["budget_per_day", "not a finite number"]),
    "a seed past 64 bits": (DUO_TEXT.replace("seed = 3", "seed = 3" + "0" * 30, 1), ["seed", "64 bits"]),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_org_file_is_one_short_line_and_exit_2(name: str, runner: CliRunner, tmp_path: Path) -> None:
    text, words = HOSTILE[name]
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    one_short_line(runner.invoke(app, ["org", "check", str(path)]), path, *words)


def numeric_paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    return [p for p in paths(data, prefix) if isinstance(_get(data, p), int | float) and not isinstance(_get(data, p), bool)]


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+nan"])
def test_no_numeric_field_takes_a_non_finite_number(value: str, runner: CliRunner, tmp_path: Path) -> None:
    """Every number in the duo (money, thresholds, counts, prices, seeds) set to inf or nan: refused by name."""
    fields = numeric_paths(DUO_DATA)
    assert len(fields) >= 10
    for field in fields:
        doc = json.loads(json.dumps(DUO_DATA))
        set_path(doc, field, float(value), delete=False)
        path = tmp_path / "org.toml"
        path.write_text(to_toml(doc).replace(toml_value(float(value)), value), encoding="utf-8")
        from conductor.org.loader import format_loc

        one_short_line(runner.invoke(app, ["org", "check", str(path)]), path, format_loc(field), "not a finite number")


def test_a_byte_order_mark_is_accepted(runner: CliRunner, tmp_path: Path) -> None:
    """Editors on Windows may start a UTF-8 file with a byte-order mark: it is stripped, the file is the same."""
    # One path for both: the output names the file and wraps a long path wherever the width falls, so outputs
    # for two different paths cannot be compared by swapping one path for the other.
    path = tmp_path / "org.toml"
    path.write_text(DUO_TEXT, encoding="utf-8")
    first = runner.invoke(app, ["org", "check", str(path)])
    path.write_bytes(b"\xef\xbb\xbf" + DUO_TEXT.encode())
    second = runner.invoke(app, ["org", "check", str(path)])
    assert first.exit_code == 0 and second.exit_code == 0, second.stderr
    assert second.stdout == first.stdout


def test_run_with_a_deeply_nested_org_file_writes_nothing(runner: CliRunner, existing_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(DUO_TEXT + f"\nx = {nested(5000, '[')}\n", encoding="utf-8")
    before = existing_db.read_bytes()
    one_short_line(runner.invoke(app, ["run", str(path), "--db", str(existing_db), "--days", "1"]), path)
    assert existing_db.read_bytes() == before


@st.composite
def deep_or_huge(draw: st.DrawFn) -> tuple[str, int, int]:
    """The duo with one value nested up to 6,000 levels or one string up to 1.5 MB, somewhere in the file."""
    doc = json.loads(json.dumps(DUO_DATA))
    where = draw(st.sampled_from(paths(doc)))
    depth = draw(st.one_of(st.integers(0, 40), st.integers(0, 6000)))
    size = draw(st.one_of(st.integers(0, 12_000), st.integers(0, 1_500_000)))
    placeholder = "@@deep-or-huge@@"
    set_path(doc, where, placeholder, delete=False)
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a = ", "}")]))
    value = opener * depth + json.dumps("s" * size) + closer * depth
    text = to_toml(doc)
    assert json.dumps(placeholder) in text
    return text.replace(json.dumps(placeholder), value), depth, size


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 25))
@given(case=deep_or_huge())
def test_any_depth_and_size_is_ok_or_one_short_line(case: tuple[str, int, int], runner: CliRunner,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    from conductor.org.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_STRING_CHARS

    text, depth, size = case
    path = tmp_path_factory.mktemp("org") / "org.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["org", "check", str(path)])
    if depth > MAX_DEPTH or size > MAX_STRING_CHARS or len(text.encode()) > MAX_FILE_BYTES:
        one_short_line(result, path)
    elif result.exit_code != 0:
        assert all(len(line) < 300 for line in result.stderr.splitlines()), result.stderr[:600]
        check_clean(result, "org check")
