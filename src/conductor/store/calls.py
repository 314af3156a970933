"""A paid model call as the ledger keeps it: the payload of a `call.recorded` event.

It lives with the store because it is a record shape of the log, not engine logic: the engine records the
calls of wake-ups and reviews, the brain those of its syntheses, and both must write the same payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CallRecord:
    """One paid model call, as the ledger keeps it (`call.recorded`): wake-ups, reviews and syntheses alike."""

    model: str
    purpose: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    ok: bool = True
    error: str | None = None
    cached_tokens: int = 0  # of prompt_tokens, read from the provider's prompt cache
    cache_saved: float = 0.0  # USD those cost less than uncached input

    def payload(self) -> dict[str, Any]:
        """The `call.recorded` payload: raw token counts, so the cost can be recomputed later. The cache figures
        are written only when the provider reported cached tokens, so a log without them reads as before."""
        out: dict[str, Any] = {
            "model": self.model, "purpose": self.purpose, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost": self.cost, "latency_ms": self.latency_ms,
            "ok": self.ok, "error": self.error}
        if self.cached_tokens:
            out["cached_tokens"] = self.cached_tokens
            out["cache_saved"] = self.cache_saved
        return out
