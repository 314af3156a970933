"""What the headless commands share: the --db/--json/--org options, connections, JSON and table output.

Reads go through a read-only connection (it can never corrupt a database a scheduler is writing); writes go
through `open_database(create=False)` with its busy timeout, so a busy database makes a command wait rather
than fail, and a mistyped --db never creates an empty one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table

from conductor.text import printable

if TYPE_CHECKING:
    from conductor.org import Org

DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="CONDUCTOR_DB", help="The SQLite file (default ./conductor.db).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (fields documented in docs/cli-json.md).")]
OrgOption = Annotated[
    Path | None,
    typer.Option("--org", help="The org file (default: the one the last run loaded).", show_default=False),
]


def db_path(db: Path | None) -> Path:
    from conductor.store import resolve_db_path

    return resolve_db_path(db)


@contextmanager
def _naming(path: Path, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Close `conn` at the end; an id it does not hold says which database was searched (a wrong --db is
    the usual cause, and the services that raise it never know the file's name)."""
    from conductor.errors import NotFound

    try:
        yield conn
    except NotFound as exc:
        raise NotFound(f"{exc} (in {path})") from None
    finally:
        conn.close()


@contextmanager
def reading(db: Path | None) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing conductor database (never creates, migrates or repairs one)."""
    from conductor.store import open_reader

    path = db_path(db)
    with _naming(path, open_reader(path)) as conn:
        yield conn


@contextmanager
def writing(db: Path | None) -> Iterator[sqlite3.Connection]:
    """A read-write connection to an existing conductor database (never creates one)."""
    from conductor.store import open_database

    path = db_path(db)
    with _naming(path, open_database(path, create=False)) as conn:
        yield conn


def load_org_for(conn: sqlite3.Connection, org_file: Path | None, *, required: bool = False) -> Org | None:
    """The org: --org if given (errors are the user's to fix), else the file the last run loaded, if readable."""
    from conductor.errors import BadInput, ConductorError
    from conductor.org import load_org

    if org_file is not None:
        return load_org(org_file)
    row = conn.execute("SELECT value FROM meta WHERE key = 'org.path'").fetchone()
    recorded = row[0] if row else ""
    if recorded and Path(recorded).is_file():
        try:
            return load_org(Path(recorded))
        except ConductorError:
            if required:
                raise
            return None
    if required:
        where = f"{recorded} is gone" if recorded else "no run has recorded one"
        raise BadInput(f"this needs the org file and {where}; pass --org FILE")
    return None


def to_jsonable(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return data
    return [item.model_dump(mode="json") for item in data]


def print_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Pretty JSON on stdout; strings in the read models are already free of terminal escapes."""
    typer.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))


def console() -> Console:
    return Console(highlight=False)


def table(*columns: str, title: str | None = None, right: Sequence[str] = (), wrap: Sequence[str] = ()) -> Table:
    """A plain table; only the `wrap` columns (free text) wrap, so ids and numbers never break mid-word."""
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        out.add_column(column, justify="right" if column in right else "left", no_wrap=column not in wrap,
                       overflow="fold" if column in wrap else "ellipsis", min_width=12 if column in wrap else None)
    return out


def cell(text: object, limit: int = 80) -> str:
    """Model-written text for one table cell: escapes stripped, one line, cut to `limit`; rich markup escaped."""
    from rich.markup import escape

    if text is None:
        return "-"
    return escape(printable(text, one_line=True, limit=limit))


def short_time(value: str | None) -> str:
    """'2026-01-05T09:00:00.000000Z' as '2026-01-05 09:00'."""
    return value[:16].replace("T", " ") if value else "-"


def cell_time(value: str | None) -> str:
    """A table cell's time, '01-05 09:00': the year is in --json and `inbox show`."""
    return value[5:16].replace("T", " ") if value else "-"


def number(value: float) -> str:
    """3 significant figures with k/M suffixes, so a metric fits an 80-column table."""
    from conductor.cli.summary import compact

    return compact(value)


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
