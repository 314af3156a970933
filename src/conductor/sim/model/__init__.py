"""The simulated model: a stand-in for a real LLM that reads only the messages it is given.

It is deliberately blind: no database, no market, no files, no environment, no global state. Everything it
knows comes from the prompt text (the same sections a real model reads), and its randomness is seeded by that
text (record ids left out, so a resumed run draws as the unbroken one did; with the profile's `common_draws`,
a wake-up by who wakes, when and why, see `draw_basis`), so the same prompt always gets the same answer and a
retry prompt (which appends messages) gets another.

- wake-ups ("# Your role", `wake.py`, read with the system block that describes the org's kinds): 0 to 2
  decisions of the kinds offered, steered by what the brief,
  platform insights, founder directives and outcome lines say worked or failed, read by `reader.py` as a
  person would read them (any wording, not one template);
- reviews ("# Review request", `review.py`): approve, or ask for a concrete revision;
- syntheses ("# Synthesis request", `synthesis.py`): outcome lines become worked/failed lessons;
- retries (last message "# Your previous answer could not be used"): answer validly this time.

Imperfections on first attempts (`imperfect.py`) follow the profile (`profiles.py`); every other choice the
model makes is a named probability of `behaviour.py`.
"""

from __future__ import annotations

import json
import random
import re
import zlib

from conductor.sim.model.imperfect import Flags, finish
from conductor.sim.model.lookup import plan
from conductor.sim.model.profiles import PROFILES, Profile, SimReply, parse_profile
from conductor.sim.model.prompt import RETRY_MARK, content, original_prompt, prompt_kind, without_record_ids
from conductor.sim.model.review import review
from conductor.sim.model.situation import read_kinds
from conductor.sim.model.synthesis import synthesis
from conductor.sim.model.wake import wake

__all__ = ["PROFILES", "RETRY_MARK", "Profile", "SimReply", "count_tokens", "parse_profile", "respond"]

_ANSWER = {"Review request": review, "Synthesis request": synthesis, "Your role": wake}


def respond(messages: list[dict], profile: Profile, tools: list[dict] | None = None) -> SimReply:
    """Answer one chat, deterministically from its text, the tools it offers and the profile."""
    contents = [content(m) for m in messages]
    joined = "\n\x1e".join(contents)
    users = [c for m, c in zip(messages, contents, strict=True) if isinstance(m, dict) and m.get("role") == "user"]
    retry = bool(users) and users[-1].lstrip().startswith(RETRY_MARK)
    prompt = original_prompt(users)
    basis = (f"{profile.common_draws:g}\n{draw_basis(prompt, joined, len(messages), users[-1] if retry else '')}"
             if profile.common_draws else without_record_ids(joined))
    seed = zlib.crc32(f"{profile.name}\x00{basis}".encode())
    rng = random.Random(seed)
    imp = random.Random(seed ^ 0x5BD1E995)
    flags = Flags.draw(imp, profile, enabled=not retry)
    asked = prompt_kind(prompt) or ""
    answer = _ANSWER.get(asked)
    if asked == "Your role":  # a wake-up's kinds and policy are described in the org's shared system block
        systems = [c for m, c in zip(messages, contents, strict=True) if isinstance(m, dict) and m.get("role") == "system"]
        prompt = "\n\n".join([*systems, prompt])
        looked_up = [c for m, c in zip(messages, contents, strict=True) if isinstance(m, dict) and m.get("role") == "tool"]
        asked_tools = any(isinstance(m, dict) and m.get("tool_calls") for m in messages)
        if tools and not asked_tools and not retry:
            calls = plan(read_kinds(prompt), prompt, tools, rng)
            if calls:
                text = json.dumps([{"name": c["name"], "arguments": c["arguments"]} for c in calls])
                completion = max(1, count_tokens(text))
                latency = profile.latency_ms * (0.75 + 0.5 * rng.random()) + 2.0 * completion
                return SimReply("", max(1, count_tokens(joined)), completion, round(latency, 1), tuple(calls))
        if looked_up:
            prompt += "\n\n# Looked up\n" + "\n\n".join(looked_up)
    if answer is not None:
        text = answer(prompt, rng, flags, imp)
    else:
        text = finish({"summary": "Nothing in the request called for a decision."}, rng, flags, imp, "wake")
    completion = max(1, count_tokens(text))
    latency = profile.latency_ms * (0.75 + 0.5 * rng.random()) + 2.0 * completion
    return SimReply(text, max(1, count_tokens(joined)), completion, round(latency, 1))


_WHO = re.compile(r"^Agent id: .*$", re.MULTILINE)
_WHEN = re.compile(r"^Now: .*$", re.MULTILINE)


def draw_basis(prompt: str, joined: str, turn: int, retry: str) -> str:
    """What the model's draws are seeded by when its profile asks for common draws (the evaluation's arms).

    A wake-up draws by who is waking, when, why (the "Now:" line), which turn of the chat it is and the
    complaint it answers on a retry: not by the rest of its prompt. So the same agent woken at the same moment
    draws alike whatever it knows, as a person's mood that morning does not depend on the memo they read, and
    two runs that differ only in what agents are told (an evaluation's arms) differ in what they knew, not in
    their luck (common random numbers). Anything else (a review, a synthesis) draws by its whole text. Record
    ids are left out either way, so a resumed run draws as the unbroken one did.
    """
    who, when = _WHO.search(prompt), _WHEN.search(prompt)
    if prompt_kind(prompt) != "Your role" or who is None or when is None:
        return without_record_ids(joined)
    return f"{who.group(0)}\n{when.group(0)}\n{turn}\n{without_record_ids(retry)}"


def count_tokens(text: str) -> int:
    """The simulated model's tokenizer: about four characters a token."""
    return len(text) // 4
