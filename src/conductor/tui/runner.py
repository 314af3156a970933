"""The scheduler in this process, for `conductor tui`, bare `conductor` and `conductor demo`.

It runs in its own thread with its own asyncio loop, so the model calls, context building and commits of a
wave never hold up a frame of the UI. The engine's and litellm's imports (seconds together) happen in that
thread too, after the first frame is on screen: `options` may be a plain dict of EngineOptions fields so
that even the command line does not import the scheduler first. The UI talks to it only through the database (founder events, polled by the
engine between waves) and `stop()`.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conductor.org.models import Org


class EngineRunner:
    def __init__(self, org: Org, db: Path, options: Any = None, *, org_path: Path | str = "") -> None:
        self.org = org
        self.db = Path(db)
        self.options = options
        self.org_path = org_path
        self.engine: Any = None  # conductor.engine.scheduler.Engine, imported in the thread
        self.error: str | None = None
        self.traceback: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.on_exit: Callable[[str | None], object] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="conductor-engine", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            # litellm, when a model of the run needs it, is imported by the engine itself, in a thread, before
            # its first wave (`Engine._preload`); the simulator needs none, so the demo's scheduler starts at once.
            if self._stop.is_set():
                return
            from conductor.engine.scheduler import Engine, EngineOptions

            options = self.options
            if options is None or isinstance(options, dict):
                options = EngineOptions(**(options or {}))
            self.engine = Engine(self.org, self.db, options, org_path=self.org_path)
            if self._stop.is_set():
                return
            asyncio.run(self.engine.run())
        except Exception as exc:  # reported in the UI, which stays up to show what happened
            self.error = f"{type(exc).__name__}: {exc}"
            self.traceback = traceback.format_exc()
        finally:
            if self.on_exit is not None:
                self.on_exit(self.error)

    def stop(self) -> None:
        """Ask for a graceful stop: the wave in flight is finished and committed, then `run.stopped`."""
        self._stop.set()
        if self.engine is not None:
            self.engine.stop()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
