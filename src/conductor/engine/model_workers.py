"""Model calls in worker processes, so that a run whose calls go over HTTP uses more than one core.

A call through litellm costs its process a few milliseconds of CPU (building the request, the HTTP client,
parsing and wrapping the answer), and the engine's own work for a wake-up (context, brief, contract, events)
runs on the same thread. With many calls in flight that one thread, not the model, sets the pace
(`docs/benchmarks.md`). With `[engine] model_workers = N` (or `conductor run --model-workers N`) the engine
starts N worker processes; each runs its own event loop and makes whole calls there (`provider.call_model`
with its timeout, retries and backoff, the org's model settings and prices), many at a time. The engine's
process keeps everything else: prompts, the event log (still one SQLite file with one writer), budgets, the
call log. The built-in simulator is never sent to a worker: it is a function in this process.

What crosses the pipe is small and plain: the call's arguments one way, a `CallResult` or a fault the other,
as length-prefixed pickles between this process and its own children. Credentials do not cross it: a worker
reads the key from the environment it inherited, as the engine would. A worker's log lines come back and are
logged here, so `--log` files and the control room see them. A worker that dies fails its calls in flight with
a retryable provider fault (the agent's wake-up fails as it would on a dropped connection) and is replaced at
the next call.

Public API: `ModelWorkers(org, count)`, an async context manager with `call(request)`, `ready()` and `close()`;
the engine installs it with `provider.routed(pool)`. `encode_frame`/`read_frame` are the pipe's framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conductor.engine.provider import CallRequest, CallResult, ProviderFault
from conductor.org.models import Org

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_WORKER_MODULE = "conductor.engine.model_worker"
_CLOSE_GRACE_S = 5.0

def encode_frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at the end of the stream (the other side closed or died)."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


@dataclass
class _Worker:
    number: int
    process: asyncio.subprocess.Process
    pending: dict[int, asyncio.Future[CallResult]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    alive: bool = True


def _python_path() -> str:
    """This process's `conductor` first, so a worker imports the same code (a checkout, an evaluation's tree)."""
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))


class ModelWorkers:
    """A pool of `count` worker processes making model calls; each call goes to the least busy live worker."""

    def __init__(self, org: Org | None, count: int) -> None:
        if count < 1:
            raise ValueError(f"model workers: {count} is fewer than one")
        self.org = org
        self.count = count
        self._workers: list[_Worker | None] = [None] * count
        self._ids = itertools.count(1)
        self._starting = asyncio.Lock()
        self._closed = False

    async def __aenter__(self) -> ModelWorkers:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start every worker (each imports litellm in its own process, seconds, while this one goes on)."""
        for number in range(self.count):
            await self._worker(number)

    async def ready(self) -> None:
        """Wait until every worker has imported litellm and can take calls at once (benchmarks time after this)."""
        workers = [await self._worker(n) for n in range(self.count)]
        await asyncio.gather(*(w.ready.wait() for w in workers))

    async def _worker(self, number: int) -> _Worker:
        async with self._starting:
            worker = self._workers[number]
            if worker is not None and worker.alive:
                return worker
            if self._closed:
                raise ProviderFault("the model workers are closed", retryable=False, attempts=0)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", _WORKER_MODULE, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": _python_path()})
            worker = _Worker(number, process)
            assert process.stdin is not None
            process.stdin.write(encode_frame(("init", self.org, logging.getLogger("conductor").getEffectiveLevel())))
            worker.tasks = [asyncio.create_task(self._read_answers(worker), name=f"model-worker-{number}"),
                            asyncio.create_task(self._read_stderr(worker), name=f"model-worker-{number}-stderr")]
            self._workers[number] = worker
            logger.info("model worker started number=%d pid=%d", number, process.pid)
            return worker

    def pids(self) -> list[int]:
        """The process ids of the live workers, in worker order (for `ps`, a log line, a test)."""
        return [w.process.pid for w in self._workers if w is not None and w.alive]

    def in_flight(self) -> int:
        """Calls sent to a worker and not yet answered."""
        return sum(len(w.pending) for w in self._workers if w is not None)

    async def call(self, request: CallRequest) -> CallResult:
        """Make one call in a worker; a ProviderFault as `call_model` would raise it, or one for a dead worker."""
        live = [w for w in self._workers if w is not None and w.alive]
        if len(live) < self.count:  # a worker that died is replaced here, at the next call
            live = [await self._worker(n) for n in range(self.count)]
        worker = min(live, key=lambda w: len(w.pending))
        call_id = next(self._ids)
        try:
            frame = encode_frame(("call", call_id, request))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise ProviderFault(f"{request.model}: the call's options cannot be sent to a model worker: {exc}",
                                retryable=False, attempts=0) from None
        future: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()
        worker.pending[call_id] = future
        stdin = worker.process.stdin
        assert stdin is not None
        try:
            stdin.write(frame)
            await stdin.drain()
            return await future
        except (ConnectionError, BrokenPipeError):
            raise ProviderFault(f"{request.model}: model worker {worker.number} stopped before the call was sent",
                                retryable=True, attempts=0) from None
        except asyncio.CancelledError:
            if worker.alive and not stdin.is_closing():  # the worker stops the call too (a timeout, a stop)
                stdin.write(encode_frame(("cancel", call_id)))
            raise
        finally:
            worker.pending.pop(call_id, None)

    async def _read_answers(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        while True:
            message = await read_frame(stdout)
            if message is None:
                break
            tag = message[0]
            if tag == "ready":
                worker.ready.set()
            elif tag == "log":
                _, level, name, text = message
                logging.getLogger(name).log(level, "%s", text)
            elif tag in ("done", "fault"):
                future = worker.pending.get(message[1])
                if future is None or future.done():
                    continue  # cancelled here meanwhile
                if tag == "done":
                    future.set_result(message[2])
                else:
                    _, _, text, retryable, attempts = message
                    future.set_exception(ProviderFault(text, retryable=retryable, attempts=attempts))
        await self._lost(worker)

    async def _read_stderr(self, worker: _Worker) -> None:
        """Whatever a worker prints (a library's warning, a crash's traceback) goes to the log, not the screen."""
        stderr = worker.process.stderr
        assert stderr is not None
        from conductor.redaction import redact

        while line := await stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                logger.warning("model worker %d: %s", worker.number, redact(text))

    async def _lost(self, worker: _Worker) -> None:
        """The worker's output ended: it exited or died. Its calls in flight fail as a dropped connection would."""
        worker.alive = False
        worker.ready.set()  # nobody waits forever on a worker that will never be ready
        code = await worker.process.wait()
        if not self._closed:
            logger.error("model worker stopped number=%d exit=%s calls_in_flight=%d", worker.number, code,
                         len(worker.pending))
        for future in list(worker.pending.values()):
            if not future.done():
                future.set_exception(ProviderFault(f"the model worker stopped (exit code {code}) during the call",
                                                   retryable=True, attempts=1))

    async def close(self) -> None:
        """Let each worker finish and exit (its input closes), then make sure it has; idempotent."""
        self._closed = True
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            if worker.process.stdin is not None and not worker.process.stdin.is_closing():
                worker.process.stdin.close()
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), _CLOSE_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            for task in worker.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
