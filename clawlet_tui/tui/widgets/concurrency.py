"""Concurrency panel: busy workers, queue depth, the model session pool, and one line per
model server when batches are spread over several (``snapshot.backends``)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import BackendServerStats, MetricsSnapshot
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
        text = [pack(line, width) for line in lines]
        # one line per model server: one space between items, so a host:port fits a third of 120 columns
        text += [pack(server_line(b), width, sep=" ") for b in snapshot.backends]
        self.set_text("#concurrency-text", "\n".join(text))


def server_line(b: BackendServerStats) -> list[str]:
    """``127.0.0.1:8001 in 2/8 sent 340 err 2 ejected``: one model server behind a balanced
    backend; batches on the wire / its bound, batches sent, failed, out of the rotation."""
    where = b.url.partition("://")[2] or b.url
    errors = f"err [$error]{fmt_count(b.errors)}[/]" if b.errors else "err 0"
    return [
        f"[b]{where}[/b]",
        f"in {b.in_flight}/{b.limit}",
        f"sent {fmt_count(b.batches)}",
        errors,
        "[$error]ejected[/]" if b.ejected else "",
    ]
