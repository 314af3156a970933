"""The line of key hints at the bottom: the keys the founder can press right now.

One widget that renders a line of text from the screen's active bindings, instead of Textual's Footer, which
rebuilds a widget per key on every focus change; with five panes switching focus that rebuild was most of
the cost of a keypress.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget


class KeyHints(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-hints--key", "key-hints--description", "key-hints--palette"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._hints: Text | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen) -> None:
        self._hints = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._hints = None

    def render(self) -> Text:
        if self._hints is None:
            self._hints = self._build()
        text = self._hints.copy()
        palette = Text(" ^p palette ", self.get_component_rich_style("key-hints--palette"))
        width = self.size.width
        if width and text.cell_len + palette.cell_len <= width:
            text.append(" " * (width - text.cell_len - palette.cell_len))
            text.append_text(palette)
        return text

    def _build(self) -> Text:
        key_style = self.get_component_rich_style("key-hints--key")
        description_style = self.get_component_rich_style("key-hints--description")
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        seen: set[str] = set()
        app = self.app
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.system or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            text.append(f" {app.get_key_display(binding)} ", key_style)
            text.append(f"{binding.description} ", description_style)
        return text
