"""Looking things up: which offered tools a wake-up calls, and what their answers tell it.

The simulated model uses tools the way a careful person would: before deciding, it looks up what bears on
the decisions it may take (a tool whose arguments name one of its levers, or whose description speaks of one
of its kinds or their choice parameters), at most `max_lookups` calls in one turn. It reads the answers as
tables: a line that names a kind and an option with a lift and its noise band (analytics), read against the
other options of its table on the same metric (alone on its metric, it says nothing), or with a count out of
a total (feedback, tickets). A difference the noise could explain weighs little; options without data stay
untried, for exploring. It sees only the tool declarations of its request and the results in its messages.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour
from conductor.sim.model.reader import Evidence
from conductor.sim.model.situation import Wake

_VENTURE = re.compile(r"^Venture: .*\(([a-z][a-z0-9_-]*)\)", re.MULTILINE)
_LIFT = re.compile(r"^- ([a-z][a-z0-9_.]*) ([a-z_]+)=([A-Za-z0-9_-]+): ([+-]?\d+(?:\.\d+)?)% ([a-z_]+) "
                   r"\(\+/- (\d+(?:\.\d+)?)%", re.MULTILINE)
_SHARE = re.compile(r"^- ([a-z][a-z0-9_.]*) ([a-z_]+)=([A-Za-z0-9_-]+): .*?\b(\d+) of (\d+)\b", re.MULTILINE)


def plan(w: Wake, prompt: str, tools: list[dict[str, Any]], rng: random.Random,
         b: Behaviour = BEHAVIOUR) -> list[dict[str, str]]:
    """The tool calls to make before deciding (none: decide now)."""
    venture = _VENTURE.search(prompt)
    choice_kinds = [k for k in w.kinds if k.choice_param() is not None]
    if not choice_kinds or rng.random() >= b.look_up:
        return []
    parts = {part for k in choice_kinds for part in k.id.split(".")}
    words = {k.id.split(".")[0] for k in choice_kinds} | {p.name for k in choice_kinds
                                                         if (p := k.choice_param()) is not None}
    candidates: list[tuple[str, dict[str, Any]]] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        schema = function.get("parameters")
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict):
            props = {}
        base: dict[str, Any] = {"venture": venture.group(1)} if "venture" in props and venture else {}
        enums = {name: prop["enum"] for name, prop in props.items() if isinstance(prop, dict) and prop.get("enum")}
        if enums:  # one call per value of its (first) choice that names one of this agent's levers
            name, values = next(iter(enums.items()))
            candidates += [(function["name"], {**base, name: v}) for v in values if v in parts]
        else:
            about = f"{function['name']} {function.get('description', '')}".lower()
            if any(re.search(rf"\b{re.escape(word)}", about) for word in words):
                candidates.append((function["name"], base))
    rng.shuffle(candidates)
    return [{"id": f"call_{i}", "name": name, "arguments": json.dumps(args, sort_keys=True)}
            for i, (name, args) in enumerate(candidates[: b.max_lookups])]


def read_lookups(text: str, w: Wake, b: Behaviour = BEHAVIOUR) -> None:
    """What the looked-up tables say, as evidence in `w.know` (the same scores the brief feeds)."""
    tables: dict[tuple[str, str, str], list[tuple[str, float, float]]] = {}
    for kind, param, option, lift, metric, band in _LIFT.findall(text):
        tables.setdefault((kind, param, metric), []).append((option, float(lift), float(band)))
    for (kind, param, metric), table in tables.items():
        up = w.metrics.get(metric, not re.search(r"churn|backlog", metric))
        for option, lift, band in table:
            # An option is read against the others of its table on the same metric, as a person reads a
            # dashboard: "which did better", not the absolute number, which the trend, last-touch credit or the
            # season set. Alone on its metric it has nothing to be compared with and says nothing: a channel's
            # share of tagged sign-ups is credited by last touch to whatever ran, harmful or not, and a metric's
            # change around a decision is mostly its trend.
            others = [other for o, other, _ in table if o != option]
            if not others:
                continue
            good = (lift - sum(others) / len(others)) * (1 if up else -1)
            z = good / max(band, 0.5)
            strong = abs(z) >= b.lookup_min_z
            strength = min(b.lookup_max, abs(z)) if strong else min(b.lookup_max, b.lookup_weak * abs(z))
            if good and strength > 0:
                w.know.add(Evidence(kind, param, option.lower(), 1 if good > 0 else -1, strength * b.lookup_weight,
                                    f"the analytics show {option} at {lift:+.0f}% {metric}"))
    shares: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for kind, param, option, n, total in _SHARE.findall(text):
        shares.setdefault((kind, param), []).append((option, int(n), int(total)))
    for (kind, param), rows in shares.items():
        fair = 1.0 / len(rows)
        for option, n, total in rows:
            lean = (n / total - fair) * len(rows) if total else 0.0
            if lean:
                w.know.add(Evidence(kind, param, option.lower(), 1 if lean > 0 else -1,
                                    min(b.lookup_max, abs(lean)) * b.lookup_weight,
                                    f"{n} of {total} point to {option}"))
