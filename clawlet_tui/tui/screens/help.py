"""Help screen: every key the dashboard answers to, in one table of two columns.

Two columns of short rows fit an 80x24 terminal without scrolling; 80x24 is where a new
user first presses ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Lists ``(keys, what it does)`` rows given by the app; any of escape, q, ? closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("h", "dismiss", "Close", show=False),
    ]

    def __init__(self, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = tuple(rows)

    def compose(self) -> ComposeResult:
        table = Table.grid(expand=True, padding=(0, 1))
        half = (len(self.rows) + 1) // 2
        left, right = self.rows[:half], self.rows[half:]
        for _ in range(2):
            table.add_column(style="bold", no_wrap=True)
            table.add_column(ratio=1)
        for i, (keys, description) in enumerate(left):
            other = right[i] if i < len(right) else ("", "")
            table.add_row(keys, description, *other)
        with Vertical(id="help-box") as box:
            box.border_title = "clawlet-tui keys"
            box.border_subtitle = "esc closes"
            with VerticalScroll():
                yield Static(table, id="help-table")
            yield Static(
                "Every key is also in the command palette (ctrl+p). "
                "Changes go through the engine's validation; a refused value shows an error and nothing changes.",
                id="help-note",
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
