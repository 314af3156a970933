"""`?`: every key of the pane in front of the founder, then the keys that work everywhere.

Built from the bindings that are active right now (Textual's `active_bindings`), so it can never disagree with
what the keys do.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from conductor.tui.panes import PANES

HelpRows = list[tuple[str, str, str]]  # (group, keys, description)
# Scrolling bindings every Textual widget has: true, but noise in a list of what the pane does.
HIDDEN_IN_HELP = frozenset({"scroll_left", "scroll_right", "page_left", "page_right", "scroll_home", "scroll_end",
                            "screen.copy_text", "app.copy_text", "copy_text", "command_palette",
                            "app.command_palette"})
MOVES = {"cursor_up": "Up", "cursor_down": "Down", "scroll_up": "Up", "scroll_down": "Down"}


def help_rows(app: Any) -> tuple[str, HelpRows]:
    """The keys of the pane in front of the founder (its own actions first, then moving around), then the
    keys that work everywhere."""
    room = app.room
    pane_title = dict(PANES)[room.pane_id]
    keys: dict[tuple[str, str], list[str]] = {}
    described: dict[tuple[str, str], str] = {}
    rank: dict[tuple[str, str], int] = {}
    for active in app.screen.active_bindings.values():
        binding = active.binding
        action = binding.action
        if binding.system or not binding.description or action in HIDDEN_IN_HELP:
            continue
        group = "Everywhere" if active.node is app or active.node is room else pane_title
        ident = (group, action)
        keys.setdefault(ident, []).append(app.get_key_display(binding))
        described.setdefault(ident, MOVES.get(action, binding.description))
        rank.setdefault(ident, 0 if binding.id else 1)
    rows: HelpRows = []
    for group in (pane_title, "Everywhere"):
        idents = sorted((i for i in keys if i[0] == group), key=lambda i: rank[i])
        rows += [(group, " ".join(dict.fromkeys(keys[i])), described[i]) for i in idents]
    rows.append(("Everywhere", "1-5 tab", "switch pane (the numbers are in the pane titles)"))
    rows.append(("Everywhere", "ctrl+p", "command palette: every action by name"))
    rows.append(("Everywhere", "esc", "back out of a detail, a form or a filter"))
    rows.append(("Header", "⚑ ✖", "open escalations (red when one is urgent) · stuck agents"))
    rows.append(("Header", "⏸", "the simulated clock waits for your verdict (it never lets one expire unseen)"))
    return pane_title, rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, pane: str, rows: HelpRows) -> None:
        super().__init__(classes="modal")
        self.pane = pane
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help-dialog"):
            yield Label(Text(f"Keys · {self.pane}", style="bold"), classes="dialog-title")
            with VerticalScroll(id="help-body"):
                groups = list(dict.fromkeys(group for group, _, _ in self.rows))
                for group in groups:
                    table = Table(box=None, show_header=False, pad_edge=False)
                    table.add_column(style="bold", no_wrap=True, min_width=14)
                    table.add_column()
                    for g, keys, description in self.rows:
                        if g == group:
                            table.add_row(keys, description)
                    yield Label(Text(group, style="bold underline"), classes="help-group")
                    yield Static(table)
            yield Static(Text("ctrl+p lists every action by name · esc closes", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
