"""Reading evidence out of free text, the way a person reads a brief: by meaning, not by one template.

`read(text, vocab, ...)` turns any block (a brief, platform insights, founder directives, outcome lines) into
`Evidence`: which decision kind (or None), which parameter and option, which way (+1 worked, -1 failed) and how
strongly. It knows nothing about how the synthesis writes lessons; it knows

- the options by name: the choices of each kind's parameters, as listed in "Decisions you may take", as whole
  words in any form (`channel=seo`, `channel: seo`, "the seo channel", "on SEO", "churn risk" for churn_risk);
- the kinds by id (`campaign.launch`) or by the words of their id ("campaign launches", "launching campaigns",
  "discounts"); an option belongs to the nearest kind named in its clause, else the last one in its line;
- polarity by meaning: a lexicon of words that say something worked or failed, with negation ("did not help"),
  verdict tags, "k of n went the right way", signed numbers read against the named metric's good direction
  (a churn "down 4 percent" is good), and headings that carry polarity to the lines below them;
- "unclear", "inconclusive", "within noise" and questions as no evidence at all;
- strength from counts ("over 4 decisions", "in 3 of 4 tries", "4 times") and effect sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour
from conductor.sim.model.lexicon import (
    DIRECTION_WORD,
    LOWER_IS_BETTER,
    STEMS,
    UNCLEAR,
    change,
    count_of,
    lexicon_polarity,
    ratio_polarity,
    stem,
    tag_of,
)
from conductor.sim.model.prompt import Kind

_CLAUSE = re.compile(r";\s+|[.?!]\s+(?=[A-Z#(])|\s+\bbut\b\s+|\s+\bwhile\b\s+|\s+\bwhereas\b\s+|,\s+however,?\s+")
_TOKEN = re.compile(r"[a-z][a-z0-9_'-]*(?:\.[a-z][a-z0-9_]*)*", re.I)
_SKIP_HEADING = re.compile(r"question|unknown|unclear|untested|to test|to settle|open|undecided", re.I)
_FILLER = {"the", "a", "an", "our", "its", "their", "this", "that", "via", "through", "on", "for", "with", "to",
           "set", "of", "in", "at", "is", "was", "=", "as"}

@dataclass(frozen=True)
class Evidence:
    """One thing a text says: (kind or None, parameter, option) went this way (+1/-1), this strongly.

    `param` and `value` are empty when the statement is about the kind as a whole.
    """

    kind: str | None
    param: str
    value: str
    polarity: int
    strength: float
    note: str = ""


@dataclass
class Vocabulary:
    """What the prompt lets a reader recognise: its kinds, their options, its metrics and their good direction."""

    kinds: list[Kind]
    metrics: dict[str, bool] = field(default_factory=dict)  # name -> higher is better
    default_metric: str = ""
    ids: set[str] = field(default_factory=set)
    pair_alias: dict[tuple[str, str], str] = field(default_factory=dict)
    word_alias: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    option_pairs: dict[tuple[str, str], list[tuple[str, str, str]]] = field(default_factory=dict)
    param_names: dict[str, set[str]] = field(default_factory=dict)  # stem -> kinds with that parameter
    key: tuple = ()  # what the vocabulary was built from: equal keys read every text the same way

    @classmethod
    def build(cls, kinds: list[Kind], metrics: dict[str, bool] | None = None, default_metric: str = "") -> Vocabulary:
        vocab = cls(kinds, dict(metrics or {}), default_metric)
        vocab.key = (
            tuple((k.id, tuple((p.name, tuple(p.choices or ())) for p in k.params)) for k in kinds),
            tuple(sorted(vocab.metrics.items())),
            default_metric,
        )
        words: dict[str, set[str]] = {}
        for kind in kinds:
            vocab.ids.add(kind.id)
            parts = [stem(p) for p in kind.id.split(".")]
            for i in range(len(parts) - 1):
                a, b = parts[i], parts[i + 1]
                vocab.pair_alias[(a, b)] = vocab.pair_alias[(b, a)] = kind.id
            for part in parts:
                words.setdefault(part, set()).add(kind.id)
            for param in kind.params:
                vocab.param_names.setdefault(stem(param.name), set()).add(kind.id)
                for choice in param.choices or []:
                    target = (kind.id, param.name, choice.lower())
                    bits = [stem(b) for b in re.split(r"[_\s-]+", choice.lower()) if b]
                    vocab.options.setdefault(stem(choice), []).append(target)
                    if len(bits) == 2:
                        vocab.option_pairs.setdefault((bits[0], bits[1]), []).append(target)
        for word, owners in words.items():
            if len(owners) == 1 and word not in vocab.options and len(word) >= 3:
                vocab.word_alias[word] = next(iter(owners))
        return vocab

    def good_way(self, metric: str) -> int:
        if metric in self.metrics:
            return 1 if self.metrics[metric] else -1
        return -1 if LOWER_IS_BETTER.search(metric) else 1


# -- reading one clause ----------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one clause names: kinds (position, id or "" for a kind not offered, loose), options, metrics."""

    kinds: list[tuple[int, str, bool]] = field(default_factory=list)
    options: list[tuple[int, list[tuple[str, str, str]]]] = field(default_factory=list)
    metrics: list[tuple[int, str]] = field(default_factory=list)


def _narrow(targets: list[tuple[str, str, str]], stems: list[str], i: int, vocab: Vocabulary) -> list:
    """Keep the targets whose parameter is named next to the option ("the seo channel", "segment=annual")."""
    if len(targets) == 1:
        return targets
    near = [s for s in (stems[i - 1] if i else "", stems[i + 1] if i + 1 < len(stems) else "") if s]
    if i >= 2 and stems[i - 1] in _FILLER:
        near.append(stems[i - 2])
    named = {s for s in near if s in vocab.param_names}
    narrowed = [t for t in targets if stem(t[1]) in named]
    return narrowed or targets


def _scan(clause: str, vocab: Vocabulary) -> _Scan:
    scan = _Scan()
    tokens = [(m.group(0).lower(), m.start()) for m in _TOKEN.finditer(clause)]
    cache = STEMS
    stems = [cache.get(t) or stem(t) for t, _ in tokens]
    skip = False
    for i, (low, pos) in enumerate(tokens):
        if skip:
            skip = False
            continue
        pair = (stems[i], stems[i + 1]) if i + 1 < len(tokens) else None
        if "." in low:
            scan.kinds.append((pos, low if low in vocab.ids else "", False))
        elif pair in vocab.pair_alias:
            scan.kinds.append((pos, vocab.pair_alias[pair], False))
            skip = True
        elif pair in vocab.option_pairs:
            scan.options.append((pos, vocab.option_pairs[pair]))
            skip = True
        elif low in vocab.metrics or low == vocab.default_metric:
            scan.metrics.append((pos, low))
        elif stems[i] in vocab.options:
            scan.options.append((pos, _narrow(vocab.options[stems[i]], stems, i, vocab)))
        elif stems[i] in vocab.word_alias:
            scan.kinds.append((pos, vocab.word_alias[stems[i]], True))
    return scan


def _attach(pos: int, owners: set[str], scan: _Scan, carried: str | None) -> tuple[str | None, bool]:
    """(kind, loose) for an option at `pos`: the nearest kind before it in the clause, else after it, else the
    kind carried from earlier in the line; a kind not offered here claims the option and drops it ("")."""
    before = [k for k in scan.kinds if k[0] < pos]
    if before:
        nearest = before[-1][1]
        if nearest == "" or nearest in owners:
            return nearest, False
    compatible = [k for k in scan.kinds if k[1] in owners]
    if compatible:
        return min(compatible, key=lambda k: abs(k[0] - pos))[1], False
    if carried in owners:
        return carried, False
    return None, True

@dataclass(frozen=True)
class Row:
    """One option of a table line and the text that speaks of it (up to the next option named)."""

    option: str
    text: str


@dataclass(frozen=True)
class Table:
    """A line that lays out several options of one lever side by side: the kind, its parameter, the metric the
    line names (if any), the words before the first option, and each option's part of the line."""

    kind: str
    param: str
    metric: str | None
    head: str
    rows: tuple[Row, ...]


def table(line: str, vocab: Vocabulary) -> Table | None:
    """The line as a table, when it names one kind and two or more options of one of its parameters, whatever
    the words around them ("discount offers by segment: annual up 3 percent; smb ..."); None otherwise."""
    scan = _scan(line, vocab)
    named = [k for _, k, _ in scan.kinds if k]
    first = scan.options[0][0] if scan.options else len(line)
    head_kinds = [k for p, k, _ in scan.kinds if k and p < first]
    found: list[tuple[int, str, str, str]] = []
    for pos, listed in scan.options:
        targets = list(dict.fromkeys(listed))
        fitting = [t for t in targets if t[0] in (head_kinds[:1] or named)] or (targets if len(targets) == 1 else [])
        if len(fitting) == 1:
            found.append((pos, *fitting[0]))
    levers = {(k, p) for _, k, p, _ in found}
    if len(levers) != 1:
        return None
    (kind, param), = levers
    options = [(pos, value) for pos, _, _, value in found]
    if len({v for _, v in options}) < 2 or len({v for _, v in options}) != len(options):
        return None
    metrics = [name for p, name in scan.metrics if p < options[0][0]]
    ends = [p for p, _ in options[1:]] + [len(line)]
    rows = tuple(Row(value, line[pos:end]) for (pos, value), end in zip(options, ends, strict=True))
    return Table(kind, param, metrics[0] if metrics else None, line[: options[0][0]], rows)


def _metric_at(pos: int, scan: _Scan, vocab: Vocabulary) -> str:
    before = [name for p, name in scan.metrics if p <= pos]
    return before[-1] if before else vocab.default_metric


def _numbers_polarity(clause: str, scan: _Scan, vocab: Vocabulary, behaviour: Behaviour) -> int:
    moved = change(clause)
    if moved is not None:
        pos, value = moved
        if abs(value) < behaviour.noise_effect:
            return 0
        return (1 if value > 0 else -1) * vocab.good_way(_metric_at(pos, scan, vocab))
    if scan.metrics:
        d = DIRECTION_WORD.search(clause, scan.metrics[0][0])
        if d is not None:
            return (1 if d.group("up") else -1) * vocab.good_way(scan.metrics[0][1])
    return 0

def polarity(text: str, vocab: Vocabulary | None = None, *, context: int = 0,
             behaviour: Behaviour = BEHAVIOUR) -> int:
    """Which way a statement says things went: +1, -1, or 0 for unclear, questions and silence."""
    tag = tag_of(text)
    if tag is not None:
        return tag
    if UNCLEAR.search(text) or text.rstrip().endswith("?"):
        return 0
    said = ratio_polarity(text) or lexicon_polarity(text) or context
    if said or vocab is None:
        return said
    return _numbers_polarity(text, _scan(text, vocab), vocab, behaviour)


# -- reading a block ---------------------------------------------------------------------------------------


@dataclass
class Knowledge:
    """What the prompt says, summed: a score per kind and per (kind, parameter, option)."""

    kinds: dict[str, float] = field(default_factory=dict)
    params: dict[tuple[str | None, str, str], float] = field(default_factory=dict)
    notes: dict[tuple[str | None, str, str], str] = field(default_factory=dict)
    rejected: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def add(self, e: Evidence) -> None:
        score = e.polarity * e.strength
        if not e.param:
            if e.kind:
                self.kinds[e.kind] = self.kinds.get(e.kind, 0.0) + score
            return
        slot = (e.kind, e.param, e.value)
        self.params[slot] = self.params.get(slot, 0.0) + score
        self.notes.setdefault(slot, e.note)

    def scores(self, kind: str, key: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for (k, name, value), score in self.params.items():
            if name == key and k in (kind, None):
                out[value] = out.get(value, 0.0) + score
        return out


def _heading(raw: str, line: str) -> bool:
    if raw.lstrip().startswith("#"):
        return True
    if raw.lstrip()[:1] in ("-", "*", "•") and not line.startswith("**"):
        return False
    return (line.endswith(":") and len(line) < 80) or (line.startswith("**") and line.endswith("**"))


def _emit(out: list[Evidence], clause: str, scan: _Scan, vocab: Vocabulary, carried: str | None, sign: int,
          strength: float, note: str, behaviour: Behaviour) -> set[str]:
    """Evidence for the options and kinds a clause names; returns the kinds it spoke about."""
    about: set[str] = set()
    for pos, targets in scan.options:
        kind, loose = _attach(pos, {t[0] for t in targets}, scan, carried)
        if kind == "":
            continue
        chosen = [t for t in targets if kind is None or t[0] == kind]
        weight = strength * (behaviour.loose_option_weight if loose else 1.0)
        for kind_id, param, value in chosen:
            out.append(Evidence(kind_id, param, value, sign, weight, note))
            about.add(kind_id)
    if "=" in clause:
        for m in _KV.finditer(clause):
            key, value = m.group(1), m.group(2).strip("\"'").rstrip(".,;:").lower()
            owners = {k.id for k in vocab.kinds if any(p.name == key for p in k.params)}
            if not owners or any(t[2] == value for _, ts in scan.options for t in ts):
                continue
            kind, _ = _attach(m.start(), owners, scan, carried)
            if kind != "":
                out.append(Evidence(kind, key, value, sign, strength, note))
    for _pos, kind_id, loose in scan.kinds:
        if not kind_id:
            continue
        weight = strength * (behaviour.loose_kind_weight if loose else 1.0)
        if kind_id not in about:
            out.append(Evidence(kind_id, "", "", sign, weight, note))
        elif sign > 0:
            out.append(Evidence(kind_id, "", "", sign, 0.5 * weight, note))
        about.add(kind_id)
    return about


_KV = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s,;()\]}]+)")


def _clauses(line: str) -> list[str]:
    if ";" in line or ". " in line or "? " in line or "! " in line or " but " in line or "while " in line \
            or "whereas " in line or "however" in line:
        return _CLAUSE.split(line)
    return [line]


def _sign(clause: str, scan: _Scan, vocab: Vocabulary, tag: int | None, context: int, behaviour: Behaviour) -> int:
    if clause.rstrip().endswith("?") or UNCLEAR.search(clause):
        return 0
    if tag is not None:
        return tag
    return (ratio_polarity(clause) or lexicon_polarity(clause) or context
            or _numbers_polarity(clause, scan, vocab, behaviour))


_Line = tuple[Evidence, ...]


def _read_line(line: str, vocab: Vocabulary, context: int, weight: float, source: str,
               behaviour: Behaviour) -> _Line:
    """The evidence of one line."""
    out: list[Evidence] = []
    tag = tag_of(line) if "(" in line else None
    if tag == 0:
        return ()
    carried: str | None = None
    count = 0
    for clause in _clauses(line):
        scan = _scan(clause, vocab)
        if not (scan.kinds or scan.options or "=" in clause):
            continue
        sign = _sign(clause, scan, vocab, tag, context, behaviour)
        if sign:
            count = count or count_of(line, behaviour)
            moved = change(clause) or change(line)
            effect = min(behaviour.max_effect_gain, abs(moved[1]) / behaviour.big_effect) if moved else 0.0
            strength = weight * count**0.5 * (behaviour.effect_floor + effect)
            note = f"{source} says " + " ".join(clause.split())[:120]
            _emit(out, clause, scan, vocab, carried, sign, strength, note, behaviour)
        named = [k[1] for k in scan.kinds if k[1]]
        carried = named[-1] if named else carried
    return tuple(out)


# A line that records a decision being proposed or taken ("#12 ink-cmo proposed campaign.launch channel=ads:
# `signups` is slipping (-38%) ...", "... Taking discount.offer segment=new.") gives the reasons for it, written
# before it acted: the movement it quotes is the situation it answered, not the option's effect, and a brief it
# quotes was read already. A person reads it as such; read as evidence, a slipping metric at the moment of
# proposing condemned the very option proposed (reviewers sent back options better than most, in real runs).
_INTENTION = re.compile(r"#\d+\s+[\w.-]+\s+proposed\b|(?:^|[.:;!?]\s+)Taking\b")


# The same brief reaches every agent of a venture many times a day, so lines are read once per vocabulary and
# remembered. `_read_line` is a pure function of its arguments: the memo changes the cost, never the answer.
_MEMO: dict[tuple, _Line] = {}
_MEMO_LIMIT = 20_000


def _read_line_once(line: str, vocab: Vocabulary, context: int, weight: float, source: str,
                    behaviour: Behaviour) -> _Line:
    key = (line, vocab.key, context, weight, source, behaviour)
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        found = _MEMO[key] = _read_line(line, vocab, context, weight, source, behaviour)
    return found


def read(text: str, vocab: Vocabulary, know: Knowledge, *, weight: float = 1.0, source: str = "the brief",
         behaviour: Behaviour = BEHAVIOUR) -> list[Evidence]:
    """Read a block of text into `know`; returns the evidence it found (for tests and notes)."""
    found: list[Evidence] = []
    context, skipping = 0, False
    for raw in text.splitlines():
        line = raw.strip().lstrip("-*•").strip()
        if not line:
            continue
        if _heading(raw, line):
            skipping = bool(_SKIP_HEADING.search(line))
            context = 0 if skipping else lexicon_polarity(line.strip("#*: "))
            continue
        if skipping or _INTENTION.search(line):
            continue
        found += _read_line_once(line, vocab, context, weight, source, behaviour)
    for e in found:
        know.add(e)
    return found
