"""A `conductor run` that SIGKILLs itself in the middle of a wave, at a point fixed by the event stream.

The harness kills from outside, at moments that depend on timing; a comparison with an unbroken run needs the
kill at the same point every time. Here the process kills itself right after a wake-up's result is committed
while other wake-ups of the same wave are still in flight (their `agent.woke` committed, their results not),
once the log has reached event `after`. With `reason` it kills instead after the first commit that leaves a
wake-up in flight whose reason contains that text (say "revision": an author's revision wake-up). On the simulated clock the events
up to the kill are the same in every run, so the kill lands on the same event.

`python -m tests.crash.midwave ORG DB DAYS AFTER [REASON]`; exits by SIGKILL (-9) when the point was reached,
0 when the run finished first.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

CLOSERS = ("agent.concluded", "agent.stuck", "agent.interrupted")


def install_kill(after: int, reason: str | None) -> None:
    """Patch the engine's commit path: kill this process once the chosen point of a wave is committed."""
    from conductor.engine import scheduler

    original_emit = scheduler.Engine.emit
    open_wakes: dict[str, str] = {}  # agent -> reason of its wake-up in flight, as the log says

    async def emit(self: Any, events: list[Any]) -> list[Any]:
        stored = await original_emit(self, events)
        concluded = False
        for event in stored:
            if event.kind == "agent.woke":
                open_wakes[event.agent] = event.payload.get("reason", "")
            elif event.kind in CLOSERS:
                open_wakes.pop(event.agent, None)
                concluded = concluded or event.kind == "agent.concluded"
        due = (concluded and bool(open_wakes)) if reason is None else any(reason in r for r in open_wakes.values())
        if due and stored and stored[-1].id >= after:
            os.kill(os.getpid(), signal.SIGKILL)
        return stored

    scheduler.Engine.emit = emit  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    org, db, days, after, *rest = argv
    install_kill(int(after), rest[0] if rest else None)
    from conductor.cli.main import app

    try:
        app(["run", str(Path(org)), "--db", str(Path(db)), "--days", days], prog_name="conductor")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
