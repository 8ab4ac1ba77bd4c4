from __future__ import annotations

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.report import labels
from clawlet_tui.report.labels import Labels
from clawlet_tui.report.model import build_compare_report, build_run_report


@pytest.mark.parametrize("table", [labels.SECTIONS, labels.METRICS, labels.UNITS, labels.TEXT])
def test_languages_cover_the_same_keys(table):
    assert set(table) == set(labels.LANGS)
    assert set(table["en"]) == set(table["zh"])


def test_every_row_and_section_has_a_label(baseline_result, optimized_result):
    report = build_compare_report(baseline_result, optimized_result)
    for lang in labels.LANGS:
        lab = Labels(lang)
        for run in report.runs:
            for section in run.sections:
                assert lab.section(section.key)
                for row in section:
                    assert lab.metric(row.key, row.arg)
        for row in report.comparison:
            assert lab.metric(row.key)


def test_seed_wording_in_chinese():
    zh = Labels("zh")
    assert zh.metric("throughput") == "吞吐量"
    assert zh.metric("success_rate") == "成功率"
    assert zh.metric("mean_latency") == "平均延迟"
    assert zh.metric("p50_latency") == "P50 延迟"
    assert zh.metric("p99_latency") == "P99 延迟"
    assert zh.metric("batches") == "批处理"
    assert zh.metric("cache_size") == "缓存大小"
    assert zh.metric("memory_rss") == "内存使用"
    assert zh.section("batcher") == "动态批处理器"
    assert zh.section("cache") == "多级缓存系统"
    assert zh.section("memory") == "内存优化器"
    assert zh.section("concurrency") == "并发控制器"
    assert zh.section("monitor") == "性能监控器"
    assert (zh.text("before"), zh.text("after"), zh.text("change")) == ("优化前", "优化后", "提升")


def test_arguments_fill_labels():
    assert Labels("en").metric("errors_by_kind", "BackendError") == "Errors: BackendError"
    assert Labels("zh").metric("errors_by_kind", "BackendError") == "错误：BackendError"


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match="lang must be one of en, zh"):
        Labels("fr")


def test_run_report_is_language_free(optimized_result):
    # the model holds keys and numbers only; languages are the renderers' business
    run = build_run_report(optimized_result).runs[0]
    assert all(row.key.isascii() for section in run.sections for row in section)
