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

from conductor.engine.provider import CallRequest, CallResult, ProviderFault, RetryPolicy
from conductor.org.models import Org

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_WORKER_MODULE = "conductor.engine.model_worker"
_CLOSE_GRACE_S = 5.0
_MAX_DEATHS_AT_START = 3  # workers in a row that die before they are ready: then calls fail for good
_STDERR_CHUNK = 1 << 16

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
    became_ready: bool = False
    last_words: str = ""  # its last line on standard error: why it died, when it dies at start


def _python_path() -> str:
    """This process's `conductor` first, so a worker imports the same code (a checkout, an evaluation's tree)."""
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))


def longest_call_s(retry: RetryPolicy | None, margin_s: float = 30.0) -> float:
    """How long a worker may take over one call before it counts as stuck: every attempt at its timeout, every
    backoff at its ceiling, and a margin. The worker bounds each attempt itself; this bounds the worker."""
    retry = retry or RetryPolicy()
    return (retry.max_retries + 1) * retry.timeout_s + retry.max_retries * retry.max_delay_s + margin_s


class ModelWorkers:
    """A pool of `count` worker processes making model calls; each call goes to the least busy live worker."""

    def __init__(self, org: Org | None, count: int, *, stuck_margin_s: float = 30.0) -> None:
        if count < 1:
            raise ValueError(f"model workers: {count} is fewer than one")
        self.org = org
        self.count = count
        self._workers: list[_Worker | None] = [None] * count
        self._ids = itertools.count(1)
        self._starting = asyncio.Lock()
        self._closed = False
        self._died_at_start = 0  # workers in a row that died before they were ready
        self.stuck_margin_s = stuck_margin_s

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
        """Wait until every worker has imported litellm and can take calls at once (benchmarks time after this);
        a ProviderFault when they cannot start."""
        for _ in range(_MAX_DEATHS_AT_START + 1):
            workers = [await self._worker(n) for n in range(self.count)]
            await asyncio.gather(*(w.ready.wait() for w in workers))
            if all(w.alive for w in workers):
                return

    async def _worker(self, number: int) -> _Worker:
        async with self._starting:
            worker = self._workers[number]
            if worker is not None and worker.alive:
                return worker
            if self._closed:
                raise ProviderFault("the model workers are closed", retryable=False, attempts=0)
            if self._died_at_start >= _MAX_DEATHS_AT_START:
                if worker is not None:  # its standard error, read to the end, says why
                    await asyncio.wait(worker.tasks, timeout=_CLOSE_GRACE_S)
                said = f": {worker.last_words}" if worker is not None and worker.last_words else ""
                raise ProviderFault(f"model workers: {self._died_at_start} died before they could take a call{said}",
                                    retryable=False, attempts=0)
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

    async def _live(self) -> list[_Worker]:
        """Every worker alive, a dead one replaced first (here, at the next call)."""
        for number in range(self.count):
            worker = self._workers[number]
            if worker is None or not worker.alive:
                await self._worker(number)
        live = [w for w in self._workers if w is not None and w.alive]
        if not live:  # one died again while the others started
            raise ProviderFault("no model worker is running", retryable=True, attempts=0)
        return live

    async def call(self, request: CallRequest) -> CallResult:
        """Make one call in a worker; a ProviderFault as `call_model` would raise it, or one for a dead worker."""
        worker = min(await self._live(), key=lambda w: len(w.pending))
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
            async with asyncio.timeout(longest_call_s(request.retry, self.stuck_margin_s)):
                await stdin.drain()
                return await future
        except (ConnectionError, BrokenPipeError):
            raise ProviderFault(f"{request.model}: model worker {worker.number} stopped before the call was sent",
                                retryable=True, attempts=0) from None
        except TimeoutError:
            # Longer than every attempt and backoff could take: the worker is stuck, not the provider slow.
            logger.error("model worker stuck number=%d pid=%d: killed", worker.number, worker.process.pid)
            self._kill(worker)
            raise ProviderFault(f"{request.model}: model worker {worker.number} did not answer within "
                                f"{longest_call_s(request.retry, self.stuck_margin_s):g} s and was stopped",
                                retryable=True,
                                attempts=1) from None
        except asyncio.CancelledError:
            if worker.alive and not stdin.is_closing():  # the worker stops the call too (a timeout, a stop)
                stdin.write(encode_frame(("cancel", call_id)))
            raise
        finally:
            worker.pending.pop(call_id, None)

    async def _read_answers(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        try:
            while (message := await read_frame(stdout)) is not None:
                self._received(worker, message)
        except Exception as exc:  # a frame that does not decode: this worker can no longer be trusted
            logger.error("model worker %d sent what cannot be read: %r", worker.number, exc)
            self._kill(worker)
        finally:
            await self._lost(worker)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        """Stop a worker that cannot be trusted; no call goes to it from now on (the next one starts another)."""
        worker.alive = False
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()

    def _received(self, worker: _Worker, message: Any) -> None:
        tag = message[0]
        if tag == "ready":
            worker.became_ready = True
            self._died_at_start = 0
            worker.ready.set()
        elif tag == "log":
            _, level, name, text = message
            logging.getLogger(name).log(level, "%s", text)
        elif tag in ("done", "fault"):
            future = worker.pending.get(message[1])
            if future is None or future.done():
                return  # cancelled here meanwhile
            if tag == "done":
                future.set_result(message[2])
            else:
                _, _, text, retryable, attempts = message
                future.set_exception(ProviderFault(text, retryable=retryable, attempts=attempts))

    async def _read_stderr(self, worker: _Worker) -> None:
        """Whatever a worker prints (a library's warning, a crash's traceback) goes to the log, not the screen.
        Read in chunks, not lines: a line of any length must not stop the reading (a full pipe would block the
        worker's next print, and with it its calls)."""
        stderr = worker.process.stderr
        assert stderr is not None
        from conductor.redaction import redact

        partial = b""
        while chunk := await stderr.read(_STDERR_CHUNK):
            *lines, partial = (partial + chunk).split(b"\n")
            if len(partial) > _STDERR_CHUNK:  # no newline in sight: log what there is
                lines, partial = [*lines, partial], b""
            for line in lines:
                text = redact(line.decode("utf-8", "replace").rstrip())
                if text:
                    worker.last_words = text[-300:]
                    logger.warning("model worker %d: %s", worker.number, text[:2000])

    async def _lost(self, worker: _Worker) -> None:
        """The worker's output ended: it exited or died. Its calls in flight fail as a dropped connection would."""
        worker.alive = False
        if not worker.became_ready and not self._closed:
            self._died_at_start += 1
        for future in list(worker.pending.values()):
            if not future.done():
                future.set_exception(ProviderFault("the model worker stopped during the call", retryable=True,
                                                   attempts=1))
        worker.ready.set()  # nobody waits forever on a worker that will never be ready
        code = await worker.process.wait()
        if not self._closed:
            logger.error("model worker stopped number=%d exit=%s", worker.number, code)

    async def close(self) -> None:
        """Let each worker finish and exit (its input closes), then make sure it has; idempotent."""
        async with self._starting:  # no worker half started behind this
            self._closed = True
        workers = [w for w in self._workers if w is not None]
        for worker in workers:
            if worker.process.stdin is not None and not worker.process.stdin.is_closing():
                worker.process.stdin.close()

        async def ended(worker: _Worker) -> None:
            try:
                await asyncio.wait_for(worker.process.wait(), _CLOSE_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()

        await asyncio.gather(*(ended(w) for w in workers))
        await asyncio.gather(*(t for w in workers for t in w.tasks), return_exceptions=True)
