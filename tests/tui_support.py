"""Shared by the control room's tests: databases built by real runs, a fixed clock, and a scripted model.

The snapshot database is made by `conductor run` in a subprocess (the simulated clock and a fixed seed make
it the same on every machine), never by asyncio.run() in the test process (textual#5788).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STUDIO = REPO / "src" / "conductor" / "examples" / "studio.toml"
DUO = REPO / "tests" / "orgs" / "duo.toml"
FIXED_NOW = datetime(2026, 1, 9, 12, 0, tzinfo=UTC)  # "now" for anything that would show the wall clock
SCRIPTED_MODEL = "test/scripted"


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CONDUCTOR_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "120"
    return env


def run_headless(org: Path, db: Path, *args: str, timeout: float = 300) -> None:
    """`conductor run ORG --db DB ARGS` to completion, in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "conductor", "run", str(org), "--db", str(db), *args],
                          env=subprocess_env(), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]


def control_room_app(db: Path, **kwargs: Any) -> Any:
    """The app as every test sees it: fixed clock, quick polls, no animation."""
    from conductor.tui.app import make_app

    kwargs.setdefault("clock", lambda: FIXED_NOW)
    kwargs.setdefault("poll_interval", 0.05)
    app = make_app(db, **kwargs)
    app.animation_level = "none"
    return app


async def settle(pilot: Any, rounds: int = 3) -> None:
    """Let the app's workers (polls, founder commands, detail loads) finish and their results land."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


# -- a scripted model for the engine -------------------------------------------------------------------------
@dataclass
class Call:
    agent: str
    kind: str  # "wake" or "review"
    n: int
    prompt: str


@dataclass
class Scripted:
    """Stands in for `conductor.engine.jobs.call_model`: answers from `respond(call)`, keeps every prompt."""

    respond: Callable[[Call], dict[str, Any]]
    calls: list[Call] = field(default_factory=list)

    async def __call__(self, model: str, messages: list[dict[str, str]], **_kw: Any) -> Any:
        from conductor.engine.provider import CallResult

        prompt = next(m["content"] for m in messages if m["role"] == "user")
        if prompt.startswith("# Review request"):
            kind, agent = "review", re.search(r"^Reviewer: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
        else:
            kind, agent = "wake", re.search(r"^Agent id: (\S+)", prompt, re.M).group(1)  # type: ignore[union-attr]
        n = sum(1 for c in self.calls if c.agent == agent and c.kind == kind)
        call = Call(agent, kind, n, prompt)
        self.calls.append(call)
        answer = self.respond(call)
        return CallResult(text=json.dumps(answer), model=model, prompt_tokens=800, completion_tokens=120,
                          cost=0.001, latency_ms=3.0)

    def prompts(self, agent: str) -> list[str]:
        return [c.prompt for c in self.calls if c.agent == agent and c.kind == "wake"]


def section(prompt: str, title: str) -> str:
    """The body of one `# Title` section of a prompt."""
    return prompt.split(f"# {title}\n", 1)[1].split("\n# ", 1)[0]


def decision(kind: str, params: dict[str, Any], rationale: str = "It moves revenue.",
             confidence: float = 0.8) -> dict[str, Any]:
    return {"kind": kind, "params": params, "rationale": rationale, "confidence": confidence, "reversible": True,
            "expected_effect": {"metric": "revenue", "direction": "up", "size": 0.05}}


def lead_proposes(*decisions: dict[str, Any]) -> Callable[[Call], dict[str, Any]]:
    """duo-lead proposes `decisions` at its first wake-up; every other call concludes quietly."""

    def respond(call: Call) -> dict[str, Any]:
        if call.kind == "review":
            return {"verdict": "approve", "feedback": ""}
        if call.agent == "duo-lead" and call.n == 0:
            return {"summary": "acting", "decisions": list(decisions)}
        return {"summary": "nothing to do"}

    return respond


async def run_engine(db: Path, hours: float, *, fake: Scripted, monkeypatch: Any) -> Any:
    """The duo org's scheduler on `db` until `hours` after the org clock's start (resumes an existing log)."""
    import conductor.engine.jobs as jobs_module
    from conductor.engine.provider import load_litellm
    from conductor.engine.scheduler import Engine, EngineOptions
    from conductor.org import load_org

    monkeypatch.setattr(jobs_module, "call_model", fake)
    org = load_org(DUO)
    engine = Engine(org, db, EngineOptions(until=org.start + timedelta(hours=hours), model=SCRIPTED_MODEL),
                    org_path=DUO)
    # What a process's first run loads once (litellm: seconds) is loaded before the timeout starts.
    await asyncio.to_thread(load_litellm)
    await asyncio.to_thread(engine.brain.warm_up)
    await asyncio.wait_for(engine.run(), 20)
    return engine
