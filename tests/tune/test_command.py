"""The tune command: bad input exits 2 with one line; a real short tune on one live engine."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clawlet_tui.engine import ClawletEngine
from clawlet_tui.load import load_preset
from clawlet_tui.tune.command import main
from clawlet_tui.tune.measure import MeasureSettings
from clawlet_tui.tune.objective import Objective
from clawlet_tui.tune.report import render_csv, render_json, render_markdown
from clawlet_tui.tune.tuner import tune

from .conftest import write_preset

#: a trial is 0.05 s warm-up + 3 windows of 0.1 s: the whole tune takes about a second
FAST = ["--warmup", "0.05", "--window", "0.1", "--max-windows", "3"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--slo-p99", "0"], "--slo-p99 must be a number of milliseconds > 0"),
        (["--slo-p99", "-5"], "--slo-p99 must be a number of milliseconds > 0"),
        (["--params", "batch_size,warp_speed"], "unknown param 'warp_speed'"),
        (["--budget", "1"], "--budget must be at least 8 s"),
        (["--budget", "soon"], "invalid float value: 'soon'"),
        (["--out", "x.yaml"], "--out must name a .toml file"),
        (["--report", "x.txt"], "report file must end in .md, .json, .csv or .html"),
        (["--max-trials", "1"], "--max-trials must be at least 2"),
    ],
)
def test_bad_input_exits_2_with_one_line(short_preset: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    assert main([str(short_preset), "--slo-p99", "20", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_preset_without_an_slo_needs_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path)
    path.write_text(path.read_text().replace("slo_p99_ms = 500\n", ""))
    assert main([str(path)]) == 2
    assert "--slo-p99 is required" in capsys.readouterr().err


def test_a_ramp_cannot_be_tuned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, name="ramp", mode="open", load='shape = "ramp"\nstart_rps = 10\nend_rps = 100')
    assert main([str(path), "--slo-p99", "20"]) == 2
    assert "tune needs a load whose rate does not change" in capsys.readouterr().err


def test_an_unknown_preset_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-preset-anywhere", "--slo-p99", "20"]) == 2
    assert "unknown preset" in capsys.readouterr().err


class SpiedEngine(ClawletEngine):
    """Counts starts and reconfigures, so the test sees the engine was never restarted."""

    starts = 0
    reconfigures = 0

    async def start(self) -> None:
        type(self).starts += 1
        await super().start()

    def reconfigure(self, config) -> None:  # type: ignore[no-untyped-def]
        type(self).reconfigures += 1
        super().reconfigure(config)


async def test_a_real_tune_runs_on_one_engine_reconfigured_per_trial_and_accounts_every_request(short_preset: Path) -> None:
    SpiedEngine.starts = SpiedEngine.reconfigures = 0
    seen = []
    result = await tune(
        load_preset(short_preset),
        Objective(500.0, "throughput"),
        params=("batch_size", "max_concurrent"),
        budget_s=5.0,
        settings=MeasureSettings(warmup_s=0.05, window_s=0.1, max_windows=3),
        max_trials=4,
        on_trial=seen.append,
        engine_class=SpiedEngine,
    )
    assert SpiedEngine.starts == 1
    assert SpiedEngine.reconfigures == len(result.trials) == len(seen) == 4
    assert [t.role for t in result.trials][0] == "start"
    assert result.sent > 0 and result.failed == 0
    assert result.accounted  # sent == completed + failed == outcomes counted over every period
    # three windows each, unless racing ended a clear loser sooner
    assert all(len(t.measurement.windows) == 3 or (t.measurement.cut and t.role == "search") for t in result.trials)
    assert result.best_point is not None  # a 500 ms SLO is met by every config of a 1 ms model

    # every report format carries every trial
    markdown = render_markdown(result)
    assert markdown.count("\n| ") >= 4 + 2 and "## Pareto front" in markdown
    assert len(render_csv(result).splitlines()) == 1 + 4
    data = json.loads(render_json(result))
    assert [t["number"] for t in data["trials"]] == [1, 2, 3, 4]
    assert data["accounting"] == {"sent": result.sent, "completed": result.completed, "failed": 0,
                                  "finished_in_periods": result.sent, "ok": True}
    if importlib.util.find_spec("plotly") is not None:  # the HTML scatter: one marker per trial
        from clawlet_tui.tune.html import TRIALS_CHART_ID, render_html

        page = render_html(result)
        start = re.search(rf'Plotly\.newPlot\(\s*"{TRIALS_CHART_ID}",\s*', page)
        assert start is not None
        traces = json.JSONDecoder().raw_decode(page, start.end())[0]
        markers = [(x, y) for t in traces if t["name"].endswith("the SLO") for x, y in zip(t["x"], t["y"])]
        assert sorted(markers) == sorted((t.measurement.throughput_rps, t.measurement.p99_ms) for t in result.trials)
        assert [t["y"] for t in traces if t["name"].startswith("SLO")] == [[500.0, 500.0]]


def test_the_command_end_to_end_writes_a_runnable_preset_and_a_report(short_preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "tuned.toml", tmp_path / "tune.json"
    code = main(
        [str(short_preset), "--slo-p99", "500", "--budget", "3", "--max-trials", "3", "--params", "batch_size",
         "--out", str(out), "--report", str(report), *FAST]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "thr req/s" in printed and "Pareto front" in printed and "Against the start config" in printed
    data = json.loads(report.read_text())
    assert len(data["trials"]) == 3 and data["accounting"]["ok"]
    assert load_preset(out).config.batch_size == data["chosen"]["config"]["batch_size"]


def test_no_config_meeting_the_slo_exits_1_and_still_reports(short_preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "tuned.toml", tmp_path / "tune.csv"
    code = main(
        [str(short_preset), "--slo-p99", "0.001", "--budget", "3", "--max-trials", "2", "--params", "batch_size",
         "--out", str(out), "--report", str(report), *FAST]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "No config met the SLO" in printed and "not written" in printed
    assert not out.exists()
    assert len(report.read_text().splitlines()) == 3  # header + 2 trials


def _fake_measure(throughput_of: Callable[[int, int], float], calls: list[int]) -> Callable[..., Any]:
    """A stand-in for ``measure``: figures by (batch_size, how many times it was measured)."""
    from clawlet_tui.tune.measure import Measurement, Window

    async def fake(engine: Any, reader: Any, config: Any, settings: Any, **_: Any) -> Measurement:
        calls.append(config.batch_size)
        window = Window(0.1, 10, 10, 0, 0, 0, 0, 1.0, 2.0)
        thr = throughput_of(config.batch_size, calls.count(config.batch_size))
        return Measurement(window, (window, window, window), True, thr, 1.0, 2.0, 1.0)

    return fake


@pytest.mark.parametrize(("start_again", "kept"), [(108.0, True), (100.0, False)])
async def test_the_winner_must_beat_the_start_config_measured_again(
    short_preset: Path, monkeypatch: pytest.MonkeyPatch, start_again: float, kept: bool
) -> None:
    """The start config is measured first, cold; a winner that only beats that first reading
    but not the start measured again after the search (by the margin) is noise: keep the start."""
    from clawlet_tui.tune import tuner

    calls: list[int] = []

    def throughput_of(batch_size: int, nth: int) -> float:
        if batch_size == 2:  # the start config: cold first, then as warm as the others
            return 100.0 if nth == 1 else start_again
        return 110.0 if batch_size == 4 else 90.0

    monkeypatch.setattr(tuner, "measure", _fake_measure(throughput_of, calls))
    result = await tune(
        load_preset(short_preset), Objective(500.0, "throughput"), params=("batch_size",), budget_s=60.0,
        settings=MeasureSettings(warmup_s=0.05, window_s=0.1, max_windows=3),
    )
    assert result.search.best == (("batch_size", 4),)
    assert [t.role for t in result.trials][-1] == "start-end" and calls[-1] == 2
    assert result.start_again is not None and result.start_again.throughput_rps == start_again
    assert result.kept_start is kept
    assert result.best_config is not None and result.best_config.batch_size == (2 if kept else 4)
    assert result.start_estimate.throughput_rps == start_again
    # every report says the same: kept, or the gain over the start config measured again
    from clawlet_tui.tune.output import KEPT_START

    chosen = json.loads(render_json(result))["chosen"]
    assert (chosen["improvement"] == KEPT_START) is kept
    assert (KEPT_START in render_markdown(result)) is kept
    if not kept:
        assert chosen["improvement"].startswith("throughput 100 -> 110 req/s (1.10x)")
