"""Memory panel: RSS against the budget and the ``max_memory_usage`` threshold, GC activity."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import ProgressBar, Static

from ...engine.snapshot import MetricsSnapshot
from .panel import MetricPanel
from .units import fmt_bytes, fmt_pct


class MemoryPanel(MetricPanel):
    TITLE = "Memory"

    def compose(self) -> ComposeResult:
        yield Static(id="memory-rss", classes="panel-line")
        yield ProgressBar(total=100, show_eta=False, id="memory-usage")
        yield Static(id="memory-gc", classes="panel-line")

    def show(self, snapshot: MetricsSnapshot) -> None:
        m = snapshot.memory
        over = m.usage_fraction >= m.threshold
        self.border_subtitle = f"RSS {fmt_bytes(m.rss_bytes)}"
        self.set_text("#memory-rss", 
            f"RSS [b]{fmt_bytes(m.rss_bytes)}[/b] / {fmt_bytes(m.budget_bytes)}\n"
            f"usage [{'$error' if over else '$success'}]{fmt_pct(m.usage_fraction)}[/]"
            f"  GC at {fmt_pct(m.threshold)}"
        )
        bar = self.query_one(ProgressBar)
        bar.update(progress=min(100.0, m.usage_fraction * 100))
        bar.set_class(over, "-over")
        self.set_text("#memory-gc", 
            f"GC {m.gc_triggers} (manual {m.manual_gc})  sys {m.system_percent:.1f}%\n"
            f"freed {fmt_bytes(m.freed_bytes_total)}  L1 -{m.l1_entries_dropped_total:,}"
        )
