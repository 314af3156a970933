"""Brain documents and diffs as styled plain text: a model wrote them, so they are never parsed as markup
or rendered as markdown, only coloured line by line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from conductor.text import printable

if TYPE_CHECKING:  # the brain's modules load in the worker that first needs them, not at start-up
    from conductor.brain.diff import BrainDiff
    from conductor.brain.document import BrainDocument

TAG_STYLES = {"heading": "bold", "added": "green", "removed": "red", "changed": "yellow", "evidence": "cyan",
              "context": ""}


def load_document(data: dict[str, Any] | None) -> BrainDocument | None:
    from conductor.brain.document import DocumentError, parse_document

    if data is None:
        return None
    try:
        return parse_document(data)
    except DocumentError:
        return None


def document_text(data: dict[str, Any] | BrainDocument | None, *, title: str | None = None,
                  names: dict[str, str] | None = None) -> Text:
    from conductor.brain.document import BrainDocument, render_markdown

    document = data if isinstance(data, BrainDocument) else load_document(data)
    if document is None:
        return Text("This version's document cannot be read.", style="italic")
    text = Text()
    for line in render_markdown(document, title=title, names=names).splitlines():
        clean = printable(line)
        if clean.startswith("#"):
            text.append(clean.lstrip("# ") + "\n", "bold underline" if clean.startswith("# ") else "bold")
        elif clean.strip().startswith(("evidence:", "from ")):
            text.append(clean + "\n", "cyan")
        else:
            text.append(clean + "\n")
    return text


def item_diff_text(diff: BrainDiff, names: dict[str, str] | None = None) -> Text:
    from conductor.brain.diff import diff_lines

    text = Text()
    for tag, line in diff_lines(diff, names):
        text.append(printable(line) + "\n", TAG_STYLES.get(tag, ""))
    return text


def unified_text(old: BrainDocument, new: BrainDocument, *, old_label: str, new_label: str,
                 names: dict[str, str] | None = None) -> Text:
    from conductor.brain.diff import unified_diff, unified_tag

    text = Text()
    lines = unified_diff(old, new, old_label=old_label, new_label=new_label, names=names)
    for line in lines or ["no differences"]:
        text.append(printable(line) + "\n", TAG_STYLES.get(unified_tag(line), ""))
    return text
