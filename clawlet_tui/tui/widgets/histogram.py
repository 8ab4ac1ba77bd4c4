"""Latency histogram: the window's latency distribution on log-spaced buckets, P50/P99 marked.

Two percentiles hide the shape of a distribution: a cache that answers 60% of requests in
0.05 ms and a model that takes 2-10 ms for the rest give a P50 and a P99 that describe
neither group.  This widget draws ``MetricsSnapshot.window_latency_histogram`` as vertical
bars, one column group per bucket (buckets are log-spaced, so the x axis is a log axis),
with the buckets holding the P50 and the P99 coloured and marked underneath, and decade
ticks (0.1, 1, 10 ms...) on the axis.

:func:`histogram_lines` is a pure function of the data and the size, so it can be tested
without a terminal; the widget only stores the data and redraws when it changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.content import Content
from textual.widget import Widget

#: ``(low_ms, high_ms, count)`` as in ``MetricsSnapshot.window_latency_histogram``
Bucket = tuple[float, float, int]

_EIGHTHS = " ▁▂▃▄▅▆▇█"
BAR_STYLE = "$secondary"
P50_STYLE = "$primary"
P99_STYLE = "$accent"
AXIS_STYLE = "dim"


def merge_buckets(buckets: Sequence[Bucket], most: int) -> list[Bucket]:
    """At most ``most`` buckets, adjacent ones summed (a narrow panel cannot draw them all)."""
    if most <= 0 or len(buckets) <= most:
        return list(buckets)
    per = math.ceil(len(buckets) / most)
    merged = []
    for i in range(0, len(buckets), per):
        group = buckets[i : i + per]
        merged.append((group[0][0], group[-1][1], sum(n for _, _, n in group)))
    return merged


def bucket_index(buckets: Sequence[Bucket], value_ms: float) -> int | None:
    """Index of the bucket holding ``value_ms`` (the nearest end one if it lies outside)."""
    if not buckets:
        return None
    for i, (low, high, _) in enumerate(buckets):
        if low <= value_ms < high:
            return i
    return 0 if value_ms < buckets[0][0] else len(buckets) - 1


def _tick_label(ms: float) -> str:
    return f"{ms:g}"


def histogram_lines(buckets: Sequence[Bucket], p50_ms: float, p99_ms: float, width: int, height: int) -> list[str]:
    """The histogram as ``height`` lines of Textual markup, ``width`` cells wide.

    Rows: bars (all but the last two), a marker row (``▲P50`` / ``▲P99`` under their
    buckets) and an axis row with a label at every decade the buckets span.
    """
    if width <= 0 or height <= 0:
        return []
    if not buckets:
        return ["[dim]no histogram in this snapshot yet[/]"]
    total = sum(n for _, _, n in buckets)
    if total == 0:
        return ["[dim]no requests finished in the window[/]"]
    shown = merge_buckets(buckets, width)
    # bucket i takes cells edges[i]..edges[i+1]: the bars fill the width however many there are
    edges = [i * width // len(shown) for i in range(len(shown) + 1)]
    p50_at = bucket_index(shown, p50_ms)
    p99_at = bucket_index(shown, p99_ms)
    bar_rows = max(1, height - 2)
    top = max(n for _, _, n in shown)
    levels = [math.ceil(n / top * bar_rows * 8) if n else 0 for _, _, n in shown]

    def style_of(i: int) -> str:
        return P99_STYLE if i == p99_at else P50_STYLE if i == p50_at else BAR_STYLE

    lines = []
    for row in range(bar_rows):
        floor = (bar_rows - 1 - row) * 8
        cells = []
        for i, level in enumerate(levels):
            glyph = _EIGHTHS[max(0, min(8, level - floor))]
            column = edges[i + 1] - edges[i]
            bar = column - 1 if column >= 3 else column  # a gap between wide bars
            cells.append(f"[{style_of(i)}]{glyph * bar}[/]" + " " * (column - bar))
        lines.append("".join(cells))
    if height >= 3:
        lines.append(_marker_row(p50_at, p99_at, edges, width))
    if height >= 2:
        lines.append(_axis_row(shown, edges, width))
    return lines[:height]


def _place(row: list[tuple[str, str]], start: int, text: str, style: str) -> bool:
    """Write ``text`` at ``start`` if those cells are free (never over another label)."""
    if start < 0 or start + len(text) > len(row) or any(row[start + k][0] != " " for k in range(len(text))):
        return False
    for k, ch in enumerate(text):
        row[start + k] = (ch, style)
    return True


def _join(row: list[tuple[str, str]]) -> str:
    out = []
    for ch, style in row:
        out.append(f"[{style}]{ch}[/]" if style else ch)
    return "".join(out).rstrip()


def _marker_row(p50_at: int | None, p99_at: int | None, edges: Sequence[int], width: int) -> str:
    row: list[tuple[str, str]] = [(" ", "")] * width
    marks = [(p50_at, "P50", P50_STYLE), (p99_at, "P99", P99_STYLE)]
    if p50_at == p99_at:  # one bucket holds both: one marker, both labels
        marks = [(p99_at, "P50,P99", P99_STYLE)]
    for at, label, style in marks:
        if at is None:
            continue
        x = (edges[at] + edges[at + 1] - 1) // 2
        # the label right of the marker, or left of it near the right edge, or the marker alone
        if not _place(row, x, f"▲{label}", style) and not _place(row, x - len(label), f"{label}▲", style):
            _place(row, x, "▲", style)
    return _join(row)


def _axis_row(buckets: Sequence[Bucket], edges: Sequence[int], width: int) -> str:
    row: list[tuple[str, str]] = [(" ", "")] * width
    low, high = buckets[0][0], buckets[-1][1]
    decades = range(math.ceil(math.log10(max(low, 1e-9))), math.floor(math.log10(max(high, 1e-9))) + 1)
    ticks = [10.0**d for d in decades]
    placed = 0
    for tick in ticks:
        at = bucket_index(buckets, tick)
        if at is not None and _place(row, edges[at], f"┴{_tick_label(tick)}", AXIS_STYLE):
            placed += 1
    if placed < 2:  # less than a decade: label the ends instead
        _place(row, 0, _tick_label(round(low, 3)), AXIS_STYLE)
        end = _tick_label(round(high, 3))
        _place(row, width - len(end) - 3, end, AXIS_STYLE)
    text = _join(row)
    plain_len = len("".join(ch for ch, _ in row).rstrip())
    return text + (" ms" if plain_len + 3 <= width else "")


class LatencyHistogram(Widget):
    """Draws one window's latency histogram to fit its own size (see :func:`histogram_lines`)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._data: tuple[tuple[Bucket, ...], float, float] = ((), 0.0, 0.0)

    def set_data(self, buckets: Sequence[Bucket], p50_ms: float, p99_ms: float) -> None:
        data = (tuple(buckets), p50_ms, p99_ms)
        if data != self._data:  # unchanged: no repaint
            self._data = data
            self.refresh()

    @property
    def buckets(self) -> tuple[Bucket, ...]:
        return self._data[0]

    def render(self) -> Content:
        buckets, p50, p99 = self._data
        return Content.from_markup("\n".join(histogram_lines(buckets, p50, p99, self.size.width, self.size.height)))
