"""The Activity pane's filter: `venture:inkwell agent:inkwell-ceo kind:decision words` (v:, a:, k: for short).

Pure: a parsed filter is a predicate over queries.EventRow, so it is tested without an app. Words match the
summary, agent, venture and kind, case-insensitively; every term must match.
"""

from __future__ import annotations

from dataclasses import dataclass

from conductor import events as catalogue
from conductor.services.queries import EventRow
from conductor.tui.summaries import describe

QUIET_KINDS = frozenset({"metric.recorded", "market.stepped"})
PREFIXES = {"venture": "venture", "v": "venture", "agent": "agent", "a": "agent", "kind": "kind", "k": "kind"}


@dataclass(frozen=True)
class ActivityFilter:
    ventures: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    verbose: bool = False
    text: str = ""

    @classmethod
    def parse(cls, text: str, *, verbose: bool = False) -> ActivityFilter:
        fields: dict[str, list[str]] = {"venture": [], "agent": [], "kind": [], "words": []}
        for token in text.lower().split():
            name, sep, value = token.partition(":")
            if sep and name in PREFIXES and value:
                fields[PREFIXES[name]].append(value)
            else:
                fields["words"].append(token)
        return cls(tuple(fields["venture"]), tuple(fields["agent"]), tuple(fields["kind"]), tuple(fields["words"]),
                   verbose, text.strip())

    @property
    def active(self) -> bool:
        return bool(self.ventures or self.agents or self.kinds or self.words)

    def matches(self, event: EventRow) -> bool:
        if not self.verbose and not self.kinds and self._quiet(event):
            return False
        venture = (event.venture or "platform").lower()
        agent = (event.agent or "").lower()
        if self.ventures and not any(venture.startswith(v) for v in self.ventures):
            return False
        if self.agents and not any(a in agent for a in self.agents):
            return False
        if self.kinds and not any(event.kind.startswith(k) or kind_label(event.kind).startswith(k) for k in self.kinds):
            return False
        if self.words:
            haystack = f"{event.summary} {describe(event, None)} {agent} {venture} {event.kind}".lower()
            return all(w in haystack for w in self.words)
        return True

    @staticmethod
    def _quiet(event: EventRow) -> bool:
        """Bookkeeping hidden unless asked for: market ticks and successful calls (a failed call is a retry)."""
        if event.kind in QUIET_KINDS:
            return True
        return event.kind == "call.recorded" and bool(event.payload.get("ok", True))


def kind_label(kind: str) -> str:
    """A short word for the kind column, so it fits an 80-column terminal."""
    entry = catalogue.spec(kind)
    return entry.label if entry is not None else kind.split(".")[-1]


def kind_family(event: EventRow) -> str:
    """The colour family of an event: decision, escalation, success, problem, founder or quiet."""
    kind, p = event.kind, event.payload
    if event.by == "founder" or kind.startswith("founder.") or kind.startswith("directive."):
        return "founder"
    if kind in ("agent.stuck", "agent.budget_stopped", "agent.interrupted", "task.refused", "message.refused",
                "metric.refused") or (
            kind == "call.recorded" and not p.get("ok", True)) or (kind == "decision.executed" and not p.get("ok", True)) or (
            kind == "tool.called" and not p.get("ok", True)):
        return "problem"
    if kind.startswith("escalation."):
        return "escalation"
    if kind in ("decision.executed", "trust.changed") or (kind == "decision.outcome" and (p.get("outcome") or {}).get(
            "success")):
        return "success"
    if kind.startswith(("decision.", "review.")):
        return "decision"
    if kind in ("agent.concluded", "task.created", "message.sent", "brain.version", "venture.stage"):
        return "normal"
    return "quiet"
