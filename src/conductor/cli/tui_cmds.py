"""The commands that open the control room: `conductor tui ORG`, `conductor attach`, bare `conductor`, and
`conductor demo` without --headless.

Textual is imported inside these functions only, so headless commands stay fast and free of it (a test in
tests/test_cli_foundation.py proves it). With the scheduler in this process, the run lock is taken before the
window opens, so a second scheduler is refused with one line instead of a blank screen.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from conductor.cli.errors import cli_errors
from conductor.cli.logs import LogLevel, LogLevelOption, env_level, file_logging
from conductor.errors import BadInput, ConductorError

THEMES = ("dark", "light", "ansi-dark", "ansi-light")
WATCHABLE_PACE = 10.0  # real seconds per simulated day; at an escalation's expiry the clock waits for the founder


def theme_name(theme: str) -> str:
    if theme not in THEMES:
        raise BadInput(f"--theme {theme}: choose one of {', '.join(THEMES)}")
    return {"dark": "textual-dark", "light": "textual-light"}.get(theme, theme)


def open_control_room(
    org_file: Path,
    db: Path,
    *,
    model: str | None = None,
    days: float | None = None,
    pace: float | None = None,
    concurrency: int | None = None,
    seed: int | None = None,
    extra: dict[str, Any] | None = None,
    theme: str = "dark",
    log_level: str = LogLevel.INFO.value,
) -> Any:
    """Record the org, take the run lock, and run the control room with the scheduler in this process.

    The scheduler logs to the file beside the database, never to the terminal the control room draws on.
    """
    from conductor.cli.run_cmd import resolve_until
    from conductor.org import load_org
    from conductor.services.setup import record_org, seeded_for_database
    from conductor.store import open_database
    from conductor.store.lock import RunLock

    org = load_org(org_file)
    if concurrency is not None and concurrency < 1:
        raise BadInput(f"--concurrency {concurrency}: must be at least 1")
    if pace is not None and pace < 0:
        raise BadInput(f"--pace {pace}: must be zero or more")
    until = resolve_until(org, days, None)
    conn = open_database(db)
    try:
        org = seeded_for_database(conn, org, seed, db)
        record_org(conn, org, org_file)
    finally:
        conn.close()
    # EngineOptions' fields: the scheduler module itself is imported in its thread, after the first frame.
    options = {"model": model, "concurrency": concurrency, "until": until, "extra_call_kwargs": extra,
               "pace": (WATCHABLE_PACE if pace is None else pace) if org.clock == "sim" else 0.0,
               "founder_present": True}
    with RunLock(db), file_logging(db, log_level):
        from conductor.tui.app import make_app

        app = make_app(db, org=org, org_path=org_file, run=True, options=options, theme=theme_name(theme))
        app.run()
        finish(app)
    return app


def attach(db: Path, *, org_file: Path | None = None, theme: str = "dark", log_level: str = LogLevel.INFO.value
           ) -> None:
    """Watch and steer a run that another process (`conductor run`) is making on `db`.

    Only what goes wrong here reaches the log (the engine, and so its INFO lines, runs in the other process),
    and only once the database has opened: attaching to a healthy run, or to a file that is no database,
    writes no log.
    """
    from conductor.org import load_org

    if not db.exists():
        raise BadInput(f"{db}: no conductor database here (start one with `conductor run ORG --db {db}`)")
    org = load_org(org_file) if org_file is not None else None
    from conductor.store.lock import FounderSeat
    from conductor.tui.app import make_app

    app = make_app(db, org=org, org_path=org_file, run=False, theme=theme_name(theme))
    # The seat is taken once the database has opened and kept until the window closes: the run in the other
    # process holds its simulated clock for this room's verdicts for exactly that long.
    with FounderSeat(db) as seat, file_logging(db, log_level):
        app.founder_seat = seat.held
        app.run()
        finish(app)


def finish(app: Any) -> None:
    """After the window closes: wait for the in-process scheduler to commit its last wave, report failures."""
    runner = getattr(app, "runner", None)
    if runner is not None and runner.running:
        runner.stop()
        # Said at once: the wave in flight may take seconds to finish and be saved, and a silent terminal
        # after `q` `y` looks hung.
        Console(stderr=True).print("stopping the scheduler after the wave in flight…")
        runner.join()
    app.reader.close()
    app.desk.close()
    if app.return_code:
        raise ConductorError("the control room stopped on an error (shown above)")
    if runner is not None and runner.error:
        sys.stderr.write(runner.traceback or "")
        raise BadInput(f"the scheduler failed: {runner.error}")


def bare(db_option: Path | None) -> bool:
    """`conductor` with no command: open the control room on ./conductor.db (or CONDUCTOR_DB) if there is one
    and this is a terminal; returns False when there is nothing to open, so the caller prints the help."""
    from conductor.store import resolve_db_path

    db = resolve_db_path(db_option)
    if not db.exists() or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    from conductor.store import open_reader
    from conductor.store.lock import RunLock, RunLocked

    open_reader(db).close()  # a file that is not a usable database is refused before the lock file is made
    try:
        RunLock(db).acquire().release()
    except RunLocked:
        attach(db, log_level=env_level())  # a headless run owns this database: watch it
        return True
    from conductor.tui.app import org_from_database

    _org, org_path = org_from_database(db)
    open_control_room(org_path, db, log_level=env_level())
    return True


# -- the typer commands (registered by cli.main) ------------------------------------------------------------------
DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="CONDUCTOR_DB", help="The SQLite file (default ./conductor.db).", show_default=False),
]
ThemeOption = Annotated[str, typer.Option(help="dark, light, or ansi-dark/ansi-light (the terminal's colours).")]


def register(app: typer.Typer) -> None:
    @app.command("tui")
    @cli_errors
    def tui_command(
        org_file: Annotated[Path, typer.Argument(help="The org file, e.g. orgs/studio.toml.")],
        db: DbOption = None,
        model: Annotated[str | None, typer.Option(help="A litellm model string for every agent.")] = None,
        days: Annotated[float | None, typer.Option(help="Stop after this many days of the org clock.")] = None,
        pace: Annotated[float | None, typer.Option(
            help=f"Real seconds per simulated day (default {WATCHABLE_PACE:g}; 0: as fast as possible).")] = None,
        concurrency: Annotated[int | None, typer.Option(help="Model calls at once (default from the org file).")] = None,
        theme: ThemeOption = "dark",
        log_level: LogLevelOption = LogLevel.INFO,
    ) -> None:
        """Open the control room with the scheduler running in it; q quits (and stops the run), running again resumes.

        Example: conductor tui orgs/studio.toml --db /tmp/studio.db
        """
        from conductor.store import resolve_db_path

        open_control_room(org_file, resolve_db_path(db), model=model, days=days, pace=pace, concurrency=concurrency,
                          theme=theme, log_level=log_level.value)

    @app.command("attach")
    @cli_errors
    def attach_command(
        db: DbOption = None,
        org_file: Annotated[Path | None, typer.Option("--org", help="The org file, if not the one the run recorded.",
                                                      show_default=False)] = None,
        theme: ThemeOption = "dark",
        log_level: LogLevelOption = LogLevel.INFO,
    ) -> None:
        """Open the control room on a database a headless `conductor run` is writing; your commands reach it.

        Example: conductor run orgs/studio.toml --db /tmp/r.db & conductor attach --db /tmp/r.db
        """
        from conductor.store import resolve_db_path

        attach(resolve_db_path(db), org_file=org_file, theme=theme, log_level=log_level.value)
