"""The brain pane's write actions (founder version, pin, unpin, revert), through `conductor.services.brain`,
so the control room and `conductor brain ...` write exactly the same events. Imported lazily: the brain's
modules load in the worker that first needs them, never before the first frame."""

from __future__ import annotations

from typing import Any

from conductor.errors import ConductorError


def editable_text(reader: Any, venture: str, names: dict[str, str]) -> str:
    """The canonical text the editor opens with: the venture's newest version (whichever one is selected: a
    founder version is written on top of the newest, so starting from an older one would quietly undo every
    lesson learned since), or an empty document."""
    from conductor.brain.document import BrainDocument, render_markdown
    from conductor.tui.widgets.brain_text import load_document

    version = reader.newest_brain_version(venture)
    document = load_document(reader.brain_document(venture, version)) if version is not None else None
    return render_markdown(document or BrainDocument(), names=names)


def write(desk: Any, venture: str, text: str) -> str:
    """A founder version from the editor's text; says what happened (nothing changed, evidence dropped)."""
    from conductor.services import brain

    event, dropped = desk.call(brain.edit_version, venture, text)
    if event is None:
        return "nothing changed: no new version written"
    note = f" ({dropped} evidence item{'s' if dropped != 1 else ''} naming no real decision dropped)" if dropped else ""
    return f"v{event.payload['version']} of the {venture} brain written by the founder{note}"


def run(desk: Any, action: str, venture: str, version: int) -> Any:
    from conductor.services import brain

    if action == "pin":
        return desk.call(brain.pin, venture, version)
    if action == "unpin":
        return desk.call(brain.unpin, venture)
    if action == "revert":
        return desk.call(brain.revert, venture, version)
    raise ConductorError(f"unknown brain action '{action}'")
