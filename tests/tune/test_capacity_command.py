"""``clawlet-tui capacity``: bad input exits 2 with one line; a real short search on one live engine;
``tune --objective capacity``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawlet_tui.cli import main as cli_main
from clawlet_tui.load import load_preset
from clawlet_tui.tune.capacity import CapacityTarget
from clawlet_tui.tune.capacity_live import find_capacity
from clawlet_tui.tune.capacity_report import render_csv, render_markdown
from clawlet_tui.tune.measure import MeasureSettings

from .conftest import write_preset

FAST = ["--warmup", "0.05", "--window", "0.1", "--max-windows", "3"]


def capacity(*argv: str) -> int:
    return cli_main(["capacity", *argv])


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--slo-p99", "0"], "--slo-p99 must be a number of milliseconds > 0"),
        (["--resolution", "0"], "--resolution must be a fraction in 0.005..1"),
        (["--start-rps", "0"], "--start-rps must be a rate >= 1 req/s"),
        (["--start-rps", "500", "--max-rps", "100"], "--start-rps (500) must not exceed --max-rps (100)"),
        (["--budget", "1"], "--budget must be at least 14 s"),
        (["--report", "x.txt"], "report file must end in .md, .json, .csv or .html"),
        (["--max-windows", "2"], "max_windows must be an integer >= min_windows"),
        (["--budget", "soon"], "invalid float value: 'soon'"),
    ],
)
def test_bad_input_exits_2_with_one_line(short_preset: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    assert capacity(str(short_preset), "--slo-p99", "20", *argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_unknown_preset_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity("no-such-preset-anywhere", "--slo-p99", "20") == 2
    assert "unknown preset" in capsys.readouterr().err


def test_a_preset_without_an_slo_needs_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path)
    path.write_text(path.read_text().replace("slo_p99_ms = 500\n", ""))
    assert capacity(str(path)) == 2
    assert "--slo-p99 is required" in capsys.readouterr().err


async def test_a_real_search_on_one_engine_never_reports_a_failed_rate_and_accounts_every_request(tmp_path: Path) -> None:
    """A closed-loop preset is probed as open-loop arrivals; the capacity passed every measurement."""
    preset = load_preset(write_preset(tmp_path))
    steps = []
    result = await find_capacity(
        preset, CapacityTarget(500.0), start_rps=50.0, resolution=0.5, max_rps=400.0, budget_s=10.0,
        settings=MeasureSettings(warmup_s=0.05, window_s=0.1, max_windows=3), on_step=steps.append,
    )
    assert [s.number for s in result.search.steps] == [s.number for s in steps] and steps
    assert steps[0].rate_rps == 50.0 and steps[0].role == "start"
    assert result.accounted and result.sent > 0
    cap = result.search.capacity_rps
    if cap is not None:
        assert all(s.passed for s in steps if s.rate_rps == cap)
        assert all(s.rate_rps > cap for s in steps if not s.passed)
    assert "open loop, poisson arrivals" in result.load_description
    assert render_markdown(result).count("\n| ") == 2 + len(steps)
    assert len(render_csv(result).splitlines()) == 1 + len(steps)
    pytest.importorskip("plotly")
    from clawlet_tui.tune.capacity_html import render_html

    page = render_html(result)
    table = page[page.index("<table id='steps'>"):]
    assert table.count("<tr><td>") == len(steps)  # every step in the table
    assert "SLO: P99 500 ms" in page and "Capacity report:" in page


def test_the_command_prints_the_curve_and_writes_the_report(short_preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "capacity.json"
    code = capacity(str(short_preset), "--slo-p99", "500", "--start-rps", "50", "--max-rps", "200", "--resolution", "0.5",
                    "--budget", "8", "--report", str(report), *FAST)
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert code == (0 if data["capacity_rps"] is not None else 1)
    assert "rate req/s" in printed and "Curve (rate -> P50 / P99" in printed and data["verdict"] in printed
    assert data["format"] == "clawlet-tui-capacity" and data["accounting"]["ok"]
    assert [s["rate_rps"] for s in data["steps"]][0] == 50.0
    if data["capacity_rps"] is not None:
        assert data["at_capacity"]["passed"] and data["at_capacity"]["rate_rps"] == data["capacity_rps"]


def test_nothing_sustainable_exits_1_and_says_so(short_preset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 0.001 ms SLO is beyond a 1 ms model at any rate."""
    code = capacity(str(short_preset), "--slo-p99", "0.001", "--start-rps", "2", "--budget", "8", *FAST)
    printed = capsys.readouterr().out
    assert code == 1
    assert "No rate was sustained down to the 1 req/s floor" in printed and "the best P99 reached was" in printed


def test_tune_objective_capacity_ranks_configs_by_their_capacity(short_preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "tune.json"
    code = cli_main(["tune", str(short_preset), "--objective", "capacity", "--slo-p99", "500", "--params", "batch_size",
                     "--max-trials", "2", "--budget", "20", "--report", str(report), *FAST])
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["objective"]["goal"] == "capacity"
    assert "cap req/s" in printed and "rates" in printed
    assert data["accounting"]["ok"] and len(data["trials"]) == 2
    assert code == (0 if data["chosen"] is not None else 1)
