"""The brain's screens: one version open, the diff of two (item level with evidence, then unified text), and
the founder's editor for a new version."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static, TextArea

from conductor.tui.screens.confirm import ConfirmScreen
from conductor.tui.widgets.brain_text import document_text, item_diff_text, load_document, unified_text

if TYPE_CHECKING:
    from conductor.tui.app import ConductorApp


class BrainVersionScreen(ModalScreen[None]):
    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Back", id="brain-version.close")]

    def __init__(self, venture: str, version: int, names: dict[str, str]) -> None:
        super().__init__(classes="modal")
        self.venture, self.version, self.names = venture, version, names

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(Text(f"{self.names.get(self.venture, self.venture)} brain v{self.version}", style="bold"),
                        classes="dialog-title")
            with VerticalScroll(id="brain-version-body"):
                yield Static(Text("loading…", style="italic"), id="brain-version-text")
            yield Static(Text("esc back", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#brain-version-body").focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        data = self.app.reader.brain_document(self.venture, self.version)
        self.app.call_from_thread(self._show, document_text(data, names=self.names))

    def _show(self, text: Text) -> None:
        if self.is_attached:
            self.query_one("#brain-version-text", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)


class BrainDiffScreen(ModalScreen[None]):
    """Item-level first (lessons added, removed, changed, with their evidence), then the unified text."""

    app: ConductorApp  # only ever shown inside ConductorApp, whose reader it reads through

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="brain-diff.close"),
        Binding("u", "toggle_unified", "Unified text", id="brain-diff.unified"),
    ]

    def __init__(self, old: tuple[str, int], new: tuple[str, int], names: dict[str, str]) -> None:
        super().__init__(classes="modal")
        self.old, self.new, self.names = old, new, names

    def _label(self, which: tuple[str, int]) -> str:
        return f"{self.names.get(which[0], which[0])} v{which[1]}"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(Text(f"{self._label(self.old)} → {self._label(self.new)}", style="bold"),
                        classes="dialog-title")
            with VerticalScroll(id="brain-diff-body"):
                yield Label(Text("Lessons and items", style="bold underline"))
                yield Static(Text("loading…", style="italic"), id="brain-diff-items")
                yield Label(Text("\nUnified text", style="bold underline"), id="brain-diff-unified-title")
                yield Static("", id="brain-diff-unified")
            yield Static(Text("u hides or shows the unified text · esc back", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#brain-diff-body").focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        from conductor.brain.diff import item_diff
        from conductor.brain.document import BrainDocument

        reader = self.app.reader
        old = load_document(reader.brain_document(*self.old)) or BrainDocument()
        new = load_document(reader.brain_document(*self.new)) or BrainDocument()
        items = item_diff_text(item_diff(old, new), self.names)
        unified = unified_text(old, new, old_label=self._label(self.old), new_label=self._label(self.new),
                               names=self.names)
        self.app.call_from_thread(self._show, items, unified)

    def _show(self, items: Text, unified: Text) -> None:
        if self.is_attached:
            self.query_one("#brain-diff-items", Static).update(items)
            self.query_one("#brain-diff-unified", Static).update(unified)

    def action_toggle_unified(self) -> None:
        for selector in ("#brain-diff-unified", "#brain-diff-unified-title"):
            self.query_one(selector).toggle_class("-hidden")

    def action_close(self) -> None:
        self.dismiss(None)


class FounderVersionScreen(ModalScreen[str | None]):
    """Edit the canonical text of a version; ctrl+s checks it reads back as a document and hands the text on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save as founder version", id="brain-write.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="brain-write.cancel"),
    ]

    def __init__(self, venture: str, text: str, names: dict[str, str]) -> None:
        super().__init__(classes="modal")
        self.venture, self.text, self.names = venture, text, names

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(Text(f"A founder version of the {self.names.get(self.venture, self.venture)} brain",
                             style="bold"), classes="dialog-title")
            yield TextArea(self.text, id="brain-editor", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="brain-write-error", classes="dialog-error")
            yield Static(Text("ctrl+s saves a new version authored by the founder · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        from conductor.brain.diff import diff_lines, item_diff
        from conductor.brain.document import DocumentError, lost_headings, parse_markdown

        text = self.query_one(TextArea).text
        lost = lost_headings(self.text, text)
        try:
            edited = parse_markdown(text)  # first: its errors name the line
            if lost:
                raise DocumentError(f"the '## {lost[0]}' heading is gone, and that section with it: put it back "
                                    "(write (none) under it to empty the section)")
            newest = parse_markdown(self.text)
        except DocumentError as exc:
            self.query_one("#brain-write-error", Static).update(Text(str(exc)))
            return
        # What the new version changes against the newest, before it is written: a removed lesson is seen.
        changes = [line for _, line in diff_lines(item_diff(newest, edited), self.names)]
        if not changes or changes == ["no differences"]:
            self.dismiss(text)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.dismiss(text)

        shown = changes[:18] + ([f"… and {len(changes) - 18} more lines"] if len(changes) > 18 else [])
        self.app.push_screen(ConfirmScreen("Save these changes as a founder version?", "\n".join(shown),
                                           yes="Save", no="Keep editing"), answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
