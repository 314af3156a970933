"""Asking the founder for one line of text: a rejection note, a directive. enter sends, esc cancels."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class TextPrompt(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, body: str, *, placeholder: str = "", required: bool = True,
                 value: str = "") -> None:
        super().__init__(classes="modal")
        self._title, self._body, self._placeholder, self._required, self._value = (
            title, body, placeholder, required, value)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self._title, style="bold"), classes="dialog-title")
            yield Static(Text(self._body), classes="dialog-body")
            yield Input(value=self._value, placeholder=self._placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="dialog-error")
            yield Static(Text("enter sends · esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self._required and not text:
            self.query_one("#prompt-error", Static).update(Text("write something first, or esc to cancel"))
            return
        self.dismiss(text)
