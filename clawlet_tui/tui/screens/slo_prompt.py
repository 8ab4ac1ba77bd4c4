"""Asks for the P99 objective when the running preset names none (returns milliseconds, or None).

The field starts with a proposal the caller computed from the running engine (twice the
P99 it measures now), so Enter alone starts tuning; a value that is not a number > 0 is
refused in the dialog, naming what was typed.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def parse_slo(text: str) -> float:
    """``"25"`` -> 25.0; ValueError naming the text unless it is a number of ms > 0."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"the P99 objective must be a number of milliseconds, got {text.strip()!r}") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"the P99 objective must be > 0 ms, got {text.strip()!r}")
    return value


class SloPromptScreen(ModalScreen[float | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, proposal_ms: float, why: str) -> None:
        super().__init__()
        self.proposal_ms = proposal_ms
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="slo-box") as box:
            box.border_title = "Tune: P99 objective"
            box.border_subtitle = "enter starts tuning · esc cancels"
            yield Static(f"This preset names no slo_p99_ms. P99 objective in ms ({self.why}):")
            yield Input(value=f"{self.proposal_ms:g}", id="slo-input")
            yield Static(id="slo-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            value = parse_slo(event.value)
        except ValueError as exc:
            self.query_one("#slo-error", Static).update(str(exc))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
