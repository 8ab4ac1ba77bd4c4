"""Concurrency panel: busy workers, queue depth, and the model session pool."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import MetricsSnapshot
from .packing import is_narrow, pack
from .panel import MetricPanel
from .units import fmt_count


class ConcurrencyPanel(MetricPanel):
    TITLE = "Concurrency"

    def compose(self) -> ComposeResult:
        yield Static(id="concurrency-text")

    def show(self, snapshot: MetricsSnapshot) -> None:
        c = snapshot.concurrency
        p = snapshot.pool
        self.border_subtitle = f"{c.busy}/{c.max_concurrent} busy"
        queue_style = "$warning" if c.max_queue_size and c.queue_depth >= 0.8 * c.max_queue_size else "b"
        width = self.text_width
        lines = [
            [f"busy [b]{c.busy}[/b]/{c.max_concurrent}", f"peak {c.peak_busy}"],
            [f"queue [{queue_style}]{fmt_count(c.queue_depth)}[/]/{fmt_count(c.max_queue_size)}"],
            [f"pool {p.in_use}/{p.size} in use", f"idle {p.idle}"],
            # narrow: the line above already says "pool"
            [f"{'' if is_narrow(width) else 'pool '}waits {fmt_count(p.waits)}", f"discarded {p.discarded}"],
            [f"batches done {fmt_count(c.completed_batches)}"],
        ]
        self.set_text("#concurrency-text", "\n".join(pack(line, width) for line in lines))
