"""The HTML report: every timeline series is in a chart, nothing is fetched from the network,
and (where chromium is installed) a real browser draws the charts."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.report import build_compare_report, build_run_report, format_for_path, save_report
from clawlet_tui.report.html import CHART_IDS, INSTALL_HINT, render_html
from clawlet_tui.timeline import TIMELINE_FIELDS, AlertInterval, Timeline, TimelinePoint

pytest.importorskip("plotly")

#: where each timeline field is drawn, and how the chart's unit converts it
CHARTED = {
    "throughput_rps": ("chart-throughput", lambda v: v),
    "p50_ms": ("chart-latency", lambda v: v),
    "p99_ms": ("chart-latency", lambda v: v),
    "mean_ms": ("chart-latency", lambda v: v),
    "mean_batch_size": ("chart-mean-batch", lambda v: v),
    "hit_rate": ("chart-hit-rate", lambda v: None if v is None else v * 100.0),
    "queue_depth": ("chart-queue", lambda v: v),
    "busy": ("chart-queue", lambda v: v),
    "rss_bytes": ("chart-rss", lambda v: v / 2**20),
    "errors": ("chart-errors", lambda v: v),
}


def timeline(scale: float, seconds: int = 4) -> Timeline:
    """Distinct values per field and second, so a series found in a chart is that series."""
    return Timeline(tuple(
        TimelinePoint(
            t_s=float(t), throughput_rps=100.0 * scale + t, p50_ms=1.0 * scale + t / 100, p99_ms=5.0 * scale + t / 10,
            mean_ms=2.0 * scale + t / 50, mean_batch_size=3.0 * scale + t / 1000, errors=t, hit_rate=None if t == 1 else t / 10,
            queue_depth=10 * t, busy=t % 2, rss_bytes=(64 + t) * 2**20,
        )
        for t in range(1, seconds + 1)
    ))


def figures(page: str) -> dict[str, list[dict]]:
    """Each chart's traces, read back from its ``Plotly.newPlot("id", data, layout)`` call."""
    decoder = json.JSONDecoder()
    found = {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([\w-]+)",\s*', page):
        data, _ = decoder.raw_decode(page, match.end())
        found[match.group(1)] = data
    return found


def layout(page: str, chart_id: str) -> dict:
    decoder = json.JSONDecoder()
    match = re.search(rf'Plotly\.newPlot\(\s*"{chart_id}",\s*', page)
    assert match is not None
    _, end = decoder.raw_decode(page, match.end())
    return decoder.raw_decode(page, page.index("{", end))[0]


@pytest.fixture
def run_page(factory):
    result = factory.result(factory.optimized(), timeline=timeline(1.0), slo_p99_ms=8.0)
    return result, render_html(build_run_report(result))


def test_every_timeline_series_is_in_its_chart(run_page):
    result, page = run_page
    charts = figures(page)
    assert list(charts) == list(CHART_IDS)
    assert set(CHARTED) | {"t_s"} == set(TIMELINE_FIELDS)  # a new field must be charted here too
    for field, (chart_id, convert) in CHARTED.items():
        expected = [convert(v) for v in result.timeline.column(field)]
        ys = [trace["y"] for trace in charts[chart_id]]
        assert any(y == pytest.approx(expected) if None not in expected else y == expected for y in ys), field
        for trace in charts[chart_id]:
            if not trace["name"].startswith("SLO"):
                assert trace["x"] == list(result.timeline.column("t_s"))


def test_latency_chart_has_the_slo_line_and_the_histogram_the_batch_sizes(run_page):
    result, page = run_page
    charts = figures(page)
    slo = [t for t in charts["chart-latency"] if t["name"].startswith("SLO")]
    assert len(slo) == 1 and slo[0]["y"] == [8.0, 8.0] and slo[0]["x"] == [1.0, 4.0]
    (bars,) = charts["chart-batch-sizes"]
    assert list(zip(bars["x"], bars["y"])) == list(result.snapshot.batches.size_histogram)


def test_alerts_are_shaded_on_every_time_chart(factory):
    result = factory.result(factory.optimized(), timeline=timeline(1.0))
    report = build_run_report(result)
    run = dataclasses.replace(
        report.runs[0], alert_intervals=(AlertInterval("p99_ms above 5", 2.0, 3.0), AlertInterval("queue", 3.0, None)),
    )
    page = render_html(dataclasses.replace(report, runs=(run,)))
    for chart_id in (c for c in CHART_IDS if c != "chart-batch-sizes"):
        bands = [(s["x0"], s["x1"]) for s in layout(page, chart_id).get("shapes", []) if s["type"] == "rect"]
        assert bands == [(2.0, 3.0), (3.0, 4.0)], chart_id  # one still firing ends with the run
    notes = [a["text"] for a in layout(page, "chart-throughput").get("annotations", [])]
    assert notes == ["p99_ms above 5", "queue"]


def test_compare_overlays_both_runs_and_has_the_before_after_table(factory):
    baseline = factory.result(factory.baseline(), timeline=timeline(10.0, seconds=6))
    optimized = factory.result(factory.optimized(), timeline=timeline(1.0))
    report = build_compare_report(baseline, optimized)
    page = render_html(report, "zh")
    throughput = figures(page)["chart-throughput"]
    assert [t["name"] for t in throughput] == ["优化前 req/s", "优化版 req/s"]
    assert throughput[0]["y"] == list(baseline.timeline.column("throughput_rps"))
    assert throughput[1]["y"] == list(optimized.timeline.column("throughput_rps"))
    table = page[page.index("<table id='comparison'>"):]
    table = table[: table.index("</table>")]
    assert "<th>优化前</th><th>优化后</th><th>提升</th>" in table
    assert table.count("<tr>") == 1 + len(report.comparison)  # header and every before/after row
    assert "12.8x" in table  # throughput 10.0 -> 128.08


def test_the_page_loads_nothing_from_the_network(run_page):
    _, page = run_page
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page, re.I)
    assert page.count("<script") >= 1 + len(CHART_IDS)  # plotly.js inline, one call per chart


def test_a_run_without_a_finished_second_says_so(factory):
    page = render_html(build_run_report(factory.result(factory.optimized())))
    assert "less than one second" in page


def test_text_is_escaped(factory):
    result = factory.result(factory.optimized(), preset="<b>&x</b>", timeline=timeline(1.0))
    page = render_html(build_run_report(result))
    assert "<b>&x</b>" not in page and "&lt;b&gt;&amp;x&lt;/b&gt;" in page


def test_html_without_plotly_is_one_line_naming_the_extra(monkeypatch, tmp_path, factory):
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly raises ImportError
    with pytest.raises(ConfigError) as caught:
        format_for_path(tmp_path / "r.html")
    assert str(caught.value) == f"an .html report needs plotly, which is not installed: {INSTALL_HINT}"
    assert caught.value.exit_code == 2
    with pytest.raises(ConfigError):
        save_report(tmp_path / "r.html", build_run_report(factory.result(factory.optimized())))
    assert list(tmp_path.iterdir()) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_draws_every_chart_offline(tmp_path, factory):
    """The page as a browser renders it, with every network request sent to a dead proxy."""
    baseline = factory.result(factory.baseline(), timeline=timeline(10.0, seconds=6), slo_p99_ms=8.0)
    optimized = factory.result(factory.optimized(), timeline=timeline(1.0), slo_p99_ms=8.0)
    path = save_report(tmp_path / "compare.html", build_compare_report(baseline, optimized))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=http://127.0.0.1:9",
         "--virtual-time-budget=10000", "--window-size=1400,2000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    starts = [dom.index(f'<div id="{chart_id}"') for chart_id in CHART_IDS]
    for chart_id, start, end in zip(CHART_IDS, starts, [*starts[1:], len(dom)]):
        chart = dom[start:end]
        assert 'class="main-svg"' in chart, chart_id  # plotly drew an SVG here
        if chart_id == "chart-batch-sizes":
            assert len(re.findall(r'class="point"><path d="M[\d.]+,[\d.]+V', chart)) == 3 + 1, chart_id  # the bars
        else:  # a line through the seconds (plotly drops the points on a straight stretch)
            assert re.search(r'class="js-line" d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+', chart), chart_id
