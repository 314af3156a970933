"""Synthesis: the previous brain version plus new outcome lines become lessons; or, for the platform, patterns
that held in more than one venture; or, for older free-form requests, lessons straight from tagged lines.

Outcome lines are the engine's own record (a contract with the attribution code), so they are read as such:
`#12 campaign.launch budget=400 channel=seo days=14: signups +12.3% against forecast over 14 days (95% +4.1%
to +20.5%) (worked)`, or the older `...: signups +3.2% over 3 days (100 -> 103) (worked)`. A lesson is judged
by the mean effect of its decisions in the metric's good direction and by how many there are; "unclear"
outcomes count with their effect at a low weight, never as a win.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.imperfect import Flags, finish
from conductor.sim.model.prompt import KIND_ID, num, previous_document, subsections
from conductor.sim.model.reader import polarity
from conductor.sim.model.standings import Standing, format_line, parse_line
from conductor.sim.model.tally import Tally, readings
from conductor.sim.model.tally import parse_line as parse_tally

_SIGNED = r"[+\-−]?\d+(?:\.\d+)?"
OUTCOME_LINE = re.compile(
    rf"#(\d+)\s+({KIND_ID})\s*(.*?):\s*([A-Za-z_][A-Za-z0-9_]*)\s+({_SIGNED})%.*?\((worked|failed|unclear)\)"
    rf"(?:\s*\(meanwhile ([A-Za-z_][A-Za-z0-9_]*) ({_SIGNED})%\))?\s*$"
)
MAX_RELAYED = 9  # standings (and tallies) the platform passes on: the document holds at most ten per section
_INTERVAL = re.compile(rf"\(95% ({_SIGNED})% to ({_SIGNED})%\)")
_CHOICE_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_DIRECTIONS = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) \((higher|lower) is better\)")


def _split_params(text: str) -> tuple[dict[str, str], dict[str, float]]:
    """(choice-like options, numeric options) of `key=value ...`; multi-word values are free text, left out."""
    found: list[list[str]] = []
    for token in text.split():
        if "=" in token and re.match(r"[A-Za-z_]\w*=", token):
            key, _, value = token.partition("=")
            found.append([key, value, ""])
        elif found:
            found[-1][2] = "free"
    choices: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for key, value, free in found:
        if free:
            continue
        number = num(value)
        if number is not None:
            numbers[key] = number
        elif _CHOICE_VALUE.fullmatch(value):
            choices[key] = value
    return choices, numbers


@dataclass
class _Lesson:
    key: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    hint: str = ""

    def judged(self) -> list[dict[str, Any]]:
        return [e for e in self.evidence if isinstance(e.get("delta"), int | float) or isinstance(e.get("success"), bool)]

    def effect(self, up: dict[str, bool], baseline: dict[str, float]) -> float:
        """Mean effect in the good direction, above the baseline of its metric; "unclear" (success None)
        counts at a low weight."""
        total = weight = 0.0
        for e in self.judged():
            delta = float(e["delta"]) if isinstance(e.get("delta"), int | float) else 0.0
            good = (delta if up.get(str(e.get("metric")), True) else -delta) - baseline.get(str(e.get("metric")), 0.0)
            w = 1.0 if isinstance(e.get("success"), bool) else B.unclear_weight
            total, weight = total + w * good, weight + w
        return total / weight if weight else 0.0

    def mean(self) -> float:
        deltas = [float(e["delta"]) for e in self.evidence if isinstance(e.get("delta"), int | float)]
        return sum(deltas) / len(deltas) if deltas else 0.0

    def metric(self) -> str:
        names = [e["metric"] for e in self.evidence if e.get("metric")]
        return max(sorted(set(names)), key=names.count) if names else "the metric"

    def side(self) -> tuple[str, float] | None:
        """The main metric and its mean move while these decisions were judged, if they were judged on another."""
        moves = [(e["side_metric"], float(e["side_delta"])) for e in self.evidence
                 if e.get("side_metric") and isinstance(e.get("side_delta"), int | float)]
        if not moves:
            return None
        return moves[0][0], sum(m for _, m in moves) / len(moves)

    def text(self, section: str) -> dict[str, Any]:
        n = len(self.judged())
        text = f"{self.key}: {self.metric()} {self.mean():+.1%} over {n} decision{'s' if n != 1 else ''}"
        side = self.side()
        if side is not None:
            text += f", {side[0]} {side[1]:+.1%} meanwhile"
        if section == "worked" and self.hint:
            text += f" at {self.hint}"
        return {"lesson": text, "key": self.key, "evidence": [e["decision_id"] for e in self.evidence]}


def _previous_lessons(previous: dict[str, Any]) -> dict[str, _Lesson]:
    lessons: dict[str, _Lesson] = {}
    for section in ("worked", "failed"):
        for item in previous.get(section) or []:
            if not isinstance(item, dict):
                continue
            text = str(item.get("text") or item.get("lesson") or "")
            key = str(item.get("key") or text.split(":")[0]).strip()
            if not key:
                continue
            hint = re.search(r"\bat ((?:[a-z_]+=\S+\s?)+)$", text)
            slot = lessons.setdefault(key, _Lesson(key, hint=hint.group(1).strip() if hint else ""))
            slot.evidence += [e for e in item.get("evidence") or []
                              if isinstance(e, dict) and isinstance(e.get("decision_id"), int)]
    for question in previous.get("open_questions") or []:
        q = re.match(r"^Does (.+?) hold\? One decision so far: #(\d+) (worked|failed|unclear)", str(question))
        if q:
            slot = lessons.setdefault(q.group(1), _Lesson(q.group(1)))
            if not any(e.get("decision_id") == int(q.group(2)) for e in slot.evidence):
                success = None if q.group(3) == "unclear" else q.group(3) == "worked"
                slot.evidence.append({"decision_id": int(q.group(2)), "success": success})
    return lessons


def _rule(line: str) -> str | None:
    if line.startswith("- [") and "directive]" in line.split("]")[0] + "]":
        return line.split("] ", 1)[-1].removeprefix("founder directive:").strip() or None
    verdict = re.search(r"the founder (rejected|approved) (decision #\d+(?: \([a-z_.]+\))?): \"(.+)\"$", line)
    return f"{verdict.group(3)} (founder, on {verdict.group(2)})" if verdict else None


def _pct(text: str | None) -> float:
    return round((num(text or "") or 0.0) / 100, 4)


def _outcome(m: re.Match[str], lessons: dict[str, _Lesson], numbers: dict[str, dict[str, list[float]]]) -> None:
    ident, kind, params, metric = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    choices, nums = _split_params(params)
    key = " ".join([kind] + [f"{k}={v}" for k, v in sorted(choices.items())])
    slot = lessons.setdefault(key, _Lesson(key))
    if any(e.get("decision_id") == ident for e in slot.evidence):
        return
    verdict = m.group(6)
    evidence: dict[str, Any] = {"decision_id": ident, "metric": metric, "delta": _pct(m.group(5)),
                                "success": None if verdict == "unclear" else verdict == "worked"}
    if m.group(7):
        evidence.update(side_metric=m.group(7), side_delta=_pct(m.group(8)))
    slot.evidence.append(evidence)
    if verdict == "worked":
        for name, value in nums.items():
            numbers.setdefault(key, {}).setdefault(name, []).append(value)


def _baseline(lessons: dict[str, _Lesson], up: dict[str, bool]) -> dict[str, float]:
    """Per metric, the mean move the good way over every decision: what raw movements (the older outcome lines,
    measured from the day a decision ran) show whatever was decided, the trend a lesson must beat."""
    moves: dict[str, list[float]] = {}
    for lesson in lessons.values():
        for e in lesson.judged():
            if isinstance(e.get("delta"), int | float) and e.get("metric"):
                metric = str(e["metric"])
                moves.setdefault(metric, []).append(float(e["delta"]) * (1 if up.get(metric, True) else -1))
    return {metric: sum(v) / len(v) for metric, v in moves.items()}


def _latest(lesson: _Lesson, up: dict[str, bool]) -> tuple[float, str] | None:
    """(score, section) from the lesson's newest outcome: an outcome measured against a forecast already pools
    every earlier decision of the same option, so the newest one is the best estimate there is; when it is no
    longer clear, neither is the lesson (it leaves the brain until the evidence is clear again)."""
    measured = [e for e in lesson.evidence if isinstance(e.get("delta"), int | float)]
    if not measured:
        return None
    last = max(measured, key=lambda e: int(e.get("decision_id") or 0))
    if not isinstance(last.get("success"), bool):
        return None
    delta = float(last["delta"]) if up.get(str(last.get("metric")), True) else -float(last["delta"])
    return delta * len(lesson.judged()) ** 0.5, "worked" if last["success"] else "failed"


def _judge(lessons: dict[str, _Lesson], up: dict[str, bool], main: str | None,
           baseline: dict[str, float], pooled: bool = False) -> list[tuple[float, str, _Lesson]]:
    """(score, section, lesson) for every lesson with enough decisions: worked when its mean effect the good way
    (above `baseline`) is at least `lesson_worked_effect`; a lesson that cost the main metric failed, whatever its
    own metric did."""
    judged = []
    for lesson in lessons.values():
        lesson.evidence = lesson.evidence[-B.lesson_recent :]
        n = len(lesson.judged())
        if n < B.lesson_min_decisions:
            continue
        if pooled:
            found = _latest(lesson, up)
            if found is not None:
                judged.append((found[0], found[1], lesson))
            continue
        verdicts = [e["success"] for e in lesson.evidence if isinstance(e.get("success"), bool)]
        effect = lesson.effect(up, baseline)
        side = lesson.side()
        if side is not None and (side[1] if up.get(main or side[0], True) else -side[1]) < -B.side_cost:
            effect = min(effect, 0.0) - B.side_penalty
        # A lesson either way needs a clear mean effect and at least one decision judged clearly that way:
        # a string of "unclear" outcomes around zero is not a failure, it is nothing learned yet.
        if effect >= B.lesson_worked_effect and True in verdicts:
            judged.append((effect * n**0.5, "worked", lesson))
        elif effect <= -B.lesson_worked_effect and False in verdicts:
            judged.append((effect * n**0.5, "failed", lesson))
    return judged


def _facts(judged: list[tuple[float, str, _Lesson]]) -> list[str]:
    """Per metric, how the decisions with a clear effect went (unclear ones are neither a win nor a loss)."""
    facts: dict[str, list[bool]] = {}
    for _, _, lesson in judged:
        for e in lesson.evidence:
            if isinstance(e.get("success"), bool) and e.get("metric"):
                facts.setdefault(e["metric"], []).append(e["success"])
    return [f"{metric} moved the right way after {sum(v)} of {len(v)} decisions with a clear effect"
            for metric, v in sorted(facts.items(), key=lambda kv: -len(kv[1]))[:3]]


def _question(lesson: _Lesson) -> str:
    last = lesson.evidence[-1]
    word = "unclear" if last.get("success") is None else "worked" if last["success"] else "failed"
    return f"Does {lesson.key} hold? One decision so far: #{last['decision_id']} {word}"


def venture_synthesis(prompt: str) -> dict[str, Any]:
    """Merge the previous version's lessons with the new outcomes, re-judge each, keep the strongest."""
    sub = subsections(prompt)
    previous = previous_document(sub.get("previous version", ""))
    lessons = _previous_lessons(previous)
    table = _previous_standings(previous)
    tallies = _previous_tallies(previous)
    counted: set[tuple[str, str, str]] = set()
    venture = re.search(r"^Venture: .*\(([a-z][a-z0-9_-]*)\)", prompt, re.MULTILINE)
    rules = [str(r) for r in previous.get("rules") or [] if isinstance(r, str)]
    numbers: dict[str, dict[str, list[float]]] = {}
    for raw in sub.get("new memories", "").splitlines():
        line = raw.strip()
        rule = _rule(line)
        if rule:
            rules += [rule] if rule not in rules else []
            continue
        if line.split("]")[0].endswith("lookup"):
            _count(line, tallies, counted, venture.group(1) if venture else None)
            continue
        m = OUTCOME_LINE.search(line) if line.split("]")[0].endswith("outcome") else None
        if m:
            _outcome(m, lessons, numbers)
            _stand(m, table)
    for key, values in numbers.items():
        lessons[key].hint = " ".join(f"{k}={_short_number(sorted(v)[len(v) // 2])}" for k, v in sorted(values.items()))
    up = {name: way == "higher" for name, way in _DIRECTIONS.findall(prompt.split("\n## ", 1)[0])}
    main = re.search(r"^Main metric: ([A-Za-z_][A-Za-z0-9_]*)", prompt, re.MULTILINE)
    # Effects against a forecast are already net of the trend; raw movements are judged against the trend.
    pooled = "against forecast" in prompt
    baseline = {} if pooled else _baseline(lessons, up)
    judged = _judge(lessons, up, main.group(1) if main else None, baseline, pooled)
    worked = sorted((j for j in judged if j[1] == "worked"), key=lambda j: -j[0])[: B.max_lessons]
    failed = sorted((j for j in judged if j[1] == "failed"), key=lambda j: j[0])[: B.max_lessons]
    strategy = ("Keep doing what moved the numbers (" + ", ".join(j[2].key for j in worked[:3]) + ")."
                if worked else "No clear winner yet: keep experiments small and measure each one.")
    if failed:
        strategy += " Stop what did not (" + ", ".join(j[2].key for j in failed[:3]) + ")."
    single = [lesson for lesson in lessons.values() if len(lesson.judged()) == 1][-4:]
    return {
        "strategy": strategy,
        "worked": [j[2].text("worked") for j in worked],
        "failed": [j[2].text("failed") for j in failed],
        "standings": _standings(table, up),
        "customer_facts": [t.line() for _, t in sorted(tallies.items()) if t.readings] + _facts(judged),
        "open_questions": [_question(lesson) for lesson in single],
        "rules": rules[-8:],
    }


_Table = dict[tuple[str, str, str], dict[str, Standing]]  # (kind, parameter, metric) -> option -> standing
# The metric of a standings line across metrics: "budget.allocate area on each option's own metric (...)".
ACROSS_METRICS = "each"
ACROSS_METRICS_TEXT = "each option's own metric (percent, better for the business counted as up)"


def _previous_standings(previous: dict[str, Any]) -> _Table:
    table: _Table = {}
    for line in previous.get("standings") or []:
        found = parse_line(str(line))
        if found is not None and found[2] != ACROSS_METRICS:  # a line across metrics is rebuilt from the others
            kind, param, metric, rows = found
            table[(kind, param, metric)] = {row.option: row for row in rows}
    return table


def _stand(m: re.Match[str], table: _Table) -> None:
    """An outcome measured against a forecast pools every earlier decision of its option, so it replaces the
    option's standing; one choice parameter names the option (several would not compare on one line)."""
    interval = _INTERVAL.search(m.group(0))
    choices, _ = _split_params(m.group(3))
    if interval is None or len(choices) != 1:
        return
    (param, option), = choices.items()
    rows = table.setdefault((m.group(2), param, m.group(4)), {})
    lo, hi = (num(interval.group(i)) or 0.0 for i in (1, 2))
    known = rows.get(option.lower())
    rows[option.lower()] = Standing(option.lower(), num(m.group(5)) or 0.0, round((hi - lo) / 2, 1),
                                    (known.decisions if known else 0) + 1)


def _standings(table: _Table, up: dict[str, bool]) -> list[str]:
    """One line per lever and metric, the most measured first, and one across metrics for a lever whose options
    are each judged on a metric of their own (`_across_metrics`). A lever with one option measured so far keeps
    its line too: the next version is built from this one, and a line left out would be forgotten."""
    lines = [(sum(r.decisions for r in rows.values()), format_line(kind, param, metric, list(rows.values()),
                                                                   up.get(metric, True)))
             for (kind, param, metric), rows in sorted(table.items()) if rows]
    lines += _across_metrics(table, up)
    return [line for _, line in sorted(lines, key=lambda x: -x[0])][: B.max_lessons]


def _across_metrics(table: _Table, up: dict[str, bool]) -> list[tuple[int, str]]:
    """For a lever whose options are judged on different metrics (budget areas, each on the metric it buys:
    marketing on sign-ups, sales on trial conversion), one line with all of them side by side, each in percent
    of its own metric and signed so that up is better for the business.

    Why: one line per metric holds one option each, and one option alone compares with nothing, so which area
    deserves the money was never answered. Percent is the scale a funnel shares: paying customers are sign-ups
    times activation times conversion, so one percent more of any of them is about one percent more customers.
    An option measured on several metrics stands by the one with the most decisions behind it, and the line is
    written only when every option has a metric of its own: options that share a metric already compare on
    their line, and one stray decision judged on another metric does not make a lever cross metrics."""
    by_lever: dict[tuple[str, str], dict[str, tuple[str, Standing]]] = {}
    for (kind, param, metric), rows in sorted(table.items()):
        sign = 1.0 if up.get(metric, True) else -1.0
        options = by_lever.setdefault((kind, param), {})
        for option, row in rows.items():
            known = options.get(option)
            if known is None or row.decisions > known[1].decisions:
                options[option] = (metric, Standing(option, round(sign * row.effect, 1), row.half, row.decisions))
    lines = []
    for (kind, param), options in sorted(by_lever.items()):
        if len(options) >= 2 and len({metric for metric, _ in options.values()}) == len(options):
            side_by_side = [standing for _, standing in options.values()]
            lines.append((sum(r.decisions for r in side_by_side),
                          format_line(kind, param, ACROSS_METRICS_TEXT, side_by_side, True)))
    return lines


def _previous_tallies(previous: dict[str, Any]) -> dict[tuple[str, str], Tally]:
    found = (parse_tally(str(fact)) for fact in previous.get("customer_facts") or [])
    return {(t.kind, t.param): t for t in found if t is not None}


_LOOKED_UP_VENTURE = re.compile(r'"venture":\s*"([^"]+)"')


def _count(line: str, tallies: dict[tuple[str, str], Tally], counted: set[tuple[str, str, str]],
           venture: str | None) -> None:
    """Add one looked-up answer's counts (comments, tickets) of this venture to its lever's tally, once per day:
    a tool answers alike all day, so a second look the same day (in this batch or after the newest day the
    tally already counted) is the same reading."""
    day = line.removeprefix("- [").split(" ", 1)[0]
    about = _LOOKED_UP_VENTURE.search(line)
    if venture and about and about.group(1) != venture:
        return
    for (kind, param), (counts, total, unit) in readings(line).items():
        tally = tallies.setdefault((kind, param), Tally(kind, param, unit))
        if (day, kind, param) in counted or total <= 0 or day <= tally.through:
            continue
        counted.add((day, kind, param))
        tally.add(counts, total, day)


def _short_number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1000 else f"{round(value):d}"


_TABLE_LINE = re.compile(r"^- (.+?): (\d+) decisions?, (\d+) moved the metric the right way[^;]*;\s*(.*)$")


def _platform_rows(text: str) -> dict[str, dict[str, tuple[int, int, dict[str, list[int]]]]]:
    rows: dict[str, dict[str, tuple[int, int, dict[str, list[int]]]]] = {}
    venture = ""
    for raw in text.splitlines():
        head = re.match(r"^### .*\(([a-z][a-z0-9_-]*)\)", raw)
        if head:
            venture = head.group(1)
            continue
        m = _TABLE_LINE.match(raw.strip())
        if m and venture:
            groups = {g.group(1): [int(x) for x in re.findall(r"#(\d+)", g.group(2))]
                      for g in re.finditer(r"(worked|failed)((?:\s+#\d+)+)", m.group(4))}
            rows.setdefault(m.group(1).strip(), {})[venture] = (int(m.group(2)), int(m.group(3)), groups)
    return rows


class _Pattern(TypedDict):
    lesson: str
    key: str
    evidence: list[int]


def platform_synthesis(prompt: str) -> dict[str, Any]:
    """Patterns that held in more than one venture, and warnings where ventures disagree."""
    patterns: list[tuple[int, _Pattern]] = []
    warnings: list[tuple[int, _Pattern]] = []
    for key, per in sorted(_platform_rows(subsections(prompt).get("venture brains", "")).items()):
        rated = {v: (w + 1) / (n + 2) for v, (n, w, _) in per.items() if n >= B.lesson_min_decisions}
        good = sorted(v for v, p in rated.items() if p >= B.platform_good)
        bad = sorted(v for v, p in rated.items() if p <= B.platform_bad)
        if len(good) >= 2:
            ids = [i for v in good for i in per[v][2].get("worked", [])[-4:]]
            patterns.append((len(good), {"lesson": f"{key}: held in {', '.join(good)}", "key": key, "evidence": ids}))
        elif good and bad:
            ids = [i for v in good for i in per[v][2].get("worked", [])[-3:]]
            ids += [i for v in bad for i in per[v][2].get("failed", [])[-3:]]
            warnings.append((len(bad), {"lesson": f"{key}: worked in {', '.join(good)}, failed in {', '.join(bad)}",
                                        "key": key, "evidence": ids}))
    worked = [p for _, p in sorted(patterns, key=lambda x: -x[0])[: B.max_lessons]]
    failed = [w for _, w in sorted(warnings, key=lambda x: -x[0])[: B.max_lessons]]
    strategy = ("Across ventures, repeat: " + "; ".join(p["key"] for p in worked[:3]) + "."
                if worked else "No pattern has held in more than one venture yet.")
    if failed:
        strategy += " Check locally before repeating: " + "; ".join(w["key"] for w in failed[:3]) + "."
    standings, facts = _relayed(subsections(prompt).get("venture brains", ""))
    return {"strategy": strategy, "worked": worked, "failed": failed, "standings": standings,
            "customer_facts": facts, "open_questions": [], "rules": []}


_VENTURE_BLOCK = re.compile(r"^### .*\(([a-z][a-z0-9_-]*)\), brain", re.MULTILINE)


def _relayed(text: str) -> tuple[list[str], list[str]]:
    """Each venture's option standings and tallies, passed on as they are for the others to weigh: which
    ventures are alike is for each reader to judge against its own, not for the analyst to guess. The most
    measured first, within the document's bounds."""
    standings: list[tuple[int, str]] = []
    facts: list[tuple[int, str]] = []
    blocks = _VENTURE_BLOCK.split(text)
    for venture, block in zip(blocks[1::2], blocks[2::2], strict=True):
        lines = [line.strip() for line in block.splitlines()]
        for line in lines:
            if line.startswith("Stands: ") and (found := parse_line(line[8:])) is not None:
                standings.append((-sum(r.decisions for r in found[3]), f"in {venture}, {line[8:]}"))
            elif line.startswith("Fact: ") and (tally := parse_tally(line[6:])) is not None:
                facts.append((-tally.readings, f"in {venture}, {line[6:]}"))
    return [t for _, t in sorted(standings)][:MAX_RELAYED], [t for _, t in sorted(facts)][:MAX_RELAYED]


def _line_lesson(line: str) -> str:
    lesson = re.sub(r"^\[[^\]]*\]\s*", "", line)
    lesson = re.sub(r"\bdecisions?\s+#\d+(?:\s*,\s*#\d+)*\s*", "", lesson)
    lesson = re.sub(r"\s*\((?:worked|failed|unclear|success|did not work|no effect)\)\s*", " ", lesson, flags=re.I)
    return re.sub(r"\s+", " ", lesson).strip(" :;,.") or line


def _line_groups(prompt: str) -> dict[tuple[int, str], dict[str, Any]]:
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for raw in prompt.splitlines():
        line = raw.strip().lstrip("-*").strip()
        evidence = [int(n) for n in re.findall(r"(?:decisions?\s+|,\s*)#(\d+)", line)]
        evidence += [int(n) for n in re.findall(r"(?<![\w#])#(\d+)\b", line) if int(n) not in evidence]
        s = polarity(line) if evidence else 0
        if not s:
            continue
        dm = re.search(r"([+\-−]\d+(?:\.\d+)?)\s*%", line)
        lesson = _line_lesson(line)
        slot = groups.setdefault((s, lesson.split(":")[0].strip()), {"lesson": lesson, "evidence": [], "deltas": []})
        slot["evidence"] += [e for e in evidence if e not in slot["evidence"]]
        slot["deltas"].append(_pct(dm.group(1)) if dm else 0.0)
    return groups


class _LineLesson(TypedDict):
    lesson: str
    evidence: list[int]
    delta: float


def line_synthesis(prompt: str) -> dict[str, Any]:
    """Older, free-form requests: outcome lines with decision ids and worked/failed tags become lessons."""
    worked: list[_LineLesson] = []
    failed: list[_LineLesson] = []
    for (s, _), g in _line_groups(prompt).items():
        item: _LineLesson = {"lesson": g["lesson"], "evidence": g["evidence"],
                             "delta": round(sum(g["deltas"]) / len(g["deltas"]), 4)}
        (worked if s > 0 else failed).append(item)
    worked.sort(key=lambda i: -abs(i["delta"]))
    failed.sort(key=lambda i: -abs(i["delta"]))
    heads = [i["lesson"].split(":")[0] for i in worked[:3]]
    strategy = ("Keep doing what moved the numbers: " + "; ".join(heads) + "." if worked
                else "No clear winner yet: keep experiments small and measure each one.")
    if failed:
        strategy += " Stop: " + "; ".join(i["lesson"].split(":")[0] for i in failed[:3]) + "."
    return {
        "strategy": strategy,
        "worked": worked,
        "failed": failed,
        "customer_facts": [],
        "open_questions": ["Which of the untested options would move the owned metric most?"] if not worked else [],
        "rules": [f"Do not repeat {i['lesson'].split(':')[0]} without a new reason." for i in failed[:3]],
    }


def synthesis(prompt: str, rng: random.Random, flags: Flags, imp: random.Random) -> str:
    scope = re.search(r"^Scope: (venture|platform)\b", prompt, re.MULTILINE)
    if scope and scope.group(1) == "platform":
        return finish(platform_synthesis(prompt), rng, flags, imp, "synthesis")
    if scope:
        return finish(venture_synthesis(prompt), rng, flags, imp, "synthesis")
    return finish(line_synthesis(prompt), rng, flags, imp, "synthesis")
