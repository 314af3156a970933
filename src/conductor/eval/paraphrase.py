"""A brief in other words: the same facts with none of the templates the simulated synthesis writes.

`paraphrase_brief(text, seed=...)` rewrites a rendered wake-up brief (see `conductor.brain.brief`): headings
become synonyms, `kind key=value` becomes plain English ("campaign.launch channel=seo" -> "campaign launches on
the seo channel"), verdict tags become phrases ("(worked)" -> "this paid off"), numbers are re-expressed
("+11.0%" -> "up 11 percent"), counts are reworded ("over 4 decisions" -> "across 4 tries") and clauses move.
What a lesson says stays: which option, which way, how many decisions. A simulated model whose benefit from
the brief survives this rendering reads the brief; one whose benefit vanishes only parsed a template.

Self-contained on purpose: it imports nothing from conductor, so evaluation code can use it on any text.
"""

from __future__ import annotations

import random
import re

_KIND = r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*"
_KV = r"[A-Za-z_][A-Za-z0-9_]*=[^\s,;()]+"
_KIND_WITH_PARAMS = re.compile(rf"\b({_KIND})((?:\s+{_KV})*)")
_LOOSE_KV = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=([^\s,;()]+)")
_PERCENT = re.compile(r"(?<![\w.])([+\-−])(\d+(?:\.\d+)?)%")
_TAG = re.compile(r"\s*\((worked|failed|unclear)\)")
_RATIO = re.compile(r"(\d+) of (\d+) moved the metric the right way")
_AFTER_RATIO = re.compile(r"moved the right way after (\d+) of (\d+)")
_OVER_DECISIONS = re.compile(r"\bover (\d+) decisions?\b")
_IDS = re.compile(r",?\s*((?:#\d+\s*)+)$")
_HEADER = re.compile(r"^(.+?) brain v(\d+): what this venture has learned, with the decisions behind it\.$")
_QUESTION = re.compile(r"^Does (.+?) hold\? One decision so far: (#\d+) (worked|failed|unclear)$")
_STRATEGY = re.compile(r"^Keep doing what moved the numbers \((.+?)\)\.(?: Stop what did not \((.+?)\)\.)?$")

_HEADINGS = {
    "rules the founder set": ["Standing orders from the founder:", "House rules the founder laid down:"],
    "what worked": ["Lessons that held up:", "What paid off:", "Proven moves:"],
    "what failed": ["What to avoid:", "Did not pay off:", "Dead ends so far:"],
    "customer facts": ["What we know about customers:", "Observations about customers:"],
    "open questions": ["Still unknown:", "Questions to settle:"],
    "memories most relevant to you now": ["Recent notes that matter now:", "Relevant history, newest first:"],
}
_KIND_PHRASES = {
    "campaign.launch": ["campaign launches", "launching campaigns"],
    "content.publish": ["content publishing", "publishing content"],
    "feature.ship": ["shipping features", "features shipped"],
    "reliability.fix": ["reliability fixes", "fixing reliability"],
    "release.deploy": ["release deploys", "deploying releases"],
    "pricing.change": ["pricing changes", "changing prices"],
    "discount.offer": ["discount offers", "offering discounts"],
    "customer.commitment": ["customer commitments"],
    "support.improve": ["support improvements", "improving support"],
    "onboarding.improve": ["onboarding improvements", "improving onboarding"],
    "stage.change": ["stage changes"],
    "budget.allocate": ["budget allocations", "allocating budget"],
    "hire.contractor": ["hiring contractors", "contractor hires"],
    "dependency.add": ["adding dependencies"],
    "security.change": ["security changes"],
}
_OPTION_PHRASES = {
    "channel": ["on the {v} channel", "through {v}", "via {v}"],
    "segment": ["for the {v} segment", "aimed at the {v} segment"],
    "area": ["in the {v} area", "focused on {v}"],
    "action": ["using {v}"],
    "stage": ["to the {v} stage"],
}
_GOOD = ["this paid off", "a clear win", "this held up"]
_BAD = ["this did not pay off", "it fell short", "not worth repeating"]
_UNSURE = ["the effect is unclear", "too early to tell"]


def _number(value: str) -> str:
    number = float(value)
    return f"{number:g}" if number != int(number) else str(int(number))


class _Writer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def kind(self, kind_id: str) -> str:
        a, _, b = kind_id.partition(".")
        return self.pick(_KIND_PHRASES.get(kind_id) or [f"{a} {b} decisions", f"the {a} {b} lever"])

    def option(self, key: str, value: str) -> str:
        stop = "." if value.endswith(".") else ""
        v = value.rstrip(".").replace("_", " ")
        if key in _OPTION_PHRASES and not re.fullmatch(r"[\d.]+", v):
            return self.pick(_OPTION_PHRASES[key]).format(v=v) + stop
        return f"with {key.replace('_', ' ')} around {v}{stop}"

    def kind_with_params(self, m: re.Match[str]) -> str:
        phrase = self.kind(m.group(1))
        for kv in m.group(2).split():
            key, _, value = kv.partition("=")
            phrase += " " + self.option(key, value)
        return phrase

    def percent(self, m: re.Match[str]) -> str:
        sign, value = m.group(1), _number(m.group(2))
        if float(m.group(2)) == 0:
            return "flat"
        up = sign == "+"
        return self.pick([f"{'up' if up else 'down'} {value} percent",
                          f"a {value} percent {'rise' if up else 'drop'}"])

    def verdict(self, tag: str) -> str:
        return self.pick({"worked": _GOOD, "failed": _BAD}.get(tag, _UNSURE))

    def words(self, text: str) -> str:
        """Kinds, options, numbers, counts and verdict words of any text, reworded."""
        text = re.sub(r"\bat ((?:[A-Za-z_]\w*=\S+\s?)+)$", lambda m: m.group(1), text)
        text = _KIND_WITH_PARAMS.sub(self.kind_with_params, text)
        text = _LOOSE_KV.sub(lambda m: self.option(m.group(1), m.group(2)), text)
        text = _RATIO.sub(lambda m: f"{m.group(1)} out of {m.group(2)} went the right way", text)
        text = _AFTER_RATIO.sub(lambda m: f"went the right way in {m.group(1)} out of {m.group(2)}", text)
        text = _OVER_DECISIONS.sub(lambda m: self.pick([f"across {m.group(1)} tries", f"in {m.group(1)} attempts"]),
                                   text)
        text = _PERCENT.sub(self.percent, text)
        text = re.sub(r"\bmeanwhile\b", "in the meantime", text)
        text = re.sub(r"\bmean\b", "on average", text)
        text = re.sub(r"\bworked\b", "paid off", text)
        text = re.sub(r"\bfailed\b", "fell short", text)
        return text.replace(" -> ", " to ")

    def lesson(self, body: str) -> str:
        """`<claim>: <what moved> (tag) — stats, ids` as one sentence in another order."""
        tag_match = _TAG.search(body)
        tag = tag_match.group(1) if tag_match else ""
        body = _TAG.sub("", body)
        ids_match = _IDS.search(body)
        ids = ids_match.group(1).split() if ids_match else []
        body = _IDS.sub("", body) if ids_match else body
        claim, sep, rest = body.partition(": ")
        stats = ""
        if " — " in rest:
            rest, stats = rest.split(" — ", 1)
        claim, rest, stats = self.words(claim), self.words(rest), self.words(stats)
        verdict = f", {self.verdict(tag)}" if tag else ""
        if not sep:
            sentence = f"{claim}{verdict}"
        elif self.rng.random() < 0.5:
            sentence = f"{claim[:1].upper()}{claim[1:]} moved {rest}{verdict}"
        else:
            sentence = f"After {claim}, {rest}{verdict}"
        if stats:
            sentence += f" ({stats.strip(' ,')})"
        if ids:
            sentence += ". Decisions " + ", ".join(ids)
        return sentence.rstrip(".") + "."


def _heading(line: str, w: _Writer) -> str | None:
    key = re.sub(r"\s*\(.*\)", "", line.rstrip(":")).strip().lower()
    options = _HEADINGS.get(key)
    return w.pick(options) if options else None


def _special(line: str, w: _Writer) -> str | None:
    """Lines with a fixed shape of their own: the header, the strategy, open questions."""
    m = _HEADER.match(line)
    if m:
        return f"Here is what {m.group(1)} has picked up so far (brain version {m.group(2)}), with the decisions " \
               "that show it."
    if line.startswith("Strategy: "):
        s = _STRATEGY.match(line[len("Strategy: "):])
        if not s:
            return "Plan: " + w.words(line[len("Strategy: "):])
        text = "Plan: lean on " + ", ".join(w.words(x) for x in s.group(1).split(", ")) + "."
        if s.group(2):
            text += " Drop " + ", ".join(w.words(x) for x in s.group(2).split(", ")) + "."
        return text
    q = _QUESTION.match(line.removeprefix("- "))
    if q:
        how = {"worked": "went well", "failed": "went badly"}.get(q.group(3), "was unclear")
        return f"- Open: whether {w.words(q.group(1))} holds up; so far one decision ({q.group(2)}) {how}."
    return None


def paraphrase_brief(text: str, *, seed: int = 0) -> str:
    """The brief with its facts kept and its templates gone."""
    w = _Writer(seed)
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            out.append("")
            continue
        special = _special(line, w)
        if special is not None:
            out.append(special)
        elif not line.startswith("- ") and line.endswith(":"):
            out.append(_heading(line, w) or f"About {w.words(line[:-1]).lower()}:")
        elif line.startswith("- "):
            out.append("- " + w.lesson(line[2:]))
        else:
            out.append(w.words(line))
    return "\n".join(out)
