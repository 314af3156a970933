"""What the instruments said, added up: the synthesis tallies every day's reading of customer feedback and
the support queue, and a reader weighs each option's share of the tally by how sure it is."""

from __future__ import annotations

from conductor.brain.memory import MemoryHit
from conductor.brain.synthesis import synthesis_messages
from conductor.eval.paraphrase import paraphrase_brief
from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.prompt import Kind, Param
from conductor.sim.model.reader import Knowledge, Vocabulary
from conductor.sim.model.synthesis import venture_synthesis
from conductor.sim.model.tally import Tally, parse_line, read_tallies
from conductor.sim.tools import feedback_text

AREAS = ["reporting", "onboarding", "core", "integrations", "mobile"]
VOCAB = Vocabulary.build([Kind("feature.ship", "ship a feature", [Param("area", choices=AREAS)], None)],
                         {"activation_rate": True}, "activation_rate")


def _lookup(ident: int, day: str, counts: dict[str, int]) -> MemoryHit:
    total = sum(counts.values())
    answer = f"Recent customer feedback, ink ({total} comments), by the product area they ask about: " + " ".join(
        f"- feature.ship area={a}: asked for in {n} of {total} comments" for a, n in counts.items())
    text = f'ink-cto looked up market.feedback({{"venture": "ink"}}): {answer}'
    return MemoryHit(ident, "ink", "ink-cto", f"{day}T09:00:00Z", "lookup", text, 2)


def _synthesise(previous: dict | None, memories: list[MemoryHit]) -> dict:
    from conductor.brain.document import parse_document

    messages = synthesis_messages(org_name="Org", venture_id="ink", venture_name="Ink", goal="grow",
                                  metrics=[("activation_rate", "up")], previous=parse_document(previous) if previous
                                  else None, previous_version=1 if previous else None, memories=memories)
    return venture_synthesis(messages[-1]["content"])


def test_readings_add_up_once_a_day_and_across_versions() -> None:
    first = _synthesise(None, [_lookup(1, "2026-01-02", {"reporting": 4, "core": 3, "mobile": 1}),
                               _lookup(2, "2026-01-02", {"reporting": 4, "core": 3, "mobile": 1}),  # same day
                               _lookup(3, "2026-01-03", {"core": 5, "reporting": 2, "mobile": 1})])
    tally = parse_line(first["customer_facts"][0])
    assert tally is not None and (tally.readings, tally.total) == (2, 16)
    assert tally.counts == {"reporting": 6, "core": 8, "mobile": 2}
    second = _synthesise(first, [_lookup(4, "2026-01-04", {"reporting": 6, "core": 1, "mobile": 1})])
    tally = parse_line(second["customer_facts"][0])
    assert tally is not None and (tally.readings, tally.total) == (3, 24)
    assert tally.counts == {"reporting": 12, "core": 9, "mobile": 3}


def test_the_line_reads_back_and_the_tools_own_answer_is_what_is_counted() -> None:
    tally = Tally("feature.ship", "area", "comments", 3, 24, {"reporting": 12, "core": 9, "mobile": 3})
    again = parse_line(f"- {tally.line()}")
    assert again == tally
    # The counting reads the simulated market's real answer, not only this test's imitation of it.

    class _Params:
        def goodness(self, lever: str, option: str) -> float:
            return 1.0 if option == "reporting" else 0.0

    class _Market:
        seed, venture_id, day, params = 7, "ink", 3, _Params()

    from conductor.sim.model.tally import readings

    (key, (counts, total, unit)), = readings(feedback_text(_Market(), "feature.ship")).items()
    assert key == ("feature.ship", "area") and unit == "comments" and sum(counts.values()) == total


def test_a_larger_tally_weighs_more_and_keeps_the_order_of_the_leaders() -> None:
    small, large = Knowledge(), Knowledge()
    read_tallies("- feature.ship area, what 1 reading counted: reporting 3, onboarding 3, core 2 of 8 comments", VOCAB,
                 small)
    line = Tally("feature.ship", "area", "comments", 27, 216,
                 {"reporting": 112, "onboarding": 84, "core": 8, "integrations": 6, "mobile": 6}).line()
    read_tallies(f"- {line}", VOCAB, large)
    assert max(abs(v) for v in small.params.values()) < B.lookup_min_z  # eight comments say little
    scores = large.scores("feature.ship", "area")
    assert scores["reporting"] == B.lookup_max > scores["onboarding"] > 0 > scores["core"]


def test_a_tally_in_other_words_reads_the_same() -> None:
    line = Tally("feature.ship", "area", "comments", 27, 216,
                 {"reporting": 112, "onboarding": 84, "core": 8, "integrations": 6, "mobile": 6}).line()
    plain = Knowledge()
    read_tallies(f"- {line}", VOCAB, plain)
    for seed in range(6):
        brief = paraphrase_brief(f"Customer facts:\n- {line}", seed=seed)
        again = Knowledge()
        read_tallies(brief, VOCAB, again)
        assert again.params == plain.params, brief


def test_a_reading_counts_once_and_only_for_its_own_venture() -> None:
    first = _synthesise(None, [_lookup(1, "2026-01-02", {"reporting": 4, "core": 3, "mobile": 1})])
    # The same day's answer again after a synthesis is the same reading; another venture's answer is not ours.
    other = _lookup(3, "2026-01-03", {"mobile": 8})
    other = MemoryHit(3, "ink", "ink-cto", other.at, "lookup", other.text.replace('"ink"', '"ledger"'), 2)
    second = _synthesise(first, [_lookup(2, "2026-01-02", {"reporting": 4, "core": 3, "mobile": 1}), other,
                                 _lookup(4, "2026-01-04", {"reporting": 2, "core": 5, "mobile": 1})])
    tally = parse_line(second["customer_facts"][0])
    assert tally is not None and (tally.readings, tally.total, tally.through) == (2, 16, "2026-01-04")
    assert tally.counts == {"reporting": 6, "core": 8, "mobile": 2}


def test_a_relayed_tally_is_read_and_a_remembered_lookup_is_not_counted_again() -> None:
    from conductor.brain.brief import insight_lines
    from conductor.brain.document import BrainDocument

    line = Tally("feature.ship", "area", "comments", 27, 216, {"reporting": 112, "onboarding": 84, "core": 20}).line()
    platform = BrainDocument.model_validate({"customer_facts": [f"in ledger, {line}"]})
    (_, shown), = insight_lines(platform, "ink", version=2)
    assert shown.endswith("[platform v2]")
    relayed = Knowledge()
    assert read_tallies(shown, VOCAB, relayed, weight=0.7) == ""
    assert relayed.scores("feature.ship", "area")["reporting"] > 0
    remembered = Knowledge()
    memory = ("- [01-02 ink-cto] ink-cto looked up market.feedback({\"venture\": \"ink\"}): - feature.ship "
              "area=reporting: asked for in 4 of 8 comments - feature.ship area=core: asked for in 1 of 8 comments")
    assert read_tallies(memory, VOCAB, remembered) == memory and not remembered.params
