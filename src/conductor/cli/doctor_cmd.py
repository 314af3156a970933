"""`conductor doctor`: is this set-up able to run? The org file, the database, and the models' credentials.

It only reads: the database is opened read-only (never migrated or put in WAL here, and without creating
-wal/-shm files when none exist), and credentials are
checked through litellm's environment check, which reports the names of missing variables, never values.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import BaseModel

from conductor.cli.errors import cli_errors
from conductor.cli.shared import DbOption, JsonOption, OrgOption, cell, console, db_path, print_json, table

if TYPE_CHECKING:
    from conductor.org import Org


class DoctorCheck(BaseModel):
    """One line of the doctor's report (`conductor doctor --json` prints a list of these)."""

    check: str
    status: Literal["ok", "warn", "fail"]
    detail: str


def _org_checks(org_file: Path | None, recorded: str | None) -> tuple[list[DoctorCheck], Org | None]:
    from conductor.errors import ConductorError
    from conductor.org import load_org

    path = org_file or (Path(recorded) if recorded else None) or Path("org.toml")
    if not path.exists():
        hint = "pass --org FILE" if org_file is None else "check the path"
        return [DoctorCheck(check="org file", status="fail", detail=f"{path}: no such file ({hint})")], None
    try:
        org = load_org(path)
    except ConductorError as exc:
        lines = exc.lines()
        more = f" (and {len(lines) - 1} more problems; run `conductor org check {path}`)" if len(lines) > 1 else ""
        return [DoctorCheck(check="org file", status="fail", detail=lines[0] + more)], None
    detail = f"{path}: {org.name}, {len(org.ventures)} ventures, {org.agent_count} agents"
    return [DoctorCheck(check="org file", status="ok", detail=detail)], org


def _db_checks(path: Path) -> tuple[list[DoctorCheck], str | None]:
    """Header, schema version, journal mode, integrity and the run lock; also the org path the log recorded."""
    from conductor.services.queries import run_state
    from conductor.store import inspection_connection
    from conductor.store.schema import APPLICATION_ID, SCHEMA_VERSION

    if not path.exists():
        return [DoctorCheck(check="database", status="fail",
                            detail=f"{path}: no database here (run `conductor init` or `conductor run`)")], None
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        return [DoctorCheck(check="database", status="fail", detail=f"{path}: cannot read ({exc.strerror})")], None
    if not header:
        return [DoctorCheck(check="database", status="fail", detail=(
            f"{path}: an empty file, not a conductor database (`conductor run ORG --db FILE` makes one)"))], None
    if not header.startswith(b"SQLite format 3\x00"):
        return [DoctorCheck(check="database", status="fail", detail=f"{path}: not a SQLite database")], None
    checks: list[DoctorCheck] = []
    recorded = None
    try:
        conn = inspection_connection(path)
    except sqlite3.Error as exc:
        return [DoctorCheck(check="database", status="fail", detail=f"{path}: cannot open ({exc})")], None
    conn.row_factory = sqlite3.Row
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and version == 0 and conn.execute(
                "SELECT count(*) FROM sqlite_master").fetchone()[0]):
            return [DoctorCheck(check="database", status="fail", detail=f"{path}: not a conductor database")], None
        if version == SCHEMA_VERSION:
            checks.append(DoctorCheck(check="schema", status="ok", detail=f"version {version}"))
        elif version < SCHEMA_VERSION:
            checks.append(DoctorCheck(check="schema", status="warn", detail=(
                f"version {version}; this conductor upgrades it to {SCHEMA_VERSION} on the next write")))
        else:
            checks.append(DoctorCheck(check="schema", status="fail", detail=(
                f"version {version} is newer than this conductor knows ({SCHEMA_VERSION}); upgrade conductor")))
        # From the header (bytes 18-19 are 2 in WAL mode): an immutable look always reports "delete".
        mode = "wal" if header[18:20] == b"\x02\x02" else conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
        checks.append(DoctorCheck(check="journal", status="ok" if mode == "wal" else "warn",
                                  detail="WAL" if mode == "wal" else f"{mode}; the next `conductor run` switches to WAL"))
        result = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
        checks.append(DoctorCheck(check="integrity", status="ok" if result == ["ok"] else "fail",
                                  detail="ok" if result == ["ok"] else "; ".join(result) + " (restore from a backup)"))
        if version >= 1:
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            row = conn.execute("SELECT value FROM meta WHERE key = 'org.path'").fetchone()
            recorded = row[0] if row else None
            run = run_state(conn, path)
            state = f"running (pid {run.pid})" if run.running else "no scheduler running"
            checks.append(DoctorCheck(check="run", status="ok", detail=f"{events:,} events; {state}"))
    except sqlite3.Error as exc:
        checks.append(DoctorCheck(check="database", status="fail", detail=f"{path}: {exc}"))
    finally:
        conn.close()
    checks.insert(0, DoctorCheck(check="database", status="ok", detail=str(path)))
    return checks, recorded


def _log_check(db: Path) -> DoctorCheck:
    """Where the run's log is, its size, and its last error line: the first place to look after a bad night.

    Only looked at: a missing log is not created (doctor is a read command), and it is never a failure.
    """
    from conductor.cli.logs import last_error, log_path

    path = log_path(db)
    try:
        size = path.stat().st_size
    except OSError:
        return DoctorCheck(check="log", status="ok",
                           detail=f"{path}: none yet (`conductor run`, `demo` and `tui` write it)")
    error = last_error(path)
    if error:  # redacted when written; again here, for credentials this shell knows that the run did not
        from conductor.redaction import redact
        from conductor.text import printable

        error = printable(redact(error), one_line=True, limit=300)
    detail = f"{path}: {size / 1024:,.1f} KiB" + (f"; last error: {error}" if error else "; no errors")
    return DoctorCheck(check="log", status="warn" if error else "ok", detail=detail)


def _models(org: Org) -> list[str]:
    names = {org.model, org.model_for(org.platform)}
    names.update(org.model_for(agent) for _, agent in org.agents())
    brain_model = getattr(org.brain, "model", None)
    if isinstance(brain_model, str) and brain_model:
        names.add(brain_model)
    return sorted(names)


def _credential_checks(org: Org) -> list[DoctorCheck]:
    """litellm's environment check per model; simulated models need none. Only variable names are shown."""
    out = []
    real = [m for m in _models(org) if not m.startswith("sim/")]
    out += [DoctorCheck(check=f"model {m}", status="ok", detail="simulated: no credentials needed")
            for m in _models(org) if m.startswith("sim/")]
    if not real:
        return out
    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    for model in real:
        settings = org.models.get(model)
        if settings is not None and settings.api_key_env:  # the org file names the key's variable
            present = bool(os.environ.get(settings.api_key_env))
            where = f" at {settings.api_base}" if settings.api_base else ""
            out.append(DoctorCheck(check=f"model {model}", status="ok" if present else "fail",
                                   detail=(f"key in {settings.api_key_env}{where}" if present
                                           else f"missing: {settings.api_key_env} (api_key_env in the org file)")))
            continue
        if settings is not None and settings.api_base:  # a local server: litellm cannot tell whether it needs a key
            out.append(DoctorCheck(check=f"model {model}", status="ok", detail=f"served at {settings.api_base}"))
            continue
        noise = io.StringIO()
        try:
            with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
                found = litellm.validate_environment(model=model)
        except Exception as exc:  # litellm does not know the provider
            out.append(DoctorCheck(check=f"model {model}", status="fail",
                                   detail=f"litellm cannot check it ({type(exc).__name__})"))
            continue
        missing = [str(k) for k in found.get("missing_keys", [])]
        if found.get("keys_in_environment") and not missing:
            out.append(DoctorCheck(check=f"model {model}", status="ok", detail="credentials present"))
        else:
            what = ", ".join(missing) if missing else "unknown provider"
            out.append(DoctorCheck(check=f"model {model}", status="fail", detail=f"missing: {what}"))
    return out


def _source_checks(org: Org) -> list[DoctorCheck]:
    """Each metric source: what it reads and whether it could (its program found, its URL well formed). Nothing
    is run or fetched: doctor only looks. A URL's password is shown redacted."""
    from conductor.engine.metric_sources import declared_sources
    from conductor.engine.source_reader import describe
    from conductor.redaction import redact

    out = []
    for d in declared_sources(org):
        readable, detail = describe(d.source)
        out.append(DoctorCheck(check=f"metric {d.venture}/{d.metric}", status="ok" if readable else "fail",
                               detail=redact(detail)))
    return out


PROBE = 'Answer with exactly this JSON object and nothing else: {"ok": true}'


def _call_checks(org: Org, credentials: list[DoctorCheck]) -> list[DoctorCheck]:
    """`--call`: one short call to each model whose credentials are there, and what litellm says it supports."""
    import asyncio
    import json
    import time

    from conductor.engine.contract import extract_json
    from conductor.engine.provider import ProviderFault, RetryPolicy, call_model, load_litellm
    from conductor.sim.direct import is_simulated

    ready = {c.check.removeprefix("model ") for c in credentials if c.status == "ok"}
    out = []
    for model in _models(org):
        if model not in ready:
            continue
        settings = org.models.get(model)
        timeout = settings.timeout.total_seconds() if settings is not None and settings.timeout else 60.0
        started = time.monotonic()
        try:
            result = asyncio.run(call_model(model, [{"role": "user", "content": PROBE}], org=org, max_tokens=40,
                                            retry=RetryPolicy(max_retries=0, timeout_s=timeout), label="doctor"))
        except ProviderFault as fault:
            out.append(DoctorCheck(check=f"call {model}", status="fail", detail=str(fault)))
            continue
        seconds = time.monotonic() - started
        try:
            parsed = extract_json(result.text)
        except Exception:
            parsed = None
        good = parsed == {"ok": True} or (is_simulated(model) and isinstance(parsed, dict))
        answered = ("answered valid JSON" if good else
                    f"answered, but not the JSON asked for: {json.dumps(result.text[:80])}")
        if is_simulated(model):
            supports = "simulated: answers the contract from the prompt"
        else:
            litellm = load_litellm()
            try:
                schema = bool(litellm.supports_response_schema(model=model))
                tools = bool(litellm.supports_function_calling(model=model))
                supports = (f"litellm says: JSON schema {'yes' if schema else 'no'}, tool calls "
                            f"{'yes' if tools else 'no'}")
            except Exception:
                supports = "unknown to litellm: say structured_output in its [models] entry"
        out.append(DoctorCheck(check=f"call {model}", status="ok" if good else "warn",
                               detail=f"{answered} in {seconds:.2f} s ({result.prompt_tokens}+"
                                      f"{result.completion_tokens} tokens); {supports}"))
    return out


@cli_errors
def doctor(org: OrgOption = None, db: DbOption = None, json_: JsonOption = False,
           call: Annotated[bool, typer.Option("--call", help="Call each model once (a few tokens) and say what it "
                                                              "answered and supports.")] = False) -> None:
    """Check the org file, the database (integrity, schema version, WAL), the models' credentials and the metric
    sources (a program that is there, a URL well formed; nothing is run); name the log.

    With --call, each model whose credentials are there is called once with a one-line request, and the check says
    whether it answered the JSON asked for, how fast, and what litellm says it supports (a JSON schema, tool calls).

    Exit code 1 when any check fails. Secrets are never printed, only the names of missing variables.

    Example: conductor doctor --db ~/studio/conductor.db
    """
    path = db_path(db)
    db_results, recorded = _db_checks(path)
    org_results, found = _org_checks(org, recorded)
    credentials = _credential_checks(found) if found is not None else []
    calls = _call_checks(found, credentials) if found is not None and call else []
    checks = org_results + db_results + [_log_check(path)] + credentials + calls + (
        _source_checks(found) if found is not None else [])
    if json_:
        print_json(checks)
    else:
        grid = table("check", "", "detail", wrap=("detail",))
        colour = {"ok": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            grid.add_row(c.check, f"[{colour[c.status]}]{c.status}[/]", cell(c.detail, 200))
        console().print(grid)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
