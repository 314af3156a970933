"""The event that records an org file's content in the log, so every reader knows its ventures and agents."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conductor.org import Org
from conductor.store import NewEvent


def org_digest(org: Org) -> str:
    """A stable fingerprint of the org's content, so a changed file is noticed and recorded again."""
    return hashlib.sha256(org.model_dump_json().encode()).hexdigest()[:16]


def org_loaded_event(org: Org, path: Path | str, sim_time: str | None = None) -> NewEvent:
    agents: list[dict[str, str | None]] = [
        {"id": a.id, "venture": v.id, "role": a.role, "owns_metric": a.owns_metric} for v, a in org.agents()
    ]
    agents.append({"id": org.platform.id, "venture": None, "role": org.platform.role, "owns_metric": None})
    return NewEvent(
        kind="org.loaded",
        sim_time=sim_time,
        payload={
            "name": org.name,
            "path": str(Path(path).resolve()) if path else "",
            "digest": org_digest(org),
            "model": org.model,
            "clock": org.clock,
            "ventures": [{"id": v.id, "name": v.name, "stage": v.stage, "goal": v.goal} for v in org.ventures],
            "agents": agents,
        },
    )
