"""``capacity --report FILE.html``: the curve rate -> P50 / P99 with the SLO line.

Why a chart: the capacity is where the P99 curve crosses the SLO, and the chart shows how
sharply it bends there (a knee means the config saturates; a slope means it degrades
gradually), which the table says only row by row.  It uses the run report's page and
plotly set-up (:mod:`clawlet_tui.report.html`: one file, plotly.js inlined, no network);
the steps table below it holds the same figures as the Markdown report.
"""

from __future__ import annotations

from ..report.html import (
    ALERT_COLOUR,
    chart_div,
    chart_layout,
    escape,
    html_page,
    log_range,
    plotlyjs_version,
    require_plotly,
)
from .capacity import RateStep
from .capacity_live import CapacityResult, RateMeasurement
from .capacity_report import verdict

#: the curve's div id
CURVE_CHART_ID = "chart-capacity"
#: the steps table's columns (as the terminal's table)
STEP_COLUMNS = ("#", "role", "rate req/s", "sent req/s", "throughput req/s", "P50 ms", "P99 ms", "success", "result")


def _cells(step: RateStep) -> tuple[str, ...]:
    m = step.measured
    offered = m.offered_rps if isinstance(m, RateMeasurement) else step.rate_rps
    return (
        str(step.number), step.role, f"{step.rate_rps:g}", f"{offered:.1f}", f"{m.throughput_rps:.1f}",
        f"{float(getattr(m, 'p50_ms', 0.0)):.2f}", f"{m.p99_ms:.2f}", f"{m.success * 100:.2f}%",
        "pass" if step.passed else f"FAIL: {step.failure}",
    )


def _last_by_rate(result: CapacityResult) -> list[RateStep]:
    """The last measurement of each rate, by rate (what the printed curve shows)."""
    by_rate: dict[float, RateStep] = {}
    for step in result.search.steps:
        by_rate[step.rate_rps] = step
    return [by_rate[rate] for rate in sorted(by_rate)]


def render_html(result: CapacityResult) -> str:
    require_plotly()
    import plotly.graph_objects as go

    curve = _last_by_rate(result)
    slo = result.target.slo_p99_ms
    figure = go.Figure(layout=chart_layout("P50 and P99 by offered rate", "ms", log=True))
    figure.update_layout(xaxis={"title": {"text": "offered rate (req/s)"}}, hovermode="closest")
    rates = [step.rate_rps for step in curve]
    for name, values, dash in (
        ("P99", [step.measured.p99_ms for step in curve], "solid"),
        ("P50", [float(getattr(step.measured, "p50_ms", 0.0)) for step in curve], "dot"),
    ):
        figure.add_trace(go.Scatter(
            x=rates, y=values, mode="lines+markers", name=name, line={"color": "#1f6fd1", "dash": dash},
            hovertemplate=f"%{{x:g}} req/s: {name} %{{y:.2f}} ms<extra></extra>",
        ))
    failed = [step for step in curve if not step.passed]
    figure.add_trace(go.Scatter(
        x=[step.rate_rps for step in failed], y=[step.measured.p99_ms for step in failed], mode="markers",
        name="failed", marker={"symbol": "x", "size": 12, "color": ALERT_COLOUR},
        text=[step.failure for step in failed], hovertemplate="%{x:g} req/s: %{text}<extra></extra>",
    ))
    if result.search.capacity_rps is not None:
        figure.add_vline(x=result.search.capacity_rps, line={"color": "#2ca02c", "width": 1.5},
                         annotation_text=f"capacity {result.search.capacity_rps:g} req/s")
    if rates:
        figure.add_trace(go.Scatter(
            x=[min(rates), max(rates)], y=[slo, slo], mode="lines", name=f"SLO: P99 {slo:g} ms",
            line={"color": ALERT_COLOUR, "dash": "dash", "width": 1.5}, hoverinfo="name",
        ))
    p50s = [float(getattr(step.measured, "p50_ms", 0.0)) for step in curve]
    figure.update_yaxes(range=log_range([*(step.measured.p99_ms for step in curve), *p50s, slo]))

    title = f"Capacity report: {result.preset.name}"
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in _cells(step)) + "</tr>" for step in result.search.steps
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(result.target.describe())}. Load: {escape(result.load_description)}. "
        f"{len(result.search.steps)} steps in {result.wall_s:.1f} s.</p>",
        f"<p><b>{escape(verdict(result))}</b></p>",
        chart_div(figure, CURVE_CHART_ID, 480),
        "<h2>Steps</h2>",
        "<table id='steps'><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in STEP_COLUMNS)
        + f"</tr></thead><tbody>{rows}</tbody></table>",
        f"<p class='small'>Charts drawn with plotly.js {escape(plotlyjs_version())} "
        "(inlined: this file loads nothing from the network).</p>",
    ]
    return html_page(title, body)
