"""Memory panel: RSS against the budget and the ``max_memory_usage`` threshold, GC activity.

GC runs are counted by who started them: ``auto`` (the memory optimizer, when usage
passed the threshold) and ``manual`` (the ``g`` key), so neither number is mistaken for
the other.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import ProgressBar, Static

from ...engine.snapshot import MetricsSnapshot
from .packing import cell_width, pack
from .panel import MetricPanel
from .units import fmt_bytes, fmt_pct

#: panels narrower than this (80 and 100 columns) leave out the system-wide memory figure
SYS_CELLS = 40


class MemoryPanel(MetricPanel):
    TITLE = "Memory"

    def compose(self) -> ComposeResult:
        yield Static(id="memory-rss", classes="panel-line")
        yield ProgressBar(total=100, show_eta=False, id="memory-usage")
        yield Static(id="memory-gc", classes="panel-line")

    def show(self, snapshot: MetricsSnapshot) -> None:
        m = snapshot.memory
        width = self.text_width
        over = m.usage_fraction >= m.threshold
        rss = f"RSS [b]{fmt_bytes(m.rss_bytes)}[/b]"
        budget = f"/ {fmt_bytes(m.budget_bytes)}"
        self.border_subtitle = f"RSS {fmt_bytes(m.rss_bytes)}"
        if 0 < width < cell_width(f"{rss} {budget}"):  # narrow: the budget goes to the border
            budget = ""
            self.border_subtitle = f"budget {fmt_bytes(m.budget_bytes)}"
        usage = [f"usage [{'$error' if over else '$success'}]{fmt_pct(m.usage_fraction)}[/]", f"GC at {fmt_pct(m.threshold)}"]
        self.set_text("#memory-rss", pack([f"{rss} {budget}".strip(), *usage], width))
        bar = self.query_one(ProgressBar)
        bar.update(progress=min(100.0, m.usage_fraction * 100))
        bar.set_class(over, "-over")
        self.set_text(
            "#memory-gc",
            pack(
                [
                    f"GC auto [b]{m.gc_triggers}[/b] · manual [b]{m.manual_gc}[/b]",
                    f"freed {fmt_bytes(m.freed_bytes_total)}",
                    f"L1 -{m.l1_entries_dropped_total:,}",
                    # the machine's memory, not this process's: the first thing a small panel drops
                    "" if 0 < width < SYS_CELLS else f"sys {m.system_percent:.1f}%",
                ],
                width,
            ),
        )
