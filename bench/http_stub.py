"""An OpenAI-compatible chat server on 127.0.0.1 that waits a fixed time and answers one valid note.

The HTTP benchmark (`bench.http_scale`) runs it in a process of its own, as a remote model would be: its CPU is
not the engine's. It is aiohttp (installed with litellm), so one process answers hundreds of requests in flight;
every answer is the scale org's one `note.write` decision (`bench.common.LATENCY_ANSWER`), with usage.

    python -m bench.http_stub --latency-ms 50      # prints "PORT <n>" once it listens, then serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from typing import Any

from bench.common import LATENCY_ANSWER


def _body(model: str, prompt_chars: int) -> bytes:
    prompt_tokens = prompt_chars // 4
    return json.dumps({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": json.dumps(LATENCY_ANSWER)}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 60, "total_tokens": prompt_tokens + 60},
    }).encode()


async def serve(latency_ms: float, port: int = 0) -> None:
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        await asyncio.sleep(latency_ms / 1000)
        chars = sum(len(m.get("content") or "") for m in payload.get("messages", []) if isinstance(m, dict))
        return web.Response(body=_body(str(payload.get("model", "stub")), chars), content_type="application/json")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # bound here, so the port chosen for 0 is known before serving
    await web.SockSite(runner, sock, backlog=1024).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.latency_ms, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
