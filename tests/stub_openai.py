"""A scripted OpenAI-compatible chat server on 127.0.0.1, for driving litellm's real HTTP client in tests.

`StubOpenAI(script)` listens on a free port of the loopback interface; `base_url` is what goes into
`api_base` with an `openai/<name>` model string. For every POST to /v1/chat/completions the script gets the
request (body, headers, how many hits came before) and returns a `Reply` that says what to do: answer
(plain or streamed, as the request asks), fail with a status, stall, drop the connection, reset it, cut the
body short, send a body that is not JSON, refuse, or answer with something enormous. Every hit is kept in `hits` so tests can count retries and read
the headers the client sent.

It never waits unboundedly: a stall ends when the server closes, and the server closes itself after
`max_seconds` even if a test forgets to.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    """One request as the server saw it."""

    n: int
    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        return next((m.get("content") or "" for m in self.body.get("messages", []) if m.get("role") == "user"), "")

    @property
    def agent(self) -> str:
        """The agent a wake-up is for, or the reviewer of a review ("" for anything else)."""
        m = re.search(r"^(?:Agent id|Reviewer): (\S+)", self.prompt, re.M)
        return m.group(1) if m else ""

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass
class Reply:
    """What the server does with one request; build them with the helpers below."""

    kind: str = "ok"  # ok | status | stall | drop | reset | truncate | malformed | refuse
    text: str | None = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # stall: how long before answering (or, streamed, before the rest of the stream)
    then: Reply | None = None
    usage: tuple[int, int] = (100, 20)
    cached: int = 0  # of the prompt tokens, reported as read from the provider's cache (`prompt_tokens_details`)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (function name, arguments)


def ok(text: str | dict[str, Any], *, usage: tuple[int, int] = (100, 20), cached: int = 0) -> Reply:
    return Reply("ok", text if isinstance(text, str) else json.dumps(text), usage=usage, cached=cached)


def call_tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    """An answer that asks for tool calls instead of answering (OpenAI's `tool_calls`, finish reason
    `tool_calls`); not for streamed requests."""
    return Reply("tools", None, tool_calls=list(calls))


def status(code: int, message: str = "stub error", **headers: str) -> Reply:
    return Reply("status", message, status=code, headers={k.replace("_", "-"): v for k, v in headers.items()})


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Wait before answering; streamed, the first chunk goes out at once and the silence comes after it."""
    return Reply("stall", seconds=seconds, then=then or ok({"summary": "late"}))


def drop() -> Reply:
    """Close the connection without a word."""
    return Reply("drop")


def reset() -> Reply:
    """Abort the connection: a TCP reset (RST) instead of an answer, as a crashing proxy or load balancer does."""
    return Reply("reset")


def malformed(body: str = "<html><body>upstream hiccup</body></html>") -> Reply:
    """A 200 whose body is not JSON (plain) or whose events are not (streamed), as a misconfigured proxy sends."""
    return Reply("malformed", body)


def truncate(text: str | dict[str, Any]) -> Reply:
    """Announce the full body, send half of it, close."""
    return Reply("truncate", text if isinstance(text, str) else json.dumps(text))


def refuse(message: str = "I'm sorry, I can't help with that.") -> Reply:
    """An OpenAI-style refusal: no content, a `refusal` field."""
    return Reply("refuse", message)


Script = Callable[[Hit], Reply]


def _usage(usage: tuple[int, int], cached: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def _completion(model: str, content: str | None, usage: tuple[int, int], refusal: str | None = None,
                cached: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": _usage(usage, cached),
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: tuple[int, int] | None = None,
           cached: int = 0) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        body["choices"] = []
        body["usage"] = _usage(usage, cached)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        stub = self.server.stub
        with stub.lock:
            hit = Hit(len(stub.hits), time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()},
                      body)
            stub.hits.append(hit)
        reply = stub.script(hit)
        self._send(reply, hit)

    def do_GET(self) -> None:  # /v1/models and the like: nothing here
        self._json(404, {"error": {"message": "not found"}})

    def _json(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send(self, reply: Reply, hit: Hit) -> None:
        model = str(hit.body.get("model", "stub"))
        closing = self.server.stub.closing
        if reply.kind == "status":
            self._json(reply.status, {"error": {"message": reply.text, "type": "stub_error", "code": reply.status}},
                       reply.headers)
        elif reply.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif reply.kind == "reset":
            self.close_connection = True
            # Linger on, for zero seconds: closing now sends RST, not FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        elif reply.kind == "malformed":
            data = (f"data: {reply.text}\n\ndata: [DONE]\n\n" if hit.stream else reply.text or "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if hit.stream else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif reply.kind == "truncate":
            data = json.dumps(_completion(model, reply.text, reply.usage)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if hit.stream else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif reply.kind == "stall":
            if hit.stream:
                self._stream_start(model)
                closing.wait(reply.seconds)
                self.close_connection = True
                return
            closing.wait(reply.seconds)
            if not closing.is_set() and reply.then is not None:
                self._send(reply.then, hit)
        elif reply.kind == "tools":
            body = _completion(model, None, reply.usage)
            choice = body["choices"][0]
            choice["finish_reason"] = "tool_calls"
            choice["message"]["tool_calls"] = [
                {"id": f"call_{hit.n}_{i}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}
                for i, (name, arguments) in enumerate(reply.tool_calls)]
            self._json(200, body)
        elif reply.kind == "refuse":
            if hit.stream:
                self._stream(model, None, reply.usage, refusal=reply.text)
            else:
                self._json(200, _completion(model, None, reply.usage, refusal=reply.text))
        elif hit.stream:
            self._stream(model, reply.text, reply.usage, cached=reply.cached)
        else:
            self._json(200, _completion(model, reply.text, reply.usage, cached=reply.cached))

    def _stream_start(self, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(_chunk(model, {"role": "assistant", "content": ""}))
        self.wfile.flush()

    def _stream(self, model: str, text: str | None, usage: tuple[int, int], refusal: str | None = None,
                cached: int = 0) -> None:
        self._stream_start(model)
        if refusal is not None:
            self.wfile.write(_chunk(model, {"refusal": refusal}))
        text = text or ""
        for i in range(0, len(text), 16384):
            self.wfile.write(_chunk(model, {"content": text[i : i + 16384]}))
        self.wfile.write(_chunk(model, {}, finish="stop"))
        self.wfile.write(_chunk(model, {}, usage=usage, cached=cached))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stub: StubOpenAI


class StubOpenAI:
    """The server, as a context manager: `with StubOpenAI(script) as stub: ... stub.base_url ... stub.hits`."""

    def __init__(self, script: Script, *, max_seconds: float = 120.0) -> None:
        self.script = script
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="stub-openai", daemon=True)
        self._timer = threading.Timer(max_seconds, self.close)
        self._timer.daemon = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def of(self, agent: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.agent == agent]

    def __enter__(self) -> StubOpenAI:
        self._thread.start()
        self._timer.start()
        return self

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        if not self.closing.is_set():
            self.close()
        self._thread.join(timeout=5)
