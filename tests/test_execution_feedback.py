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


async def test_a_retry_cuts_the_broken_answer_short_and_shows_a_valid_answers_shape(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small model given its whole broken answer back copied it verbatim three times (captured runs): the
    retry sends back only its start, the error quoting the offending part, and an answer of the right shape."""
    broken = '{"summary": "x", "decisions": [{"kind": "note.write", "params": {"text": tally-ceo}}]} ' + "y" * 5000
    fake = Scripted(lambda call: broken if call.agent == "duo-lead" and not call.retry else {"summary": "ok"})
    monkeypatch.setattr(jobs_module, "call_model", fake)
    await run_engine(tmp_path / "c.db", load_org(DUO), timedelta(hours=1))
    retry = next(c for c in fake.of("duo-lead") if c.retry)
    replayed, follow_up = retry.messages[-2], retry.messages[-1]
    assert replayed["role"] == "assistant" and len(replayed["content"]) < 1300 and "more characters" in \
        replayed["content"]
    assert follow_up["content"].startswith("# Your previous answer could not be used\nError: ")
    assert 'A valid answer looks like this (example values):\n{"summary": ' in follow_up["content"]
    assert '"kind": "note.write"' in follow_up["content"].split("example values", 1)[1]
