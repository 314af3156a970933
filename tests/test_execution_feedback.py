"""What happens to a decision when it is carried out reaches its author: a failed execution (a command that
exits non-zero, a tool that errs, a market that refuses the parameters) is in the author's next prompt, with
the reason, like an outcome of its own (issue: real models, "the execution result reaches the author")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import conductor.engine.jobs as jobs_module
from conductor.engine.state import failure_reason
from conductor.org import load_org
from test_engine import DUO, Scripted, decision, first_wake, run_engine


async def test_a_failed_command_reaches_its_author_with_the_reason(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    text = DUO.read_text().replace('argv = ["sh", "-c", "cat > /dev/null; echo deployed"]',
                                   'argv = ["sh", "-c", "cat > /dev/null; echo disk full >&2; exit 3"]')
    assert "exit 3" in text
    (tmp_path / "duo.toml").write_text(text)
    org = load_org(tmp_path / "duo.toml")
    fake = Scripted(first_wake("duo-lead", decisions=[decision("deploy.run", {"version": "v1.2.0"})],
                               summary="deploying"))
    monkeypatch.setattr(jobs_module, "call_model", fake)
    await run_engine(tmp_path / "c.db", org, timedelta(days=1))
    later = [c.prompt for c in fake.of("duo-lead")[1:]]
    assert later, "the lead woke again"
    assert any("deploy.run: could not be carried out: disk full" in p for p in later), later[0][-1500:]


def test_the_reason_is_one_short_line() -> None:
    assert failure_reason({"error": "timed out\nafter 10 s"}) == "timed out after 10 s"
    assert failure_reason({"accepted": False, "note": "campaign needs a channel"}) == "campaign needs a channel"
    assert failure_reason({"exit_code": 3, "stderr": "", "stdout": "x"}) == "the command exited with code 3"
    assert failure_reason(None) == "no reason given"
    assert len(failure_reason({"error": "x" * 1000})) == 200
