"""The stability rule (perf_analyzer's: 3 windows within 10%) and how a trial's figures are pooled."""

from __future__ import annotations

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.tune.measure import Measurement, MeasureSettings, Window, agree, is_stable


def window(throughput: float, p99: float, *, seconds: float = 1.0, errors: int = 0) -> Window:
    succeeded = round(throughput * seconds)
    return Window(seconds, succeeded + errors, succeeded, errors, 0, 0, 0, p99 / 2, p99)


def test_three_windows_within_ten_percent_are_stable() -> None:
    assert is_stable([window(1000, 10.0), window(1050, 10.5), window(1099, 10.9)])


def test_fewer_than_three_windows_are_never_stable() -> None:
    assert not is_stable([window(1000, 10.0), window(1000, 10.0)])


def test_throughput_spread_over_ten_percent_is_unstable() -> None:
    assert not is_stable([window(1000, 10.0), window(1000, 10.0), window(1120, 10.0)])


def test_p99_spread_over_ten_percent_is_unstable() -> None:
    assert not is_stable([window(1000, 10.0), window(1000, 11.5), window(1000, 10.0)])


def test_only_the_last_three_windows_count() -> None:
    windows = [window(500, 50.0), window(1000, 10.0), window(1020, 10.2), window(1010, 10.1)]
    assert is_stable(windows)
    assert not is_stable(windows[:3])


def test_agree_edges() -> None:
    assert agree([0.0, 0.0, 0.0])
    assert not agree([0.0, 1.0, 1.0])
    assert agree([100.0, 110.0], 0.10)
    assert not agree([100.0, 110.1], 0.10)


def test_a_stable_trial_reports_its_last_three_windows_and_success_over_all() -> None:
    windows = [window(500, 50.0, errors=5), window(1000, 10.0), window(1000, 10.0), window(1000, 10.0)]
    m = Measurement.from_windows(window(0, 0), windows, stable=True)
    assert m.throughput_rps == pytest.approx(1000)
    assert m.p99_ms == pytest.approx(10.0)
    assert m.success == pytest.approx(3500 / 3505)
    assert m.errors == 5


def test_an_unstable_trial_reports_all_its_windows() -> None:
    windows = [window(500, 10.0), window(1000, 20.0), window(1500, 30.0)]
    m = Measurement.from_windows(window(0, 0), windows, stable=False)
    assert m.throughput_rps == pytest.approx(1000)
    assert m.p99_ms == pytest.approx(20.0)


@pytest.mark.parametrize(
    "changes",
    [{"window_s": 0}, {"warmup_s": -1}, {"min_windows": 2}, {"max_windows": 2}, {"tolerance": 0}],
)
def test_bad_settings_are_config_errors(changes: dict) -> None:
    with pytest.raises(ConfigError):
        MeasureSettings(**changes)
