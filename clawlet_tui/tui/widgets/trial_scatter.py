"""Trials of a tuning as points: throughput (x) against P99 (y), with the SLO as a line.

Each finished trial is one point: green-ish (the theme's ``success``) when it met the SLO,
``error`` when it did not; the incumbent's trials are drawn on top in ``accent``.  The
SLO is a horizontal line, so "below the line and to the right" is where a good config
sits.  The chart reads plain values handed down by the tuning screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.color import Color
from textual_plotext import PlotextPlot

from ...tune.space import Point
from ..live_tuning import TrialRow


class TrialScatter(PlotextPlot):
    """Throughput vs P99 of every trial; SLO line; the incumbent marked."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._trials: tuple[TrialRow, ...] = ()
        self._slo_ms = 0.0
        self._incumbent: Point | None = None
        self._drawn: object = None

    def set_data(self, trials: Sequence[TrialRow], slo_ms: float, incumbent: Point | None) -> None:
        key = (tuple(trials), slo_ms, incumbent)
        if key == self._drawn:
            return  # a redraw is dear: only when a trial ends or the incumbent moves
        self._drawn = key
        self._trials, self._slo_ms, self._incumbent = tuple(trials), slo_ms, incumbent
        self._redraw()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def _rgb(self, name: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(name) or self.app.theme_variables.get("foreground", "#ffffff")
        return Color.parse(value).rgb

    def _redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.xlabel("throughput req/s")
        plt.ylabel("P99 ms")
        groups = (
            ("met SLO", [t for t in self._trials if t.meets_slo and t.point != self._incumbent], "success"),
            ("missed", [t for t in self._trials if not t.meets_slo and t.point != self._incumbent], "error"),
            ("incumbent", [t for t in self._trials if t.point == self._incumbent], "accent"),
        )
        top = self._slo_ms
        right = 0.0
        for label, trials, color in groups:
            if trials:
                xs = [t.throughput_rps for t in trials]
                ys = [t.p99_ms for t in trials]
                plt.scatter(xs, ys, label=label, color=self._rgb(color), marker="●" if label == "incumbent" else "•")
                top = max(top, *ys)
                right = max(right, *xs)
        if self._slo_ms > 0:
            plt.horizontal_line(self._slo_ms, color=self._rgb("warning"))
        plt.xlim(0, right * 1.1 if right > 0 else 1.0)
        plt.ylim(0, top * 1.15 if top > 0 else 1.0)
        self.refresh()
