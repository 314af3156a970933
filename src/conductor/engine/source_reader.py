"""Metric sources, the I/O: running a source's command and fetching its URL, under its timeout.

A command runs as the org file's `[commands]` do (`engine.actions`): its argv as written, found from PATH or
from the directory conductor runs in, never through a shell. It runs in a session of its own, so a timeout
kills it and whatever it started. A URL is fetched with the standard library in a thread. Neither may take
more than its timeout or keep more than `MAX_ANSWER_BYTES` of its answer, and nothing raised here escapes a
reading: every failure becomes a `Refused` with words for the founder (`engine.metric_sources`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import logging
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePath
from urllib.parse import unquote, urlsplit, urlunsplit

from conductor import __version__
from conductor.engine.metric_sources import Declared, Reading, Refused, parse_value, provenance
from conductor.engine.tools import ToolHub
from conductor.org.durations import format_duration
from conductor.org.models import MetricSource

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1_000_000  # a metric is one number; anything longer is kept only this far
_CHUNK = 65_536


async def read_all(due: list[Declared], tools: ToolHub | None = None) -> list[Reading]:
    """Read every due source at once; the readings come back in the order given (the commit order). `tools`
    reaches the run's tool servers, for sources read through an MCP tool."""
    return list(await asyncio.gather(*(read(d, tools) for d in due)))


async def read(declared: Declared, tools: ToolHub | None = None) -> Reading:
    """One reading: the number the source gave, or why there is none. Never raises (except cancellation)."""
    source = declared.source
    raw = ""
    try:
        raw = await (_run(source) if source.command else _call(source, tools) if source.tool else _fetch(source))
        return Reading(declared, value=parse_value(raw, source.path), raw=raw)
    except Refused as refused:
        return Reading(declared, refusal=refused, raw=refused.raw or raw)
    except Exception as exc:  # a reading must never stop the run: anything unforeseen is a refused reading
        logger.exception("metric source failed venture=%s metric=%s", declared.venture, declared.metric)
        return Reading(declared, refusal=Refused("error", f"{type(exc).__name__}: {exc}"), raw=raw)


# -- a command ------------------------------------------------------------------------------------------------
async def _drain(stream: asyncio.StreamReader | None) -> bytes:
    """A pipe read to its end, keeping the first `MAX_ANSWER_BYTES` + 1: the command never blocks on a full
    pipe, and an endless printer costs memory only up to the cap (its timeout ends it)."""
    kept = bytearray()
    while stream is not None:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            break
        if len(kept) <= MAX_ANSWER_BYTES:
            kept += chunk[: MAX_ANSWER_BYTES + 1 - len(kept)]
    return bytes(kept)


def _kill(proc: asyncio.subprocess.Process) -> None:
    """The command and everything it started (its own session's process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover (Windows has no process groups)
            proc.kill()


async def _run(source: MetricSource) -> str:
    argv = source.command or []
    program = provenance(source)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        name = PurePath(argv[0]).name if argv else "the command"
        raise Refused("cannot_start", f"cannot start {name}: {exc.strerror or exc}") from None
    try:
        out, err, _ = await asyncio.wait_for(
            asyncio.gather(_drain(proc.stdout), _drain(proc.stderr), proc.wait()), source.timeout.total_seconds())
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise Refused("timeout", f"no answer within {format_duration(source.timeout)}; {program} was "
                                 "stopped") from None
    except BaseException:  # cut off (`Engine.interrupt`): leave nothing running, and no zombie
        _kill(proc)
        await proc.wait()
        raise
    stdout = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        said = err.decode("utf-8", "replace").strip() or stdout
        raise Refused("exit_code", f"{program} exited with code {proc.returncode}", raw=said)
    if len(out) > MAX_ANSWER_BYTES:
        raise Refused("too_large", f"{program} printed more than {MAX_ANSWER_BYTES:,} bytes", raw=stdout)
    return stdout


# -- an MCP tool ----------------------------------------------------------------------------------------------
async def _call(source: MetricSource, tools: ToolHub | None) -> str:
    if tools is None:
        raise Refused("no_tools", "tools are off in this run (--no-tools)")
    server, _, name = (source.tool or "").partition(".")
    outcome = await tools.call(server, name, dict(source.args), timeout_s=source.timeout.total_seconds())
    if not outcome.ok:
        raise Refused("tool_error", outcome.error or "the tool failed", raw=outcome.text)
    return outcome.text


# -- a URL ----------------------------------------------------------------------------------------------------
async def _fetch(source: MetricSource) -> str:
    timeout = source.timeout.total_seconds()
    try:
        # The thread stops itself at the deadline (`_get`); the wait is a last guard, with a little slack.
        return await asyncio.wait_for(asyncio.to_thread(_get, source.url or "", timeout), timeout + 5)
    except TimeoutError:
        raise Refused("timeout", f"no answer within {format_duration(source.timeout)}") from None


def _request(url: str) -> urllib.request.Request:
    """The request for `url`: its user and password, if it has them, as a basic-auth header that is not sent
    on to wherever a redirect points (urllib itself does not read them from the URL)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    request = urllib.request.Request(urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), headers={
        "Accept": "application/json, text/plain;q=0.9", "User-Agent": f"conductor/{__version__}"})
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        request.add_unredirected_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    return request


def _get(url: str, timeout: float) -> str:
    """GET `url` and return its body as text; `Refused` for a failure, with the server's words if it said any."""
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            body = bytearray()
            while len(body) <= MAX_ANSWER_BYTES:
                if time.monotonic() > deadline:
                    raise Refused("timeout", f"the answer took longer than {timeout:g} s")
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                body += chunk
    except urllib.error.HTTPError as exc:
        said = exc.read(4096).decode("utf-8", "replace") if exc.fp is not None else ""
        raise Refused("http_status", f"HTTP {exc.code} {exc.reason}", raw=said) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise Refused("timeout", f"no answer within {timeout:g} s") from None
        raise Refused("unreachable", f"cannot reach the server: {getattr(reason, 'strerror', None) or reason}") from None
    except TimeoutError:
        raise Refused("timeout", f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise Refused("unreachable", f"cannot read the answer: {type(exc).__name__}: {exc}") from None
    text = bytes(body).decode("utf-8", "replace")
    if len(body) > MAX_ANSWER_BYTES:
        raise Refused("too_large", f"the answer is longer than {MAX_ANSWER_BYTES:,} bytes", raw=text)
    return text


# -- for `conductor doctor`: what each source is, and whether it can be read, without reading it ----------------
def describe(source: MetricSource) -> tuple[bool, str]:
    """(looks readable, one line): a command's program found, or a URL well formed. Makes no network call."""
    every = f"every {format_duration(source.every)}" + (f", at {source.path}" if source.path else "")
    if source.tool:
        return True, f"tool {source.tool} ({every}): called through its [[tools]] server"
    if source.command:
        program = source.command[0]
        found = _program(program)
        if found is None:
            where = "in this directory" if os.sep in program or "/" in program else "on PATH"
            return False, f"command {provenance(source)} ({every}): {program} not found {where}"
        return True, f"command {provenance(source)} ({every}): runs {found}"
    shown = provenance(source)
    parts = urlsplit(source.url or "")
    try:
        port = parts.port
    except ValueError:
        return False, f"url {shown} ({every}): the port is not a number"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False, f"url {shown} ({every}): not an http(s) URL with a host"
    auth = ", with a password (sent as basic auth)" if parts.password is not None else ""
    return True, f"url {shown} ({every}): {parts.hostname}{f':{port}' if port else ''}{auth}"


def _program(program: str) -> str | None:
    """The path a program runs from, as `create_subprocess_exec` finds it: a path as given (from the current
    directory when relative), a bare name on PATH. None when it is not there or not executable."""
    if os.sep in program or "/" in program:
        path = Path(program)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program)
