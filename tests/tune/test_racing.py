"""Racing: which windows end a hill-climb trial early, and which never do."""

from __future__ import annotations

import pytest

from clawlet_tui.tune.measure import MeasureSettings, Window
from clawlet_tui.tune.objective import Estimate, Objective
from clawlet_tui.tune.racing import clearly_decided

SETTINGS = MeasureSettings(warmup_s=1.0, window_s=1.0, max_windows=6)
SLO = 50.0
INCUMBENT = Estimate(throughput_rps=1000.0, p99_ms=20.0, success=1.0, feasible=True, count=1)


def window(throughput: float, p99: float, errors: int = 0) -> Window:
    ok = int(throughput)
    return Window(duration_s=1.0, submitted=ok + errors, succeeded=ok, failed=errors, rejected=0, timed_out=0,
                  cancelled=0, p50_ms=p99 / 2, p99_ms=p99)


def rule(goal: str = "throughput", incumbent: Estimate = INCUMBENT):  # type: ignore[no-untyped-def]
    return clearly_decided(Objective(SLO, goal), incumbent, SETTINGS, margin=0.05)


def test_two_windows_that_broke_the_slo_end_the_trial_before_the_stability_windows() -> None:
    give_up = rule()
    assert give_up is not None
    assert not give_up([window(900, 80.0)])
    assert give_up([window(900, 80.0), window(900, 10.0, errors=1)])
    assert not give_up([window(900, 80.0), window(900, 30.0)])
    assert not give_up([window(2000, 80.0)])  # twice the throughput, but over the SLO: no win


@pytest.mark.parametrize(
    ("throughputs", "cut"),
    [
        ([700], True),  # 700 x 1.30 = 910 < 1050: one window is enough
        ([850], False),  # 850 x 1.30 = 1105: might still win, measure on
        ([800, 800], True),  # 800 x 1.20 = 960 < 1050
        ([870, 920], False),  # 895 x 1.20 = 1074 > 1050: not clearly short
        ([800, 850, 900], True),  # 850 x 1.10 = 935 < 1000 x 1.05: cannot win
        ([960, 960, 960], False),  # 960 x 1.10 = 1056 > 1050: might still win
        ([1200, 1200, 1200], True),  # 1200 x 0.90 = 1080 >= 1050: it wins, decided
        ([1100, 1100, 1100], False),  # 1100 x 0.90 = 990: might win or not, measure on
        ([1600], True),  # 1600 x 0.70 = 1120 >= 1050: a clear win after one window
        ([1400], False),  # 1400 x 0.70 = 980: not yet clear
    ],
)
def test_a_trial_is_decided_the_sooner_the_further_it_is_from_the_incumbent(throughputs: list[int], cut: bool) -> None:
    give_up = rule()
    assert give_up is not None
    assert give_up([window(t, 20.0) for t in throughputs]) is cut


def test_latency_goal_races_on_p99() -> None:
    give_up = rule("latency")
    assert give_up is not None
    assert give_up([window(1000, p) for p in (30.0, 31.0, 29.0)])  # 30 x 0.9 = 27 >= 20 x 0.95
    assert not give_up([window(1000, p) for p in (20.0, 21.0, 19.0)])


def test_against_an_incumbent_that_misses_the_slo_only_a_clearly_further_miss_is_cut() -> None:
    infeasible = Estimate(throughput_rps=1000.0, p99_ms=90.0, success=1.0, feasible=False, count=1)
    give_up = rule(incumbent=infeasible)
    assert give_up is not None
    assert not give_up([window(900, 200.0), window(900, 200.0)])  # not before the stability windows
    assert give_up([window(900, p) for p in (120.0, 125.0, 118.0)])  # misses by more, even granted 10%
    assert not give_up([window(900, p) for p in (92.0, 93.0, 91.0)])  # about as far: measure it in full
    assert not give_up([window(900, p) for p in (40.0, 41.0, 39.0)])  # meets the SLO so far: it would win


def test_no_racing_for_capacity() -> None:
    assert rule("capacity") is None
