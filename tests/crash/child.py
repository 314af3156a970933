"""What runs inside a killed process: the real `conductor run` command, instrumented for the harness only.

Two test-only hooks are installed by patching, so the product carries no hidden switches:
- every event the engine was told is committed is appended (`id kind`) to an acknowledgement log right after
  the commit returns, with `os.write` on an O_APPEND descriptor: nothing is buffered in the process, so a
  SIGKILL cannot lose an acknowledgement that the engine acted on;
- `idempotency=False` turns off the engine's at-most-once protection (`EngineOptions.idempotency`), so the
  harness can prove that it notices a decision executed twice.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def install_hooks(ack_log: Path, idempotency: bool) -> None:
    from conductor.engine import scheduler

    fd = os.open(ack_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    original_emit = scheduler.Engine.emit

    async def emit(self: Any, events: list[Any]) -> list[Any]:
        stored = await original_emit(self, events)
        if stored:
            os.write(fd, "".join(f"{s.id} {s.kind}\n" for s in stored).encode())
        return stored

    scheduler.Engine.emit = emit  # type: ignore[method-assign]
    if not idempotency:
        original_init = scheduler.Engine.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            self.opts.idempotency = False

        scheduler.Engine.__init__ = init  # type: ignore[method-assign]


def run_conductor(org: Path, db: Path, days: float, ack_log: Path, idempotency: bool) -> int:
    """`conductor run ORG --db DB --days N` with the hooks; returns its exit code."""
    install_hooks(ack_log, idempotency)
    from conductor.cli.main import app

    try:
        app(["run", str(org), "--db", str(db), "--days", str(days)], prog_name="conductor")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def main(argv: list[str]) -> int:
    """Entry for exec mode: `python -m tests.crash --child ORG DB DAYS ACK_LOG 0|1`."""
    org, db, days, ack_log, idempotency = argv
    return run_conductor(Path(org), Path(db), float(days), Path(ack_log), idempotency == "1")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
