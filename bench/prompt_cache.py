"""Prompt cache: how much of each wake-up prompt a provider's prefix cache can reuse, and what that is worth.

Runs the studio example for `days` simulated days (the full arm, seed 7) and keeps every wake-up prompt exactly
as the simulated model received it. For each agent, each wake-up is compared with that agent's previous one:
the byte-identical prefix they share, in litellm's token count (gpt-4o's tokenizer), over the later prompt's
tokens. Reported pooled over all pairs (the share of tokens a cache could serve), with the median and 10th
percentile of pairs, where the prefix breaks (the section the first difference falls in), and the org-wide
system block (how many distinct blocks, its tokens). The modelled input cost applies a cached rate to the
shared tokens: 0.1 of the input price (Anthropic's cache reads) and 0.5 (OpenAI's), both against no caching,
as a ratio within the run.

What it misses: a real cache also depends on time (entries expire after minutes; a sim-clock run replays days
in seconds, a real-clock agent wakes hours apart, so the per-agent share is an upper bound there, while the
org-wide block is shared by every agent's wake-ups and stays warm), on the provider's minimum cacheable length
(1,024 tokens) and block size (OpenAI caches in 128-token steps), and on Anthropic's 1.25x price for writing
an entry. The prompt text does not depend on the model, so the simulated model's prompts are the real ones.

    python -m bench --only prompt_cache
    PYTHONPATH=<another checkout>/src python bench/prompt_cache.py 30    # the same measure on other code
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bench.common  # noqa: F401  (sets up sys.path for a checkout)

SEED = 7


def _prompts(days: int) -> list[tuple[str, str]]:
    """(agent id, whole prompt text) of every wake-up, in the order the model received them."""
    import conductor.sim.direct as direct
    from conductor.cli.main import example_org_path
    from conductor.eval.arms import ENGINE_ARMS
    from conductor.eval.run import run_engine
    from conductor.org import load_org

    seen: list[tuple[str, str]] = []
    real = direct.respond

    def spy(messages: list, profile: Any, tools: list | None = None) -> Any:
        user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        if len(messages) == 2 and "# Your role" in user:
            agent = user.split("Agent id: ", 1)[1].split("\n", 1)[0]
            seen.append((agent, "\n".join(m["content"] for m in messages)))
        return real(messages, profile, tools)

    direct.respond = spy
    try:
        path = example_org_path()
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
            run_engine(load_org(path), path, Path(tmp) / "studio.db", days, ENGINE_ARMS["full"], SEED)
    finally:
        direct.respond = real
    return seen


def run(days: int = 60) -> dict[str, Any]:
    from conductor.engine.provider import load_litellm

    litellm = load_litellm()
    cache: dict[str, int] = {}

    def tokens(text: str) -> int:
        if text not in cache:
            cache[text] = int(litellm.token_counter(model="gpt-4o", text=text))
        return cache[text]

    prompts = _prompts(days)
    systems = Counter(text.split("\n# Your role", 1)[0] for _, text in prompts)
    last: dict[str, str] = {}
    shares: list[float] = []
    shared = total = 0
    breaks: Counter[str] = Counter()
    for agent, text in prompts:
        previous = last.get(agent)
        last[agent] = text
        if previous is None:
            continue
        n = len(os.path.commonprefix([previous, text]))  # noqa: RUF071 (characters, not paths)
        a, b = tokens(text[:n]), tokens(text)
        shares.append(a / b)
        shared += a
        total += b
        headings = [m.group(1) for m in re.finditer(r"^# (.+)$", text[: n + 1], re.M)]
        breaks[headings[-1] if headings else "(start)"] += 1
    pooled = shared / total if total else 0.0
    block = max(systems, key=lambda s: systems[s]) if systems else ""
    return {
        "days": days,
        "wake_ups": len(prompts),
        "pairs": len(shares),
        "system_blocks": len(systems),
        "system_block_tokens": tokens(block) if block else 0,
        "agents": len(last),
        "prefix_share_pooled": round(pooled, 4),
        "prefix_share_median": round(statistics.median(shares), 4) if shares else 0.0,
        "prefix_share_p10": round(sorted(shares)[len(shares) // 10], 4) if shares else 0.0,
        "mean_prompt_tokens": round(total / len(shares)) if shares else 0,
        "input_cost_ratio_cached_at_0.1": round(1 - pooled * 0.9, 3),
        "input_cost_ratio_cached_at_0.5": round(1 - pooled * 0.5, 3),
        "prefix_breaks_in": dict(breaks.most_common(6)),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 60), indent=2))
