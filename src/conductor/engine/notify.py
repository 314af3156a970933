"""Telling the founder, outside the terminal, that something needs them (`[notify]` in the org file).

The engine hands every event it commits to `Notifier.observe`; the few that need a person (an urgent
escalation, a stuck agent, an exhausted budget) are gathered for `batch` of real time from the first one, then
sent as one message: a burst of twelve escalations is one notification, not twelve. Delivery runs in a thread
with a timeout, so a slow or dead endpoint never holds the scheduler, and a failed delivery is a log line, not
an error: the inbox still has everything. What is sent is the product's one line for each event
(`conductor.events.text`), through `redact`, like every string the store keeps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import urllib.request
from collections.abc import Callable
from typing import Any

from conductor.events import text as event_text
from conductor.org.models import NotifySettings
from conductor.redaction import redact
from conductor.store.events import StoredEvent

logger = logging.getLogger(__name__)

Deliver = Callable[[bytes], None]


def reason_to_notify(event: StoredEvent, settings: NotifySettings) -> str | None:
    """Which `on` entry an event falls under, or None when it needs no one."""
    if event.kind == "escalation.opened" and int(event.payload.get("urgency") or 0) >= settings.min_urgency:
        return "urgent_escalation"
    if event.kind == "agent.stuck":
        return "agent_stuck"
    if event.kind == "agent.budget_stopped":
        return "budget_exhausted"
    return None


def message(org: str, items: list[dict[str, Any]]) -> bytes:
    """The JSON body of one notification: a headline and one entry per event, redacted as a whole."""
    count = len(items)
    body = {"org": org, "count": count,
            "headline": f"{org}: {count} thing{'s' if count != 1 else ''} need{'' if count != 1 else 's'} you",
            "items": items}
    return redact(json.dumps(body, ensure_ascii=False)).encode()


class Notifier:
    def __init__(self, settings: NotifySettings, org: str, *, deliver: Deliver | None = None) -> None:
        self.settings = settings
        self.org = org
        self.deliver = deliver or self._deliver
        self.pending: list[dict[str, Any]] = []
        self.sent = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def observe(self, event: StoredEvent) -> None:
        why = reason_to_notify(event, self.settings)
        if why is None or why not in self.settings.on:
            return
        self.pending.append({"why": why, "event_id": event.id, "kind": event.kind, "venture": event.venture,
                             "agent": event.agent, "at": event.sim_time,
                             "text": event_text(event.kind, event.payload)})
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.settings.batch.total_seconds(), self._flush_soon)

    def _flush_soon(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Send what has gathered, if anything, as one message."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self.pending = self.pending, []
        if not items:
            return
        body = message(self.org, items)
        try:
            await asyncio.to_thread(self.deliver, body)
            self.sent += 1
            logger.info("notified the founder: %d item(s)", len(items))
        except Exception as exc:  # an endpoint that fails must never stop the org
            logger.warning("notification not delivered (%d item(s)): %s", len(items), redact(f"{type(exc).__name__}: {exc}")[:300])

    async def close(self) -> None:
        """At the end of a run: what is still gathering goes now."""
        await self.flush()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    def _deliver(self, body: bytes) -> None:
        timeout = self.settings.timeout.total_seconds()
        url = self.settings.webhook or (os.environ.get(self.settings.webhook_env) if self.settings.webhook_env else None)
        if url:
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=timeout) as response:  # the founder's own URL
                response.read()
        if self.settings.command:
            subprocess.run(self.settings.command, input=body, timeout=timeout, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
