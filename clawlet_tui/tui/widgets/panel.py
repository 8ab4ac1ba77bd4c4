"""The base of every dashboard panel: a bordered box that shows one MetricsSnapshot.

Panels follow "attributes down, messages up": the dashboard sets :attr:`MetricPanel.snapshot`
(an immutable :class:`MetricsSnapshot`) and the panel redraws itself from it.  A panel never
calls the engine and never reaches into another panel.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot


class MetricPanel(Vertical):
    """A titled panel redrawn from each new snapshot (subclasses implement :meth:`show`)."""

    #: shown in the border
    TITLE = ""

    snapshot: reactive[MetricsSnapshot | None] = reactive(None, layout=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.add_class("metric-panel")
        self.border_title = self.TITLE
        self._shown: dict[str, Any] = {}

    def set_text(self, selector: str, content: Any) -> None:
        """Show ``content`` in the Static at ``selector``, unless it already shows exactly that.

        Every update costs a layout and a repaint, and most readouts repeat themselves
        between refreshes; skipping those keeps the dashboard light on the shared loop.
        """
        if selector in self._shown and self._shown[selector] == content:
            return
        self._shown[selector] = content
        self.query_one(selector, Static).update(content)

    def watch_snapshot(self, snapshot: MetricsSnapshot | None) -> None:
        if snapshot is not None and self.is_mounted:
            self.show(snapshot)

    def on_mount(self) -> None:
        if self.snapshot is not None:
            self.show(self.snapshot)

    def on_resize(self) -> None:
        # readouts are packed to the panel's width (see packing.py): lay them out again
        if self.snapshot is not None:
            self.show(self.snapshot)

    @property
    def text_width(self) -> int:
        """Cells a readout line may take (0 until the panel is laid out)."""
        return self.content_size.width

    def show(self, snapshot: MetricsSnapshot) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
