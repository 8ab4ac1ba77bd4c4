"""Outcomes panel: every request's fate, errors by kind, and errors per second."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from ...engine.snapshot import MetricsSnapshot
from .panel import MetricPanel
from .units import fmt_count, fmt_pct


class OutcomesPanel(MetricPanel):
    TITLE = "Outcomes"

    def compose(self) -> ComposeResult:
        yield Static(id="outcomes-text")
        yield Sparkline([], id="outcomes-errors")

    def show(self, snapshot: MetricsSnapshot) -> None:
        o = snapshot.outcomes
        rate_style = "$success" if o.success_rate >= 0.99 else "$warning" if o.success_rate >= 0.9 else "$error"
        self.border_subtitle = f"{fmt_pct(o.success_rate)} ok"
        kinds = "  ".join(f"{kind} {n:,}" for kind, n in o.errors_by_kind) or "none"
        self.set_text("#outcomes-text", 
            f"ok [b]{fmt_count(o.succeeded)}[/b]  [{rate_style}]{fmt_pct(o.success_rate)}[/] success\n"
            f"failed {o.failed:,}  rejected {o.rejected:,}\n"
            f"timed out {o.timed_out:,}  cancelled {o.cancelled:,}\n"
            f"in flight {o.in_flight:,} of {fmt_count(o.submitted)}\n"
            f"[dim]errors[/] {kinds}"
        )
        self.query_one(Sparkline).data = [float(p.errors) for p in snapshot.series]
