from __future__ import annotations

import dataclasses

import pytest

from clawlet_tui.report.model import (
    RUN_SECTIONS,
    ComparisonRow,
    build_compare_report,
    build_run_report,
)


def test_run_report_has_every_section_in_order(optimized_result):
    report = build_run_report(optimized_result)
    assert report.kind == "run"
    assert [s.key for s in report.runs[0].sections] == list(RUN_SECTIONS)


def test_summary_figures_come_from_the_snapshot(optimized_result):
    summary = build_run_report(optimized_result).runs[0].section("summary")
    snap = optimized_result.snapshot
    assert summary.value("throughput") == snap.total_throughput_rps
    assert summary.value("success_rate") == pytest.approx(99.0)
    assert summary.value("mean_latency") == 7.79
    assert summary.value("p50_latency") == 10.33
    assert summary.value("p99_latency") == 10.43
    assert summary.value("batches") == 250
    assert summary.value("mean_batch_size") == 4.0
    assert summary.value("cache_size") == 35
    assert summary.value("memory_rss") == 150 * 1024 * 1024
    assert summary.value("memory_usage") == pytest.approx(50.0)
    assert summary.get("throughput").unit == "req/s"


def test_component_tables(optimized_result):
    run = build_run_report(optimized_result).runs[0]
    batcher = run.section("batcher")
    assert batcher.value("size_histogram") == ((1, 10), (2, 20), (4, 220))
    assert batcher.value("queue_wait_p99") == 4.5
    assert batcher.value("compute_mean") == 5.8
    cache = run.section("cache")
    assert cache.value("l1_hits") == 400
    assert cache.value("l1_hit_rate") == pytest.approx(40.0)
    assert cache.value("cache_hit_rate") == pytest.approx(42.0)
    assert cache.value("inflight_joins") == 12
    assert cache.value("l2_volume") == 204800
    memory = run.section("memory")
    assert memory.value("gc_triggers") == 3
    assert memory.value("memory_threshold") == pytest.approx(70.0)
    assert memory.value("memory_freed") == 4 * 1024 * 1024
    concurrency = run.section("concurrency")
    assert (concurrency.value("max_concurrent"), concurrency.value("peak_busy")) == (2, 2)
    assert concurrency.value("completed_batches") == 250
    monitor = run.section("monitor")
    assert monitor.value("window_throughput") == 101.5
    assert monitor.value("throughput") == 128.08
    outcomes = run.section("outcomes")
    assert outcomes.value("submitted") == 1000
    assert outcomes.value("errors_by_kind.BackendError") == 6
    assert outcomes.value("errors_by_kind.RejectedError") == 3
    assert outcomes.value("in_flight") == 0


def test_configuration_and_engine_config(optimized_result):
    run = build_run_report(optimized_result).runs[0]
    conf = run.section("configuration")
    assert conf.value("preset") == "steady"
    assert conf.value("requests") == 1000
    assert conf.value("duration") == 10.0
    assert conf.value("load_shape").startswith("open loop")
    assert conf.value("cpu").startswith("Intel")
    assert conf.value("cores") == 2
    assert conf.value("interrupted") is False
    with pytest.raises(KeyError):
        conf.get("in_flight_at_interrupt")
    engine = run.section("engine_config")
    fields = [f.name for f in dataclasses.fields(optimized_result.snapshot.config)]
    assert [row.arg for row in engine] == fields
    assert engine.value("config.max_concurrent") == 2
    assert engine.get("config.batch_timeout_s").unit == "s"


def test_interrupted_run_records_in_flight(factory):
    result = factory.result(factory.optimized(), interrupted=True, in_flight_at_interrupt=17)
    run = build_run_report(result).runs[0]
    assert run.interrupted
    assert run.section("configuration").value("in_flight_at_interrupt") == 17


def test_missing_load_stats_fall_back_to_snapshot(factory):
    result = factory.result(factory.optimized(), load_stats=None)
    conf = build_run_report(result).runs[0].section("configuration")
    assert conf.value("requests") == 1000
    assert conf.value("duration") == 10.5


def test_comparison_rows(baseline_result, optimized_result):
    report = build_compare_report(baseline_result, optimized_result)
    assert [r.mode for r in report.runs] == ["baseline", "optimized"]
    rows = {row.key: row for row in report.comparison}
    assert rows["throughput"].change == "12.8x"
    assert rows["mean_latency"].change == "-92%"
    assert rows["success_rate"].change == "+4.0 pp"
    assert rows["max_concurrent"].change == "2.00x"
    assert rows["cache_hit_rate"].before == 0.0
    assert rows["cache_hit_rate"].change == "+42.0 pp"
    assert rows["mean_batch_size"].change == "4.00x"
    assert set(rows) >= {"p50_latency", "p99_latency", "peak_busy"}


@pytest.mark.parametrize(
    ("before", "after", "kind", "expected"),
    [
        (10.0, 128.0, "ratio", "12.8x"),
        (2.0, 3.0, "ratio", "1.50x"),
        (0.0, 5.0, "ratio", "n/a"),
        (0.0, 0.0, "ratio", "-"),
        (100.0, 7.79, "percent", "-92%"),
        (10.0, 15.0, "percent", "+50%"),
        (95.0, 100.0, "points", "+5.0 pp"),
        (100.0, 97.5, "points", "-2.5 pp"),
    ],
)
def test_change_formats(before, after, kind, expected):
    row = ComparisonRow("x", "", before, after, kind)
    assert row.change == expected
    assert row.ratio == (after / before if before else None)


def test_preset_objective_is_checked_against_measured_p99(factory):
    met = build_run_report(factory.result(factory.optimized(), slo_p99_ms=50.0)).runs[0].section("summary")
    assert (met.value("slo_p99"), met.value("slo_met")) == (50.0, True)
    missed = build_run_report(factory.result(factory.optimized(), slo_p99_ms=10.0)).runs[0].section("summary")
    assert missed.value("slo_met") is False
    plain = build_run_report(factory.result(factory.optimized())).runs[0].section("summary")
    assert "slo_p99" not in [row.key for row in plain]


def test_each_model_server_has_its_rows_in_the_concurrency_section(factory):
    from clawlet_tui.engine.snapshot import BackendServerStats
    from clawlet_tui.report import render_markdown

    servers = (
        BackendServerStats(url="http://10.0.0.1:8000", in_flight=0, limit=8, batches=300, errors=0),
        BackendServerStats(url="http://10.0.0.2:8000", limit=8, batches=12, errors=5, retried=4, ejected=True, ejections=1),
    )
    result = factory.result(dataclasses.replace(factory.optimized(), backends=servers))
    concurrency = build_run_report(result).runs[0].section("concurrency")
    assert concurrency.value("backend_batches.http://10.0.0.1:8000") == 300
    assert concurrency.value("backend_errors.http://10.0.0.2:8000") == 5
    assert concurrency.value("backend_retried.http://10.0.0.2:8000") == 4
    assert concurrency.value("backend_ejected.http://10.0.0.2:8000") is True
    assert concurrency.value("backend_ejections.http://10.0.0.2:8000") == 1
    markdown = render_markdown(build_run_report(result), "en")
    # one table line per server
    assert "| Model server | Batches | Failed | Retried elsewhere | In flight at end | Out of rotation at end |" in markdown
    assert "| `http://10.0.0.1:8000` | 300 | 0 | 0 | 0 | no | 0 |" in markdown
    assert "| `http://10.0.0.2:8000` | 12 | 5 | 4 | 0 | yes | 1 |" in markdown
    assert "Batches sent to" not in markdown
    # without several servers the section is as before
    plain = build_run_report(factory.result(factory.optimized())).runs[0].section("concurrency")
    assert not [row for row in plain if row.key.startswith("backend_")]


def test_alerts_that_fired_become_the_html_reports_shaded_intervals(factory):
    """Each alert of the run is one interval on the timeline's clock (engine uptime);
    one still firing at the end has no end."""
    from clawlet_tui.engine.alerts import AlertEvent, AlertRule
    from clawlet_tui.report.model import run_report
    from clawlet_tui.timeline import AlertInterval

    rule = AlertRule("p99_ms", above=50.0, for_s=5.0)
    resolved = AlertEvent(rule, fired_at_s=3.0, fired_value=61.0, peak=80.0, resolved_at_s=9.5, resolved_value=40.0)
    firing = AlertEvent(rule, fired_at_s=12.0, fired_value=70.0, peak=70.0)
    report = run_report(factory.result(factory.optimized(), alerts=(resolved, firing), alert_rules=(rule,)))
    assert report.alert_intervals == (
        AlertInterval("p99_ms > 50 ms for 5 s", 3.0, 9.5),
        AlertInterval("p99_ms > 50 ms for 5 s", 12.0, None),
    )
