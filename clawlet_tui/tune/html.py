"""``tune --report FILE.html``: the trials as a throughput / P99 scatter with the SLO line.

Why a chart: a tuning session is a trade-off between throughput and tail latency, and
the scatter shows at once which configs met the SLO, where the Pareto front lies and
which config was chosen.  It uses the run report's page and plotly set-up
(:mod:`clawlet_tui.report.html`: one file, plotly.js inlined, no network); the trials
table below it holds the same figures as the Markdown report.
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
from .output import KEPT_START, front, improvement
from .space import describe_point
from .tuner import TuneResult

#: the scatter's div id
TRIALS_CHART_ID = "chart-trials"


def render_html(result: TuneResult) -> str:
    require_plotly()
    import plotly.graph_objects as go

    r = result
    chosen = r.best_point
    figure = go.Figure(layout=chart_layout("Trials: throughput against P99", "P99 ms", log=True))
    figure.update_layout(xaxis={"title": {"text": "throughput (req/s)"}}, hovermode="closest")
    groups = (
        ("met the SLO", "#1f6fd1", [t for t in r.trials if t.meets_slo]),
        ("missed the SLO", "#9aa3b2", [t for t in r.trials if not t.meets_slo]),
    )
    for name, colour, trials in groups:
        figure.add_trace(go.Scatter(
            x=[t.measurement.throughput_rps for t in trials], y=[t.measurement.p99_ms for t in trials],
            mode="markers", name=name, marker={"color": colour, "size": 9},
            text=[f"#{t.number} {t.role}: {describe_point(t.point)}" for t in trials],
            hovertemplate="%{text}<br>%{x:.1f} req/s, P99 %{y:.2f} ms<extra></extra>",
        ))
    points = sorted(front(r), key=lambda f: f.estimate.throughput_rps)
    figure.add_trace(go.Scatter(
        x=[f.estimate.throughput_rps for f in points], y=[f.estimate.p99_ms for f in points],
        mode="lines+markers", name="Pareto front", line={"color": "#1d2330", "width": 1, "dash": "dot"},
        marker={"symbol": "circle-open", "size": 14, "color": "#1d2330"}, hoverinfo="skip",
    ))
    if chosen is not None and r.best_estimate is not None:
        figure.add_trace(go.Scatter(
            x=[r.best_estimate.throughput_rps], y=[r.best_estimate.p99_ms], mode="markers", name="chosen",
            marker={"symbol": "star", "size": 18, "color": "#2ca02c", "line": {"width": 1, "color": "#1d2330"}},
            text=[describe_point(chosen)], hovertemplate="chosen: %{text}<extra></extra>",
        ))
    throughputs = [t.measurement.throughput_rps for t in r.trials]
    if throughputs:
        figure.add_trace(go.Scatter(
            x=[min(throughputs), max(throughputs)], y=[r.objective.slo_p99_ms] * 2, mode="lines",
            name=f"SLO: P99 {r.objective.slo_p99_ms:g} ms", line={"color": ALERT_COLOUR, "dash": "dash", "width": 1.5},
            hoverinfo="name",
        ))
    figure.update_yaxes(range=log_range([*(t.measurement.p99_ms for t in r.trials), r.objective.slo_p99_ms]))

    verdict = (
        "No config met the SLO." if chosen is None
        else KEPT_START + "." if r.kept_start
        else f"Chosen: {describe_point(chosen)}; against the start config: {improvement(r)}."
    )
    title = f"Tuning report: {r.preset.name}"
    rows = "".join(
        f"<tr><td>{t.number}</td><td>{escape(t.role)}</td><td>{escape(describe_point(t.point))}</td>"
        f"<td>{t.measurement.throughput_rps:.1f}</td><td>{t.measurement.p50_ms:.2f}</td>"
        f"<td>{t.measurement.p99_ms:.2f}</td><td>{t.measurement.success * 100:.1f}%</td>"
        f"<td>{'yes' if t.meets_slo else 'no'}</td></tr>"
        for t in r.trials
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(r.objective.describe())}. Load: {escape(r.load_description)}. "
        f"{len(r.trials)} trials in {r.wall_s:.1f} s.</p>",
        f"<p><b>{escape(verdict)}</b></p>",
        chart_div(figure, TRIALS_CHART_ID, 520),
        "<h2>Trials</h2>",
        "<table id='trials'><thead><tr><th>#</th><th>role</th><th>config</th><th>throughput (req/s)</th>"
        f"<th>P50 (ms)</th><th>P99 (ms)</th><th>success</th><th>SLO met</th></tr></thead><tbody>{rows}</tbody></table>",
        f"<p class='small'>Charts drawn with plotly.js {escape(plotlyjs_version())} "
        "(inlined: this file loads nothing from the network).</p>",
    ]
    return html_page(title, body)
