"""The simulated model: a stand-in for a real LLM that reads only the messages it is given.

It is deliberately blind: no database, no market, no files, no environment, no global state. Everything it
knows comes from the prompt text (the same sections a real model reads), and its randomness is seeded by that
text, so the same prompt always gets the same answer and a retry prompt (which appends messages) gets another.

What it does with the prompt:

- wake-ups ("# Your role"): reads the role, the owned metric and its trend, the decision kinds it may take
  (with their parameter specs), the founder's policy line, tasks, messages, revisions, verdicts, outcomes, the
  venture brief and platform insights, and answers with 0 to 2 decisions that fit the kinds it was offered;
- reviews ("# Review request"): approves or asks for a concrete revision, the way its reviewer role would;
- syntheses ("# Synthesis request"): turns outcome lines into worked/failed lessons with their evidence;
- retries (last message "# Your previous answer could not be used"): answers validly this time.

It learns only through the prompt: lines of the brief, insights, directives and outcomes that name a decision
kind and `key=value` parameters with words like "worked" or "failed" steer its choices toward what worked.

Imperfections (first attempts only, at the profile's rates): invalid JSON, schema violations, low confidence,
risky kinds that always need the founder, spending over the founder's threshold.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from dataclasses import dataclass, field, fields, replace
from typing import Any

# ---------------------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How often the simulated model misbehaves, and how slow it pretends to be."""

    name: str
    invalid_json: float
    schema_violation: float
    low_confidence: float
    risky: float
    over_budget: float
    latency_ms: float
    sleep_ms: float = 0.0


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 0.04, 0.04, 0.08, 0.10, 0.05, latency_ms=1800.0),
    "careless": Profile("careless", 0.12, 0.12, 0.24, 0.30, 0.15, latency_ms=1400.0),
    "perfect": Profile("perfect", 0.0, 0.0, 0.0, 0.0, 0.0, latency_ms=900.0),
}

_RATES = ("invalid_json", "schema_violation", "low_confidence", "risky", "over_budget")
_SETTABLE = tuple(f.name for f in fields(Profile) if f.name != "name")


def parse_profile(model: str) -> Profile:
    """The profile a model string names: "standard", "sim/careless", "standard:invalid_json=0.2,sleep_ms=50"."""
    text = (model or "").strip()
    if text.lower().startswith("sim/"):
        text = text[4:]
    name, _, overrides = text.partition(":")
    name = name.strip().lower()
    base = PROFILES.get(name)
    if base is None:
        raise ValueError(
            f"unknown simulated model profile {name!r} (from {model!r}); known profiles: "
            f"{', '.join(PROFILES)}; write e.g. 'sim/standard' or 'sim/standard:invalid_json=0.2,sleep_ms=50'"
        )
    changes: dict[str, float] = {}
    for item in overrides.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in _SETTABLE:
            raise ValueError(
                f"bad simulated model override {item.strip()!r} in {model!r}; settable: {', '.join(_SETTABLE)}"
            )
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"override {key!r} in {model!r} must be a number, not {value.strip()!r}") from None
        if number != number or number < 0 or (key in _RATES and number > 1):
            limit = "between 0 and 1" if key in _RATES else "0 or more"
            raise ValueError(f"override {key!r} in {model!r} must be {limit}, not {value.strip()!r}")
        changes[key] = number
    return replace(base, **changes) if changes else base


@dataclass(frozen=True)
class SimReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------

RETRY_MARK = "# Your previous answer could not be used"


def _content(message: dict) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def respond(messages: list[dict], profile: Profile) -> SimReply:
    """Answer one chat, deterministically from its text and the profile."""
    contents = [_content(m) for m in messages]
    joined = "\n\x1e".join(contents)
    seed = zlib.crc32(f"{profile.name}\x00{joined}".encode())
    rng = random.Random(seed)
    imp = random.Random(seed ^ 0x5BD1E995)
    users = [c for m, c in zip(messages, contents, strict=True) if isinstance(m, dict) and m.get("role") == "user"]
    retry = bool(users) and users[-1].lstrip().startswith(RETRY_MARK)
    prompt = _original_prompt(users)
    flags = _Flags.draw(imp, profile, enabled=not retry)
    kind = _prompt_kind(prompt)
    if kind == "Review request":
        text = _review(prompt, rng, flags, imp)
    elif kind == "Synthesis request":
        text = _synthesis(prompt, rng, flags, imp)
    elif kind == "Your role":
        text = _wake(prompt, rng, flags, imp)
    else:
        text = _finish({"summary": "Nothing in the request called for a decision."}, rng, flags, imp, "wake")
    completion = max(1, len(text) // 4)
    latency = profile.latency_ms * (0.75 + 0.5 * rng.random()) + 2.0 * completion
    return SimReply(text, max(1, len(joined) // 4), completion, round(latency, 1))


_KIND_HEADING = re.compile(r"^# (Review request|Synthesis request|Your role)\s*$", re.MULTILINE)


def _prompt_kind(text: str) -> str | None:
    """What the prompt asks for, by its first recognised heading."""
    m = _KIND_HEADING.search(text)
    return m.group(1) if m else None


def _original_prompt(users: list[str]) -> str:
    """The request itself: the first user message with a recognised heading that is not a retry."""
    firsts = [t for t in users if not t.lstrip().startswith(RETRY_MARK)]
    return next((t for t in firsts if _prompt_kind(t)), firsts[0] if firsts else users[0] if users else "")


@dataclass
class _Flags:
    invalid_json: bool = False
    schema_violation: bool = False
    low_confidence: bool = False
    risky: bool = False
    over_budget: bool = False

    @classmethod
    def draw(cls, imp: random.Random, profile: Profile, *, enabled: bool) -> _Flags:
        draws = [imp.random() for _ in range(4)]  # always drawn, so the rates stay independent
        if not enabled:
            return cls()
        fault = draws[0]
        return cls(
            invalid_json=fault < profile.invalid_json,
            schema_violation=profile.invalid_json <= fault < profile.invalid_json + profile.schema_violation,
            low_confidence=draws[1] < profile.low_confidence,
            risky=draws[2] < profile.risky,
            over_budget=draws[3] < profile.over_budget,
        )


# ---------------------------------------------------------------------------------------------------------
# Reading the prompt
# ---------------------------------------------------------------------------------------------------------

_TITLES = {
    "Your role",
    "Your metric",
    "Founder directives",
    "Venture brief",
    "Platform insights",
    "Tasks for you",
    "Messages for you",
    "Outcomes of your recent decisions",
    "Founder verdicts on your escalations",
    "Returned for revision",
    "Decisions you may take",
    "What to answer",
    "Review request",
    "Earlier rounds",
    "Synthesis request",
}
_HEADING = re.compile(r"^# (.+?)\s*$")
_KIND_ID = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+"
_KIND_RE = re.compile(_KIND_ID)
_KV = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s,;()\]}]+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _sections(text: str) -> dict[str, str]:
    """Known top-level sections by title; headings inside free text (a brief's own '# ...') stay content."""
    out: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and (m.group(1) in _TITLES or re.fullmatch(r"Decision #\d+", m.group(1))):
            if current is not None:
                out[current] = "\n".join(buf).strip()
            current, buf = m.group(1), []
        else:
            buf.append(line)
    if current is not None:
        out[current] = "\n".join(buf).strip()
    return out


def _field(text: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}\s*(.*)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _num(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        return None


def _bullets(body: str) -> list[str]:
    return [line[2:].strip() for line in body.splitlines() if line.startswith("- ")]


def _clean_value(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.rstrip(".,;:").lstrip("$")


_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def _pairs(text: str) -> dict[str, str]:
    """`key=value` pairs and any inline JSON object of parameters in a line."""
    out = {m.group(1): _clean_value(m.group(2)) for m in _KV.finditer(text)} if "=" in text else {}
    for m in _JSON_OBJECT.finditer(text) if "{" in text else ():
        try:
            data = json.loads(m.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(v, str | int | float | bool) and k not in ("metric", "direction", "size"):
                    out.setdefault(str(k), v if isinstance(v, str) else json.dumps(v))
    return out


@dataclass
class _Param:
    name: str
    type: str = "string"
    choices: list[str] | None = None
    lo: float | None = None
    hi: float | None = None


@dataclass
class _Kind:
    id: str
    description: str
    params: list[_Param]
    spend: str | None


def _parse_kind(line: str) -> _Kind | None:
    m = re.match(rf"^- ({_KIND_ID}): (.*)$", line)
    if not m:
        return None
    kind_id, rest = m.group(1), m.group(2)
    cut = rest.rfind(" Params: ")
    if cut < 0:
        return _Kind(kind_id, rest, [], None)
    description, tail = rest[:cut], rest[cut + len(" Params: ") :]
    spend = None
    sm = re.search(r"\s*Spends: ([A-Za-z_][A-Za-z0-9_]*)\.\s*$", tail)
    if sm:
        spend, tail = sm.group(1), tail[: sm.start()]
    tail = tail.strip().rstrip(".")
    params: list[_Param] = []
    if tail != "none":
        for pm in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*) \(([^()]*)\)", tail):
            param = _Param(pm.group(1))
            bits = [b.strip() for b in pm.group(2).split(", ")]
            if bits:
                param.type = bits[0] if bits[0] in ("string", "number", "integer", "boolean") else "string"
            for bit in bits[1:]:
                if bit.startswith("one of "):
                    param.choices = bit[len("one of ") :].split("/")
                elif ".." in bit:
                    lo, _, hi = bit.partition("..")
                    param.lo, param.hi = _num(lo) if lo else None, _num(hi) if hi else None
            params.append(param)
    if not any(p.name == spend and p.type in ("number", "integer") for p in params):
        spend = None  # only a numeric parameter can hold money spent
    return _Kind(kind_id, description, params, spend)


@dataclass
class _Policy:
    always: list[str] = field(default_factory=list)
    threshold: float = 500.0
    floor: float = 0.5


def _parse_policy(text: str) -> _Policy:
    policy = _Policy()
    m = re.search(r"kinds (.*?); any decision spending over \$?([\d,.]+)", text)
    if m:
        kinds = m.group(1).strip()
        policy.always = [] if kinds == "none" else [k.strip() for k in kinds.split(",") if k.strip()]
        policy.threshold = _num(m.group(2).rstrip(".")) or policy.threshold
    m = re.search(r"confidence below ([\d.]+\d)", text)
    if m:
        policy.floor = _num(m.group(1)) or policy.floor
    return policy


# ---------------------------------------------------------------------------------------------------------
# Learning from the prompt: which kinds and parameter values worked or failed
# ---------------------------------------------------------------------------------------------------------

_TAG_POS = re.compile(r"\((?:worked|success|paid back)\)", re.I)
_TAG_NEG = re.compile(r"\((?:failed|did not work|no effect|rejected)\)", re.I)
_NEG = re.compile(
    r"\b(?:fail(?:ed|s|ing)?|did not work|didn't work|does not work|doesn't work|not (?:yet )?(?:paid|pay) back|"
    r"never paid back|not work(?:ed|ing)?|no effect|hurt|backfired|wasted|rejected|avoid|stop|don't|do not|"
    r"never|lost money|underperformed)\b",
    re.I,
)
_POS = re.compile(
    r"\b(?:worked|works|working|paid back|pays back|succeeded|successful|success|effective|improved|helped|"
    r"winner|keep doing|prefer|favour|favor|focus on|double down)\b",
    re.I,
)
_CLAUSE_SPLIT = re.compile(r";\s+|\.\s+(?=[A-Z])|\s+\bbut\b\s+|\s+\bwhile\b\s+|\s+\bwhereas\b\s+")


def _sentiment(text: str) -> int:
    if _TAG_POS.search(text):
        return 1
    if _TAG_NEG.search(text):
        return -1
    if _NEG.search(text):
        return -1
    if _POS.search(text):
        return 1
    return 0


@dataclass
class _Knowledge:
    kinds: dict[str, float] = field(default_factory=dict)
    params: dict[tuple[str | None, str, str], float] = field(default_factory=dict)
    notes: dict[tuple[str | None, str, str], str] = field(default_factory=dict)
    rejected: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def add_param(self, kind: str | None, key: str, value: str, score: float, note: str) -> None:
        slot = (kind, key, value.lower())
        self.params[slot] = self.params.get(slot, 0.0) + score
        self.notes.setdefault(slot, note)

    def scores(self, kind: str, key: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for (k, name, value), score in self.params.items():
            if name == key and k in (kind, None):
                out[value] = out.get(value, 0.0) + score
        return out


def _learn(
    know: _Knowledge,
    body: str,
    kinds: list[_Kind],
    *,
    weight: float,
    metric: str = "",
    up: bool = True,
    bare_words: bool = True,
    source: str = "the brief",
) -> None:
    """Read lines that say a kind or a parameter value worked or failed."""
    known = {k.id: k for k in kinds}
    choices = [(k.id, p.name, c) for k in kinds for p in k.params if p.choices for c in p.choices if len(c) >= 3]
    context = 0
    for raw in body.splitlines():
        line = raw.strip().lstrip("-*•").strip()
        if not line:
            continue
        is_heading = raw.lstrip().startswith("#") or (line.endswith(":") and len(line) < 80)
        if is_heading:
            context = _sentiment(line)
            continue
        line_sentiment = _sentiment(line)
        last_kind: str | None = None
        clauses = _CLAUSE_SPLIT.split(line)
        for clause in clauses:
            own = line_sentiment if len(clauses) == 1 else _sentiment(clause)
            s = own or line_sentiment or context or _numeric_sentiment(clause, metric, up)
            mentioned = [k for k in _KIND_RE.findall(clause) if k in known]
            if mentioned:
                last_kind = mentioned[-1]
            if not s:
                continue
            targets: list[str | None] = list(mentioned) or [last_kind]
            pairs = _pairs(clause)
            note = f"{source} says " + " ".join(clause.split())[:120]
            stripped = _KIND_RE.sub(" ", _KV.sub(" ", clause)) if bare_words else ""
            words = set(_WORDS.findall(stripped.lower())) if bare_words else set()
            for target in targets:
                for key, value in pairs.items():
                    know.add_param(target, key, str(value), s * weight, note)
                if target is not None and (s > 0 or not pairs):
                    know.kinds[target] = know.kinds.get(target, 0.0) + (s * weight if not pairs else 0.5 * weight)
                if bare_words:
                    for kind_id, name, choice in choices:
                        wanted = (target is None or kind_id == target) and name not in pairs
                        if wanted and _mentions(choice, words, stripped):
                            know.add_param(kind_id, name, choice, 0.5 * s * weight, note)


_WORDS = re.compile(r"\w+")


def _mentions(choice: str, words: set[str], text: str) -> bool:
    """Whether `text` names `choice` as a whole word (a set lookup for one-word choices, the common case)."""
    lowered = choice.lower()
    if _WORDS.fullmatch(lowered):
        return lowered in words
    return re.search(rf"\b{re.escape(choice)}\b", text, re.I) is not None


def _numeric_sentiment(text: str, metric: str, up: bool) -> int:
    if not metric:
        return 0
    m = re.search(rf"`?{re.escape(metric)}`?\s*:?\s*([+\-−]\s?\d+(?:\.\d+)?)\s*%", text)
    if not m:
        return 0
    value = _num(m.group(1).replace("−", "-").replace(" ", "")) or 0.0
    if abs(value) < 0.5:
        return 0
    return (1 if value > 0 else -1) * (1 if up else -1)


# ---------------------------------------------------------------------------------------------------------
# Wake-ups
# ---------------------------------------------------------------------------------------------------------

_DEFAULT_RANGES = {
    "budget": (150, 600),
    "amount": (200, 700),
    "weekly_cost": (250, 700),
    "percent": (5, 30),
    "hours": (4, 30),
    "price": (9, 59),
    "value": (2000, 24000),
    "effort_days": (2, 10),
    "days": (7, 30),
}
_TEXTS = {
    "topic": [
        "a step-by-step setup guide",
        "a customer case study",
        "this month's changelog",
        "a pricing explainer",
        "migration checklist",
        "how our best customers use us",
        "a comparison with the free tools",
    ],
    "feature": [
        "one-click import",
        "guided setup checklist",
        "Slack alerts",
        "CSV export",
        "team workspaces",
        "weekly digest email",
        "saved filters",
        "bulk edit",
    ],
    "area": ["background jobs", "page load times", "email delivery", "API error rate", "sync worker", "login flow"],
    "version": [],
    "plan": ["Pro", "Studio", "Team", "Starter"],
    "customer": ["Northfield Collective", "Brightline Partners", "Harbor & Co", "Maple Street Studio"],
    "commitment": [
        "priority support with a 4-hour first reply",
        "an export API by next quarter",
        "a dedicated onboarding call",
    ],
    "change": [
        "a shorter signup form",
        "a sample project on first run",
        "an inline setup checklist",
        "a welcome email with the first three steps",
        "clearer empty states",
    ],
    "name": ["sentry-sdk", "postmark", "stripe-python", "tenacity"],
    "purpose": [
        "replaces a hand-rolled retry loop",
        "error reporting we do not have today",
        "transactional email with better deliverability",
    ],
    "skill": ["lifecycle email copy", "Postgres performance", "SEO content writing", "mobile QA"],
}
_IRREVERSIBLE = {"stage.change", "customer.commitment", "security.change"}
_STAGES = ["idea", "mvp", "launch", "growth", "scale"]


@dataclass
class _Wake:
    role: str = ""
    agent_id: str = ""
    stage: str = ""
    reports_to: str | None = None
    reports: list[str] = field(default_factory=list)
    metric: str = ""
    up: bool = True
    values: list[float] = field(default_factory=list)
    kinds: list[_Kind] = field(default_factory=list)
    policy: _Policy = field(default_factory=_Policy)
    tasks: list[tuple[int, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    outcomes: list[tuple[int | None, str]] = field(default_factory=list)
    verdicts: list[tuple[int | None, str]] = field(default_factory=list)
    revisions: list[tuple[int, str]] = field(default_factory=list)
    know: _Knowledge = field(default_factory=_Knowledge)
    outcome_balance: int = 0
    record: tuple[int, int] = (0, 0)  # (moved the right way, measured) over the brief's lessons on my kinds

    def kind(self, kind_id: str) -> _Kind | None:
        return next((k for k in self.kinds if k.id == kind_id), None)


_RECORD = re.compile(r"\b(\d+) of (\d+) moved the metric the right way")


def _read_wake(prompt: str) -> _Wake:
    sec = _sections(prompt)
    w = _Wake()
    role = sec.get("Your role", "")
    w.role = _field(role, "Role:")
    w.agent_id = _field(role, "Agent id:")
    sm = re.search(r"stage: ([a-z]+)", role)
    w.stage = sm.group(1) if sm else ""
    boss = _field(role, "You report to:")
    w.reports_to = None if not boss or boss == "the founder" else boss
    below = _field(role, "Reporting to you:")
    w.reports = [] if below in ("", "none") else [r.strip() for r in below.split(",") if r.strip()]
    metric = sec.get("Your metric", "")
    mm = re.search(r"You own `([^`]+)` \(([^)]*)\)", metric)
    if mm:
        w.metric = mm.group(1)
        w.up = "lower is better" not in mm.group(2)
    values = _field(metric, "Recent daily values, oldest first:")
    w.values = [v for v in (_num(x) for x in values.split(", ")) if v is not None] if values else []
    for line in sec.get("Decisions you may take", "").splitlines():
        kind = _parse_kind(line)
        if kind:
            w.kinds.append(kind)
        elif "must approve" in line:
            w.policy = _parse_policy(line)
    for text in _bullets(sec.get("Tasks for you", "")):
        tm = re.match(r"task #(\d+):\s*(.*)", text)
        if tm:
            w.tasks.append((int(tm.group(1)), tm.group(2)))
    w.messages = _bullets(sec.get("Messages for you", ""))
    for name, target in (
        ("Outcomes of your recent decisions", w.outcomes),
        ("Founder verdicts on your escalations", w.verdicts),
    ):
        for text in _bullets(sec.get(name, "")):
            im = re.match(r"#(\d+)\s*(.*)", text)
            target.append((int(im.group(1)), im.group(2)) if im else (None, text))
    for text in _bullets(sec.get("Returned for revision", "")):
        rm = re.match(r"decision #(\d+)\s*(.*)", text)
        if rm:
            body = re.sub(r"\s*Answer with a revised decision that sets \"revises\": \d+\.\s*$", "", rm.group(2))
            w.revisions.append((int(rm.group(1)), body))
    know = w.know
    wins = total = 0
    for line in sec.get("Venture brief", "").splitlines():
        rm = _RECORD.search(line)
        if rm and any(k.id in line for k in w.kinds):
            wins, total = wins + int(rm.group(1)), total + int(rm.group(2))
    w.record = (wins, total)
    _learn(know, sec.get("Venture brief", ""), w.kinds, weight=1.0, metric=w.metric, up=w.up)
    _learn(
        know,
        sec.get("Platform insights", ""),
        w.kinds,
        weight=0.7,
        metric=w.metric,
        up=w.up,
        source="the platform insights",
    )
    _learn(know, sec.get("Founder directives", ""), w.kinds, weight=1.5, source="a founder directive")
    for _, text in w.outcomes:
        s = _sentiment(text) or _numeric_sentiment(text, w.metric, w.up)
        w.outcome_balance += s
        _learn(know, text, w.kinds, weight=1.0, metric=w.metric, up=w.up, bare_words=False, source="a recent outcome")
    for vid, text in w.verdicts:
        if re.search(r"\breject", text, re.I):
            kind = next((k for k in re.findall(_KIND_ID, text) if w.kind(k)), "")
            pairs = {k: str(v).lower() for k, v in _pairs(text).items()}
            know.rejected.append((kind, pairs, f"#{vid}" if vid is not None else "an escalation"))
            for key, value in pairs.items():
                know.add_param(kind or None, key, value, -1.0, f"the founder rejected {kind} {key}={value}")
    return w


def _trend(w: _Wake) -> tuple[str, float, str]:
    """('improving'|'slipping'|'flat'|'new', relative change in the good direction, a short description)."""
    vals = w.values
    name = f"`{w.metric}`" if w.metric else "my metric"
    if len(vals) < 2:
        return "new", 0.0, f"{name} has no history yet"
    first, last = vals[0], vals[-1]
    change = (last - first) / max(abs(first), 1e-9)
    good = change if w.up else -change
    word = "improving" if good > 0.02 else "slipping" if good < -0.02 else "flat"
    return word, good, f"{name} is {word} ({_short(first)} → {_short(last)} over {len(vals)} days, {change:+.1%})"


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


def _round_to(value: float, step: float) -> float:
    return round(value / step) * step


def _numeric(param: _Param, kind: _Kind, w: _Wake, rng: random.Random, scores: dict[str, float]) -> float | int:
    lo_spec = param.lo if param.lo is not None else 0.0
    hi_spec = param.hi
    default = _DEFAULT_RANGES.get(param.name)
    if default is not None:
        lo, hi = float(default[0]), float(default[1])
    else:
        lo = lo_spec
        hi = lo_spec + (hi_spec - lo_spec) * 0.4 if hi_spec is not None else lo_spec + 100
    if param.name == kind.spend:
        hi = min(hi, w.policy.threshold * 0.9)
        lo = min(lo, hi * 0.5)
    good = [(s, _num(v)) for v, s in scores.items() if s > 0 and _num(v) is not None]
    if good and rng.random() < 0.8:
        base = max(good)[1] or 0.0
        value = base * rng.uniform(0.85, 1.15)
        if param.name == kind.spend:
            value = min(value, w.policy.threshold * 0.9)
    else:
        value = rng.uniform(lo, hi)
    if param.name == kind.spend or param.name in ("value", "amount"):
        value = _round_to(value, 50 if value >= 200 else 10)
    elif hi - lo >= 10:
        value = round(value)
    return _clamp(param, value)


def _clamp(param: _Param, value: float) -> float | int:
    if param.lo is not None:
        value = max(param.lo, value)
    if param.hi is not None:
        value = min(param.hi, value)
    if param.type == "integer":
        ivalue = round(value)
        if param.lo is not None and ivalue < param.lo:
            ivalue += 1
        if param.hi is not None and ivalue > param.hi:
            ivalue -= 1
        return int(ivalue)
    number = round(float(value), 2)
    return int(number) if number.is_integer() else number


def _pick_choice(choices: list[str], scores: dict[str, float], rng: random.Random) -> str:
    lowered = {c.lower(): c for c in choices}
    pos = {lowered[v]: s for v, s in scores.items() if s > 0 and v in lowered}
    neg = {lowered[v] for v, s in scores.items() if s < 0 and v in lowered}
    if pos and rng.random() < 0.8:
        best = max(pos.values())
        return rng.choice(sorted(c for c, s in pos.items() if s == best))
    allowed = [c for c in choices if c not in neg] or list(choices)
    return rng.choice(allowed)


def _text_value(param: _Param, kind: _Kind, w: _Wake, rng: random.Random, scores: dict[str, float]) -> str:
    good = [v for v, s in scores.items() if s > 0]
    if good and rng.random() < 0.6:
        return rng.choice(sorted(good))
    if param.name == "version":
        return f"v{rng.randint(1, 3)}.{rng.randint(0, 24)}.{rng.randint(0, 9)}"
    if kind.id == "security.change" and param.name == "change":
        return rng.choice(["enforce 2FA for admin accounts", "rotate API signing keys", "tighten session expiry"])
    if param.name == "area" and kind.id == "reliability.fix":
        return rng.choice(_TEXTS["area"])
    options = _TEXTS.get(param.name) or [f"{kind.id.split('.')[0]} improvement #{rng.randint(1, 99)}"]
    return rng.choice(options)


def _make_params(kind: _Kind, w: _Wake, rng: random.Random) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for param in kind.params:
        scores = w.know.scores(kind.id, param.name)
        if param.choices:
            choices = list(param.choices)
            if param.name == "stage" and w.stage in choices and len(choices) > 1:
                i = _STAGES.index(w.stage) if w.stage in _STAGES else -1
                nxt = _STAGES[i + 1] if 0 <= i < len(_STAGES) - 1 and _STAGES[i + 1] in choices else None
                params[param.name] = nxt or rng.choice([c for c in choices if c != w.stage])
                continue
            params[param.name] = _pick_choice(choices, scores, rng)
        elif param.type in ("number", "integer"):
            params[param.name] = _numeric(param, kind, w, rng, scores)
        elif param.type == "boolean":
            params[param.name] = rng.random() < 0.5
        else:
            params[param.name] = _text_value(param, kind, w, rng, scores)
    return params


def _is_rejected(w: _Wake, kind: str, params: dict[str, Any]) -> str | None:
    for rkind, pairs, ref in w.know.rejected:
        if rkind and rkind != kind:
            continue
        if (
            pairs
            and all(str(params.get(k, "")).lower() == v for k, v in pairs.items() if k in params)
            and any(k in params for k in pairs)
        ):
            return ref
        if not pairs and rkind == kind:
            return ref
    return None


def _known_bad(w: _Wake, kind: _Kind) -> bool:
    """The prompt says this kind fails: its own score is negative, or every option of its choice parameter did."""
    if w.know.kinds.get(kind.id, 0.0) < 0:
        return True
    choice = next((p for p in kind.params if p.choices), None)
    if choice is None or not choice.choices:
        return False
    scores = w.know.scores(kind.id, choice.name)
    known = [scores[c.lower()] for c in choice.choices if c.lower() in scores]
    return bool(known) and max(known) < 0 and len(known) * 2 >= len(choice.choices)


def _kind_weights(w: _Wake, kinds: list[_Kind]) -> list[float]:
    weights = []
    for kind in kinds:
        score = w.know.kinds.get(kind.id, 0.0)
        weights.append(1.0 + 1.5 * score if score > 0 else max(0.15, 1.0 + 0.4 * score))
    return weights


def _learned_note(w: _Wake, kind: _Kind, params: dict[str, Any]) -> str:
    best: tuple[float, str] | None = None
    for key, value in params.items():
        for (k, name, v), score in w.know.params.items():
            if name == key and k in (kind.id, None) and v == str(value).lower() and score > 0:
                note = w.know.notes.get((k, name, v), "")
                if note and (best is None or score > best[0]):
                    best = (score, note)
    if best:
        return best[1].rstrip(".") + ", so I am repeating what worked"
    choice = next((p for p in kind.params if p.choices), None)
    if choice is not None and not w.know.scores(kind.id, choice.name):
        return f"nothing in the brief covers {choice.name}={params.get(choice.name)} yet, so this is a measured test"
    return "it is the most direct lever I have on it"


def _decision(kind: _Kind, params: dict[str, Any], w: _Wake, rng: random.Random, why: str) -> dict[str, Any]:
    _, good, trend = _trend(w)
    size = round(rng.uniform(0.02, 0.12) if good <= 0.05 else rng.uniform(0.02, 0.06), 3)
    return {
        "kind": kind.id,
        "params": params,
        "rationale": f"{trend[0].upper()}{trend[1:]}; {why.strip().rstrip('.')}.",
        "expected_effect": {"metric": w.metric or "overall", "direction": "up" if w.up else "down", "size": size},
        "confidence": round(rng.uniform(0.6, 0.9), 2),
        "reversible": kind.id not in _IRREVERSIBLE,
        "revises": None,
    }


def _new_decision(w: _Wake, rng: random.Random, avoid: set[str], pool: list[_Kind]) -> dict[str, Any] | None:
    candidates = [k for k in pool if k.id not in avoid] or pool
    if not candidates:
        return None
    kind = rng.choices(candidates, weights=_kind_weights(w, candidates))[0]
    params = _make_params(kind, w, rng)
    for _ in range(4):
        if not _is_rejected(w, kind.id, params):
            break
        params = _make_params(kind, w, rng)
    decision = _decision(kind, params, w, rng, _learned_note(w, kind, params))
    if w.know.kinds.get(kind.id, 0) > 0 or "repeating what worked" in decision["rationale"]:
        decision["confidence"] = round(min(0.92, decision["confidence"] + 0.05), 2)
    return decision


_CUT = re.compile(r"\b(cut|lower|reduce|smaller|too (?:high|much|big|expensive)|halve|trim|cap|less)\b", re.I)


def _revise(w: _Wake, rid: int, text: str, rng: random.Random) -> dict[str, Any] | None:
    """A decision that replaces #rid, adjusted per the reviewer's feedback."""
    mentioned = [k for k in re.findall(_KIND_ID, text) if w.kind(k)]
    kind = w.kind(mentioned[0]) if mentioned else None
    if kind is None:
        kind = next((k for k in w.kinds if k.id not in w.policy.always), w.kinds[0] if w.kinds else None)
    if kind is None:
        return None
    jm = re.search(r"\{[^{}]*\}", text)
    if jm:
        head, feedback = text[: jm.end()], text[jm.end() :]
    elif ": " in text:
        head, feedback = text.split(": ", 1)
    else:
        head, feedback = text, text
    feedback = feedback.strip().lstrip(":;,.- ").strip()
    original = _pairs(head)
    fresh = _make_params(kind, w, rng)
    params: dict[str, Any] = {}
    for param in kind.params:
        value = _coerce(param, original.get(param.name))
        params[param.name] = fresh[param.name] if value is None else value
    before = dict(params)
    feedback_pairs = _pairs(feedback)
    for param in kind.params:  # explicit key=value in the feedback wins
        value = _coerce(param, feedback_pairs.get(param.name))
        if value is not None:
            params[param.name] = value
    for param in kind.params:
        if param.type not in ("number", "integer"):
            continue
        names = [param.name, param.name.replace("_", " ")]
        if param.name == kind.spend:
            names += ["budget", "spend", "cost", "amount"]
        hit = next((n for n in names if re.search(rf"\b{re.escape(n)}\b", feedback, re.I)), None)
        if hit is None:
            continue
        m = re.search(
            rf"\b{re.escape(hit)}\b[^.;]{{0,40}}?\b(?:to|at|under|below|of|max(?:imum)?)\s*\$?({_NUMBER.pattern})",
            feedback,
            re.I,
        )
        target = _num(m.group(1)) if m else None
        if target is not None:
            params[param.name] = _clamp(param, target)
        elif _CUT.search(feedback) or param.name == kind.spend:
            current = float(params[param.name])
            params[param.name] = _clamp(param, _round_to(current * 0.6, 10 if current < 500 else 50))
    for param in kind.params:  # a choice the feedback names, other than the current one
        if not param.choices or param.name in feedback_pairs:
            continue
        named = [c for c in param.choices if re.search(rf"\b{re.escape(c)}\b", feedback, re.I)]
        named = [c for c in named if c != params[param.name]]
        if named:
            pointed = [
                c
                for c in named
                if re.search(rf"\b(?:to|use|try|prefer|with|on)\s+(?:the\s+)?{re.escape(c)}\b", feedback, re.I)
            ]
            params[param.name] = (pointed or named)[0]
    if params == before:  # nothing concrete: change something sensible
        params = _sensible_change(kind, params, w, rng)
    for param in kind.params:
        if param.name == kind.spend and float(params[param.name]) > w.policy.threshold:
            params[param.name] = _clamp(param, _round_to(w.policy.threshold * 0.6, 50))
    decision = _decision(kind, params, w, rng, f"revised per the review of #{rid}: {feedback.strip()[:160]}")
    decision["revises"] = rid
    decision["confidence"] = round(min(0.92, decision["confidence"] + 0.04), 2)
    return decision


def _coerce(param: _Param, raw: Any) -> Any:
    if raw is None:
        return None
    text = str(raw)
    if param.type in ("number", "integer"):
        value = _num(text)
        if value is None:
            return None
        if (param.lo is not None and value < param.lo) or (param.hi is not None and value > param.hi):
            return _clamp(param, value)
        if param.type == "integer":
            return round(value)
        return int(value) if value.is_integer() else value
    if param.type == "boolean":
        return {"true": True, "false": False}.get(text.lower())
    if param.choices is not None:
        lowered = {c.lower(): c for c in param.choices}
        return lowered.get(text.lower())
    return text


def _sensible_change(kind: _Kind, params: dict[str, Any], w: _Wake, rng: random.Random) -> dict[str, Any]:
    params = dict(params)
    spend = next((p for p in kind.params if p.name == kind.spend), None)
    if spend is not None and float(params[spend.name]) > (spend.lo or 0) + 10:
        params[spend.name] = _clamp(spend, _round_to(float(params[spend.name]) * 0.7, 10))
        return params
    ints = [p for p in kind.params if p.type == "integer" and float(params[p.name]) > (p.lo or 0) + 1]
    if ints:
        p = ints[0]
        params[p.name] = _clamp(p, max((p.lo or 1), round(float(params[p.name]) * 0.7)))
        return params
    choice = next((p for p in kind.params if p.choices and len(p.choices) > 1), None)
    if choice is not None:
        others = [c for c in choice.choices or [] if c != params[choice.name]]
        params[choice.name] = _pick_choice(others, w.know.scores(kind.id, choice.name), rng)
        return params
    text = next((p for p in kind.params if p.type == "string"), None)
    if text is not None:
        params[text.name] = f"{params[text.name]} (scoped down)"
    return params


def _wake(prompt: str, rng: random.Random, flags: _Flags, imp: random.Random) -> str:
    w = _read_wake(prompt)
    word, _, trend_text = _trend(w)
    normal = [k for k in w.kinds if k.id not in w.policy.always] or list(w.kinds)
    decisions: list[dict[str, Any]] = []
    for rid, text in w.revisions[:2]:
        revised = _revise(w, rid, text, rng)
        if revised:
            decisions.append(revised)
    pending = bool(w.tasks or w.messages or w.revisions)
    roll = rng.random()
    if decisions:
        wanted = 1 if roll < 0.2 and len(decisions) < 2 else 0
    elif w.outcome_balance > 0 and not pending and word != "slipping":
        wanted = 0 if roll < 0.5 else 1 if roll < 0.9 else 2
    elif word == "slipping":
        wanted = 0 if roll < 0.08 else 1 if roll < 0.65 else 2
    else:
        wanted = 0 if roll < 0.15 else 1 if roll < 0.8 else 2
    # Hold when everything this agent may do is known (from the prompt) to fail; otherwise avoid what failed.
    # With enough evidence on its own kinds, act on a good record and hold back on a bad one.
    viable = [k for k in normal if not _known_bad(w, k)]
    wins, total = w.record
    if not decisions and normal and not viable and roll < 0.85:
        wanted = 0
    elif not decisions and total >= 6 and wins < 0.5 * total:
        proven = [k for k in viable if w.know.kinds.get(k.id, 0.0) > 0]
        if proven and roll >= 0.5:
            viable, wanted = proven, min(wanted, 1)
        elif roll < 0.8:
            wanted = 0
    elif not decisions and total >= 6 and wins >= 0.65 * total and wanted == 0 and roll < 0.7:
        wanted = 1
    used = {d["kind"] for d in decisions}
    for _ in range(wanted):
        decision = _new_decision(w, rng, used, viable or normal)
        if decision:
            decisions.append(decision)
            used.add(decision["kind"])
    _imperfect_decisions(w, decisions, flags, imp)

    out: dict[str, Any] = {"summary": "", "decisions": decisions, "tasks": [], "messages": [], "completed_tasks": []}
    kinds_taken = {d["kind"] for d in decisions}
    for tid, text in w.tasks[:10]:
        mentions = any(k in text for k in kinds_taken)
        if rng.random() < (0.75 if mentions else 0.55):
            out["completed_tasks"].append({"task_id": tid, "result": _task_result(text, decisions, rng)})
    manager = bool(w.reports) or "ceo" in w.role.lower()
    if w.reports and rng.random() < (0.35 if manager else 0.1):
        to = rng.choice(w.reports)
        title, body = rng.choice(_TASK_IDEAS)
        out["tasks"].append(
            {"to": to, "title": title.format(metric=w.metric or "the numbers"), "body": body.format(trend=trend_text)}
        )
    elif w.reports_to and not w.reports and rng.random() < 0.06:
        out["tasks"].append(
            {
                "to": w.reports_to,
                "title": "Decide on budget for next week's tests",
                "body": f"{trend_text[0].upper()}{trend_text[1:]}. I need a budget call.",
            }
        )
    asked = [m.group(1) for t in w.messages if (m := re.search(r"\bfrom ([a-z][a-z0-9_-]*)", t))]
    reply_to = next((a for a in asked if a == w.reports_to or a in w.reports), None)
    p_message = 0.5 if reply_to else 0.3 if word == "slipping" else 0.12
    target = reply_to or w.reports_to
    if target and rng.random() < p_message:
        out["messages"].append({"to": target, "text": _message_text(w, decisions, trend_text)})
    out["summary"] = _summary(w, decisions, trend_text)
    return _finish(out, rng, flags, imp, "wake", w)


_TASK_IDEAS = [
    ("Report what moved {metric} this week", "Short list: what you changed, what it did. {trend}."),
    ("Propose one experiment for next week", "One decision, with the number you expect it to move. {trend}."),
    ("Check last week's spend against results", "Flag anything that did not pay back. {trend}."),
]


def _task_result(text: str, decisions: list[dict[str, Any]], rng: random.Random) -> str:
    if decisions:
        d = decisions[0]
        bits = " ".join(f"{k}={v}" for k, v in d["params"].items())
        return f"Done: answered with {d['kind']} {bits}."[:400]
    return rng.choice(
        [
            f"Done: looked into '{text[:80]}'; no change needed this week.",
            f"Done: '{text[:80]}' is handled; notes are in my summary.",
        ]
    )


def _message_text(w: _Wake, decisions: list[dict[str, Any]], trend: str) -> str:
    if decisions:
        kinds = ", ".join(d["kind"] for d in decisions)
        return f"{trend[0].upper()}{trend[1:]}. Today I am taking: {kinds}."
    return f"{trend[0].upper()}{trend[1:]}. Holding steady today; nothing needs your call."


def _summary(w: _Wake, decisions: list[dict[str, Any]], trend: str) -> str:
    parts = [f"{trend[0].upper()}{trend[1:]}."]
    if decisions:
        described = []
        for d in decisions:
            main = next((f"{k}={v}" for k, v in d["params"].items() if isinstance(v, str)), "")
            tag = f" (revises #{d['revises']})" if d.get("revises") else ""
            described.append(f"{d['kind']} {main}".strip() + tag)
        parts.append("Taking " + "; ".join(described) + ".")
    elif w.revisions or w.tasks or w.messages:
        parts.append("I handled what was waiting for me; no new decision is worth taking today.")
    elif w.outcome_balance > 0:
        parts.append("Recent results are good and nothing is pending, so no new decision today.")
    else:
        parts.append("Nothing is worth changing today; I am watching the trend.")
    for kind, pairs, ref in w.know.rejected[:2]:
        bits = " ".join(f"{k}={v}" for k, v in pairs.items())
        parts.append(f"The founder rejected {ref} ({kind} {bits}".rstrip() + "); not repeating it.")
    return " ".join(parts)


def _imperfect_decisions(w: _Wake, decisions: list[dict[str, Any]], flags: _Flags, imp: random.Random) -> None:
    """Low confidence, risky kinds and overspending, as a real model sometimes does."""
    normal = [k for k in w.kinds if k.id not in w.policy.always] or list(w.kinds)

    touched: set[int] = set()

    def place(decision: dict[str, Any]) -> None:
        """Replace a fresh decision not yet replaced, else add one, else replace the last fresh one."""
        fresh = [i for i, d in enumerate(decisions) if not d.get("revises")]
        untouched = [i for i in fresh if i not in touched]
        if untouched:
            i = untouched[-1]
            decisions[i] = decision
        elif len(decisions) < 2:
            decisions.append(decision)
            i = len(decisions) - 1
        elif fresh:
            i = fresh[-1]
            decisions[i] = decision
        else:
            return
        touched.add(i)

    if flags.risky:
        risky = [k for k in w.kinds if k.id in w.policy.always]
        if risky:
            kind = imp.choice(risky)
            why = "a bolder move than usual, because small steps have not been enough"
            place(_decision(kind, _make_params(kind, w, imp), w, imp, why))
    if flags.over_budget:
        spenders = [k for k in w.kinds if k.spend and k.id not in w.policy.always] or [k for k in w.kinds if k.spend]
        if spenders:
            kind = imp.choice(spenders)
            params = _make_params(kind, w, imp)
            spec = next((p for p in kind.params if p.name == kind.spend), None)
            if spec is not None:
                params[spec.name] = _clamp(spec, _round_to(w.policy.threshold * imp.uniform(1.2, 2.5), 50))
                place(_decision(kind, params, w, imp, "going bigger this time so the result is large enough to read"))
    if flags.low_confidence:
        fresh = [i for i, d in enumerate(decisions) if not d.get("revises")]
        if not fresh and len(decisions) < 2 and normal:
            decision = _new_decision(w, imp, set(), normal)
            if decision:
                decisions.append(decision)
                fresh = [len(decisions) - 1]
        if fresh:
            i = fresh[-1]
            decisions[i]["confidence"] = round(imp.uniform(0.2, 0.45), 2)
            decisions[i]["rationale"] += " I am unsure this is the right call."


# ---------------------------------------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------------------------------------

_SPEND_NAMES = ("budget", "amount", "weekly_cost", "cost", "spend")


def _review(prompt: str, rng: random.Random, flags: _Flags, imp: random.Random) -> str:
    sec = _sections(prompt)
    head = sec.get("Review request", "")
    rm = re.search(r"^Reviewer: (\S+) \((.*)\)\s*$", head, re.MULTILINE)
    reviewer_role = rm.group(2) if rm else ""
    rnd = re.search(r"Round (\d+) of (\d+)", head)
    round_no, max_rounds = (int(rnd.group(1)), int(rnd.group(2))) if rnd else (1, 2)
    body = next((v for k, v in sec.items() if k.startswith("Decision #")), "")
    km = re.search(rf"^Kind: ({_KIND_ID})", body, re.MULTILINE)
    kind = km.group(1) if km else ""
    params: dict[str, Any] = {}
    pm = re.search(r"^Params: (.*)$", body, re.MULTILINE)
    if pm:
        try:
            loaded = json.loads(pm.group(1))
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = dict(_pairs(pm.group(1)))
    cm = re.search(r"^Confidence: ([\d.]+)", body, re.MULTILINE)
    confidence = _num(cm.group(1)) if cm else None
    role = reviewer_role.lower()
    finance = any(w in role for w in ("finance", "cfo", "controller"))
    spend_name = next((n for n in _SPEND_NAMES if isinstance(params.get(n), int | float)), None)
    spend = float(params[spend_name]) if spend_name else None
    verdict, feedback = "approve", ""

    # The brief may say this exact option failed.
    know = _Knowledge()
    pseudo = _Kind(
        kind, "", [_Param(k, choices=[str(v)] if isinstance(v, str) else None) for k, v in params.items()], spend_name
    )
    _learn(know, sec.get("Venture brief", ""), [pseudo], weight=1.0, bare_words=False)
    failed = [f"{k}={v}" for k, v in params.items() if know.scores(kind, k).get(str(v).lower(), 0) < 0]

    if round_no <= 1:
        if failed:
            verdict = "revise"
            feedback = f"The venture brief says {', '.join(failed)} failed before; pick an option that has worked."
        elif finance and spend is not None and spend > 350:
            target = max(100.0, _round_to(min(300.0, spend * 0.5), 50))
            verdict = "revise"
            feedback = (
                f"Cut {spend_name} to {target:g}: {spend:g} is more than we can pay back at current "
                f"conversion. Run it smaller first and scale what works."
            )
        elif finance and isinstance(params.get("percent"), int | float) and params["percent"] > 25:
            verdict = "revise"
            feedback = f"Cut percent to 15: {params['percent']:g}% gives away too much margin."
        elif kind == "feature.ship" and rng.random() < 0.3:
            verdict = "revise"
            effort = params.get("effort_days")
            if isinstance(effort, int | float) and effort > 3:
                feedback = f"Scope it down: cut effort_days to {max(1, int(effort) // 2)} and ship the core first."
            else:
                feedback = "Focus on the onboarding area first; that is where new customers stall."
        elif confidence is not None and confidence < 0.6 and rng.random() < 0.5:
            verdict = "revise"
            feedback = "Confidence is low: reduce the size of the bet and say what result would change your mind."
        elif kind != "feature.ship" and rng.random() < 0.1:
            verdict = "revise"
            feedback = _generic_feedback(params, spend_name, rng)
    elif rng.random() < 0.2:
        verdict = "revise"
        feedback = f"Still not convinced after round {round_no} of {max_rounds}: " + _generic_feedback(
            params, spend_name, rng
        )
    if verdict == "approve":
        feedback = rng.choice(
            [
                "Looks reasonable; go ahead.",
                "Fits the plan and the budget.",
                "Approved: measure it against the expected effect.",
            ]
        )
    out = {"verdict": verdict, "feedback": feedback}
    return _finish(out, rng, flags, imp, "review")


def _generic_feedback(params: dict[str, Any], spend_name: str | None, rng: random.Random) -> str:
    if spend_name:
        return f"Lower the {spend_name} by a third and report back after the first week."
    effort = params.get("effort_days") or params.get("days")
    if isinstance(effort, int | float) and effort > 2:
        return f"Cut effort_days to {max(1, int(effort) - 2)}: a smaller first version is enough."
    return rng.choice(
        [
            "Narrow the scope to one segment and state the expected result in numbers.",
            "Make the change smaller and easier to roll back.",
        ]
    )


# ---------------------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------------------


def _synthesis(prompt: str, rng: random.Random, flags: _Flags, imp: random.Random) -> str:
    scope = re.search(r"^Scope: (venture|platform)\b", prompt, re.MULTILINE)
    if scope and scope.group(1) == "platform":
        return _finish(_platform_synthesis(prompt), rng, flags, imp, "synthesis")
    if scope:
        return _finish(_venture_synthesis(prompt), rng, flags, imp, "synthesis")
    return _line_synthesis(prompt, rng, flags, imp)


def _subsections(prompt: str) -> dict[str, str]:
    """`## Heading` blocks of a synthesis request, keyed by the heading's first two words, lowercased."""
    out: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in prompt.splitlines():
        if line.startswith("## "):
            if current is not None:
                out[current] = "\n".join(buf)
            current, buf = " ".join(line[3:].lower().split()[:2]), []
        else:
            buf.append(line)
    if current is not None:
        out[current] = "\n".join(buf)
    return out


def _previous_document(text: str) -> dict[str, Any]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return {}
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


_OUTCOME_LINE = re.compile(
    rf"#(\d+)\s+({_KIND_ID})\s*(.*?):\s*([A-Za-z_][A-Za-z0-9_]*)\s+([+\-−]?\d+(?:\.\d+)?)%.*\((worked|failed)\)"
    r"(?:\s*\(meanwhile ([A-Za-z_][A-Za-z0-9_]*) ([+\-−]?\d+(?:\.\d+)?)%\))?\s*$"
)
_CHOICE_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def _split_params(text: str) -> tuple[dict[str, str], dict[str, float]]:
    """(choice-like options, numeric options) of `key=value ...`; multi-word values are free text, left out."""
    pairs: list[list[str]] = []
    for token in text.split():
        if "=" in token and re.match(r"[A-Za-z_]\w*=", token):
            key, _, value = token.partition("=")
            pairs.append([key, value, ""])
        elif pairs:
            pairs[-1][2] = "free"
    choices: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for key, value, free in pairs:
        if free:
            continue
        number = _num(value)
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

    def stats(self) -> tuple[int, int, float]:
        known = [e for e in self.evidence if isinstance(e.get("success"), bool)]
        deltas = [float(e["delta"]) for e in self.evidence if isinstance(e.get("delta"), int | float)]
        return len(known), sum(1 for e in known if e["success"]), (sum(deltas) / len(deltas) if deltas else 0.0)

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


def _venture_synthesis(prompt: str) -> dict[str, Any]:
    """Merge the previous version's lessons with the new outcomes, re-judge each, keep the strongest."""
    sub = _subsections(prompt)
    previous = _previous_document(sub.get("previous version", ""))
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
            for e in item.get("evidence") or []:
                if isinstance(e, dict) and isinstance(e.get("decision_id"), int):
                    slot.evidence.append(e)
    for question in previous.get("open_questions") or []:
        q = re.match(r"^Does (.+?) hold\? One decision so far: #(\d+) (worked|failed)", str(question))
        if q:
            slot = lessons.setdefault(q.group(1), _Lesson(q.group(1)))
            if not any(e.get("decision_id") == int(q.group(2)) for e in slot.evidence):
                slot.evidence.append({"decision_id": int(q.group(2)), "success": q.group(3) == "worked"})
    rules = [str(r) for r in previous.get("rules") or [] if isinstance(r, str)]
    numbers: dict[str, dict[str, list[float]]] = {}
    for raw in sub.get("new memories", "").splitlines():
        line = raw.strip()
        if line.startswith("- [") and "directive]" in line.split("]")[0] + "]":
            text = line.split("] ", 1)[-1].removeprefix("founder directive:").strip()
            if text and text not in rules:
                rules.append(text)
            continue
        verdict = re.search(r"the founder (rejected|approved) (decision #\d+(?: \([a-z_.]+\))?): \"(.+)\"$", line)
        if verdict:
            rule = f"{verdict.group(3)} (founder, on {verdict.group(2)})"
            if rule not in rules:
                rules.append(rule)
            continue
        m = _OUTCOME_LINE.search(line) if line.split("]")[0].endswith("outcome") else None
        if not m:
            continue
        ident, kind, params, metric = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        choices, nums = _split_params(params)
        key = " ".join([kind] + [f"{k}={v}" for k, v in sorted(choices.items())])
        slot = lessons.setdefault(key, _Lesson(key))
        if any(e.get("decision_id") == ident for e in slot.evidence):
            continue
        success = m.group(6) == "worked"
        delta = round((_num(m.group(5).replace("−", "-")) or 0.0) / 100, 4)
        evidence: dict[str, Any] = {"decision_id": ident, "metric": metric, "delta": delta, "success": success}
        if m.group(7):
            evidence.update(side_metric=m.group(7), side_delta=round((_num(m.group(8).replace("−", "-")) or 0) / 100, 4))
        slot.evidence.append(evidence)
        if success:
            for name, value in nums.items():
                numbers.setdefault(key, {}).setdefault(name, []).append(value)
    for key, values in numbers.items():
        hint = " ".join(f"{k}={_short_number(sorted(v)[len(v) // 2])}" for k, v in sorted(values.items()))
        lessons[key].hint = hint
    # A lesson worked when its decisions did better than this venture's decisions usually do, else it failed.
    measured = [e for lesson in lessons.values() for e in lesson.evidence if isinstance(e.get("success"), bool)]
    base = sum(1 for e in measured if e["success"]) / len(measured) if measured else 0.5
    # A win that cost the venture's main metric is not a win: a lesson whose decisions saw the main metric fall
    # by more than a point on average failed, whatever its own metric did.
    main = re.search(r"^Main metric: ([A-Za-z_][A-Za-z0-9_]*)", prompt, re.MULTILINE)
    main_up = not (main and re.search(rf"\b{re.escape(main.group(1))} \(lower is better\)", prompt))
    judged: list[tuple[float, str, _Lesson]] = []
    for lesson in lessons.values():
        lesson.evidence = lesson.evidence[-8:]  # recent evidence: markets drift, old wins say little
        n, wins, _ = lesson.stats()
        if n < 2:  # one decision is a question, not a lesson
            continue
        lift = (wins + 1) / (n + 2) - base
        side = lesson.side()
        if side is not None and (side[1] if main_up else -side[1]) < -0.01:
            lift = min(lift, 0.0) - 0.2
        judged.append((lift * (n**0.5), "worked" if lift >= 0 else "failed", lesson))
    worked = sorted((j for j in judged if j[1] == "worked"), key=lambda j: -j[0])[:8]
    failed = sorted((j for j in judged if j[1] == "failed"), key=lambda j: j[0])[:8]

    def item(lesson: _Lesson, section: str) -> dict[str, Any]:
        n, _, mean = lesson.stats()
        text = f"{lesson.key}: {lesson.metric()} {mean:+.1%} over {n} decision{'s' if n != 1 else ''}"
        side = lesson.side()
        if side is not None:
            text += f", {side[0]} {side[1]:+.1%} meanwhile"
        if section == "worked" and lesson.hint:
            text += f" at {lesson.hint}"
        return {"lesson": text, "key": lesson.key, "evidence": [e["decision_id"] for e in lesson.evidence]}

    facts: dict[str, list[bool]] = {}
    for _, _, lesson in judged:
        for e in lesson.evidence:
            if isinstance(e.get("success"), bool) and e.get("metric"):
                facts.setdefault(e["metric"], []).append(e["success"])
    customer_facts = [
        f"{metric} moved the right way after {sum(v)} of {len(v)} measured decisions"
        for metric, v in sorted(facts.items(), key=lambda kv: -len(kv[1]))[:3]
    ]
    single = [lesson for lesson in lessons.values() if lesson.stats()[0] == 1][-4:]
    if worked:
        strategy = "Keep doing what moved the numbers (" + ", ".join(j[2].key for j in worked[:3]) + ")."
    else:
        strategy = "No clear winner yet: keep experiments small and measure each one."
    if failed:
        strategy += " Stop what did not (" + ", ".join(j[2].key for j in failed[:3]) + ")."
    return {
        "strategy": strategy,
        "worked": [item(j[2], "worked") for j in worked],
        "failed": [item(j[2], "failed") for j in failed],
        "customer_facts": customer_facts,
        "open_questions": [
            f"Does {lesson.key} hold? One decision so far: #{lesson.evidence[-1]['decision_id']} "
            f"{'worked' if lesson.evidence[-1].get('success') else 'failed'}"
            for lesson in single
        ],
        "rules": rules[-8:],
    }


def _short_number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1000 else f"{round(value):d}"


_TABLE_LINE = re.compile(r"^- (.+?): (\d+) decisions?, (\d+) moved the metric the right way[^;]*;\s*(.*)$")


def _platform_synthesis(prompt: str) -> dict[str, Any]:
    """Patterns that held in more than one venture, and warnings where ventures disagree."""
    sub = _subsections(prompt)
    rows: dict[str, dict[str, tuple[int, int, list[int]]]] = {}
    venture = ""
    for raw in sub.get("venture brains", "").splitlines():
        head = re.match(r"^### .*\(([a-z][a-z0-9_-]*)\)", raw)
        if head:
            venture = head.group(1)
            continue
        m = _TABLE_LINE.match(raw.strip())
        if m and venture:
            groups = {g.group(1): [int(x) for x in re.findall(r"#(\d+)", g.group(2))]
                      for g in re.finditer(r"(worked|failed)((?:\s+#\d+)+)", m.group(4))}
            rows.setdefault(m.group(1).strip(), {})[venture] = (int(m.group(2)), int(m.group(3)), groups)
    patterns, warnings = [], []
    for key, per in sorted(rows.items()):
        rated = {v: (w + 1) / (n + 2) for v, (n, w, _) in per.items() if n >= 2}
        good = sorted(v for v, p in rated.items() if p >= 0.6)
        bad = sorted(v for v, p in rated.items() if p <= 0.4)
        if len(good) >= 2:
            ids = [i for v in good for i in per[v][2].get("worked", [])[-4:]]
            patterns.append((len(good), {"lesson": f"{key}: held in {', '.join(good)}", "key": key, "evidence": ids}))
        elif good and bad:
            ids = [i for v in good for i in per[v][2].get("worked", [])[-3:]]
            ids += [i for v in bad for i in per[v][2].get("failed", [])[-3:]]
            warnings.append((len(bad), {"lesson": f"{key}: worked in {', '.join(good)}, failed in {', '.join(bad)}",
                                        "key": key, "evidence": ids}))
    patterns.sort(key=lambda x: -x[0])
    warnings.sort(key=lambda x: -x[0])
    worked = [p for _, p in patterns[:8]]
    failed = [w for _, w in warnings[:8]]
    strategy = (
        "Across ventures, repeat: " + "; ".join(p["key"] for p in worked[:3]) + "."
        if worked else "No pattern has held in more than one venture yet."
    )
    if failed:
        strategy += " Check locally before repeating: " + "; ".join(w["key"] for w in failed[:3]) + "."
    return {"strategy": strategy, "worked": worked, "failed": failed, "customer_facts": [], "open_questions": [],
            "rules": []}


def _line_synthesis(prompt: str, rng: random.Random, flags: _Flags, imp: random.Random) -> str:
    """Older, free-form requests: outcome lines with decision ids and worked/failed tags become lessons."""
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for raw in prompt.splitlines():
        line = raw.strip().lstrip("-*").strip()
        evidence = [int(n) for n in re.findall(r"(?:decisions?\s+|,\s*)#(\d+)", line)]
        evidence += [int(n) for n in re.findall(r"(?<![\w#])#(\d+)\b", line) if int(n) not in evidence]
        if not evidence:
            continue
        s = _sentiment(line)
        if not s:
            continue
        dm = re.search(r"([+\-−]\d+(?:\.\d+)?)\s*%", line)
        delta = round((_num(dm.group(1).replace("−", "-")) or 0.0) / 100, 4) if dm else 0.0
        lesson = re.sub(r"^\[[^\]]*\]\s*", "", line)
        lesson = re.sub(r"\bdecisions?\s+#\d+(?:\s*,\s*#\d+)*\s*", "", lesson)
        lesson = re.sub(r"\s*\((?:worked|failed|success|did not work|no effect)\)\s*", " ", lesson, flags=re.I)
        lesson = re.sub(r"\s+", " ", lesson).strip(" :;,.") or line
        key_text = lesson.split(":")[0].strip()
        slot = groups.setdefault((s, key_text), {"lesson": lesson, "evidence": [], "deltas": []})
        slot["evidence"] += [e for e in evidence if e not in slot["evidence"]]
        slot["deltas"].append(delta)
    worked, failed = [], []
    for (s, _), g in groups.items():
        item = {
            "lesson": g["lesson"],
            "evidence": g["evidence"],
            "delta": round(sum(g["deltas"]) / len(g["deltas"]), 4),
        }
        (worked if s > 0 else failed).append(item)
    worked.sort(key=lambda i: -abs(i["delta"]))
    failed.sort(key=lambda i: -abs(i["delta"]))
    if worked:
        strategy = (
            "Keep doing what moved the numbers: " + "; ".join(i["lesson"].split(":")[0] for i in worked[:3]) + "."
        )
    else:
        strategy = "No clear winner yet: keep experiments small and measure each one."
    if failed:
        strategy += " Stop: " + "; ".join(i["lesson"].split(":")[0] for i in failed[:3]) + "."
    out = {
        "strategy": strategy,
        "worked": worked,
        "failed": failed,
        "customer_facts": [],
        "open_questions": ["Which of the untested options would move the owned metric most?"] if not worked else [],
        "rules": [f"Do not repeat {i['lesson'].split(':')[0]} without a new reason." for i in failed[:3]],
    }
    return _finish(out, rng, flags, imp, "synthesis")


# ---------------------------------------------------------------------------------------------------------
# Serialising, with the imperfections of a first attempt
# ---------------------------------------------------------------------------------------------------------


def _finish(
    out: dict[str, Any], rng: random.Random, flags: _Flags, imp: random.Random, what: str, w: _Wake | None = None
) -> str:
    if flags.schema_violation and what != "synthesis":
        out = _violate(out, imp, what, w)
    text = json.dumps(out, ensure_ascii=False)
    if flags.invalid_json:
        return _garble(text, out, imp)
    if rng.random() < 0.1:
        return f"```json\n{json.dumps(out, ensure_ascii=False, indent=2)}\n```"
    return text


def _violate(out: dict[str, Any], imp: random.Random, what: str, w: _Wake | None) -> dict[str, Any]:
    out = json.loads(json.dumps(out))
    if what == "review":
        return imp.choice(
            [
                {"feedback": out.get("feedback", "")},
                {**out, "verdict": "approved"},
                {**out, "verdict": "revise", "notes": "extra field"},
            ]
        )
    decisions = out.get("decisions") or []
    variant = imp.randrange(5)
    if variant == 0:
        out.pop("summary", None)
        return out
    if not decisions:
        decisions.append(
            {
                "kind": w.kinds[0].id if w and w.kinds else "campaign.launch",
                "params": {},
                "rationale": "Trying something.",
                "confidence": 0.7,
                "expected_effect": {"metric": (w.metric if w else "") or "overall", "direction": "up"},
            }
        )
        out["decisions"] = decisions
    d = decisions[0]
    if variant == 1:
        d["confidence"] = 1.7
    elif variant == 2:
        d["kind"] = imp.choice(["growth.hack", "marketing.blitz", "campaign"])
    elif variant == 3:
        kind = w.kind(d["kind"]) if w else None
        choice = next((p for p in kind.params if p.choices), None) if kind else None
        bounded = next((p for p in kind.params if p.hi is not None), None) if kind else None
        if choice is not None:
            d["params"][choice.name] = imp.choice(["tiktok", "billboards", "everything"])
        elif bounded is not None and bounded.hi is not None:
            d["params"][bounded.name] = bounded.hi * 10 + 1
        else:
            d["confidence"] = 1.7
    else:
        d.pop("rationale", None)
    return out


def _garble(text: str, out: dict[str, Any], imp: random.Random) -> str:
    variant = imp.randrange(3)
    if variant == 0:  # cut off mid-answer, as when the output limit is hit
        return text[: max(1, int(len(text) * imp.uniform(0.3, 0.85)))]
    if variant == 1:  # prose instead of JSON
        summary = str(out.get("summary") or out.get("feedback") or out.get("strategy") or "")
        return f"Here is my thinking. {summary} I would move carefully and measure the result."
    return repr(out)  # a Python dict: single quotes, True/None
