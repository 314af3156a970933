"""`[notify]`: a burst of urgent escalations reaches the founder outside the terminal as one message, through a
real HTTP POST to a receiver the test starts on 127.0.0.1, with no credential in it; a dead endpoint is a log
line, never a stopped org."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import conductor.engine.jobs as jobs_module
from conductor.engine.notify import Notifier
from conductor.engine.provider import load_litellm
from conductor.engine.scheduler import Engine, EngineOptions
from conductor.org import load_org
from conductor.org.models import NotifySettings
from conductor.store import StoredEvent
from tui_support import DUO, SCRIPTED_MODEL, Scripted, decision, lead_proposes

KEY = "sk-proj-" + "Q7w" * 12  # what a provider key looks like; set in the environment as the run's key


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps every body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def test_a_burst_of_urgent_escalations_is_one_webhook_call_without_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    leaky = f"Spend now; the key {KEY} is in my notes."
    fake = Scripted(lead_proposes(*(decision("ad.buy", {"budget": b}, rationale=leaky) for b in (900, 800, 700))))
    monkeypatch.setattr(jobs_module, "call_model", fake)
    duo = load_org(DUO)
    org = duo.model_copy(update={"notify": NotifySettings(webhook=receiver.url, batch=timedelta(hours=1))})
    engine = Engine(org, tmp_path / "n.db", EngineOptions(until=org.start + timedelta(hours=3), model=SCRIPTED_MODEL))
    await asyncio.to_thread(load_litellm)
    await asyncio.wait_for(engine.run(), 60)

    assert len(receiver.bodies) == 1, "a burst is one message"
    body = receiver.bodies[0]
    assert KEY.encode() not in body and b"sk-proj-" not in body
    message = json.loads(body)
    assert message["count"] == 3 and message["org"] == org.name
    assert {item["why"] for item in message["items"]} == {"urgent_escalation"}
    assert all(item["agent"] == "duo-lead" and item["text"] for item in message["items"])


def _event(event_id: int, kind: str, payload: dict[str, Any]) -> StoredEvent:
    return StoredEvent(id=event_id, ts="2026-01-05T09:00:00.000000Z", kind=kind, payload=payload, venture="duo",
                       agent="duo-lead", sim_time="2026-01-05T09:00:00.000000Z")


async def test_only_what_needs_a_person_is_gathered_and_a_dead_endpoint_stops_nothing() -> None:
    sent: list[bytes] = []
    notifier = Notifier(NotifySettings(command=["true"], batch=timedelta(hours=1)), "Duo", deliver=sent.append)
    notifier.observe(_event(1, "escalation.opened", {"kind": "decision", "urgency": 1, "reason": "small"}))
    notifier.observe(_event(2, "escalation.opened", {"kind": "decision", "urgency": 3, "reason": "big"}))
    notifier.observe(_event(3, "agent.stuck", {"reason": "no valid answer"}))
    notifier.observe(_event(4, "agent.budget_stopped", {"day": "2026-01-05", "scope": "agent:duo-lead"}))
    notifier.observe(_event(5, "agent.concluded", {"summary": "fine", "next_wake": "2026-01-05T10:00:00Z"}))
    await notifier.close()
    (body,) = sent
    assert [item["why"] for item in json.loads(body)["items"]] == ["urgent_escalation", "agent_stuck",
                                                                   "budget_exhausted"]

    def dead(_: bytes) -> None:
        raise ConnectionRefusedError("connection refused")

    failing = Notifier(NotifySettings(webhook="http://127.0.0.1:9/hook"), "Duo", deliver=dead)
    failing.observe(_event(6, "agent.stuck", {"reason": "x"}))
    await failing.close()  # logged, not raised
    assert failing.sent == 0 and failing.pending == []
