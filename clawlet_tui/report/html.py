"""HTML rendering of a :class:`~.model.Report`: one self-contained page with charts.

Why plotly: it is a maintained, widely used charting library whose JavaScript
(plotly.js) can be inlined into the page, so the file opens with no network at all
(no CDN), and the charts stay interactive (hover for the value of any second, zoom,
click a legend entry to hide a run).  The cost is size: the inlined plotly.js is about
4.8 MB, the data a few kB a minute of run.  plotly is the ``report`` extra
(``pip install 'clawlet-tui[report]'``); without it, asking for ``.html`` is refused
before any load runs (:func:`require_plotly`).

The page holds, for every run of the report (both runs overlaid for ``compare``):

* the key figures (and for ``compare`` the before/after table, as in the Markdown);
* throughput per second; P50, P99 and mean latency per second with the SLO line when
  the preset has one; the whole run's batch-size histogram;
* small charts of every other timeline series: mean batch size, cache hit rate, queue
  depth and busy workers, RSS, errors.

Every series is the run's :class:`~clawlet_tui.timeline.Timeline`, unchanged except for
units (hit rate in %, RSS in MiB).  Alerts (``RunReport.alert_intervals``) are shaded on
every time chart.  Each chart's div has a stable id (``chart-throughput`` ...).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..engine.errors import ConfigError
from ..timeline import Timeline
from .labels import Labels
from .markdown import format_value, row_label
from .model import Report, Row, RunReport

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go

#: what to install for ``--report FILE.html``
INSTALL_HINT = "pip install 'clawlet-tui[report]'"

#: line colours by run mode (baseline grey-orange, optimized blue), as in most before/after plots
MODE_COLOURS = {"baseline": "#d9822b", "optimized": "#1f6fd1"}
ALERT_COLOUR = "#d62728"
CHART_HEIGHT_PX = 340
SMALL_CHART_HEIGHT_PX = 260

__all__ = [
    "CHART_IDS", "INSTALL_HINT", "chart_div", "chart_layout", "log_range", "escape", "html_page", "plotlyjs_version", "render_html", "require_plotly",
]


def require_plotly() -> None:
    """ConfigError (exit 2, one line) when plotly, the ``report`` extra, is not installed."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise ConfigError(
            reason=f"an .html report needs plotly, which is not installed: {INSTALL_HINT}",
            field="report", sep=None,
        ) from None


def render_html(report: Report, lang: str = "en") -> str:
    require_plotly()
    labels = Labels(lang)
    runs = report.runs
    title = _title(report, labels)
    body: list[str] = [f"<h1>{escape(title)}</h1>"]
    body += [f"<p class='note'>{escape(_note(run, labels))}</p>" for run in runs if run.interrupted]
    if report.kind == "compare":
        body += [f"<h2>{escape(labels.section('comparison'))}</h2>", _comparison_table(report, labels)]
    body += [f"<h2>{escape(labels.text('key_figures'))}</h2>", _summary_table(runs, labels)]
    body += [f"<h2>{escape(labels.text('charts'))}</h2>"]
    if not any(len(run.timeline) for run in runs):
        body.append(f"<p class='note'>{escape(labels.text('no_timeline'))}</p>")
    else:
        body.append(f"<p class='small'>{escape(labels.text('timeline_note'))}</p>")
    body += [chart_div(figure, chart_id, CHART_HEIGHT_PX) for chart_id, figure in _main_charts(runs, labels)]
    body.append("<div class='grid'>")
    body += [chart_div(figure, chart_id, SMALL_CHART_HEIGHT_PX) for chart_id, figure in _small_charts(runs, labels)]
    body.append("</div>")
    body.append(f"<p class='small'>{escape(labels.text('offline_note').format(plotlyjs_version()))}</p>")
    return html_page(title, body, lang)


def html_page(title: str, body: Sequence[str], lang: str = "en") -> str:
    """A whole page around ``body`` (HTML fragments), with plotly.js inlined in its head."""
    import plotly.offline

    return _PAGE.format(lang=escape(lang), title=escape(title), plotlyjs=plotly.offline.get_plotlyjs(), body="\n".join(body))


# -- tables ---------------------------------------------------------------------------------


def _title(report: Report, labels: Labels) -> str:
    if report.kind == "compare":
        return f"{labels.text('compare_title')}: {report.runs[-1].preset}"
    run = report.runs[0]
    return f"{labels.text('title')}: {run.preset} ({labels.mode(run.mode)})"


def _note(run: RunReport, labels: Labels) -> str:
    configuration = run.section("configuration")
    in_flight = next((r.value for r in configuration if r.key == "in_flight_at_interrupt"), 0)
    signal = next((r.value for r in configuration if r.key == "interrupt_signal"), None)
    key = "terminated_note" if signal == "SIGTERM" else "interrupted_note"
    return f"{labels.mode(run.mode)}: " + labels.text(key).format(in_flight)


def _comparison_table(report: Report, labels: Labels) -> str:
    header = (labels.text("metric"), labels.text("before"), labels.text("after"), labels.text("change"))
    body = [
        (labels.metric(row.key), format_value(row.before, row.unit, labels),
         format_value(row.after, row.unit, labels), row.change)
        for row in report.comparison
    ]
    return _table(header, body, table_id="comparison")


def _summary_table(runs: Sequence[RunReport], labels: Labels) -> str:
    columns = [run.section("summary").rows for run in runs]
    header = (labels.text("metric"), *(labels.mode(run.mode) for run in runs))
    by_metric = [{row.metric: row for row in rows} for rows in columns]
    body = []
    for row in columns[0]:
        cells = [_cell(other.get(row.metric), labels) for other in by_metric]
        body.append((row_label(row, labels), *cells))
    return _table(header, body, table_id="key-figures")


def _cell(row: Row | None, labels: Labels) -> str:
    return "-" if row is None else format_value(row.value, row.unit, labels)


def _table(header: Sequence[str], body: Sequence[Sequence[str]], *, table_id: str) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    rows = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>" for cells in body)
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


# -- charts ---------------------------------------------------------------------------------

#: every chart's div id, in page order
CHART_IDS = (
    "chart-throughput", "chart-latency", "chart-batch-sizes",
    "chart-mean-batch", "chart-hit-rate", "chart-queue", "chart-rss", "chart-errors",
)

_MIB = float(1 << 20)


def _main_charts(runs: Sequence[RunReport], labels: Labels) -> list[tuple[str, go.Figure]]:
    import plotly.graph_objects as go

    several = len(runs) > 1
    throughput = _time_figure(labels.text("chart_throughput"), "req/s", labels)
    # log axes: P50 and P99 (and a baseline beside an optimized run) are often decades apart,
    # and batch counts of the common size dwarf the rest
    latency = _time_figure(labels.text("chart_latency"), "ms", labels, log=True)
    batches = go.Figure(layout=chart_layout(labels.text("chart_batch_sizes"), labels.text("axis_batches"), log=True))
    # one bar per size that ran (a category axis: no half sizes between the bars)
    batches.update_layout(barmode="group", xaxis={"title": {"text": labels.text("axis_batch_size")}, "type": "category"})
    for run in runs:
        t, colour, prefix = _t(run.timeline), MODE_COLOURS.get(run.mode), _prefix(run, labels, several)
        throughput.add_trace(go.Scatter(
            x=t, y=list(run.timeline.column("throughput_rps")), name=f"{prefix}req/s", mode="lines",
            line={"color": colour, "width": 2},
        ))
        for name, dash, width in (("p99_ms", "solid", 2), ("p50_ms", "dot", 2), ("mean_ms", "dash", 1)):
            latency.add_trace(go.Scatter(
                x=t, y=list(run.timeline.column(name)), name=f"{prefix}{name.removesuffix('_ms').upper()}",
                mode="lines", line={"color": colour, "dash": dash, "width": width},
            ))
        sizes = run.section("batcher").value("size_histogram")
        pairs = sizes if isinstance(sizes, tuple) else ()
        batches.add_trace(go.Bar(
            x=[size for size, _ in pairs], y=[count for _, count in pairs], name=labels.mode(run.mode),
            marker_color=colour, showlegend=several,
        ))
    slo = next((run.slo_p99_ms for run in runs if run.slo_p99_ms is not None), None)
    times = [point.t_s for run in runs for point in run.timeline]
    if slo is not None and times:
        # a trace, not a shape: it is named in the legend and shows in the hover
        latency.add_trace(go.Scatter(
            x=[min(times), max(times)], y=[slo, slo], mode="lines", hoverinfo="name",
            name=labels.text("slo_line").format(format_value(slo, "", labels)),
            line={"color": ALERT_COLOUR, "dash": "dash", "width": 1.5},
        ))
    latency.update_yaxes(range=log_range([
        *(v for run in runs for name in ("p50_ms", "p99_ms", "mean_ms") for v in run.timeline.column(name)),
        *(() if slo is None else (slo,)),
    ]))
    counts = [count for trace in batches.data for count in trace.y]
    batches.update_yaxes(range=log_range([0.7, *counts]))  # a bar of 1 batch still shows
    for figure in (throughput, latency):
        _shade_alerts(figure, runs, annotate=True)
    return [("chart-throughput", throughput), ("chart-latency", latency), ("chart-batch-sizes", batches)]


def _small_charts(runs: Sequence[RunReport], labels: Labels) -> list[tuple[str, go.Figure]]:
    import plotly.graph_objects as go

    several = len(runs) > 1
    specs: tuple[tuple[str, str, str, tuple[tuple[str, str, Callable[[Any], Any]], ...]], ...] = (
        ("chart-mean-batch", "chart_mean_batch", "requests", (("mean_batch_size", "", _same),)),
        ("chart-hit-rate", "chart_hit_rate", "%", (("hit_rate", "", _percent),)),
        ("chart-queue", "chart_queue", "requests",
         (("queue_depth", labels.text("series_queue"), _same), ("busy", labels.text("series_busy"), _same))),
        ("chart-rss", "chart_rss", "MiB", (("rss_bytes", "", _mib),)),
        ("chart-errors", "chart_errors", "req/s", (("errors", "", _same),)),
    )
    charts = []
    for chart_id, title_key, unit, series in specs:
        figure = _time_figure(labels.text(title_key), unit, labels)
        for run in runs:
            t, colour, prefix = _t(run.timeline), MODE_COLOURS.get(run.mode), _prefix(run, labels, several)
            for number, (name, word, convert) in enumerate(series):
                figure.add_trace(go.Scatter(
                    x=t, y=[convert(v) for v in run.timeline.column(name)],
                    name=f"{prefix}{word}".strip() or labels.mode(run.mode), mode="lines",
                    line={"color": colour, "dash": "dot" if number else "solid", "width": 1.5},
                    showlegend=several or len(series) > 1,
                ))
        _shade_alerts(figure, runs, annotate=False)
        charts.append((chart_id, figure))
    return charts


def _time_figure(title: str, unit: str, labels: Labels, *, log: bool = False) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure(layout=chart_layout(title, unit, log=log))
    figure.update_layout(xaxis_title=labels.text("axis_time"), hovermode="x unified")
    return figure


def chart_layout(title: str, y_title: str, *, log: bool = False) -> dict[str, Any]:
    y_axis: dict[str, Any] = (
        {"title": {"text": f"{y_title} (log)"}, "type": "log"} if log
        else {"title": {"text": y_title}, "rangemode": "tozero"}
    )
    return {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}},
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
        "yaxis": y_axis,
        "legend": {"orientation": "h", "y": -0.25},
    }


def _shade_alerts(figure: go.Figure, runs: Sequence[RunReport], *, annotate: bool) -> None:
    for run in runs:
        end_of_run = run.timeline.points[-1].t_s if len(run.timeline) else None
        for alert in run.alert_intervals:
            end = alert.end_s if alert.end_s is not None else end_of_run
            if end is None:
                continue
            label: dict[str, Any] = (
                {"annotation_text": alert.name, "annotation_position": "top left"} if annotate else {}
            )
            figure.add_vrect(
                x0=alert.start_s, x1=end, fillcolor=ALERT_COLOUR, opacity=0.12, line_width=0, layer="below", **label
            )


def log_range(values: Sequence[Any]) -> list[float] | None:
    """A log axis' range (log10 units) around the positive values, a little wider on each
    side; set by hand because plotly's autorange on a log axis runs away when shapes
    (the SLO line, alert bands) are on the chart."""
    positive = [float(v) for v in values if v is not None and v > 0]
    if not positive:
        return None
    return [math.log10(min(positive)) - 0.15, math.log10(max(positive)) + 0.15]


def _t(timeline: Timeline) -> list[Any]:
    return list(timeline.column("t_s"))


def _prefix(run: RunReport, labels: Labels, several: bool) -> str:
    return f"{labels.mode(run.mode)} " if several else ""


def _same(value: Any) -> Any:
    return value


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def _mib(value: int) -> float:
    return value / _MIB


def chart_div(figure: go.Figure, chart_id: str, height_px: int = CHART_HEIGHT_PX) -> str:
    """One chart as a div and the script that draws it (plotly.js comes from the page's head)."""
    import plotly.io

    return str(plotly.io.to_html(
        figure, full_html=False, include_plotlyjs=False, div_id=chart_id,
        default_height=f"{height_px}px", config={"displaylogo": False, "responsive": True},
    ))


def plotlyjs_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1320px;
       padding: 0 16px; color: #1d2330; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ border-bottom: 1px solid #d8dde6; padding: 4px 14px 4px 0; text-align: left; }}
td + td, th + th {{ text-align: right; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 4px 16px; }}
.note {{ background: #fff4e0; padding: 6px 10px; }}
.small {{ font-size: 12px; color: #5b6475; }}
</style>
<script type="text/javascript">{plotlyjs}</script>
</head>
<body>
{body}
</body>
</html>
"""
