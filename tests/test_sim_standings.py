"""Where each option stands: the synthesis keeps every option's newest estimate side by side, and a reader
weighs the options of one lever against each other by their intervals."""

from __future__ import annotations

import json

from conductor.brain.document import parse_document, parse_markdown, render_markdown
from conductor.brain.memory import MemoryHit
from conductor.brain.synthesis import synthesis_messages
from conductor.eval.paraphrase import paraphrase_brief
from conductor.sim.model.behaviour import BEHAVIOUR as B
from conductor.sim.model.prompt import Kind, Param
from conductor.sim.model.reader import Knowledge, Vocabulary
from conductor.sim.model.standings import Standing, format_line, parse_line, read_standings
from conductor.sim.model.synthesis import venture_synthesis

KINDS = [Kind("discount.offer", "a discount for one segment", [Param("percent", "number"), Param(
    "segment", choices=["new", "annual", "smb", "nonprofit"])], None),
         Kind("support.improve", "support work", [Param("action", choices=["macros", "docs", "triage"])], None)]
VOCAB = Vocabulary.build(KINDS, {"trial_conversion": True, "support_backlog": False, "mrr": True}, "mrr")

SEGMENTS = [Standing("annual", 3.3, 1.2, 8), Standing("smb", -1.0, 1.5, 5), Standing("nonprofit", -0.5, 1.8, 6)]


def test_a_line_reads_back_as_written_best_first_in_the_metrics_good_direction() -> None:
    line = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, higher_is_better=True)
    assert line.startswith("discount.offer segment on trial_conversion, best first")
    assert line.index("annual") < line.index("nonprofit") < line.index("smb")
    kind, param, metric, rows = parse_line(f"- {line}") or ("", "", "", [])
    assert (kind, param, metric) == ("discount.offer", "segment", "trial_conversion")
    assert {(r.option, r.effect, r.half, r.decisions) for r in rows} == {
        (s.option, s.effect, s.half, s.decisions) for s in SEGMENTS}
    lower = format_line("support.improve", "action", "support_backlog",
                        [Standing("macros", -4.0, 2.0, 3), Standing("docs", 2.0, 2.0, 3)], higher_is_better=False)
    assert lower.index("macros") < lower.index("docs")


def test_a_table_in_other_words_reads_the_same() -> None:
    line = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, higher_is_better=True)
    plain, reworded = Knowledge(), Knowledge()
    read_standings(f"- {line}", VOCAB, plain)
    read_standings("- Offering discounts, by segment, on trial_conversion: annual up 3.3 percent, give or take 1.2, "
                   "over 8 decisions; nonprofit a 0.5 percent drop (give or take 1.8, 6 tries); smb down 1.0 "
                   "percent, give or take 1.5, over 5 decisions", VOCAB, reworded)
    assert plain.params and reworded.params == plain.params
    for seed in range(6):  # the evaluation's paraphrase arm rewrites the brief this way
        brief = f"Where each option stands (newest estimate against forecast, best first):\n- {line}"
        again = Knowledge()
        read_standings(paraphrase_brief(brief, seed=seed), VOCAB, again)
        assert again.params == plain.params, paraphrase_brief(brief, seed=seed)
    lesson = Knowledge()
    assert read_standings("- discount.offer segment=annual: trial_conversion +3.3% (worked)", VOCAB, lesson)
    assert not lesson.params  # a lesson is left to the ordinary reader


def test_a_clear_lead_weighs_and_a_lead_inside_the_noise_weighs_little() -> None:
    know = Knowledge()
    clear = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, True)
    rest = read_standings(f"What worked:\n- something\n- {clear}", VOCAB, know)
    assert rest == "What worked:\n- something"  # the table is read here, the rest left to the ordinary reader
    scores = know.scores("discount.offer", "segment")
    assert scores["annual"] >= B.lookup_min_z and scores["smb"] < 0

    noisy = Knowledge()
    wide = [Standing("annual", 3.3, 30.0, 2), Standing("smb", -1.0, 30.0, 2)]
    read_standings(format_line("discount.offer", "segment", "trial_conversion", wide, True), VOCAB, noisy)
    assert 0 < noisy.scores("discount.offer", "segment")["annual"] < B.lookup_weak


def test_lower_is_better_reverses_the_reading() -> None:
    know = Knowledge()
    rows = [Standing("macros", -6.0, 1.0, 9), Standing("docs", 4.0, 1.0, 9)]
    read_standings(format_line("support.improve", "action", "support_backlog", rows, False), VOCAB, know)
    scores = know.scores("support.improve", "action")
    assert scores["macros"] > 0 > scores["docs"]


def _outcome(ident: int, segment: str, effect: str, lo: str, hi: str) -> MemoryHit:
    text = (f"#{ident} discount.offer percent=15 segment={segment}: trial_conversion {effect}% against forecast over "
            f"21 days (95% {lo}% to {hi}%) (unclear)")
    return MemoryHit(ident, "ink", "ink-sales", "2026-02-01T09:00:00Z", "outcome", text, 4)


def _synthesise(previous: dict, memories: list[MemoryHit]) -> dict:
    messages = synthesis_messages(org_name="Org", venture_id="ink", venture_name="Ink", goal="grow",
                                  metrics=[("trial_conversion", "up"), ("mrr", "up")],
                                  previous=parse_document(previous) if previous else None,
                                  previous_version=3 if previous else None, memories=memories, main_metric="mrr")
    return venture_synthesis(messages[-1]["content"])


def test_the_synthesis_keeps_every_measured_option_even_when_no_verdict_is_clear() -> None:
    first = _synthesise({}, [_outcome(1, "annual", "+2.0", "-1.0", "+5.0"), _outcome(2, "smb", "-1.0", "-3.0", "+1.0"),
                             _outcome(3, "annual", "+3.0", "+0.5", "+5.5")])
    assert first["worked"] == [] and first["failed"] == []  # nothing clear on its own
    (line,) = first["standings"]
    rows = {r.option: r for r in (parse_line(line) or ("", "", "", []))[3]}
    assert (rows["annual"].effect, rows["annual"].half, rows["annual"].decisions) == (3.0, 2.5, 2)  # newest
    assert (rows["smb"].effect, rows["smb"].decisions) == (-1.0, 1)

    second = _synthesise(first, [_outcome(4, "nonprofit", "-4.0", "-6.0", "-2.0"),
                                 _outcome(5, "smb", "+1.0", "-0.5", "+2.5")])
    (line,) = second["standings"]
    rows = {r.option: r for r in (parse_line(line) or ("", "", "", []))[3]}
    assert set(rows) == {"annual", "smb", "nonprofit"}  # the previous version's options are carried
    assert (rows["annual"].effect, rows["annual"].decisions) == (3.0, 2)
    assert (rows["smb"].effect, rows["smb"].decisions) == (1.0, 2)
    assert line.index("annual") < line.index("smb") < line.index("nonprofit")


def test_a_document_keeps_its_standings_and_an_old_one_reads_as_before() -> None:
    line = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, True)
    doc = parse_document(json.dumps({"strategy": "s", "standings": [line]}))
    text = render_markdown(doc)
    assert "## Where each option stands" in text
    assert parse_markdown(text).standings == (line,)
    old = render_markdown(parse_document({"strategy": "s"}))
    assert "Where each option stands" not in old and "## Customer facts" in old


def test_an_option_measured_once_is_a_question_not_a_lesson() -> None:
    know = Knowledge()
    rows = [Standing("annual", -24.0, 4.0, 1), Standing("smb", 1.0, 1.0, 9), Standing("new", 3.0, 1.0, 9)]
    read_standings(format_line("discount.offer", "segment", "trial_conversion", rows, True), VOCAB, know)
    scores = know.scores("discount.offer", "segment")
    assert "annual" not in scores  # neither counted against nor dragging the others' mean down
    assert scores["new"] > 0 > scores["smb"]


def test_another_ventures_table_counts_as_far_as_it_agreed_with_ours() -> None:
    from conductor.sim.model.standings import agreement

    ours = {"annual": 3.0, "smb": 1.0, "new": 0.0, "nonprofit": -2.0}
    assert agreement(ours, {"annual": 5.0, "smb": 2.0, "new": 1.0, "nonprofit": -1.0}) == 1.0
    assert agreement(ours, {"annual": -5.0, "smb": -2.0, "new": 1.0, "nonprofit": 4.0}) == 0.0  # never negative
    assert agreement(ours, {"annual": 1.0, "smb": 0.0}) == B.stranger_trust  # too little to compare
    assert agreement(None, {"annual": 1.0, "smb": 0.0, "new": 2.0}) == B.stranger_trust

    mine = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, True)
    alike = format_line("discount.offer", "segment", "trial_conversion",
                        [Standing("annual", 5.0, 1.0, 9), Standing("smb", -2.0, 1.0, 9),
                         Standing("nonprofit", -1.0, 1.0, 9), Standing("new", 4.0, 1.0, 9)], True)
    unlike = format_line("discount.offer", "segment", "trial_conversion",
                         [Standing("annual", -5.0, 1.0, 9), Standing("smb", 2.0, 1.0, 9),
                          Standing("nonprofit", 1.0, 1.0, 9), Standing("new", 4.0, 1.0, 9)], True)
    for other, counted in ((alike, True), (unlike, False)):
        seen: dict = {}
        know = Knowledge()
        read_standings(f"- {mine}", VOCAB, know, seen=seen)
        before = know.scores("discount.offer", "segment")
        read_standings(f"- in ledgerly, {other}", VOCAB, know, weight=0.7, trust=seen)
        after = know.scores("discount.offer", "segment")
        assert (after != before) is counted
        assert counted or "new" not in after  # an option only the unlike venture measured is not taken up


def test_the_platform_relays_each_ventures_tables_and_a_venture_reads_only_the_others() -> None:
    from conductor.brain.brief import insight_lines
    from conductor.brain.document import BrainDocument
    from conductor.brain.platform import platform_messages
    from conductor.sim.model.synthesis import platform_synthesis

    line = format_line("discount.offer", "segment", "trial_conversion", SEGMENTS, True)
    docs = [(v, v.title(), 3, parse_document({"standings": [line]})) for v in ("ink", "ledger")]
    prompt = platform_messages(org_name="Org", ventures=docs, table=[], previous=None,
                               previous_version=None)[-1]["content"]
    relayed = platform_synthesis(prompt)["standings"]
    assert sorted(relayed) == [f"in ink, {line}", f"in ledger, {line}"]
    platform = BrainDocument.model_validate({"standings": relayed})
    shown = [text for _, text in insight_lines(platform, "ink")]
    assert any(text.startswith(f"- in ledger, {line}") for text in shown)
    assert not any("in ink," in text for text in shown)


def test_an_option_measured_alone_is_kept_until_another_joins_it() -> None:
    first = _synthesise({}, [_outcome(1, "annual", "+2.0", "-1.0", "+5.0")])
    second = _synthesise(first, [_outcome(2, "smb", "-1.0", "-3.0", "+1.0")])
    third = _synthesise(second, [_outcome(3, "annual", "+3.0", "+0.5", "+5.5")])
    (line,) = third["standings"]
    rows = {r.option: r for r in (parse_line(line) or ("", "", "", []))[3]}
    assert (rows["annual"].decisions, rows["smb"].decisions) == (2, 1)


AREAS = [Kind("budget.allocate", "money into one area", [Param("amount", "number"), Param(
    "area", choices=["marketing", "product", "support", "sales"])], None)]
AREA_VOCAB = Vocabulary.build(AREAS, {"signups": True, "activation_rate": True, "support_backlog": False,
                                      "trial_conversion": True, "mrr": True}, "mrr")
AREA_METRICS = {"marketing": "signups", "product": "activation_rate", "support": "support_backlog",
                "sales": "trial_conversion"}


def _allocation(ident: int, area: str, effect: str, lo: str, hi: str) -> MemoryHit:
    text = (f"#{ident} budget.allocate amount=5000 area={area}: {AREA_METRICS[area]} {effect}% against forecast "
            f"over 14 days (95% {lo}% to {hi}%) (unclear)")
    return MemoryHit(ident, "ink", "ink-ceo", "2026-02-01T09:00:00Z", "outcome", text, 4)


def _synthesise_areas(previous: dict, memories: list[MemoryHit]) -> dict:
    metrics = [("signups", "up"), ("activation_rate", "up"), ("support_backlog", "down"), ("trial_conversion", "up"),
               ("mrr", "up")]
    messages = synthesis_messages(org_name="Org", venture_id="ink", venture_name="Ink", goal="grow", metrics=metrics,
                                  previous=parse_document(previous) if previous else None,
                                  previous_version=3 if previous else None, memories=memories, main_metric="mrr")
    return venture_synthesis(messages[-1]["content"])


def test_options_judged_on_different_metrics_also_stand_side_by_side_on_one_line() -> None:
    """Budget areas are each judged on the metric they buy, so each metric's line holds one area and compares it
    with nothing; one more line puts them side by side in percent of their own metric, better counted as up."""
    first = _synthesise_areas({}, [
        _allocation(1, "marketing", "+2.0", "+1.0", "+3.0"), _allocation(2, "marketing", "+2.5", "+1.5", "+3.5"),
        _allocation(3, "support", "-4.0", "-5.0", "-3.0"), _allocation(4, "support", "-3.0", "-4.0", "-2.0"),
        _allocation(5, "sales", "-1.0", "-2.0", "0.0"), _allocation(6, "sales", "-1.5", "-2.5", "-0.5")])
    across = [line for line in first["standings"] if " on each option's own metric" in line]
    assert len(across) == 1 and len(first["standings"]) == 4  # three lines of one area each, and this one
    kind, param, _, rows = parse_line(across[0]) or ("", "", "", [])
    effects = {r.option: (r.effect, r.decisions) for r in rows}
    assert (kind, param) == ("budget.allocate", "area")
    assert effects == {"support": (3.0, 2), "marketing": (2.5, 2), "sales": (-1.5, 2)}  # a smaller backlog is up
    assert across[0].index("support") < across[0].index("marketing") < across[0].index("sales")

    know = Knowledge()
    read_standings(f"- {across[0]}", AREA_VOCAB, know)
    scores = know.scores("budget.allocate", "area")
    assert scores["support"] > 0 > scores["sales"]
    for seed in range(6):  # and in other words, as the paraphrase arm writes it
        brief = f"Where each option stands (newest estimate against forecast, best first):\n- {across[0]}"
        again = Knowledge()
        read_standings(paraphrase_brief(brief, seed=seed), AREA_VOCAB, again)
        assert again.params == know.params, paraphrase_brief(brief, seed=seed)

    # The next version rebuilds the line from the per-metric ones, not from itself.
    second = _synthesise_areas(first, [_allocation(7, "product", "+6.0", "+4.0", "+8.0"),
                                       _allocation(8, "marketing", "-1.0", "-2.0", "0.0")])
    (again,) = [line for line in second["standings"] if " on each option's own metric" in line]
    effects = {r.option: (r.effect, r.decisions) for r in (parse_line(again) or ("", "", "", []))[3]}
    assert effects == {"product": (6.0, 1), "support": (3.0, 2), "marketing": (-1.0, 3), "sales": (-1.5, 2)}


def test_a_lever_judged_on_one_metric_gets_no_line_across_metrics() -> None:
    only = _synthesise_areas({}, [_allocation(1, "marketing", "+2.0", "+1.0", "+3.0"),
                                  _allocation(2, "marketing", "+2.5", "+1.5", "+3.5")])
    assert not any(" on each option's own metric" in line for line in only["standings"])
    segments = _synthesise({}, [_outcome(1, "annual", "+2.0", "-1.0", "+5.0"), _outcome(2, "smb", "-1.0", "-3.0", "+1.0")])
    assert len(segments["standings"]) == 1
    stray = MemoryHit(3, "ink", "ink-ceo", "2026-02-01T09:00:00Z", "outcome", "#3 discount.offer percent=15 "
                      "segment=new: mrr +1.0% against forecast over 21 days (95% -1.0% to +3.0%) (unclear)", 4)
    with_stray = _synthesise({}, [_outcome(1, "annual", "+2.0", "-1.0", "+5.0"),
                                  _outcome(2, "smb", "-1.0", "-3.0", "+1.0"), stray])
    assert len(with_stray["standings"]) == 2  # segments share trial_conversion; one judged on mrr joins no line
