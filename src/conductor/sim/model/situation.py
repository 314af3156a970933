"""What a wake-up prompt tells the agent: its role, metric and trend, the kinds it may take, what is waiting for
it, and what the brief, insights, directives and outcomes say (read by `reader.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour
from conductor.sim.model.prompt import (
    KIND_ID,
    Kind,
    Policy,
    bullets,
    field_value,
    num,
    pairs,
    parse_kind,
    parse_policy,
    sections,
)
from conductor.sim.model.reader import Knowledge, Vocabulary, polarity, read
from conductor.sim.model.standings import Seen, read_standings
from conductor.sim.model.tally import read_tallies


@dataclass
class Wake:
    role: str = ""
    agent_id: str = ""
    stage: str = ""
    reports_to: str | None = None
    reports: list[str] = field(default_factory=list)
    metric: str = ""
    up: bool = True
    metrics: dict[str, bool] = field(default_factory=dict)  # every metric of the venture -> higher is better
    values: list[float] = field(default_factory=list)
    kinds: list[Kind] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)
    tasks: list[tuple[int, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    outcomes: list[tuple[int | None, str]] = field(default_factory=list)
    verdicts: list[tuple[int | None, str]] = field(default_factory=list)
    revisions: list[tuple[int, str]] = field(default_factory=list)
    know: Knowledge = field(default_factory=Knowledge)
    outcome_balance: int = 0
    busy: set[str] = field(default_factory=set)  # kinds the prompt says a new decision may not take now

    def kind(self, kind_id: str) -> Kind | None:
        return next((k for k in self.kinds if k.id == kind_id), None)


_OTHER_METRICS = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) -?[\d,.]+")


def _read_role(w: Wake, role: str) -> None:
    w.role = field_value(role, "Role:")
    w.agent_id = field_value(role, "Agent id:")
    sm = re.search(r"stage: ([a-z]+)", role)
    w.stage = sm.group(1) if sm else ""
    boss = field_value(role, "You report to:")
    w.reports_to = None if not boss or boss == "the founder" else boss
    below = field_value(role, "Reporting to you:")
    w.reports = [] if below in ("", "none") else [r.strip() for r in below.split(",") if r.strip()]


def _read_metric(w: Wake, metric: str) -> dict[str, bool]:
    """Reads the owned metric; returns every metric the prompt names, with its good direction where known."""
    mm = re.search(r"You own `([^`]+)` \(([^)]*)\)", metric)
    if mm:
        w.metric = mm.group(1)
        w.up = "lower is better" not in mm.group(2)
    values = field_value(metric, "Recent daily values, oldest first:")
    w.values = [v for v in (num(x) for x in values.split(", ")) if v is not None] if values else []
    others = field_value(metric, "Other metrics of the venture today:")
    names: dict[str, bool] = {m.group(1): not re.search(r"churn|backlog", m.group(1))
                              for m in _OTHER_METRICS.finditer(others)}
    if w.metric:
        names[w.metric] = w.up
    return names


def _read_items(w: Wake, sec: dict[str, str]) -> None:
    for text in bullets(sec.get("Tasks for you", "")):
        tm = re.match(r"task #(\d+):\s*(.*)", text)
        if tm:
            w.tasks.append((int(tm.group(1)), tm.group(2)))
    w.messages = bullets(sec.get("Messages for you", ""))
    for name, target in (
        ("Outcomes of your recent decisions", w.outcomes),
        ("Founder verdicts on your escalations", w.verdicts),
    ):
        for text in bullets(sec.get(name, "")):
            im = re.match(r"#(\d+)\s*(.*)", text)
            target.append((int(im.group(1)), im.group(2)) if im else (None, text))
    for text in bullets(sec.get("Returned for revision", "")):
        rm = re.match(r"decision #(\d+)\s*(.*)", text)
        if rm:
            body = re.sub(r"\s*Answer with a revised decision that sets \"revises\": \d+\.\s*$", "", rm.group(2))
            w.revisions.append((int(rm.group(1)), body))


def _read_rejections(w: Wake, behaviour: Behaviour) -> None:
    """A founder's rejection names the exact option not to repeat: the engine writes it as `key=value`."""
    for vid, text in w.verdicts:
        if not re.search(r"\breject", text, re.I):
            continue
        kind = next((k for k in re.findall(KIND_ID, text) if w.kind(k)), "")
        found = {k: str(v).lower() for k, v in pairs(text).items()}
        w.know.rejected.append((kind, found, f"#{vid}" if vid is not None else "an escalation"))
        for key, value in found.items():
            slot = (kind or None, key, value)
            w.know.params[slot] = w.know.params.get(slot, 0.0) - behaviour.rejection_weight
            w.know.notes.setdefault(slot, f"the founder rejected {kind} {key}={value}")


def _read_kinds(w: Wake, sec: dict[str, str]) -> None:
    """The agent's kinds: named in "Decisions you may take" and described in the org's "Decision kinds" (the
    shared system block), or described in place; the policy line; the kinds said to be refused now."""
    catalogue: dict[str, Kind] = {}
    for title in ("Decision kinds", "Decisions you may take"):
        for line in sec.get(title, "").splitlines():
            kind = parse_kind(line)
            if kind:
                catalogue[kind.id] = kind
                if title == "Decisions you may take":
                    w.kinds.append(kind)
            elif "must approve" in line:
                w.policy = parse_policy(line)
    mine = sec.get("Decisions you may take", "")
    if not w.kinds and mine.startswith("Yours"):
        w.kinds = [catalogue[k] for k in re.findall(KIND_ID, mine) if k in catalogue]
    for title in ("Now", "Decisions you may take"):
        for line in sec.get(title, "").splitlines():
            if re.search(r"\bwould be refused\b", line):
                w.busy = set(re.findall(KIND_ID, line.split(":", 1)[-1]))


def read_kinds(prompt: str) -> Wake:
    """Only the kinds the agent may take: enough to choose what to look up, without reading the brief."""
    w = Wake()
    _read_kinds(w, sections(prompt))
    return w


def read_wake(prompt: str, behaviour: Behaviour = BEHAVIOUR) -> Wake:
    sec = sections(prompt)
    w = Wake()
    _read_role(w, sec.get("Your role", ""))
    metrics = w.metrics = _read_metric(w, sec.get("Your metric", ""))
    _read_kinds(w, sec)
    _read_items(w, sec)
    vocab = Vocabulary.build(w.kinds, metrics, w.metric)
    b = behaviour
    # Tables first (this venture's own, then other ventures' as the platform insights relay them, trusted as far
    # as they agree with the own); the rest of each text goes to the ordinary reader.
    own: Seen = {}
    brief = read_standings(sec.get("Venture brief", ""), vocab, w.know, weight=b.brief_weight, b=b, seen=own)
    brief = read_tallies(brief, vocab, w.know, weight=b.brief_weight, b=b, seen=own)
    read(brief, vocab, w.know, weight=b.brief_weight, behaviour=b)
    insights = read_standings(sec.get("Platform insights", ""), vocab, w.know, weight=b.insights_weight,
                              source="the platform insights", b=b, trust=own)
    insights = read_tallies(insights, vocab, w.know, weight=b.insights_weight, source="the platform insights", b=b,
                            trust=own)
    read(insights, vocab, w.know, weight=b.insights_weight, source="the platform insights", behaviour=b)
    read(sec.get("Founder directives", ""), vocab, w.know, weight=b.directive_weight,
         source="a founder directive", behaviour=b)
    for _, text in w.outcomes:
        w.outcome_balance += polarity(text, vocab, behaviour=b)
        read(text, vocab, w.know, weight=b.outcome_weight, source="a recent outcome", behaviour=b)
    _read_rejections(w, b)
    if sec.get("Looked up"):
        from conductor.sim.model.lookup import read_lookups

        read_lookups(sec["Looked up"], w, b)
    return w


def trend(w: Wake, behaviour: Behaviour = BEHAVIOUR) -> tuple[str, float, str]:
    """('improving'|'slipping'|'flat'|'new', relative change in the good direction, a short description)."""
    vals = w.values
    name = f"`{w.metric}`" if w.metric else "my metric"
    if len(vals) < 2:
        return "new", 0.0, f"{name} has no history yet"
    first, last = vals[0], vals[-1]
    change = (last - first) / max(abs(first), 1e-9)
    good = change if w.up else -change
    band = behaviour.trend_band
    word = "improving" if good > band else "slipping" if good < -band else "flat"
    return word, good, f"{name} is {word} ({short(first)} → {short(last)} over {len(vals)} days, {change:+.1%})"


def short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
