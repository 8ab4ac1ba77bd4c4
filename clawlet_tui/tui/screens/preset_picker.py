"""Preset picker: choose the load preset to switch to (returns its name, or None)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class PresetPickerScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, presets: Sequence[tuple[str, str]], current: str | None = None) -> None:
        """``presets``: ``(name, description)`` pairs."""
        super().__init__()
        self.presets = tuple(presets)
        self.current = current

    def compose(self) -> ComposeResult:
        options = [
            Option(f"[b]{name}[/b]{'  (current)' if name == self.current else ''}\n  {description}", id=name)
            for name, description in self.presets
        ]
        with Vertical(id="preset-box") as box:
            box.border_title = "Switch preset"
            box.border_subtitle = "enter picks · esc cancels"
            if options:
                yield OptionList(*options, id="preset-list")
            else:
                yield Static("No presets found.", id="preset-empty")

    def on_mount(self) -> None:
        names = [name for name, _ in self.presets]
        if self.current in names:
            self.query_one(OptionList).highlighted = names.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
