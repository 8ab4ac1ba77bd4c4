"""Outcomes panel: every request's fate, errors by kind, and errors per second.

These counts are the engine's, since it started (or since metrics were last reset, ``z``),
across every preset run on it; the status line's ``sent`` counts only the current preset's
load.  The title says which, so the two numbers are never read as one.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.markup import escape
from textual.widgets import Sparkline, Static

from ...engine.snapshot import MetricsSnapshot
from .packing import cell_width, is_narrow, pack
from .panel import MetricPanel
from .units import fmt_count, fmt_pct


class OutcomesPanel(MetricPanel):
    TITLE = "Outcomes"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last_uptime_s: float | None = None
        #: what the counts cover: "since start", or "since reset" once the engine's counters restarted
        self.span = "since start"

    def compose(self) -> ComposeResult:
        yield Static(id="outcomes-text")
        yield Static(id="outcomes-first-error", classes="panel-line")
        yield Sparkline([], id="outcomes-errors")

    def show(self, snapshot: MetricsSnapshot) -> None:
        if self._last_uptime_s is not None and snapshot.uptime_s < self._last_uptime_s:
            self.span = "since reset"  # the engine's uptime (and its counters) restarted
        self._last_uptime_s = snapshot.uptime_s
        o = snapshot.outcomes
        width = self.text_width
        narrow = is_narrow(width)
        rate_style = "$success" if o.success_rate >= 0.99 else "$warning" if o.success_rate >= 0.9 else "$error"
        # a narrow border has room for one of the two; the success rate is in the text anyway
        self.set_title("Outcomes" if narrow else f"Outcomes · {self.span}")
        self.border_subtitle = self.span if narrow else f"{fmt_pct(o.success_rate)} ok"
        kinds = [f"{kind} {n:,}" for kind, n in o.errors_by_kind] or ["none"]
        if width > 0:  # one line: as many kinds as fit, then how many more (failed/rejected give the totals)
            kinds = _fit_one_line("[dim]errors[/]", kinds, width)
        self.set_text(
            "#outcomes-text",
            "\n".join(
                [
                    pack([f"ok [b]{fmt_count(o.succeeded)}[/b]", f"[{rate_style}]{fmt_pct(o.success_rate)}[/]" + ("" if narrow else " success")], width),
                    pack([f"failed {o.failed:,}", f"rejected {o.rejected:,}"], width),
                    pack([f"{'timeout' if narrow else 'timed out'} {o.timed_out:,}", f"cancelled {o.cancelled:,}"], width),
                    f"in flight {o.in_flight:,} of {fmt_count(o.submitted)}",
                    " ".join(["[dim]errors[/]", *kinds]),
                ]
            ),
        )
        first = o.first_errors[0] if o.first_errors else None
        if first is not None:  # one line (CSS ellipsizes it); the message is the model's text, not markup
            message = " ".join(first[1].split())
            self.set_text("#outcomes-first-error", f"[dim]first[/] [$error]{escape(first[0])}:[/] {escape(message)}")
        self.query_one("#outcomes-first-error").set_class(first is None, "-empty")
        self.query_one(Sparkline).data = [float(p.errors) for p in snapshot.series]


def _fit_one_line(head: str, items: list[str], width: int) -> list[str]:
    """The leading ``items`` that fit one line after ``head``, plus ``+N`` for the rest; if not
    even one fits, how many kinds there are."""
    for keep in range(len(items), 0, -1):
        chosen = items[:keep] + ([f"+{len(items) - keep}"] if keep < len(items) else [])
        if cell_width(" ".join([head, *chosen])) <= width:
            return chosen
    return [f"{len(items)} kinds"]
