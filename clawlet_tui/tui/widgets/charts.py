"""Line and bar charts on :class:`textual_plotext.PlotextPlot`, coloured from the app theme.

The panels hand these widgets plain sequences; the chart redraws with axes scaled to the
data.  Colours come from the current Textual theme (``$primary``, ``$accent``, ``$error``...)
so a theme switch recolours every chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.color import Color
from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class Line:
    label: str
    ys: Sequence[float]
    #: a theme variable name: "primary", "accent", "error", ...
    color: str = "primary"


#: below this many rows a chart drops its legend and x tick labels (80x24 leaves 3-5 rows,
#: which axes and a legend would fill on their own)
COMPACT_ROWS = 8


class TimeSeriesChart(PlotextPlot):
    """Lines over ``xs`` (seconds relative to the newest point, so the right edge is 0)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._xs: Sequence[float] = ()
        self._lines: tuple[Line, ...] = ()
        self._threshold: tuple[str, float, str] | None = None
        self._ylabel = ""
        self._drawn: object = None
        self._compact: bool | None = None

    def set_data(
        self,
        xs: Sequence[float],
        lines: Sequence[Line],
        *,
        threshold: tuple[str, float, str] | None = None,
        ylabel: str = "",
    ) -> None:
        """Draw ``lines`` over ``xs``; ``threshold`` is ``(label, y, colour)``, e.g. an SLO.

        Redrawing a chart is the dearest thing the dashboard does, and the history gains a
        point only once a second: unchanged data (same points, lines, threshold) is not redrawn.
        """
        key = (tuple(xs), tuple((line.label, tuple(line.ys), line.color) for line in lines), threshold, ylabel)
        if key == self._drawn:
            return
        self._drawn = key
        self._xs = tuple(xs)
        self._lines = tuple(lines)
        self._threshold = threshold
        self._ylabel = ylabel
        self._redraw()

    def _rgb(self, name: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(name) or self.app.theme_variables.get("foreground", "#ffffff")
        return Color.parse(value).rgb

    def on_resize(self) -> None:
        if (self.size.height < COMPACT_ROWS) != self._compact:
            self._redraw()

    def _redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.xlabel("")
        plt.ylabel(self._ylabel)
        self._compact = compact = 0 < self.size.height < COMPACT_ROWS
        # plotext's defaults (5 x, 7 y ticks) set explicitly: its "reset" mutates shared state
        plt.xfrequency(0 if compact else 5)
        plt.yfrequency(2 if compact else 7)
        top = 0.0
        if self._xs:
            for line in self._lines:
                if line.ys:
                    label = None if compact else line.label
                    plt.plot(list(self._xs), list(line.ys), label=label, color=self._rgb(line.color), marker="braille")
                    top = max(top, max(line.ys))
            plt.xlim(min(min(self._xs), -1.0), 0)  # at least one second wide: plotext divides by the span
        if self._threshold is not None:
            label, y, color = self._threshold
            plt.horizontal_line(y, color=self._rgb(color))
            top = max(top, y)
        plt.ylim(0, top * 1.15 if top > 0 else 1.0)
        self.refresh()

    def on_mount(self) -> None:
        # PlotextPlot.on_mount (called too) follows theme changes for the canvas; this redraws
        # the lines so their colours follow as well
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())


class BarChart(PlotextPlot):
    """Vertical bars: ``labels`` against ``values`` (e.g. batch size -> number of batches)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._labels: tuple[str, ...] = ()
        self._values: tuple[float, ...] = ()

    def set_data(self, labels: Sequence[str], values: Sequence[float]) -> None:
        if (tuple(labels), tuple(values)) == (self._labels, self._values):
            return  # unchanged: skip the (dear) redraw
        self._labels = tuple(labels)
        self._values = tuple(values)
        self._redraw()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def _redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        if self._labels:
            color = Color.parse(self.app.theme_variables.get("accent", "#ffa62b")).rgb
            plt.bar(list(self._labels), list(self._values), color=color, width=0.6)
        self.refresh()
