"""Brain documents and their diffs: pure functions over pydantic models, no store and no model."""

from __future__ import annotations

import pytest

from conductor.brain.diff import diff_lines, item_diff, unified_diff, unified_tag
from conductor.brain.document import (
    BrainDocument,
    DocumentError,
    Lesson,
    Provenance,
    lesson_key,
    parse_document,
    parse_markdown,
    render_markdown,
)


def doc(**sections: object) -> BrainDocument:
    return parse_document(dict(sections))


V1 = doc(
    strategy="Grow through search.",
    worked=[{"text": "campaign.launch channel=seo: signups +12.0%",
             "evidence": [{"decision_id": 12, "metric": "signups", "delta": 0.1, "success": True}]}],
    failed=[{"text": "campaign.launch channel=ads: signups -3.0%", "evidence": [20]}],
    rules=["Never discount more than 20%."],
)


def test_lenient_parsing_of_a_models_answer() -> None:
    d = parse_document('```json\n{"strategy": "x", "worked": ["a.b k=v: good", {"lesson": "c.d: ok", '
                       '"evidence": [3, "#4", {"decision": 5, "delta": 0.2}, true, 3]}], "rules": "one rule", '
                       '"extra": 1}\n```')
    assert d.worked[0].text == "a.b k=v: good" and d.worked[0].key == "a.b k=v"
    assert d.worked[1].decision_ids == (3, 4, 5)
    assert d.worked[1].evidence[2].delta == 0.2
    assert d.rules == ("one rule",)
    with pytest.raises(DocumentError):
        parse_document("[1, 2]")
    with pytest.raises(DocumentError):
        parse_document("not json")


def test_documents_are_bounded() -> None:
    d = doc(worked=[f"k.ind x={i}: fine" for i in range(50)], rules=["r"] * 30 + [f"r{i}" for i in range(30)],
            strategy="s" * 5000)
    assert len(d.worked) == 12 and len(d.rules) <= 10 and len(d.strategy) <= 800


def test_markdown_round_trips() -> None:
    text = render_markdown(V1, title="Inkwell brain v1")
    assert "## What worked" in text and "evidence: #12 signups +10.0%" in text
    back = parse_markdown(text)
    assert back.strategy == V1.strategy
    assert back.worked[0].key == V1.worked[0].key and back.worked[0].decision_ids == (12,)
    assert back.worked[0].evidence[0].delta == pytest.approx(0.1)
    assert back.failed[0].decision_ids == (20,)
    assert back.rules == V1.rules
    assert render_markdown(back) == render_markdown(parse_markdown(render_markdown(back)))


def test_markdown_with_an_unknown_section_is_an_error() -> None:
    with pytest.raises(DocumentError, match="line 1: unknown section 'Wins'"):
        parse_markdown("## Wins\n- x\n")


def test_item_diff_added_removed_changed_and_moved() -> None:
    v2 = doc(
        strategy="Grow through search and community.",
        worked=[
            {"text": "campaign.launch channel=seo: signups +11.0%", "evidence": [12, 31]},
            {"text": "content.publish topic=guide: signups +4.0%", "evidence": [33]},
        ],
        failed=[{"text": "pricing.change price=59: mrr -2%", "evidence": [35]}],
        rules=["Never discount more than 20%.", "Ask before hiring."],
    )
    d = item_diff(V1, v2)
    assert [c.key for c in d.added] == ["content.publish topic=guide", "pricing.change price=59"]
    assert [c.key for c in d.removed] == ["campaign.launch channel=ads"]
    changed = d.changed[0]
    assert changed.key == "campaign.launch channel=seo" and changed.evidence_added == (31,)
    assert d.strategy is not None and [i.text for i in d.items] == ["Ask before hiring."]
    assert d.evidence_ids() == {12, 31, 33, 35, 20}
    # a lesson that flipped from worked to failed is removed from one section and added to the other
    v3 = doc(failed=[{"text": "campaign.launch channel=seo: signups -1%", "evidence": [40]}])
    flip = item_diff(v2, v3)
    added = next(c for c in flip.added if c.key == "campaign.launch channel=seo")
    assert added.section == "failed" and added.moved == "worked"
    tags = dict((t, s) for s, t in diff_lines(flip))
    assert "+ campaign.launch channel=seo: signups -1% (moved from What worked)" in tags
    assert item_diff(v2, v2).is_empty and diff_lines(item_diff(v2, v2)) == [("context", "no differences")]


def test_unified_diff_marks_lines() -> None:
    v2 = V1.model_copy(update={"strategy": "Grow through community."})
    lines = unified_diff(V1, v2, old_label="v1", new_label="v2")
    assert lines[0] == "--- v1" and "-Grow through search." in lines and "+Grow through community." in lines
    assert [unified_tag(x) for x in ("+a", "-b", "@@ x", " c", "+++ b")] == [
        "added", "removed", "evidence", "context", "heading"]


def test_provenance_reads_like_a_sentence() -> None:
    p = Provenance(venture="inkwell", version=4, decisions=3, delta=0.12, metric="signups")
    assert p.describe({"inkwell": "Inkwell"}) == "from Inkwell brain v4, 3 decisions, +12% signups"
    lesson = Lesson(text="x.y a=b: fine", provenance=(p,))
    assert "from Inkwell" not in render_markdown(doc(worked=[lesson.model_dump()]))  # names unknown: id
    assert "from inkwell brain v4" in render_markdown(doc(worked=[lesson.model_dump()]))


def test_lesson_key_ignores_numbers_after_the_colon() -> None:
    assert lesson_key("campaign.launch channel=seo: +12%") == lesson_key("Campaign.launch  channel=seo: +9%")
    assert lesson_key("Customers like speed: a lot") == "customers like speed: a lot"
