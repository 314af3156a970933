"""One model worker process: `python -m conductor.engine.model_worker`, started by `model_workers.ModelWorkers`.

It reads framed messages on its standard input (first the org, then calls and cancellations), makes each call
with `provider.call_model` as the engine would, many at a time on its own event loop, and writes each answer or
fault back on its standard output. Everything else a library might print goes to standard error, which the
engine logs: file descriptor 1 is kept for the frames alone. Its log records go back as frames too. When its
input closes (the engine is done, or died) it cancels what is still in flight and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any, BinaryIO

from conductor.engine.model_workers import encode_frame, read_frame
from conductor.engine.provider import CallRequest, ProviderFault, call_model, load_litellm

logger = logging.getLogger("conductor.engine.model_worker")  # run as __main__: named, so it reaches the engine


class _Output:
    """Frames to the engine, whole: a lock, because log records may come from litellm's threads."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        frame = encode_frame(message)
        with self.lock:
            try:
                self.out.write(frame)
                self.out.flush()
            except (OSError, ValueError):  # the engine is gone: nobody left to tell
                pass


class _Frames(logging.Handler):
    """Log records of this process, sent to the engine as ("log", level, logger, message) frames."""

    def __init__(self, output: _Output) -> None:
        super().__init__()
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.output.send(("log", record.levelno, record.name, record.getMessage()))
        except Exception:
            self.handleError(record)


async def _serve(out: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**30)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    output = _Output(out)
    send = output.send

    first = await read_frame(reader)
    if not first or first[0] != "init":
        return
    _, org, level = first
    handler = _Frames(output)
    root = logging.getLogger("conductor")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    await asyncio.to_thread(load_litellm)
    send(("ready",))
    running: dict[int, asyncio.Task[None]] = {}

    async def one(call_id: int, request: CallRequest) -> None:
        try:
            result = await call_model(request.model, request.messages, org=org, retry=request.retry,
                                      response_format=request.response_format, api_base=request.api_base,
                                      max_tokens=request.max_tokens, extra=request.extra, label=request.label,
                                      tools=request.tools)
        except ProviderFault as fault:
            send(("fault", call_id, str(fault), fault.retryable, fault.attempts))
        except asyncio.CancelledError:
            logger.debug("call cancelled in the worker id=%d for=%s", call_id, request.label or "-")
        except Exception as exc:  # a bug, not the provider: the engine still gets an answer for this call
            send(("fault", call_id, f"{request.model}: model worker error {type(exc).__name__}: {exc}", False, 1))
        else:
            try:
                send(("done", call_id, result))
            except Exception as exc:  # an answer that cannot be sent: the engine must not wait for it
                send(("fault", call_id, f"{request.model}: the answer could not be sent back: {exc}", False, 1))
        finally:
            running.pop(call_id, None)

    while (message := await read_frame(reader)) is not None:
        if message[0] == "call":
            _, call_id, request = message
            running[call_id] = asyncio.create_task(one(call_id, request))
        elif message[0] == "cancel" and (task := running.get(message[1])) is not None:
            task.cancel()
    for task in list(running.values()):
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*running.values(), return_exceptions=True)


def main() -> None:
    # Ctrl-C in a terminal and a service manager's SIGTERM reach the whole process group: the engine decides
    # what its calls in flight do then (cut off, or let finish), and closes this worker's input when it is done.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Frames go to a copy of the original standard output; fd 1 itself now points at standard error, so a stray
    # print (litellm's, a provider SDK's) cannot corrupt a frame.
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    asyncio.run(_serve(out))


if __name__ == "__main__":
    main()
