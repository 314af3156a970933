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
from conductor.sim.model.prompt import Kind

# -- the lexicon ------------------------------------------------------------------------------------------

_UNCLEAR = re.compile(
    r"\b(?:unclear|no clear (?:effect|signal|result|winner|lesson)|inconclusive|within (?:the )?noise|"
    r"too early to (?:tell|say)|can(?:no|')t tell|mixed results?|not (?:statistically )?significant|"
    r"undecided|uncertain|no signal|untested|not yet measured|open question)\b",
    re.I,
)
_TAG = re.compile(r"\((worked|success|paid back|failed|did not work|no effect|rejected|unclear)\)", re.I)
_TAG_POLARITY = {"worked": 1, "success": 1, "paid back": 1, "failed": -1, "did not work": -1, "no effect": -1,
                 "rejected": -1, "unclear": 0}
_NEGATIVE = (
    r"did(?: not|n't) (?:pay (?:off|back)|work|help|move|deliver)|(?:do(?:es)?|has|have)(?: not|n't) "
    r"(?:pay (?:off|back)|work|help)|never paid (?:off|back)|not worth(?: it)?|no (?:lift|effect|gain|impact)|"
    r"fell short|fail(?:ed|s|ing|ure|ures)?|backfired?|hurt(?:s|ing)?|harmed|dragg(?:ed|ing)|drags|"
    r"lost money|underperform(?:ed|s)?|wasted?|avoid(?:ed)?|stop(?:ped)?|steer clear|dead ends?|mistakes?|"
    r"regret(?:ted)?|abandon(?:ed)?|losers?|losses|poor(?:ly)?|worse|worst|bad|costly|missed the forecast|"
    r"below (?:the )?forecast|rejected|counterproductive|disappoint(?:ed|ing)?|don't|do not|never"
)
_POSITIVE = (
    r"work(?:ed|s|ing)?|paid (?:off|back)|pays? (?:off|back)|held up|holds? up|held|help(?:ed|s)?|"
    r"lift(?:ed|s)?|rais(?:ed|es)|boost(?:ed|s)?|beat (?:the )?(?:forecast|expectations?|plan)|"
    r"above (?:the )?forecast|grew|improv(?:ed|es)|wins?|won|winners?|success(?:es|ful)?|succeeded|"
    r"effective|keep(?: doing| leaning on| using)?|repeat(?:ed)?|double down|lean on|prefer(?:red)?|"
    r"favou?r(?:ed)?|focus on|more of|strong(?:ly)?|best|proven|good|pa(?:id|ys) for itself|delivered"
)
_LEXICON = re.compile(rf"\b(?:(?P<neg>{_NEGATIVE})|(?P<pos>{_POSITIVE}))\b", re.I)
_NEGATOR = re.compile(r"(?:\b(?:not|no|never|without|hardly|barely)|n't)\s+(?:[\w-]+\s+){0,2}$", re.I)
_PLAIN_NEGATORS = {"don't", "do not", "never"}  # alone, they are an instruction not to do something
_PLAIN_NEGATOR = re.compile(r"\b(?:don't|do not|never)\b", re.I)
_IMPERATIVE_STOP = re.compile(r"^\W*(?:and\s+|then\s+)?(?:drop|cut|skip|quit|pause|scrap|end)\b", re.I)
_RATIO = re.compile(
    r"(\d+)\s+(?:out\s+)?of\s+(?:the\s+)?(\d+)(?![\d.%])[^.;]{0,60}?\b(?:right (?:way|direction)|worked|succeeded|"
    r"paid off|helped|beat)|right (?:way|direction)[^.;]{0,20}?\b(\d+)\s+(?:out\s+)?of\s+(\d+)(?![\d.%])",
    re.I,
)
_UP_WORDS = r"up|rose|risen|rises|rising|increased?|climbed|gained|jumped|higher|grew"
_DOWN_WORDS = r"down|fell|fallen|falls|dropped|drops?|decreased?|declined?|lower|slipped|shrank"
_CHANGE = re.compile(
    r"(?P<sign>[+\-−])\s?(?P<a>\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)"
    rf"|\b(?P<word>{_UP_WORDS}|{_DOWN_WORDS})\s+(?:by\s+)?(?:about\s+|roughly\s+|some\s+|nearly\s+)?"
    r"(?P<b>\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)"
    r"|\b(?P<c>\d+(?:\.\d+)?)\s?(?:%|percent|per cent)\s+(?P<noun>rise|gain|increase|lift|jump|improvement|"
    r"drop|fall|decline|decrease|loss)\b"
    r"|\b(?P<flat>flat|unchanged|no change|did not move|didn't move|held steady)\b",
    re.I,
)
_UP_SET = set(_UP_WORDS.split("|")) | {"increase", "increased", "rise", "gain", "lift", "jump", "improvement"}
_DIRECTION_WORD = re.compile(rf"\b(?:(?P<up>{_UP_WORDS})|(?P<down>{_DOWN_WORDS}))\b", re.I)
_LOWER_IS_BETTER = re.compile(r"churn|backlog|cost|latency|error|refund|bug|incident|complaint|ticket", re.I)

_NUM = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_COUNT = re.compile(
    rf"\b(?:over|across|in|from|after)\s+{_NUM}\s+(?:\w+\s+)?(?:decisions?|tries|attempts|times|runs|launches|"
    r"outcomes|cases|experiments|rounds|offers|releases)\b|\b(\d+)\s+(?:out\s+)?of\s+(?:the\s+)?(\d+)(?![\d.%])"
    rf"|\b{_NUM}\s+(?:decisions|tries|attempts|times|runs|experiments)\b|\b(once|twice)\b",
    re.I,
)
_COUNTABLE = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|once|twice)\b",
                        re.I)
_MOVABLE = re.compile(r"\d|flat|unchanged|no change|did(?: not|n't) move|steady", re.I)
_NUMBER_WORDS = {"one": 1, "once": 1, "two": 2, "twice": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}

_CLAUSE = re.compile(r";\s+|[.?!]\s+(?=[A-Z#(])|\s+\bbut\b\s+|\s+\bwhile\b\s+|\s+\bwhereas\b\s+|,\s+however,?\s+")
_TOKEN = re.compile(r"[a-z][a-z0-9_'-]*(?:\.[a-z][a-z0-9_]*)*", re.I)
_SKIP_HEADING = re.compile(r"question|unknown|unclear|untested|to test|to settle|open|undecided", re.I)
_FILLER = {"the", "a", "an", "our", "its", "their", "this", "that", "via", "through", "on", "for", "with", "to",
           "set", "of", "in", "at", "is", "was", "=", "as"}


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """A crude English stem, remembered (the same few hundred words recur in every prompt)."""
    known = _STEMS.get(word)
    if known is None:
        if len(_STEMS) > 50_000:
            _STEMS.clear()
        known = _STEMS[word] = _stem(word)
    return known


def _stem(word: str) -> str:
    """A crude English stem: launches/launching/launched -> launch, features -> featur, dependencies -> dependency."""
    w = word.lower().replace("-", "_")
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    for suffix in ("ment", "ion"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiousl":
        w = w[:-1]
    return w[:-1] if w.endswith("e") and len(w) > 3 else w


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
        return -1 if _LOWER_IS_BETTER.search(metric) else 1


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
    cache = _STEMS
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
            scan.kinds.append((pos, vocab.pair_alias[pair], False))  # type: ignore[index]
            skip = True
        elif pair in vocab.option_pairs:
            scan.options.append((pos, vocab.option_pairs[pair]))  # type: ignore[index]
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


def _change(text: str) -> tuple[int, float] | None:
    """(position, signed relative change) of the first movement a text states: +2.1%, down 4 percent, flat."""
    m = _CHANGE.search(text) if _MOVABLE.search(text) else None
    if m is None:
        return None
    if m.group("flat"):
        return m.start(), 0.0
    if m.group("sign"):
        value = float(m.group("a")) * (-1 if m.group("sign") in "-−" else 1)
    elif m.group("word"):
        value = float(m.group("b")) * (1 if m.group("word").lower() in _UP_SET else -1)
    else:
        value = float(m.group("c")) * (1 if m.group("noun").lower() in _UP_SET else -1)
    return m.start(), value / 100


def _metric_at(pos: int, scan: _Scan, vocab: Vocabulary) -> str:
    before = [name for p, name in scan.metrics if p <= pos]
    return before[-1] if before else vocab.default_metric


def _numbers_polarity(clause: str, scan: _Scan, vocab: Vocabulary, behaviour: Behaviour) -> int:
    moved = _change(clause)
    if moved is not None:
        pos, value = moved
        if abs(value) < behaviour.noise_effect:
            return 0
        return (1 if value > 0 else -1) * vocab.good_way(_metric_at(pos, scan, vocab))
    if scan.metrics:
        d = _DIRECTION_WORD.search(clause, scan.metrics[0][0])
        if d is not None:
            return (1 if d.group("up") else -1) * vocab.good_way(scan.metrics[0][1])
    return 0


def lexicon_polarity(text: str) -> int:
    """+1 or -1 by the words that say something worked or failed (with negation), 0 when they cancel or are absent."""
    total = 0
    for m in _LEXICON.finditer(text):
        sign = -1 if m.group("neg") else 1
        word = m.group(0).lower()
        if word in _PLAIN_NEGATORS:
            continue  # counted below, only when nothing else speaks
        if _NEGATOR.search(text, 0, m.start()):
            sign = -sign
        total += sign
    if _IMPERATIVE_STOP.search(text):
        total -= 1
    if total == 0 and _PLAIN_NEGATOR.search(text):
        return -1
    return (total > 0) - (total < 0)


def _ratio_polarity(text: str) -> int:
    m = _RATIO.search(text)
    if m is None:
        return 0
    k, n = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(3)), int(m.group(4)))
    if n <= 0 or k > n:
        return 0
    share = k / n
    return 1 if share >= 0.6 else -1 if share <= 0.4 else 0


def count_of(text: str, behaviour: Behaviour = BEHAVIOUR) -> int:
    """How many decisions a statement rests on: "over 4 decisions", "3 of 4", "4 times", "twice"; 1 if unsaid."""
    best = 1
    if not _COUNTABLE.search(text):
        return best
    for m in _COUNT.finditer(text):
        raw = m.group(1) or m.group(3) or m.group(4) or m.group(5)
        if raw is None:
            continue
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw.lower(), 0)
        best = max(best, n)
    return min(best, behaviour.max_count)


def tag_of(text: str) -> int | None:
    """The verdict a line carries in parentheses, "(worked)" or "(failed)" or "(unclear)", if any."""
    tags = _TAG.findall(text)
    return _TAG_POLARITY[tags[-1].lower()] if tags else None


def polarity(text: str, vocab: Vocabulary | None = None, *, context: int = 0,
             behaviour: Behaviour = BEHAVIOUR) -> int:
    """Which way a statement says things went: +1, -1, or 0 for unclear, questions and silence."""
    tag = tag_of(text)
    if tag is not None:
        return tag
    if _UNCLEAR.search(text) or text.rstrip().endswith("?"):
        return 0
    said = _ratio_polarity(text) or lexicon_polarity(text) or context
    if said or vocab is None:
        return said
    return _numbers_polarity(text, _scan(text, vocab), vocab, behaviour)


# -- reading a block ---------------------------------------------------------------------------------------


@dataclass
class Knowledge:
    """What the prompt says, summed: a score per kind and per (kind, parameter, option), and a tally per kind
    of the decisions its lessons rest on (worked, failed)."""

    kinds: dict[str, float] = field(default_factory=dict)
    params: dict[tuple[str | None, str, str], float] = field(default_factory=dict)
    notes: dict[tuple[str | None, str, str], str] = field(default_factory=dict)
    rejected: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    tally: dict[str, list[int]] = field(default_factory=dict)

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
    if clause.rstrip().endswith("?") or _UNCLEAR.search(clause):
        return 0
    if tag is not None:
        return tag
    return (_ratio_polarity(clause) or lexicon_polarity(clause) or context
            or _numbers_polarity(clause, scan, vocab, behaviour))


_Line = tuple[tuple[Evidence, ...], tuple[tuple[str, int, int], ...]]


def _read_line(line: str, vocab: Vocabulary, context: int, weight: float, source: str,
               behaviour: Behaviour) -> _Line:
    """The evidence of one line, and (kind, sign, decisions) for each kind it spoke about."""
    out: list[Evidence] = []
    tallies: list[tuple[str, int, int]] = []
    tag = tag_of(line) if "(" in line else None
    if tag == 0:
        return (), ()
    carried: str | None = None
    count = 0
    for clause in _clauses(line):
        scan = _scan(clause, vocab)
        if not (scan.kinds or scan.options or "=" in clause):
            continue
        sign = _sign(clause, scan, vocab, tag, context, behaviour)
        if sign:
            count = count or count_of(line, behaviour)
            moved = _change(clause) or _change(line)
            effect = min(1.0, abs(moved[1]) / behaviour.big_effect) if moved else 0.0
            strength = weight * count**0.5 * (1.0 + 0.5 * effect)
            note = f"{source} says " + " ".join(clause.split())[:120]
            for kind_id in _emit(out, clause, scan, vocab, carried, sign, strength, note, behaviour):
                tallies.append((kind_id, sign, count))
        named = [k[1] for k in scan.kinds if k[1]]
        carried = named[-1] if named else carried
    return tuple(out), tuple(tallies)


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
        if skipping:
            continue
        evidence, tallies = _read_line_once(line, vocab, context, weight, source, behaviour)
        found += evidence
        for kind_id, sign, count in tallies:
            know.tally.setdefault(kind_id, [0, 0])[0 if sign > 0 else 1] += count
    for e in found:
        know.add(e)
    return found
