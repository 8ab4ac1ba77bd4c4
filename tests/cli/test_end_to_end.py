"""End-to-end: real engine, real load, short preset files; every table in every format.

Runs go through ``cli.main(argv)`` in-process (fast) except where a real signal or the
module entry point is the point of the test.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

import pytest

from clawlet_tui import cli

pytest.importorskip("clawlet_tui.engine.engine")
pytest.importorskip("clawlet_tui.load.generator")

PRESET = """\
name = "{name}"
description = "test preset: latency model, {rate} req/s for {duration} s"
[engine]
batch_size = 4
batch_timeout_s = 0.005
max_concurrent = 2
[load]
mode = "open"
shape = "constant"
rate_rps = {rate}
duration_s = {duration}
[load.keys]
distribution = "zipf"
key_count = 50
[model]
kind = "latency"
fixed_ms = 2.0
per_item_ms = 0.1
"""

RUN_HEADINGS_EN = [
    "## Test results", "### 1. Dynamic batcher", "### 2. Multi-level cache", "### 3. Memory optimizer",
    "### 4. Concurrency controller", "### 5. Connection pool", "### 6. Performance monitor",
    "### 7. Request outcomes", "## Test configuration", "### Engine configuration",
]
RUN_HEADINGS_ZH = ["## 性能测试结果", "动态批处理器", "多级缓存系统", "内存优化器", "并发控制器", "性能监控器", "## 测试配置"]
SECTIONS = {"summary", "warmup", "batcher", "cache", "memory", "concurrency", "pool", "monitor", "outcomes",
            "configuration", "engine_config"}


@pytest.fixture
def preset_file(tmp_path: Path) -> Path:
    path = tmp_path / "quick.toml"
    path.write_text(PRESET.format(name="quick", rate=100, duration=0.5), encoding="utf-8")
    return path


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _csv_index(text: str) -> dict[tuple[str, str], str]:
    return {(r["section"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(text))}


def test_run_markdown_en(capsys, preset_file, tmp_path):
    target = tmp_path / "report.md"
    code, out, err = _main(capsys, "run", "--preset", str(preset_file), "--report", str(target))
    assert code == 0, err
    assert out.startswith("# clawlet-tui report: quick (optimized)")
    for heading in RUN_HEADINGS_EN:
        assert heading + "\n" in out
    assert "\r" not in out  # not a TTY: no progress line
    assert f"report written to {target}" in err
    assert target.read_text(encoding="utf-8") == out
    assert "| Success rate | 100.0% |" in out
    assert "| Preset | quick |" in out
    assert "| Model | latency model: 2 ms + 0.1 ms per item" in out


def test_the_preset_may_be_given_without_the_flag(capsys, preset_file):
    code, out, err = _main(capsys, "run", str(preset_file))
    assert code == 0, err
    assert out.startswith("# clawlet-tui report: quick (optimized)")
    code, _, err = _main(capsys, "run", str(preset_file), "--preset", str(preset_file))  # the same one twice: fine
    assert code == 0, err


def test_run_json_zh_with_set(capsys, preset_file, tmp_path):
    target = tmp_path / "report.json"
    code, out, err = _main(
        capsys, "run", "--preset", str(preset_file), "--set", "batch_size=8", "--lang", "zh", "--report", str(target)
    )
    assert code == 0, err
    for heading in RUN_HEADINGS_ZH:
        assert heading in out
    data = json.loads(target.read_text(encoding="utf-8"))
    run = data["runs"][0]
    assert set(run["sections"]) == SECTIONS
    metrics = run["sections"]["summary"]["metrics"]
    assert metrics["throughput"]["label"] == "吞吐量"
    assert 50 < metrics["throughput"]["value"] < 200
    assert metrics["success_rate"]["value"] == 100.0
    assert run["sections"]["engine_config"]["metrics"]["config.batch_size"]["value"] == 8
    outcomes = run["sections"]["outcomes"]["metrics"]
    sent = run["sections"]["configuration"]["metrics"]["requests"]["value"]
    assert outcomes["submitted"]["value"] == sent == 50
    assert outcomes["succeeded"]["value"] == 50
    assert outcomes["in_flight"]["value"] == 0


def test_run_csv_baseline(capsys, preset_file, tmp_path):
    target = tmp_path / "report.csv"
    code, out, err = _main(capsys, "run", "--preset", str(preset_file), "--baseline", "--duration", "0.5",
                           "--report", str(target))
    assert code == 0, err
    assert "# clawlet-tui report: quick (baseline)" in out
    index = _csv_index(target.read_text(encoding="utf-8"))
    assert {section for section, _ in index} == SECTIONS
    assert index[("configuration", "mode")] == "baseline"
    assert index[("configuration", "requests")] == "50"
    assert index[("engine_config", "config.enable_batching")] == "false"
    assert index[("engine_config", "config.enable_cache")] == "false"
    assert index[("concurrency", "max_concurrent")] == "1"
    assert index[("batcher", "mean_batch_size")] == "1.0"


@pytest.mark.parametrize(("suffix", "lang"), [(".md", "en"), (".json", "zh"), (".csv", "en")])
def test_compare_every_format(capsys, preset_file, tmp_path, suffix, lang):
    target = tmp_path / f"compare{suffix}"
    code, out, err = _main(capsys, "compare", "--preset", str(preset_file), "--duration", "0.5",
                           "--lang", lang, "--report", str(target))
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    if lang == "en":
        assert "| Metric | Before (baseline) | After (optimized) | Change |" in out
        assert "| Throughput |" in out and "## Key figures" in out
    else:
        assert "| 指标 | 优化前 | 优化后 | 提升 |" in out
    if suffix == ".md":
        assert text.count("### 1. Dynamic batcher") == 2  # the file has both runs' component tables
    elif suffix == ".json":
        data = json.loads(text)
        assert [r["mode"] for r in data["runs"]] == ["baseline", "optimized"]
        assert set(data["comparison"]) >= {"throughput", "mean_latency", "p50_latency", "p99_latency",
                                           "success_rate", "max_concurrent", "cache_hit_rate", "mean_batch_size"}
        before, after = (r["sections"]["engine_config"]["metrics"]["config.l2_cache_dir"]["value"] for r in data["runs"])
        assert before != after  # each side had its own, fresh L2 directory ...
        assert not Path(before).exists() and not Path(after).exists()  # ... removed afterwards
        conc = data["comparison"]["max_concurrent"]
        assert (conc["before"], conc["after"]) == (1, 2)
    else:
        index = _csv_index(text)
        assert {s for s, _ in index} == {"comparison"} | {f"{m}.{s}" for m in ("baseline", "optimized") for s in SECTIONS}
        assert index[("baseline.configuration", "requests")] == index[("optimized.configuration", "requests")] == "50"
        assert index[("comparison", "throughput.change")].endswith("x")


def test_bad_preset_file_is_one_line_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('description = "x"\n[load]\nmode = "sideways"\n', encoding="utf-8")
    code, out, err = _main(capsys, "run", "--preset", str(bad))
    assert code == 2
    assert out == ""
    assert err.startswith("clawlet-tui: error: ") and err.count("\n") == 1
    assert "bad.toml" in err

    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml\n", encoding="utf-8")
    code, _, err = _main(capsys, "compare", "--preset", str(broken))
    assert code == 2 and err.count("\n") == 1


def test_unknown_preset_name_is_one_line_exit_2(capsys):
    code, _, err = _main(capsys, "run", "--preset", "no-such-preset-anywhere")
    assert code == 2
    assert err.startswith("clawlet-tui: error: ") and err.count("\n") == 1


def test_bad_set_value_against_a_preset_is_one_line_exit_2(capsys, preset_file):
    code, out, err = _main(capsys, "run", "--preset", str(preset_file), "--set", "max_concurrent=0")
    assert (code, out) == (2, "")
    assert err == "clawlet-tui: error: --set: max_concurrent must be >= 1, got 0\n"


def test_presets_lists_every_preset(capsys):
    code, out, _ = _main(capsys, "presets")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("steady ") for line in lines)
    assert all("[" in line and "]" in line for line in lines)


def test_cancelled_run_still_reports(preset_file):
    """Cancellation (what asyncio.run does on Ctrl+C) ends the run with a report, marked interrupted."""
    from clawlet_tui.load import load_preset
    from clawlet_tui.report import build_run_report, render_markdown
    from clawlet_tui.runner import run_preset

    preset = load_preset(str(preset_file))
    seen = []

    async def scenario():
        task = asyncio.ensure_future(run_preset(preset, duration_s=30, progress=lambda snap, load: seen.append(load.sent)))
        while len(seen) < 2:
            await asyncio.sleep(0.05)
        task.cancel()
        return await task

    result = asyncio.run(scenario())
    assert result.interrupted
    assert result.in_flight_at_interrupt >= 0
    assert 0 < result.snapshot.outcomes.submitted < 3000
    assert result.snapshot.outcomes.in_flight == 0  # drained
    text = render_markdown(build_run_report(result))
    assert "Interrupted with Ctrl+C" in text

# Ctrl+C and SIGTERM in a child process: tests/cli/test_signals.py


def test_run_html_report_charts_the_runs_own_timeline(capsys, tmp_path):
    """A real 2.5 s run: its HTML report charts one point per finished second."""
    pytest.importorskip("plotly")
    preset = tmp_path / "two.toml"
    preset.write_text(PRESET.format(name="two", rate=100, duration=2.5), encoding="utf-8")
    target = tmp_path / "report.html"
    code, out, err = _main(capsys, "run", "--preset", str(preset), "--report", str(target))
    assert code == 0, err
    assert f"report written to {target}" in err
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "clawlet-tui report: two (optimized)" in page
    match = re.search(r'Plotly\.newPlot\(\s*"chart-throughput",\s*', page)
    assert match is not None
    (trace,) = json.JSONDecoder().raw_decode(page, match.end())[0]
    assert trace["x"][:2] == [1.0, 2.0]
    assert 0 < sum(trace["y"]) <= 250  # whole seconds of the 250 requests sent


def test_compare_warm_runs_the_optimized_side_warm(capsys, preset_file, tmp_path):
    """compare --warm: the optimized side warms (the preset has no [warmup]: the keys L1
    holds, here all 50) and its load's figures hold none of the warm-up; the baseline,
    with no cache, runs cold.  Both sides report their first minute."""
    target = tmp_path / "compare.json"
    code, out, err = _main(capsys, "compare", str(preset_file), "--warm", "--report", str(target))
    assert code == 0, err
    assert "optimized warm-up done: 50 keys" in err and "not counted in the load's figures" in err
    assert "## Cache warm-up and the first minute" in out
    assert "| Cache when the load started | cold | warm |" in out
    data = json.loads(target.read_text(encoding="utf-8"))
    baseline, optimized = (run["sections"] for run in data["runs"])
    warm = {k: v["value"] for k, v in optimized["warmup"]["metrics"].items()}
    cold = {k: v["value"] for k, v in baseline["warmup"]["metrics"].items()}
    assert (cold["cache_at_start"], warm["cache_at_start"]) == ("cold", "warm")
    assert (warm["warmup_keys"], warm["warmup_succeeded"], warm["warmup_failed"]) == (50, 50, 0)
    # every key the load asks for was warmed: every lookup of its first minute hits
    assert warm["first_minute_hit_rate"] == 100.0 and cold["first_minute_hit_rate"] == 0.0
    assert warm["first_minute_p99"] > 0 and cold["first_minute_p99"] > 0
    for sections in (baseline, optimized):
        sent = sections["configuration"]["metrics"]["requests"]["value"]
        outcomes = {k: v["value"] for k, v in sections["outcomes"]["metrics"].items()}
        assert outcomes["submitted"] == outcomes["succeeded"] == sent == 50  # the load's 50, no warm-up request
    assert data["comparison"]["first_minute_hit_rate"]["after"] == 100.0


def test_compare_warm_with_unique_keys_and_no_warmup_table_is_bad_input(capsys, tmp_path):
    path = tmp_path / "uniq.toml"
    path.write_text(PRESET.format(name="uniq", rate=100, duration=0.5).replace('"zipf"', '"unique"'), encoding="utf-8")
    code, out, err = _main(capsys, "compare", str(path), "--warm")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"clawlet-tui: error: {path}: warmup: no [warmup] table, and load.keys.distribution is 'unique': "
        "no key repeats, so none is more likely than another (name the keys in keys_file)"
    ]
