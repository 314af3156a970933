"""Where each option stands: one lever's options side by side, each with its newest estimate and interval.

Why the brain keeps this: an organization's question is usually *which* option of a lever to take, and the
answer is a ranking, not a verdict. One decision's effect is rarely clear on its own (most outcomes are
"unclear" once intervals are honest), so a brain that keeps only clear wins forgets nearly everything it
measured. The engine's newest outcome of an option already pools every earlier decision of that option (one
joint fit against the forecast), so the newest estimate and its interval are what is known of it; laid side by
side, the options of one lever can be compared even when none is clear alone.

The synthesis writes one line per lever, best first:

    discount.offer segment on trial_conversion, best first (95% interval, decisions): annual +3.3% ±3.2 (8);
    smb +1.2% ±2.0 (5); nonprofit -8.8% ±6.0 (2)

and the wake-up reads such a line as a person reads a table of estimates: each option against the others of
its line, weighed by how far apart they are for their intervals. A lead inside the noise weighs little. The
reader finds the table by what it names (one lever's options, each with a movement and an interval), not by
this layout: "offering discounts, by segment: annual up 3.3 percent, give or take 3.2, ..." reads the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour, weigh
from conductor.sim.model.lexicon import change
from conductor.sim.model.reader import Evidence, Knowledge, Vocabulary, table

_KIND = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
_NUMBER = r"\d+(?:\.\d+)?"
_HEADER = re.compile(rf"^[-*•\s]*({_KIND}) ([a-z_]+) on ([a-z_]+)\b[^:]*:\s*(.*)$")
_ITEM = re.compile(
    rf"^\s*([A-Za-z0-9_-]+)\b.*?(?:([+\-−])({_NUMBER})%|\b(up|down) ({_NUMBER}) percent)"
    rf".*?(?:±|\+/-|give or take)\s*({_NUMBER})(?:.*?\((\d+)\)|.*?\b(\d+) decisions?)?"
)


@dataclass
class Standing:
    """One option's newest estimate: effect and 95 % half-width in percent of its metric, decisions behind it."""

    option: str
    effect: float
    half: float
    decisions: int = 0


def format_line(kind: str, param: str, metric: str, rows: list[Standing], higher_is_better: bool) -> str:
    """A lever's options best first, as the synthesis writes them."""
    ranked = sorted(rows, key=lambda s: (-s.effect if higher_is_better else s.effect, s.option))
    items = "; ".join(f"{s.option} {s.effect:+.1f}% ±{s.half:.1f} ({s.decisions})" for s in ranked)
    return f"{kind} {param} on {metric}, best first (95% interval, decisions): {items}"


def parse_line(line: str) -> tuple[str, str, str, list[Standing]] | None:
    """(kind, parameter, metric, options) of a standings line, or None when the line is not one."""
    head = _HEADER.match(line.strip())
    if head is None:
        return None
    rows = []
    for part in head.group(4).split(";"):
        m = _ITEM.match(part)
        if m is None:
            continue
        option, sign, signed, word, worded, half, n1, n2 = m.groups()
        value = float(signed if signed is not None else worded)
        negative = sign in ("-", "−") if sign is not None else word == "down"
        rows.append(Standing(option.lower(), -value if negative else value, float(half), int(n1 or n2 or 0)))
    return (head.group(1), head.group(2), head.group(3), rows) if rows else None


_HALF = re.compile(rf"(?:±|\+/-|\bgive or take)\s*({_NUMBER})")
_COUNT = re.compile(r"\((\d+)\)|\b(\d+) (?:decisions?|tries|times)\b")


def table_standings(line: str, vocab: Vocabulary) -> tuple[str, str, str, list[Standing]] | None:
    """A line of the brief read as a table of estimates, in whatever words: it names one lever's options, and
    each has a movement and an interval ("annual up 3.3 percent, give or take 3.2, over 8 decisions")."""
    found = table(line, vocab)
    if found is None:
        return None
    rows = []
    for row in found.rows:
        moved, half = change(row.text), _HALF.search(row.text)
        if moved is None or half is None:
            return None
        count = _COUNT.search(row.text[half.end():])
        rows.append(Standing(row.option, moved[1] * 100, float(half.group(1)),
                             int(count.group(1) or count.group(2)) if count else 0))
    return found.kind, found.param, found.metric or vocab.default_metric, rows


_STAMP = re.compile(r"\s*\[[^\]]*\]\s*$")


def table_text(raw: str) -> str:
    """A line's text without its bullet and a trailing source stamp ("[platform v3]")."""
    return _STAMP.sub("", raw.strip().lstrip("-*•").strip())


def remembered(raw: str) -> bool:
    """A memory quoted in the brief ("- [03-16 ink-cto] ink-cto looked up ..."): an old reading or outcome, which
    the tables already hold; read by the ordinary reader, not counted again."""
    return raw.strip().lstrip("-*•").strip().startswith("[")


Seen = dict[tuple[str, str, str], dict[str, float]]  # (kind, parameter, metric) -> option -> effect or share


def _ranks(values: list[float]) -> list[float]:
    """Ranks from 0, ties sharing their mean rank. (`conductor.eval.stats` has its own: the simulated model
    imports nothing from outside its package, which `tests/test_sim_model.py` checks, and eval sits above it.)"""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def agreement(own: dict[str, float] | None, other: dict[str, float], b: Behaviour = BEHAVIOUR) -> float:
    """How far to trust another venture's table: the rank correlation of its options with this venture's own
    on the options both measured (none below zero), or `stranger_trust` before there are three to compare.
    Ventures whose customers are alike rank options alike; a reader trusts the ones that agreed so far."""
    common = sorted(set(own or {}) & set(other))
    if len(common) < 3 or own is None:
        return b.stranger_trust
    a, c = _ranks([own[o] for o in common]), _ranks([other[o] for o in common])
    mean = (len(common) - 1) / 2
    num = sum((x - mean) * (y - mean) for x, y in zip(a, c, strict=True))
    den = (sum((x - mean) ** 2 for x in a) * sum((y - mean) ** 2 for y in c)) ** 0.5
    return max(0.0, num / den) if den else b.stranger_trust


def read_standings(text: str, vocab: Vocabulary, know: Knowledge, *, weight: float = 1.0,
                   source: str = "the brief", b: Behaviour = BEHAVIOUR, seen: Seen | None = None,
                   trust: Seen | None = None) -> str:
    """Read every table of estimates in `text` into `know`; returns the rest of the text, for the ordinary reader.

    Each option is read against the others on its line (their mean weighted by precision), in the metric's good
    direction, and weighed by that difference over its standard error (its own interval and the others'
    together), as `weigh` turns z-scores into strengths. `seen` collects the tables read (this venture's own);
    with `trust` (another venture's tables are being read) each table weighs by its `agreement` with the own one.
    """
    rest = []
    for raw in text.splitlines():
        found = (table_standings(table_text(raw), vocab)
                 if ("%" in raw or "percent" in raw) and not remembered(raw) else None)
        if found is None:
            rest.append(raw)
            continue
        kind, param, metric, rows = found
        up = vocab.metrics.get(metric, not re.search(r"churn|backlog", metric))
        effects = {r.option: r.effect * (1 if up else -1) for r in rows}
        if seen is not None:
            seen[(kind, param, metric)] = effects
        trusted = weight * (agreement(trust.get((kind, param, metric)), effects, b) if trust is not None else 1.0)
        # One decision is a question, not a lesson: its interval comes before the series has the history to
        # calibrate it. (A count the text does not give is not held against the option.)
        rows = [r for r in rows if r.decisions == 0 or r.decisions >= b.lesson_min_decisions]
        z: dict[str, float] = {}
        for row in rows:
            others = [o for o in rows if o is not row]
            if not others:
                continue
            # The others pooled by precision: one option measured loosely must not move the comparison much.
            weights = [1.0 / max(o.half / 1.96, b.standings_min_se) ** 2 for o in others]
            mean = sum(w * o.effect for w, o in zip(weights, others, strict=True)) / sum(weights)
            se = (max(row.half / 1.96, b.standings_min_se) ** 2 + 1.0 / sum(weights)) ** 0.5
            z[row.option] = (row.effect - mean) * (1 if up else -1) / se
        for option, strength in weigh(z, b).items():
            if strength and trusted:
                row = next(r for r in rows if r.option == option)
                know.add(Evidence(kind, param, option, 1 if strength > 0 else -1, abs(strength) * trusted,
                                  f"{source} ranks {param}={option} at {row.effect:+.1f}% {metric}"))
    return "\n".join(rest)
