"""Cache panel: L1 / L2 hit rates, sizes, evictions, and single-flight joins."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.widgets import Static

from ...engine.snapshot import CacheLevelStats, MetricsSnapshot
from .panel import MetricPanel
from .units import fmt_bytes, fmt_count, fmt_pct


class CachePanel(MetricPanel):
    TITLE = "Cache"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._table_key: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="cache-table")
        yield Static(id="cache-note", classes="panel-line")

    def show(self, snapshot: MetricsSnapshot) -> None:
        c = snapshot.cache
        self.border_subtitle = f"hit {fmt_pct(c.hit_rate)}" if c.enabled else "off"
        cells = (_level_cells(c.l1, c.enabled), _level_cells(c.l2, c.enabled))
        if cells != self._table_key:  # an unchanged Rich table is not laid out again
            self._table_key = cells
            self._show_table(*cells)
        note = f"joins {fmt_count(c.inflight_joins)}  L2 disk {fmt_bytes(c.l2.volume_bytes)}"
        if c.l2.capacity_bytes:
            note += f" / {fmt_bytes(c.l2.capacity_bytes)}"
        if c.l2_bypassed:
            note += f"\n[$warning]L2 skipped {fmt_count(c.l2_bypassed)} (reads backed up)[/]"
        if c.l2_disabled_reason:
            note += f"\n[$warning]L2 off: {c.l2_disabled_reason}[/]"
        self.set_text("#cache-note", note)

    def _show_table(self, l1: tuple[str, str, str], l2: tuple[str, str, str]) -> None:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column("level", style="bold")
        table.add_column("hit", justify="right")
        table.add_column("size", justify="right")
        table.add_column("evict", justify="right")
        table.add_row("", "[dim]hit[/]", "[dim]entries[/]", "[dim]evicted[/]")
        table.add_row("L1", *l1)
        table.add_row("L2", *l2)
        self.set_text("#cache-table", table)


def _level_cells(level: CacheLevelStats, cache_on: bool) -> tuple[str, str, str]:
    if not (cache_on and level.enabled):
        return ("[dim]off[/]", "[dim]-[/]", "[dim]-[/]")
    size = f"{fmt_count(level.size)}/{fmt_count(level.capacity)}" if level.capacity else fmt_count(level.size)
    return (fmt_pct(level.hit_rate), size, fmt_count(level.evictions))
