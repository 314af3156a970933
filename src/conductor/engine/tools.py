"""Tools agents use while they think: the MCP servers the org file declares, reached through the official SDK.

Only declared servers run, and only under their policy (`allowed`, `ask`, `off`: `org.models.ToolServer`).
Each server is started once per run, on first use, and kept open by one task that owns its connection (the
SDK's client is an anyio context that must be entered and left by the same task); calls from wake-ups go
through it concurrently. A server that crashes, hangs past its timeout or answers garbage gives a
`ToolOutcome` that says so, never an exception: the wake-up goes on, and the connection is started afresh at
the next call. Results are cut to the org's size limit and stripped of terminal escapes before anything
shows or stores them. Secrets reach a server only through the environment variables its entry names, read
when the server starts; they are remembered for redaction and never stored.

Public API: `ToolSpec`, `ToolOutcome`, `ToolHub` (`tools`, `specs_for`, `call`, `close`), `function_name`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conductor.org.models import Org, ToolPolicy, ToolServer
from conductor.redaction import redact, remember, remember_url
from conductor.text import printable

logger = logging.getLogger(__name__)

# A model-facing function name: OpenAI and Anthropic take [A-Za-z0-9_-], at most 64 characters.
_FUNCTION_CHARS = re.compile(r"[^A-Za-z0-9_-]")
CONNECT_TIMEOUT_S = 20.0
MAX_RESTARTS = 3  # restarts in a row without a good call between them, before a server is given up on for the run
DROP_WAIT_S = 10.0  # how long a server is given to stop (the SDK's own stdio shutdown takes up to about 6.5 s)
STDERR_TAIL = 300


def function_name(server: str, tool: str) -> str:
    """How a tool is named to the model: `server__tool`, in the characters every provider accepts."""
    return _FUNCTION_CHARS.sub("_", f"{server}__{tool}")[:64]


@dataclass(frozen=True)
class ToolSpec:
    """One tool of one declared server, as its server lists it, under the org's policy."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    policy: ToolPolicy

    @property
    def ref(self) -> str:
        return f"{self.server}.{self.name}"

    @property
    def function(self) -> str:
        return function_name(self.server, self.name)

    def as_function(self) -> dict[str, Any]:
        """The OpenAI-style tool declaration litellm passes to every provider."""
        schema = self.input_schema if self.input_schema.get("type") == "object" else {"type": "object",
                                                                                      "properties": {}}
        what = self.description or f"{self.name} of {self.server}"
        if self.policy == "ask":
            what += " (asks the founder first: calling it proposes the call for approval; it does not run now)"
        return {"type": "function", "function": {"name": self.function, "description": what[:1000],
                                                 "parameters": schema}}


@dataclass
class ToolOutcome:
    """What one tool call gave: its text (cut and printable), or the error that stopped it."""

    ok: bool
    text: str
    duration_ms: float
    error: str | None = None
    truncated: bool = False
    chars: int = 0  # the result's length before it was cut

    def for_model(self) -> str:
        """What the model reads back as the tool's result."""
        if self.ok:
            return self.text + (f"\n[cut: {self.chars} characters in all]" if self.truncated else "")
        return f"error: {self.error}"


class ToolFault(Exception):
    """A server that cannot be reached, listed or called; its message is one line for an event."""


def _bounded(text: str, limit: int) -> tuple[str, bool, int]:
    clean = printable(text)
    if len(clean) <= limit:
        return clean, False, len(clean)
    return clean[:limit], True, len(clean)


def _result_text(result: Any) -> str:
    """A `CallToolResult` as text: its text blocks, else its structured content as JSON, else what it holds."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            parts.append(text)
        else:
            parts.append(f"[{getattr(block, 'type', 'content')} block]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, default=str))
    return "\n".join(parts)


@dataclass
class _Connection:
    """One running server: the task that owns the SDK client, and the client while it is open."""

    task: asyncio.Task[None]
    ready: asyncio.Future[Any]
    closing: asyncio.Event
    stderr: Any = None  # the stdio server's stderr, kept in a temporary file for the crash message
    client: Any = None
    in_flight: int = 0  # calls under way on this connection
    suspect: bool = False  # a call failed on it: replaced at the next call, once nothing is in flight on it


@dataclass
class ToolHub:
    """The run's tool servers: started on first use, listed once, called under a timeout, closed at the end.

    `builtins` maps a `builtin = "..."` name to a factory of an in-process MCP server (the simulator's market).
    """

    org: Org
    builtins: dict[str, Callable[[], Any]] = field(default_factory=dict)
    _connections: dict[str, _Connection] = field(default_factory=dict)
    _listed: dict[str, list[ToolSpec]] = field(default_factory=dict)
    _restarts: dict[str, int] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _stopping: set[asyncio.Task[None]] = field(default_factory=set)  # owner tasks still shutting their server down

    # -- what there is ------------------------------------------------------------------------------------
    async def tools(self, server_id: str) -> list[ToolSpec]:
        """The server's tools with their policies (listed once per run). Raises ToolFault."""
        if server_id in self._listed:
            return self._listed[server_id]
        server = self._server(server_id)
        client = await self._client(server)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                listed = await client.list_tools()
        except Exception as exc:
            await self._drop(server_id)
            raise ToolFault(f"{server_id}: could not list its tools: {self._why(exc)}") from None
        specs = [ToolSpec(server_id, t.name, printable(t.description or "", one_line=True)[:500],
                          dict(t.input_schema or {}), server.policy_of(t.name)) for t in listed.tools]
        self._listed[server_id] = specs
        return specs

    async def specs_for(self, refs: list[str]) -> tuple[list[ToolSpec], list[str]]:
        """The tools an agent's references ('server' or 'server.tool') give it, `off` ones left out, and one
        line per server that could not be listed (the wake-up goes on without its tools)."""
        chosen: dict[str, ToolSpec] = {}
        problems: list[str] = []
        for ref in refs:
            server_id, _, name = ref.partition(".")
            try:
                specs = await self.tools(server_id)
            except ToolFault as fault:
                if str(fault) not in problems:
                    problems.append(str(fault))
                continue
            for spec in specs:
                if spec.policy != "off" and (not name or spec.name == name):
                    chosen.setdefault(spec.function, spec)
        return list(chosen.values()), problems

    # -- calling ------------------------------------------------------------------------------------------
    async def call(self, server_id: str, tool: str, arguments: dict[str, Any], *, timeout_s: float | None = None
                   ) -> ToolOutcome:
        """Call one tool; never raises (but for cancellation). The timeout covers starting the server too.

        A call that times out or breaks the connection has the server restarted at the next call, once the
        calls still in flight on that connection have ended: a slow call does not fail its neighbours. A server
        is given up on for the run after `MAX_RESTARTS` restarts in a row without a good call between them.
        """
        limit = self.org.engine.tool_result_chars
        timeout_s = timeout_s if timeout_s is not None else self.org.engine.tool_timeout.total_seconds()
        started = time.monotonic()

        def elapsed() -> float:
            return round((time.monotonic() - started) * 1000, 1)

        conn: _Connection | None = None
        try:
            async with asyncio.timeout(timeout_s):
                server = self._server(server_id)
                conn = await self._connection(server)
                conn.in_flight += 1
                try:
                    result = await conn.client.call_tool(tool, arguments)
                finally:
                    conn.in_flight -= 1
        except ToolFault as fault:
            return ToolOutcome(False, "", elapsed(), error=str(fault))
        except TimeoutError:
            duration = elapsed()
            if conn is not None:
                await self._retire(server_id, conn)
            return ToolOutcome(False, "", duration, error=f"no answer within {timeout_s:g} s (the server is "
                                                          "restarted at its next call)")
        except Exception as exc:
            duration = elapsed()
            tail = self._tail(conn.stderr) if conn is not None else ""
            if conn is not None:
                await self._retire(server_id, conn)
            why = self._why(exc) + (f"; its last words: {tail}" if tail else "")
            return ToolOutcome(False, "", duration, error=why)
        self._restarts[server_id] = 0  # a good call: the server is healthy again
        text, cut, chars = _bounded(_result_text(result), limit)
        if getattr(result, "is_error", False):
            outcome = ToolOutcome(False, text, elapsed(), error=f"the tool reported an error: {text[:300]}",
                                  truncated=cut, chars=chars)
        else:
            outcome = ToolOutcome(True, text, elapsed(), truncated=cut, chars=chars)
        if conn.suspect and conn.in_flight == 0:  # the last call on a connection another call failed on
            await self._drop(server_id, conn)
        return outcome

    async def close(self) -> None:
        """Stop every server this run started (each given `DROP_WAIT_S` to stop)."""
        for server_id in list(self._connections):
            await self._drop(server_id)
        if self._stopping:
            await asyncio.wait(set(self._stopping), timeout=DROP_WAIT_S)

    # -- connections --------------------------------------------------------------------------------------
    def _server(self, server_id: str) -> ToolServer:
        server = self.org.tool_server(server_id)
        if server is None:
            raise ToolFault(f"{server_id}: not a tool server the org file declares")
        return server

    async def _client(self, server: ToolServer) -> Any:
        return (await self._connection(server)).client

    async def _connection(self, server: ToolServer) -> _Connection:
        lock = self._locks.setdefault(server.id, asyncio.Lock())
        async with lock:
            conn = self._connections.get(server.id)
            if conn is not None and not conn.task.done() and not conn.suspect:
                await asyncio.shield(conn.ready)
                return conn
            if conn is not None:
                await self._drop(server.id, conn)
            if self._restarts.get(server.id, 0) > MAX_RESTARTS:
                raise ToolFault(f"{server.id}: given up on after {MAX_RESTARTS} restarts in this run")
            self._restarts[server.id] = self._restarts.get(server.id, 0) + 1
            conn = self._start(server)
            self._connections[server.id] = conn
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await asyncio.shield(conn.ready)
                    return conn
            except TimeoutError:
                await self._drop(server.id, conn)
                raise ToolFault(f"{server.id}: did not start within {CONNECT_TIMEOUT_S:g} s") from None
            except ToolFault:
                await self._drop(server.id, conn)
                raise

    def _start(self, server: ToolServer) -> _Connection:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        closing = asyncio.Event()
        stderr = (tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in _drop
                  if server.command else None)
        conn = _Connection(task=None, ready=ready, closing=closing, stderr=stderr)  # type: ignore[arg-type]
        conn.task = asyncio.create_task(self._own(server, conn), name=f"tool server {server.id}")
        return conn

    async def _own(self, server: ToolServer, conn: _Connection) -> None:
        """The one task that enters and leaves the server's client (the SDK requires the same task)."""
        try:
            target = self._target(server, conn.stderr)
            from mcp import Client  # the SDK is imported only by a run whose org declares tools

            async with Client(target) as client:
                conn.client = client
                if not conn.ready.done():
                    conn.ready.set_result(client)
                await conn.closing.wait()
        except asyncio.CancelledError:
            if not conn.ready.done():
                conn.ready.set_exception(ToolFault(f"{server.id}: stopped while starting"))
        except BaseException as exc:  # the SDK raises exception groups from its task groups
            message = f"{server.id}: {self._why(exc)}"
            tail = self._tail(conn.stderr)
            if tail:
                message += f"; its last words: {tail}"
            if not conn.ready.done():
                conn.ready.set_exception(ToolFault(message))
            logger.warning("tool server ended server=%s reason=%r", server.id, message)

    def _target(self, server: ToolServer, stderr: Any) -> Any:
        if server.builtin is not None:
            factory = self.builtins.get(server.builtin)
            if factory is None:
                raise ToolFault(f"no built-in tool server '{server.builtin}' in this run")
            return factory()
        if server.url is not None:
            remember_url(server.url)  # a password or token in it is a credential
            return server.url
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        argv = list(server.command or [])
        env = {}
        for name in server.env:
            value = os.environ.get(name)
            if value is None:
                raise ToolFault(f"the environment variable {name} (env of tool server '{server.id}') is not set")
            remember(value)
            env[name] = value
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env)
        return stdio_client(params, errlog=stderr)

    async def _retire(self, server_id: str, conn: _Connection) -> None:
        """A connection a call failed on: restarted at the next call, once no other call is in flight on it."""
        conn.suspect = True
        if conn.in_flight == 0:
            await self._drop(server_id, conn)

    async def _drop(self, server_id: str, conn: _Connection | None = None) -> None:
        """Close a server's connection (`conn`, if it is still the current one; else the current one).

        The owner task leaves the SDK's client itself, which stops a stdio server gently and then by force; it is
        never cancelled from outside (that would defeat the SDK's shielded shutdown). A shutdown that takes longer
        than `DROP_WAIT_S` is left to finish in the background (`close` waits for it once more)."""
        current = self._connections.get(server_id)
        if conn is None:
            conn = current
        if conn is None:
            return
        if current is conn:
            del self._connections[server_id]
            self._listed.pop(server_id, None)
        conn.closing.set()
        done, _ = await asyncio.wait({conn.task}, timeout=DROP_WAIT_S)  # our own cancellation still propagates
        if not done:
            logger.warning("tool server slow to stop server=%s", server_id)
            self._stopping.add(conn.task)
            conn.task.add_done_callback(self._stopping.discard)
            return
        if conn.stderr is not None:
            conn.stderr.close()

    @staticmethod
    def _tail(stderr: Any) -> str:
        if stderr is None or stderr.closed:
            return ""
        try:
            stderr.flush()
            stderr.seek(0, os.SEEK_END)
            size = stderr.tell()
            stderr.seek(max(0, size - 4000))
            lines = [line for line in stderr.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return redact(printable(lines[-1], one_line=True))[-STDERR_TAIL:] if lines else ""

    @staticmethod
    def _why(exc: BaseException) -> str:
        """One line for an exception, looking inside the SDK's exception groups."""
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        text = str(exc).strip() or type(exc).__name__
        return redact(printable(f"{type(exc).__name__}: {text}" if str(exc).strip() else text, one_line=True))[:300]


__all__ = ["ToolFault", "ToolHub", "ToolOutcome", "ToolSpec", "function_name"]
