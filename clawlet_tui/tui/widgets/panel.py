"""The base of every dashboard panel: a bordered box that shows one MetricsSnapshot.

Panels follow "attributes down, messages up": the dashboard sets :attr:`MetricPanel.snapshot`
(an immutable :class:`MetricsSnapshot`) and the panel redraws itself from it.  A panel never
calls the engine and never reaches into another panel.  The dashboard also sets
:attr:`MetricPanel.alerts`, the alerts firing on the panel's figures: the border turns to
the error colour and its title names them.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot


class MetricPanel(Vertical):
    """A titled panel redrawn from each new snapshot (subclasses implement :meth:`show`)."""

    #: shown in the border
    TITLE = ""

    snapshot: reactive[MetricsSnapshot | None] = reactive(None, layout=False, repaint=False)
    #: the rules firing on this panel's figures (``p99_ms > 50 ms``), in firing order
    alerts: reactive[tuple[str, ...]] = reactive((), layout=False, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.add_class("metric-panel")
        self._title = self.TITLE
        self.border_title = self.TITLE
        self._shown: dict[str, Any] = {}

    def set_title(self, title: str) -> None:
        """The panel's own title; a firing alert's name follows it in the border."""
        if title != self._title:
            self._title = title
            self._retitle()

    def _retitle(self) -> None:
        firing = f" [b $error]ALERT {escape(', '.join(self.alerts))}[/]" if self.alerts else ""
        self.border_title = self._title + firing

    def watch_alerts(self, alerts: tuple[str, ...]) -> None:
        self.set_class(bool(alerts), "-alert")
        self._retitle()

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
