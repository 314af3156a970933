"""What the instruments said, added up: customer comments and support tickets counted over every reading.

Why the brain keeps this: one look at the feedback is a handful of comments, and which product area leads in
eight comments is close to a coin toss between the two best. The organization looks many times, on many
days; a brain that adds the readings up knows what customers ask for far better than any single look, and an
agent that forgets them starts from eight comments every time. The tally counts each day's reading of a tool
once (a tool answers alike all day: it remembers the newest day it counted), and only readings of its own
venture.

The synthesis writes one customer fact per lever:

    feature.ship area, what 23 readings counted: reporting 52, onboarding 40, core 30, integrations 20,
    mobile 18 of 160 comments

and the wake-up reads each option's share against an even split, weighed by how sure a share of that many
comments is. It finds a tally by what it names (one lever's options, each with a count, out of a total), not
by this layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour, weigh
from conductor.sim.model.reader import Evidence, Knowledge, Vocabulary, table
from conductor.sim.model.standings import Seen, agreement, remembered, table_text

_KIND = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
# One option's count in a tool's answer: "feature.ship area=reporting: asked for in 4 of 8 comments".
READING = re.compile(rf"({_KIND}) ([a-z_]+)=([A-Za-z0-9_-]+): [^:]*?\b(\d+) of (\d+) ([a-z]+)")
LINE = re.compile(rf"^[-*•\s]*({_KIND}) ([a-z_]+), what (\d+) readings? counted(?: through (\d{{4}}-\d\d-\d\d))?: "
                  r"(.*?) of (\d+) ([a-z]+)\s*$")
_ITEM = re.compile(r"([A-Za-z0-9_-]+) (\d+)")


@dataclass
class Tally:
    """One lever's counts over every reading: option -> count, out of `total` comments (or tickets)."""

    kind: str
    param: str
    unit: str = "comments"
    readings: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    through: str = ""  # the day of the newest reading counted (ISO date): a later look that day is the same one

    def add(self, counts: dict[str, int], total: int, day: str = "") -> None:
        self.through = max(self.through, day)
        self.readings += 1
        self.total += total
        for option, n in counts.items():
            self.counts[option] = self.counts.get(option, 0) + n

    def line(self) -> str:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        items = ", ".join(f"{option} {n}" for option, n in ranked)
        through = f" through {self.through}" if self.through else ""
        return (f"{self.kind} {self.param}, what {self.readings} reading{'s' if self.readings != 1 else ''} "
                f"counted{through}: {items} of {self.total} {self.unit}")


def parse_line(line: str) -> Tally | None:
    m = LINE.match(line.strip())
    if m is None:
        return None
    counts = {o.lower(): int(n) for o, n in _ITEM.findall(m.group(5))}
    if not counts:
        return None
    return Tally(m.group(1), m.group(2), m.group(7), int(m.group(3)), int(m.group(6)), counts, m.group(4) or "")


def readings(text: str) -> dict[tuple[str, str], tuple[dict[str, int], int, str]]:
    """(kind, parameter) -> (option -> count, sample size, unit) of one tool answer."""
    out: dict[tuple[str, str], tuple[dict[str, int], int, str]] = {}
    for kind, param, option, n, total, unit in READING.findall(text):
        counts, _, _ = out.setdefault((kind, param), ({}, int(total), unit))
        counts[option.lower()] = int(n)
    return out


_TOTAL = re.compile(r"\bof (\d+) ([a-z]+)\W*$")
_FIRST_COUNT = re.compile(r"\b(\d+)\b")


def table_tally(line: str, vocab: Vocabulary) -> Tally | None:
    """A line of the brief read as a tally, in whatever words: it names one lever's options, each with a count,
    and ends with what they were counted out of ("... mobile 6 of 216 comments")."""
    total = _TOTAL.search(line)
    found = table(line, vocab) if total else None
    if found is None or total is None:
        return None
    counts = {}
    for row in found.rows:
        n = _FIRST_COUNT.search(row.text)
        if n is None or "%" in row.text or "percent" in row.text:
            return None
        counts[row.option] = int(n.group(1))
    return Tally(found.kind, found.param, total.group(2), 0, int(total.group(1)), counts)


def read_tallies(text: str, vocab: Vocabulary, know: Knowledge, *, weight: float = 1.0, source: str = "the brief",
                 b: Behaviour = BEHAVIOUR, seen: Seen | None = None, trust: Seen | None = None) -> str:
    """Read every tally in `text` into `know`; returns the rest of the text, for the ordinary reader.

    An option's share is read against an even split over the options counted, in units of the share's own
    sampling error (a share of 160 comments is surer than one of 8), as `weigh` turns z-scores into strengths.
    `seen` and `trust` as in `read_standings`: another venture's tally weighs by its agreement with the own.
    """
    rest = []
    for raw in text.splitlines():
        tally = table_tally(table_text(raw), vocab) if " of " in raw and not remembered(raw) else None
        if tally is None or tally.total <= 0:
            rest.append(raw)
            continue
        shares = {o: n / tally.total for o, n in tally.counts.items()}
        key = (tally.kind, tally.param, tally.unit)
        if seen is not None:
            seen[key] = shares
        trusted = weight * (agreement(trust.get(key), shares, b) if trust is not None else 1.0)
        fair = 1.0 / len(tally.counts)
        z = {}
        for option, n in tally.counts.items():
            share = n / tally.total
            z[option] = (share - fair) / (max(fair * (1 - fair), share * (1 - share)) / tally.total) ** 0.5
        for option, strength in weigh(z, b).items():
            if strength and trusted:
                know.add(Evidence(tally.kind, tally.param, option, 1 if strength > 0 else -1, abs(strength) * trusted,
                                  f"{source} counts {option} in {tally.counts[option]} of {tally.total} {tally.unit}"))
    return "\n".join(rest)
