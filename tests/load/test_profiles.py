"""Load profiles: exact arrival schedules (no wall time), validation and preset-table errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawlet_tui.engine.errors import ConfigError, PresetError
from clawlet_tui.load import ArrivalSchedule, KeySpec, LoadProfile


def per_second(times: list[float], seconds: int) -> list[int]:
    return np.histogram(times, bins=np.arange(seconds + 1))[0].tolist()


def test_constant_rate_issues_exactly_rate_per_second_evenly_spaced():
    times = list(LoadProfile(rate_rps=200, duration_s=3).arrivals())
    assert len(times) == 600
    assert per_second(times, 3) == [200, 200, 200]
    assert np.allclose(np.diff(times), 1 / 200)
    assert times[0] == pytest.approx(0.5 / 200)


def test_ramp_issues_the_integral_of_its_rate():
    profile = LoadProfile(shape="ramp", start_rps=100, end_rps=300, duration_s=10)
    times = list(profile.arrivals())
    assert len(times) == 2000  # (100 + 300) / 2 * 10
    counts = per_second(times, 10)
    for second, count in enumerate(counts):
        assert abs(count - (110 + 20 * second)) <= 1, counts  # mean rate over that second
    assert profile.rate_at(5) == pytest.approx(200)


def test_ramp_down_to_zero():
    times = list(LoadProfile(shape="ramp", start_rps=300, end_rps=0, duration_s=10).arrivals())
    assert len(times) == 1500
    assert per_second(times, 10)[-1] in (14, 15, 16)


def test_steps():
    profile = LoadProfile(shape="step", steps=((0, 100), (5, 0), (7, 300)), duration_s=10)
    times = list(profile.arrivals())
    assert per_second(times, 10) == [100] * 5 + [0, 0] + [300] * 3
    assert profile.rate_at(6) == 0 and profile.rate_at(7) == 300


def test_sine_follows_its_cumulative_rate():
    profile = LoadProfile(shape="sine", rate_rps=200, amplitude_rps=150, period_s=4, duration_s=8)
    times = list(profile.arrivals())
    assert len(times) == round(profile.cumulative(8)) == 1600
    for second, count in enumerate(per_second(times, 8)):
        expected = profile.cumulative(second + 1) - profile.cumulative(second)
        assert abs(count - expected) <= 1


def test_bursts_add_burst_size_at_each_period():
    profile = LoadProfile(shape="bursts", rate_rps=10, burst_size=50, burst_every_s=2, duration_s=7)
    times = list(profile.arrivals())
    assert len(times) == 70 + 3 * 50
    for at in (2.0, 4.0, 6.0):
        assert times.count(at) == 50
    assert times == sorted(times)
    assert profile.expected_requests() == pytest.approx(220)


def test_poisson_mean_rate_and_exponential_gaps():
    profile = LoadProfile(shape="poisson", rate_rps=1000, duration_s=50, seed=5)
    times = np.array(list(profile.arrivals(np.random.default_rng(5))))
    n = len(times)
    assert abs(n - 50_000) < 4 * math.sqrt(50_000)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / 1000, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential: cv = 1
    # the same seed gives the same schedule
    again = np.array(list(profile.arrivals(np.random.default_rng(5))))
    assert np.array_equal(times, again)


def test_requests_and_duration_whichever_first():
    assert len(list(LoadProfile(rate_rps=200, duration_s=30, requests=20).arrivals())) == 20
    assert len(list(LoadProfile(rate_rps=10, duration_s=1, requests=1000).arrivals())) == 10
    assert len(list(LoadProfile(rate_rps=10, requests=35).arrivals())) == 35


def test_scale_changes_rate_from_then_on():
    schedule = ArrivalSchedule(LoadProfile(rate_rps=100, duration_s=2))
    times = []
    while (t := schedule.peek()) is not None and t < 1.0:
        times.append(schedule.pop())
    schedule.set_scale(1.0, 2.0)
    assert schedule.rate_at(1.5) == 200
    while (t := schedule.pop()) is not None:
        times.append(t)
    assert per_second(times, 2) == [100, 200]


def test_scaling_bursts():
    profile = LoadProfile(shape="bursts", rate_rps=0, burst_size=10, burst_every_s=1, duration_s=3.5)
    schedule = ArrivalSchedule(profile)
    schedule.set_scale(0.0, 0.5)
    times = []
    while (t := schedule.pop()) is not None:
        times.append(t)
    assert times == [1.0] * 5 + [2.0] * 5 + [3.0] * 5


@settings(max_examples=200, deadline=None)
@given(
    shape=st.sampled_from(["constant", "ramp", "step", "sine"]),
    t=st.floats(min_value=0.001, max_value=100.0),
)
def test_time_at_inverts_cumulative(shape, t):
    profile = {
        "constant": LoadProfile(rate_rps=37, duration_s=100),
        "ramp": LoadProfile(shape="ramp", start_rps=5, end_rps=400, duration_s=100),
        "step": LoadProfile(shape="step", steps=((0, 10), (20, 300), (50, 1)), duration_s=100),
        "sine": LoadProfile(shape="sine", rate_rps=50, amplitude_rps=49, period_s=7, duration_s=100),
    }[shape]
    assert profile.time_at(profile.cumulative(t)) == pytest.approx(t, rel=1e-6, abs=1e-6)


def test_describe():
    profile = LoadProfile(
        shape="poisson", rate_rps=200, duration_s=30, keys=KeySpec("zipf", key_count=1000, zipf_s=1.1)
    )
    assert profile.describe() == "open loop, poisson 200 req/s, 30 s, zipf(1.1) over 1000 keys"
    closed = LoadProfile(mode="closed", concurrency=8, requests=500, keys=KeySpec("unique"))
    assert closed.describe() == "closed loop, 8 clients, 500 requests, unique keys"
    ramp = LoadProfile(shape="ramp", start_rps=100, end_rps=3000, duration_s=60, requests=10)
    assert ramp.describe() == "open loop, ramp 100->3000 req/s, 60 s or 10 requests, uniform over 1000 keys"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"mode": "half-open", "duration_s": 1}, "mode", "must be one of open, closed"),
        ({"rate_rps": 10}, "duration_s", "set duration_s or requests"),
        ({"shape": "square", "rate_rps": 1, "duration_s": 1}, "shape", "must be one of"),
        ({"duration_s": 1}, "rate_rps", "required for shape 'constant'"),
        ({"rate_rps": 0, "duration_s": 1}, "rate_rps", "must be > 0"),
        ({"rate_rps": -5, "duration_s": 1}, "rate_rps", "must be > 0"),
        ({"rate_rps": "fast", "duration_s": 1}, "rate_rps", "must be a finite number"),
        ({"rate_rps": 1, "duration_s": 0}, "duration_s", "must be > 0"),
        ({"rate_rps": 1, "requests": 0}, "requests", "must be >= 1"),
        ({"rate_rps": 1, "requests": 2.5}, "requests", "must be an integer"),
        ({"rate_rps": 1, "duration_s": 1, "period_s": 3}, "period_s", "not used by shape 'constant'"),
        ({"shape": "ramp", "start_rps": 1, "end_rps": 2, "requests": 5}, "duration_s", "required for shape 'ramp'"),
        ({"shape": "ramp", "start_rps": 0, "end_rps": 0, "duration_s": 5}, "end_rps", "must be > 0"),
        ({"shape": "step", "steps": ((1, 10),), "duration_s": 5}, "steps", "must start at 0"),
        ({"shape": "step", "steps": ((0, 10), (0, 20)), "duration_s": 5}, "steps", "greater than the previous"),
        ({"shape": "step", "steps": ((0, 10, 3),), "duration_s": 5}, "steps", "pair"),
        ({"shape": "step", "steps": (), "duration_s": 5}, "steps", "non-empty"),
        (
            {"shape": "sine", "rate_rps": 10, "amplitude_rps": 20, "period_s": 1, "duration_s": 5},
            "amplitude_rps",
            "<= rate_rps",
        ),
        ({"shape": "bursts", "rate_rps": 0, "burst_size": 0, "burst_every_s": 1, "duration_s": 5}, "burst_size", ">= 1"),
        ({"mode": "closed", "requests": 5}, "concurrency", "required for mode 'closed'"),
        ({"mode": "closed", "concurrency": 0, "requests": 5}, "concurrency", ">= 1"),
        ({"mode": "closed", "concurrency": 2, "rate_rps": 5, "requests": 5}, "rate_rps", "open loop"),
        ({"concurrency": 2, "rate_rps": 5, "requests": 5}, "concurrency", "mode 'closed'"),
    ],
)
def test_validation_names_field_and_rule(kwargs, field, words):
    with pytest.raises(ConfigError) as info:
        LoadProfile(**kwargs)
    assert info.value.field == field
    assert words in str(info.value)


def test_from_mapping_builds_profile():
    profile = LoadProfile.from_mapping(
        {
            "mode": "open",
            "shape": "step",
            "steps": [[0, 100], [10, 200]],
            "duration_s": 20,
            "keys": {"distribution": "zipf", "key_count": 50, "zipf_s": 1.3},
        },
        source="x.toml",
    )
    assert profile.steps == ((0.0, 100.0), (10.0, 200.0))
    assert profile.keys == KeySpec("zipf", 50, 1.3)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rate": 5, "duration_s": 1}, "x.toml: load.rate: unknown field (did you mean 'rate_rps'?)"),
        ({"rate_rps": -1, "duration_s": 1}, "x.toml: load.rate_rps: must be > 0, got -1"),
        ({"rate_rps": 1, "duration_s": 1, "keys": 3}, "x.toml: load.keys: must be a table, got int"),
        (
            {"rate_rps": 1, "duration_s": 1, "keys": {"distribution": "pareto"}},
            "x.toml: load.keys.distribution: must be one of unique, uniform, zipf, got 'pareto'",
        ),
        ({"rate_rps": 1, "duration_s": 1, "keys": {"count": 3}}, "x.toml: load.keys.count: unknown field"),
        ({"mode": "closed", "shape": "poisson", "concurrency": 2, "requests": 3}, "x.toml: load.shape: is for open loop"),
    ],
)
def test_from_mapping_errors_are_one_line_with_file_and_field(table, message):
    with pytest.raises(PresetError) as info:
        LoadProfile.from_mapping(table, source="x.toml")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
