"""Cache panel: L1 / L2 hit rates, sizes, evictions, and single-flight joins.

The table is laid out to the panel's width by hand rather than by a Rich table, which
would truncate headers and numbers (``entri…``, ``200/2…``) in a narrow panel: it tries
full headers, then short ones, then drops the L1 capacity, and takes the first that fits.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import CacheLevelStats, MetricsSnapshot
from .packing import cell_width, is_narrow, pack
from .panel import MetricPanel
from .units import fmt_bytes, fmt_count, fmt_pct

LONG_HEADERS = ("hit", "entries", "evicted")
SHORT_HEADERS = ("hit", "size", "evict")


class CachePanel(MetricPanel):
    TITLE = "Cache"

    def compose(self) -> ComposeResult:
        yield Static(id="cache-table")
        yield Static(id="cache-note", classes="panel-line")

    def show(self, snapshot: MetricsSnapshot) -> None:
        c = snapshot.cache
        width = self.text_width
        self.border_subtitle = f"hit {fmt_pct(c.hit_rate)}" if c.enabled else "off"
        self.set_text("#cache-table", cache_table(c.l1, c.l2, c.enabled, width))
        disk = f"L2 disk {fmt_bytes(c.l2.volume_bytes)}"
        if c.l2.capacity_bytes:
            disk += f" of {fmt_bytes(c.l2.capacity_bytes)}"
            if is_narrow(width):  # one chunk that fits a narrow line: "L2 14.1 MiB/256.0 MiB"
                disk = f"L2 {fmt_bytes(c.l2.volume_bytes)}/{fmt_bytes(c.l2.capacity_bytes)}"
        chunks = [f"joins {fmt_count(c.inflight_joins)}", disk]
        if c.l2_declined:  # l2_admission = second_hit: values of keys computed once
            chunks.append(f"L2 declined {fmt_count(c.l2_declined)}")
        note = pack(chunks, width)
        if c.l2_bypassed:
            note += f"\n[$warning]L2 skipped {fmt_count(c.l2_bypassed)} (reads backed up)[/]"
        if c.l2_disabled_reason:
            note += f"\n[$warning]L2 off: {c.l2_disabled_reason}[/]"
        self.set_text("#cache-note", note)


def cache_table(l1: CacheLevelStats, l2: CacheLevelStats, cache_on: bool, width: int) -> str:
    """The L1/L2 table as markup lines no wider than ``width`` when any layout fits."""
    variants = [(LONG_HEADERS, True, 2), (LONG_HEADERS, True, 1), (SHORT_HEADERS, True, 1), (SHORT_HEADERS, False, 1)]
    for headers, capacity, gap in variants:
        rows = [("", *(f"[dim]{h}[/]" for h in headers))]
        rows.append(("L1", *_level_cells(l1, cache_on, capacity)))
        rows.append(("L2", *_level_cells(l2, cache_on, capacity)))
        widths = [max(cell_width(row[i]) for row in rows) for i in range(4)]
        if width <= 0 or sum(widths) + gap * 3 <= width or headers is SHORT_HEADERS and not capacity:
            break
    if width > 0:  # spread the columns over a wide panel, as far as a reader's eye follows
        gap = max(gap, min(6, (width - sum(widths)) // 3))
    lines = []
    for row in rows:
        cells = [f"[b]{row[0]}[/b]" + " " * (widths[0] - cell_width(row[0]))]
        cells += [" " * (widths[i] - cell_width(row[i])) + row[i] for i in (1, 2, 3)]
        lines.append((" " * gap).join(cells))
    return "\n".join(lines)


def _level_cells(level: CacheLevelStats, cache_on: bool, capacity: bool) -> tuple[str, str, str]:
    if not (cache_on and level.enabled):
        return ("[dim]off[/]", "[dim]-[/]", "[dim]-[/]")
    size = fmt_count(level.size)
    if capacity and level.capacity:
        size += f"/{fmt_count(level.capacity)}"
    return (fmt_pct(level.hit_rate), size, fmt_count(level.evictions))
