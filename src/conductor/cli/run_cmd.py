"""`conductor run` and `conductor demo --headless`: the scheduler without the control room."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from conductor.errors import BadInput
from conductor.org import Org, load_org
from conductor.store.events import StoredEvent, parse_iso


class Tally:
    """Per-venture counts for the live summary, fed from the engine's events as they commit."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.spend: dict[str, float] = {}
        self.now = ""

    def __call__(self, event: StoredEvent) -> None:
        venture = event.venture or "platform"
        counts = self.counts.setdefault(venture, Counter())
        if event.kind in ("agent.woke", "agent.idle", "decision.proposed", "escalation.opened", "decision.executed"):
            counts[event.kind] += 1
        if event.kind == "call.recorded":
            self.spend[venture] = self.spend.get(venture, 0.0) + float(event.payload.get("cost", 0.0))
        if event.sim_time:
            self.now = max(self.now, event.sim_time)

    def table(self, title: str) -> Table:
        table = Table(title=title, title_justify="left")
        for column in ("venture", "wake-ups", "idle", "decisions", "executed", "escalations", "spend"):
            table.add_column(column, justify="left" if column == "venture" else "right")
        for venture in sorted(self.counts):
            c = self.counts[venture]
            table.add_row(venture, str(c["agent.woke"]), str(c["agent.idle"]), str(c["decision.proposed"]),
                          str(c["decision.executed"]), str(c["escalation.opened"]),
                          f"${self.spend.get(venture, 0.0):,.4f}")
        return table


def resolve_until(org: Org, days: float | None, until: str | None) -> datetime | None:
    if days is not None and until is not None:
        raise BadInput("give --days or --until, not both")
    if until is not None:
        try:
            return parse_iso(until)
        except ValueError:
            raise BadInput(f"--until {until!r}: not an ISO time such as 2026-02-01T00:00:00Z") from None
    if days is not None:
        if days <= 0:
            raise BadInput(f"--days {days}: must be more than zero")
        if org.clock == "sim":
            return org.start + timedelta(days=days)
        from conductor.store.events import utc_now

        return utc_now() + timedelta(days=days)
    return None


def run_headless(
    org_file: Path,
    db: Path,
    *,
    model: str | None = None,
    days: float | None = None,
    until: str | None = None,
    pace: float = 0.0,
    concurrency: int | None = None,
    model_workers: int | None = None,
    ablate_brief: bool = False,
    no_tools: bool = False,
    log_calls: Path | None = None,
    live: bool = True,
    extra: dict[str, Any] | None = None,
    seed: int | None = None,
    log_level: str | None = None,
) -> Tally:
    """Run the org until its end time or Ctrl-C, showing a live per-venture summary; returns the tally.

    With `log_level` the run logs to the file beside the database (`cli.logs`), from the moment it holds the
    run lock: a run refused before then (a bad org, a damaged or locked database) writes no log, and never
    into the log of the run that holds the lock.
    """
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.services.setup import seeded_for_database
    from conductor.store import note_clean_close, open_database
    from conductor.store.lock import RunLock

    org = load_org(org_file)
    if log_calls is not None and not log_calls.parent.is_dir():
        raise BadInput(f"--log-calls {log_calls}: no directory {log_calls.parent}")
    if log_calls is not None and log_calls.resolve() == db.resolve():
        raise BadInput(f"--log-calls {log_calls}: that is the database")
    if concurrency is not None and concurrency < 1:
        raise BadInput(f"--concurrency {concurrency}: must be at least 1")
    if model_workers is not None and not 0 <= model_workers <= 64:
        raise BadInput(f"--model-workers {model_workers}: must be from 0 to 64")
    if pace < 0:
        raise BadInput(f"--pace {pace}: must be zero or more")
    end = resolve_until(org, days, until)
    conn = open_database(db)  # validates the file (foreign, newer, read-only) before anything else
    try:
        org = seeded_for_database(conn, org, seed, db)
    finally:
        conn.close()
    tally = Tally()
    console = Console(stderr=False)
    from conductor.engine.provider import logging_calls

    with RunLock(db), logging_to(db, log_level), logging_calls(log_calls):
        engine = Engine(org, db, EngineOptions(model=model, concurrency=concurrency, model_workers=model_workers,
                                               pace=pace, until=end,
                                               ablate_brief=ablate_brief, no_tools=no_tools,
                                               extra_call_kwargs=extra),
                        org_path=org_file, on_event=tally)
        async def main() -> None:
            loop = asyncio.get_running_loop()
            task = asyncio.create_task(engine.run())
            try:
                # Ctrl-C stops at once: calls in flight are cut off and recorded (their wake-ups are done again
                # at the next start); SIGTERM lets them finish.
                loop.add_signal_handler(signal.SIGINT, engine.interrupt, "interrupted (Ctrl-C)")
                loop.add_signal_handler(signal.SIGTERM, engine.stop, "terminated (SIGTERM)")
            except (NotImplementedError, RuntimeError):
                pass
            if live and console.is_terminal:
                with Live(tally.table(f"{org.name}"), console=console, refresh_per_second=4) as view:
                    while not task.done():
                        view.update(tally.table(f"{org.name} · {tally.now[:16]}"))
                        await asyncio.sleep(0.25)
            await task

        asyncio.run(main())
        note_clean_close(db)  # every connection of the run is closed: the next start need not check it all again
    return tally


def logging_to(db: Path, level: str | None) -> contextlib.AbstractContextManager[object]:
    """The log file beside `db` at `level`, or nothing when no level is given (a caller embedding the run)."""
    if level is None:
        return contextlib.nullcontext()
    from conductor.cli.logs import file_logging

    return file_logging(db, level)


def print_summary(db: Path) -> None:
    """The end-of-run tables, read from the database the run wrote."""
    from conductor.cli.summary import run_summary
    from conductor.store import open_reader

    conn = open_reader(db)
    try:
        console = Console()
        for table in run_summary(conn):
            console.print(table)
    finally:
        conn.close()
