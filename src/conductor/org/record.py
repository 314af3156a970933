"""How an org file is recorded in the log: its digest and the `org.loaded` payload.

Both the engine (when a run starts) and `services.setup` (when a command first opens a database) record the
org, and neither may import the other, so the content of the record is decided here, next to the models it
describes. The payload is plain data; whoever records it wraps it in an event.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from conductor.org.models import Org

ORG_LOADED = "org.loaded"


def org_digest(org: Org) -> str:
    """A stable fingerprint of the org's content, so a changed file is noticed and recorded again."""
    return hashlib.sha256(org.model_dump_json().encode()).hexdigest()[:16]


def org_loaded_payload(org: Org, path: Path | str) -> dict[str, Any]:
    """What every reader needs to know of the org: its ventures and agents, the file it came from, its digest."""
    agents: list[dict[str, Any]] = [
        {"id": a.id, "venture": v.id, "role": a.role, "owns_metric": a.owns_metric} for v, a in org.agents()
    ]
    agents.append({"id": org.platform.id, "venture": None, "role": org.platform.role, "owns_metric": None})
    return {
        "name": org.name,
        "path": str(Path(path).resolve()) if path else "",
        "digest": org_digest(org),
        "model": org.model,
        "clock": org.clock,
        "synchronous": org.engine.synchronous,
        "budget_per_day": org.budget_per_day,
        "ventures": [{"id": v.id, "name": v.name, "stage": v.stage, "goal": v.goal} for v in org.ventures],
        "agents": agents,
    }
