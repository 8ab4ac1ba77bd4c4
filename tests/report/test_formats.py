from __future__ import annotations

import csv
import io
import json

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.report import (
    build_compare_report,
    build_run_report,
    format_for_path,
    render,
    render_csv,
    render_json,
    render_markdown,
    save_report,
    write_report,
)
from clawlet_tui.report.markdown import format_bytes, format_number

# -- markdown -------------------------------------------------------------------------------


def test_markdown_run_report_en(optimized_result):
    text = render_markdown(build_run_report(optimized_result), "en")
    for heading in (
        "# clawlet-tui report: steady (optimized)",
        "## Test results",
        "### 1. Dynamic batcher",
        "### 2. Multi-level cache",
        "### 3. Memory optimizer",
        "### 4. Concurrency controller",
        "### 5. Connection pool",
        "### 6. Performance monitor",
        "### 7. Request outcomes",
        "## Test configuration",
        "### Engine configuration",
    ):
        assert heading + "\n" in text
    assert "| Throughput | 128.08 req/s |" in text
    assert "| Success rate | 99.0% |" in text
    assert "| Mean latency | 7.79 ms |" in text
    assert "| P99 latency | 10.43 ms |" in text
    assert "| Batches | 250 |" in text
    assert "| Cache size (L1) | 35 entries |" in text
    assert "| Memory (RSS) | 150.0 MiB |" in text
    assert "| Batch sizes (size x count) | 1×10, 2×20, 4×220 |" in text
    assert "| Errors: BackendError | 6 |" in text
    assert "| `batch_size` | 4 |" in text
    assert "| CPU | Intel(R) Xeon(R) CPU @ 2.20GHz |" in text
    assert "Interrupted with Ctrl+C" not in text


def test_markdown_run_report_zh(optimized_result):
    text = render_markdown(build_run_report(optimized_result), "zh")
    assert "## 性能测试结果" in text
    assert "| 指标 | 数值 |" in text
    assert "| 吞吐量 | 128.08 req/s |" in text
    assert "| 成功率 | 99.0% |" in text
    assert "| 缓存大小 | 35 条 |" in text
    for section in ("动态批处理器", "多级缓存系统", "内存优化器", "并发控制器", "性能监控器", "测试配置"):
        assert section in text
    assert "| 模式 | 优化版 |" in text


def test_markdown_interrupted_note(factory):
    result = factory.result(factory.optimized(), interrupted=True, in_flight_at_interrupt=17)
    text = render_markdown(build_run_report(result), "en")
    assert "Interrupted with Ctrl+C: 17 requests were in flight" in text
    assert "中断时有 17 个请求在处理中" in render_markdown(build_run_report(result), "zh")


def test_markdown_compare(baseline_result, optimized_result):
    report = build_compare_report(baseline_result, optimized_result)
    text = render_markdown(report, "en", detail="summary")
    assert "| Metric | Before (baseline) | After (optimized) | Change |" in text
    assert "| Throughput | 10.00 req/s | 128.08 req/s | 12.8x |" in text
    assert "| Mean latency | 100.00 ms | 7.79 ms | -92% |" in text
    assert "| Cache hit rate | 0.0% | 42.0% | +42.0 pp |" in text
    assert "## Key figures" in text
    assert "### Configuration differences" in text
    assert "| `enable_batching` | no | yes |" in text
    assert "Dynamic batcher" not in text  # summary detail: no component tables
    full = render_markdown(report, "en", detail="full")
    assert full.count("### 1. Dynamic batcher") == 2
    zh = render_markdown(report, "zh")
    assert "| 指标 | 优化前 | 优化后 | 提升 |" in zh
    assert "## 优化前后对比" in zh


def test_markdown_escapes_pipes(factory):
    result = factory.result(factory.optimized(), load_description="a | b")
    assert "| Load | a \\| b |" in render_markdown(build_run_report(result))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (150 * 1024 * 1024, "150.0 MiB"), (3 * 1024**3, "3.0 GiB")],
)
def test_format_bytes(value, expected):
    assert format_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.0, "0.00"), (7.789, "7.79"), (128.084, "128.08"), (2460.5, "2,460.5"), (0.05234, "0.0523")]
)
def test_format_number(value, expected):
    assert format_number(value) == expected


# -- json -----------------------------------------------------------------------------------


def test_json_run_report(optimized_result):
    data = json.loads(render_json(build_run_report(optimized_result), "en"))
    assert data["format"] == "clawlet-tui-report"
    assert data["kind"] == "run"
    run = data["runs"][0]
    assert run["mode"] == "optimized" and run["interrupted"] is False
    summary = run["sections"]["summary"]
    assert summary["label"] == "Test results"
    assert summary["metrics"]["throughput"] == {"label": "Throughput", "value": 128.08, "unit": "req/s"}
    assert run["sections"]["batcher"]["metrics"]["size_histogram"]["value"] == [[1, 10], [2, 20], [4, 220]]
    assert run["sections"]["outcomes"]["metrics"]["errors_by_kind.BackendError"]["value"] == 6
    assert run["sections"]["engine_config"]["metrics"]["config.request_timeout_s"]["value"] == 30.0
    assert run["sections"]["engine_config"]["metrics"]["config.pool_size"]["value"] is None


def test_json_zh_changes_labels_only(optimized_result):
    en = json.loads(render_json(build_run_report(optimized_result), "en"))
    zh = json.loads(render_json(build_run_report(optimized_result), "zh"))
    assert zh["runs"][0]["sections"]["summary"]["metrics"]["throughput"]["label"] == "吞吐量"
    strip = lambda d: {  # noqa: E731
        s: {m: (v["value"], v["unit"]) for m, v in sec["metrics"].items()} for s, sec in d["runs"][0]["sections"].items()
    }
    assert strip(en) == strip(zh)


def test_json_compare(baseline_result, optimized_result):
    data = json.loads(render_json(build_compare_report(baseline_result, optimized_result), "zh"))
    assert [r["mode"] for r in data["runs"]] == ["baseline", "optimized"]
    row = data["comparison"]["throughput"]
    assert row["label"] == "吞吐量"
    assert (row["before"], row["after"], row["change"]) == (10.0, 128.08, "12.8x")
    assert row["ratio"] == pytest.approx(12.808)
    assert data["comparison"]["cache_hit_rate"]["ratio"] is None


# -- csv ------------------------------------------------------------------------------------


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_run_report(optimized_result):
    text = render_csv(build_run_report(optimized_result))
    assert text.splitlines()[0] == "section,metric,value,unit"
    rows = _csv(text)
    index = {(r["section"], r["metric"]): (r["value"], r["unit"]) for r in rows}
    assert index[("summary", "throughput")] == ("128.08", "req/s")
    assert index[("summary", "success_rate")] == ("99.0", "%")
    assert index[("batcher", "size_histogram")] == ("1:10 2:20 4:220", "batches")
    assert index[("cache", "cache_enabled")] == ("true", "")
    assert index[("engine_config", "config.pool_size")] == ("", "")
    assert index[("configuration", "load_shape")][0].startswith("open loop, constant 100 req/s")
    sections = {r["section"] for r in rows}
    assert sections == {"summary", "warmup", "batcher", "cache", "memory", "concurrency", "pool", "monitor", "outcomes",
                        "configuration", "engine_config"}


def test_csv_compare(baseline_result, optimized_result):
    rows = _csv(render_csv(build_compare_report(baseline_result, optimized_result)))
    index = {(r["section"], r["metric"]): r["value"] for r in rows}
    assert index[("comparison", "throughput.before")] == "10.0"
    assert index[("comparison", "throughput.after")] == "128.08"
    assert index[("comparison", "throughput.change")] == "12.8x"
    assert index[("comparison", "mean_latency.change")] == "-92%"
    assert index[("baseline.summary", "throughput")] == "10.0"
    assert index[("optimized.summary", "throughput")] == "128.08"


# -- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [("r.md", "markdown"), ("R.JSON", "json"), ("x/r.csv", "csv")])
def test_format_for_path(name, fmt):
    assert format_for_path(name) == fmt


def test_unknown_extension_is_a_config_error():
    with pytest.raises(ConfigError, match="must end in .md, .json, .csv or .html"):
        format_for_path("report.txt")
    with pytest.raises(ConfigError):
        render(None, "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".md", ".json", ".csv"])
def test_save_report(tmp_path, optimized_result, suffix):
    path = save_report(tmp_path / f"report{suffix}", build_run_report(optimized_result), "zh")
    text = path.read_text(encoding="utf-8")
    assert "128.08" in text


@pytest.mark.parametrize("suffix", [".md", ".json", ".csv"])
def test_write_report_for_the_dashboard(tmp_path, factory, suffix):
    import types

    preset = types.SimpleNamespace(name="steady", description="d", load=None)
    path = write_report(tmp_path / f"export{suffix}", factory.optimized(), factory.load_stats(), preset, lang="en")
    text = path.read_text(encoding="utf-8")
    assert "steady" in text and "128.08" in text
    assert "constant 100 req/s" in text  # the load stats' description


def test_write_report_rejects_before_writing(tmp_path, factory):
    with pytest.raises(ConfigError):
        write_report(tmp_path / "x.txt", factory.optimized(), None, "steady")
    with pytest.raises(ConfigError):
        write_report(tmp_path / "x.md", factory.optimized(), None, "steady", lang="fr")
    assert list(tmp_path.iterdir()) == []


# -- batch policy, first errors, SIGTERM (issues 12 and 14) ---------------------------------


def _policy_snapshot(factory, **outcome_changes):
    import dataclasses

    from clawlet_tui.engine.snapshot import BatchStats

    snap = factory.optimized()
    batches = dataclasses.replace(
        snap.batches, policy="adaptive", dispatch_reasons=(("full", 3), ("worker_free", 200), ("teleport", 1)),
        cost_a_ms=0.52, cost_b_ms=0.11, cost_samples=40, shed=2,
    )
    assert isinstance(batches, BatchStats)
    outcomes = dataclasses.replace(snap.outcomes, **outcome_changes)
    return dataclasses.replace(snap, batches=batches, outcomes=outcomes)


FIRST = (("ValueError", "ValueError: my model broke (mymodel.py:3 in predict)"),
         ("BadOutput", "model mymodel:predict returned 1 outputs for a batch of 4"))


def test_batch_policy_and_dispatch_reasons_in_every_format(factory):
    report = build_run_report(factory.result(_policy_snapshot(factory)))
    md = render_markdown(report, "en")
    for line in ("| Batch policy | adaptive |", "| Batches sent full | 3 |",
                 "| Batches sent at once (a worker was free) | 200 |", "| Batches sent when the wait ran out | 0 |",
                 "| Batches sent after a wait the cost model chose | 0 |", "| Batches sent: teleport | 1 |",
                 "| Fitted batch cost a (per batch) | 0.52 ms |", "| Fitted batch cost b (per item) | 0.11 ms |",
                 "| Rejected as predicted late (shed) | 2 |"):
        assert line in md, line
    assert "| 批处理策略 | adaptive |" in render_markdown(report, "zh")
    batcher = json.loads(render_json(report))["runs"][0]["sections"]["batcher"]["metrics"]
    assert batcher["dispatch_worker_free"]["value"] == 200
    assert batcher["dispatch_other.teleport"]["value"] == 1
    assert batcher["cost_a"] == {"label": "Fitted batch cost a (per batch)", "value": 0.52, "unit": "ms"}
    rows = {(r["section"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(render_csv(report)))}
    assert rows[("batcher", "batch_policy")] == "adaptive"
    assert rows[("batcher", "shed")] == "2"


def test_an_unfitted_cost_model_is_none_not_zero(optimized_result):
    md = render_markdown(build_run_report(optimized_result), "en")
    assert "| Fitted batch cost a (per batch) | none |" in md
    csv_rows = {r["metric"]: r["value"] for r in csv.DictReader(io.StringIO(render_csv(build_run_report(optimized_result))))}
    assert csv_rows["cost_a"] == ""


def test_compare_shows_both_policies_side_by_side(factory):
    import dataclasses

    base = factory.baseline()
    base = dataclasses.replace(base, batches=dataclasses.replace(base.batches, policy="timeout",
                                                                  dispatch_reasons=(("wait_expired", 950),)))
    report = build_compare_report(factory.result(base), factory.result(_policy_snapshot(factory)))
    text = render_markdown(report, "en", detail="summary")
    assert "## Batching" in text
    assert "| Batch policy | timeout | adaptive |" in text
    assert "| Batches sent when the wait ran out | 950 | 0 |" in text
    assert "| Batches sent: teleport | none | 1 |" in text  # a reason only one side has
    assert "## 批处理" in render_markdown(report, "zh", detail="summary")


def test_first_errors_are_at_the_top_and_in_every_format(factory):
    snap = _policy_snapshot(factory, first_errors=FIRST, errors_by_kind=(("BadOutput", 4), ("ValueError", 6)))
    report = build_run_report(factory.result(snap))
    md = render_markdown(report, "en")
    top = md.split("## Test results")[0]
    assert "> **Requests failed. The first error of each kind:**" in top
    assert "> - `ValueError` (×6): ValueError: my model broke (mymodel.py:3 in predict)" in top
    assert "| First error: BadOutput | model mymodel:predict returned 1 outputs for a batch of 4 |" in md
    assert "首个错误：ValueError" in render_markdown(report, "zh")
    outcomes = json.loads(render_json(report))["runs"][0]["sections"]["outcomes"]["metrics"]
    assert outcomes["first_error.ValueError"]["value"] == "ValueError: my model broke (mymodel.py:3 in predict)"
    rows = {(r["section"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(render_csv(report)))}
    assert rows[("outcomes", "first_error.BadOutput")].startswith("model mymodel:predict returned 1")


def test_no_success_note(factory):
    snap = _policy_snapshot(factory, succeeded=0, failed=1000, rejected=0, timed_out=0, first_errors=FIRST[:1])
    md = render_markdown(build_run_report(factory.result(snap)), "en")
    assert "> **No request succeeded. The first error of each kind:**" in md
    assert "Errors" not in md.split("## Test results")[0].replace("error of each kind", "")


def test_markdown_sigterm_note(factory):
    result = factory.result(factory.optimized(), interrupted=True, in_flight_at_interrupt=5, interrupt_signal="SIGTERM")
    text = render_markdown(build_run_report(result), "en")
    assert "Stopped by SIGTERM: 5 requests were in flight" in text
    assert "| Interrupted by | SIGTERM |" in text
    assert "运行被 SIGTERM 终止" in render_markdown(build_run_report(result), "zh")


# -- timeline -------------------------------------------------------------------------------


def _timeline(offset: float):
    from clawlet_tui.timeline import Timeline, TimelinePoint

    return Timeline(tuple(
        TimelinePoint(float(t), offset + t, 1.0, 5.0 + t, 2.0, 4.0, t, None if t == 1 else 0.5, 3, 1, 2**20 * t)
        for t in (1, 2)
    ))


def test_json_has_each_runs_timeline_as_columns(factory):
    from clawlet_tui.timeline import TIMELINE_FIELDS

    baseline = factory.result(factory.baseline(), timeline=_timeline(10.0))
    optimized = factory.result(factory.optimized(), timeline=_timeline(100.0))
    data = json.loads(render_json(build_compare_report(baseline, optimized)))
    before, after = (run["timeline"] for run in data["runs"])
    assert list(after) == list(TIMELINE_FIELDS)
    assert after["t_s"] == [1.0, 2.0] and after["throughput_rps"] == [101.0, 102.0]
    assert before["throughput_rps"] == [11.0, 12.0]
    assert after["hit_rate"] == [None, 0.5]  # no lookups in the first second: null, not 0
    assert after["rss_bytes"] == [2**20, 2**21]


def test_csv_writes_the_timeline_beside_the_report(tmp_path, factory):
    from clawlet_tui.report import report_files
    from clawlet_tui.timeline import TIMELINE_FIELDS

    baseline = factory.result(factory.baseline(), timeline=_timeline(10.0))
    optimized = factory.result(factory.optimized(), timeline=_timeline(100.0))
    path = save_report(tmp_path / "out.csv", build_compare_report(baseline, optimized))
    assert report_files(path) == (path, tmp_path / "out-timeline.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-timeline.csv", "out.csv"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out-timeline.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["mode", *TIMELINE_FIELDS]
    assert [(r["mode"], r["t_s"], r["throughput_rps"]) for r in rows] == [
        ("baseline", "1.0", "11.0"), ("baseline", "2.0", "12.0"), ("optimized", "1.0", "101.0"), ("optimized", "2.0", "102.0"),
    ]
    assert [r["hit_rate"] for r in rows[:2]] == ["", "0.5"]
    assert report_files(tmp_path / "x.json") == (tmp_path / "x.json",)
# -- alerts ---------------------------------------------------------------------------------


def test_alerts_in_every_format(optimized_result):
    """A resolved alert and one still firing at the end, as each format shows them."""
    import dataclasses

    from clawlet_tui.engine.alerts import AlertEvent, AlertRule

    p99 = AlertRule("p99_ms", above=50, for_s=5, origin="alerts[1]")
    ok = AlertRule("success_rate", below=0.99, origin="alerts[2]")
    result = dataclasses.replace(
        optimized_result,
        alert_rules=(p99, ok),
        alerts=(
            AlertEvent(p99, fired_at_s=12.25, fired_value=61.0, peak=80.5, resolved_at_s=20.0, resolved_value=41.0),
            AlertEvent(ok, fired_at_s=30.0, fired_value=0.95, peak=0.9),
        ),
    )
    report = build_run_report(result)
    md = render_markdown(report)
    assert "| `p99_ms > 50 ms for 5 s` (alerts[1]) | 12.2 s | 20.0 s | 61 ms | 80.5 ms |" in md
    assert "| `success_rate < 99%` (alerts[2]) | 30.0 s | still firing at the end | 95% | 90% |" in md
    assert "| Alerts fired | 2 |" in md
    assert md.index("## Alerts") < md.index("## Components")
    data = json.loads(render_json(report))["runs"][0]
    assert [a["resolved_at_s"] for a in data["alerts"]] == [20.0, None]
    assert data["alerts"][0]["rule"] == {
        "metric": "p99_ms", "above": 50.0, "for_s": 5.0, "origin": "alerts[1]", "text": "p99_ms > 50 ms for 5 s", "unit": "ms",
    }
    rows = {(r["section"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(render_csv(report)))}
    assert rows[("alerts", "1.resolved_at")] == "20.0" and rows[("alerts", "2.resolved_at")] == ""
    assert rows[("alerts", "2.rule")] == "success_rate < 99%" and rows[("summary", "alerts_fired")] == "2"
    assert "## 告警" in render_markdown(report, "zh") and "结束时仍在告警" in render_markdown(report, "zh")


def test_no_rules_no_alerts_section(optimized_result):
    md = render_markdown(build_run_report(optimized_result))
    assert "## Alerts" not in md and "Alerts fired" not in md
