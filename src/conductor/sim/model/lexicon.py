"""The words a reader weighs: what says a thing worked or failed, what says it is unclear, how a movement
and a count are written. Pure functions over text; the reader (`reader.py`) applies them to clauses."""

from __future__ import annotations

import re

from conductor.sim.model.behaviour import BEHAVIOUR, Behaviour

UNCLEAR = re.compile(
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
DIRECTION_WORD = re.compile(rf"\b(?:(?P<up>{_UP_WORDS})|(?P<down>{_DOWN_WORDS}))\b", re.I)
LOWER_IS_BETTER = re.compile(r"churn|backlog|cost|latency|error|refund|bug|incident|complaint|ticket", re.I)

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



STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """A crude English stem, remembered (the same few hundred words recur in every prompt)."""
    known = STEMS.get(word)
    if known is None:
        if len(STEMS) > 50_000:
            STEMS.clear()
        known = STEMS[word] = _stem(word)
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



def change(text: str) -> tuple[int, float] | None:
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


def ratio_polarity(text: str) -> int:
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
