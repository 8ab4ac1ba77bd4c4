"""Config panel: the engine's current config and load, with the last change highlighted.

The panel remembers the previous config it was shown; when a snapshot carries a different
one, the fields that changed are highlighted (with their old value) until the next change.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from ...engine.config import OptimizationConfig
from ...engine.snapshot import MetricsSnapshot
from ..live import LoadView
from .panel import MetricPanel
from .units import fmt_bytes, fmt_seconds

#: fields shown first, the ones the keyboard controls change
KEY_FIELDS = (
    "batch_size",
    "batch_timeout_s",
    "batch_policy",
    "max_concurrent",
    "l1_cache_size",
    "enable_batching",
    "enable_cache",
    "enable_l2",
    "shed_late",
    "max_memory_usage",
    "max_queue_size",
    "request_timeout_s",
)


def format_value(name: str, value: Any) -> str:
    if value is None:
        return "auto" if name in ("pool_size", "memory_budget_bytes", "l2_cache_dir") else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if name.endswith("_s") and isinstance(value, float):
        return fmt_seconds(value)
    if name.endswith("_bytes") and isinstance(value, int):
        return fmt_bytes(value)
    if name == "max_memory_usage":
        return f"{value:.0%}"
    return str(value)


class ConfigPanel(MetricPanel):
    TITLE = "Config"

    load: reactive[LoadView | None] = reactive(None, repaint=False)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._previous: OptimizationConfig | None = None
        self._changed: dict[str, tuple[Any, Any]] = {}
        self._table_key: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="config-load", classes="panel-line")
        with VerticalScroll(id="config-scroll"):
            yield Static(id="config-table")

    def watch_load(self, load: LoadView | None) -> None:
        if load is None or not self.is_mounted:
            return
        state = "[$warning]paused[/]" if load.paused else "finished" if load.finished else "running"
        rate = f" @ {load.target_rps:g} req/s" if load.target_rps is not None else ""
        if load.clients is not None:
            rate = f", {load.clients} clients"
        text = f"[b]{load.preset}[/b] ({load.mode}{rate}, {state}): {load.description}"
        if load.note:
            text += f"\n[$warning]{load.note}[/]"
        self.set_text("#config-load", text)

    def show(self, snapshot: MetricsSnapshot) -> None:
        config = snapshot.config
        if self._previous is not None and config != self._previous:
            self._changed = self._previous.changed_fields(config)
        self._previous = config
        self.border_subtitle = f"{snapshot.mode} · {snapshot.model_name}" if snapshot.model_name else snapshot.mode
        key = (config, tuple(self._changed.items()))
        if key == self._table_key:
            return  # a Rich table is dear to lay out; the config rarely changes
        self._table_key = key
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column("field", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("value", ratio=2, no_wrap=True, overflow="ellipsis")
        names = list(KEY_FIELDS) + [f.name for f in fields(config) if f.name not in KEY_FIELDS]
        for name in names:
            value = format_value(name, getattr(config, name))
            if name in self._changed:
                old = format_value(name, self._changed[name][0])
                table.add_row(Text(f"▶ {name}", style="bold reverse"), Text(f"{value} (was {old})", style="bold"))
            else:
                table.add_row(Text(name, style="dim"), Text(value))
        self.set_text("#config-table", table)

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """Names of the fields highlighted as the last change."""
        return tuple(self._changed)
