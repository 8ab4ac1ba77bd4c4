"""The capacity search on a synthetic engine with a known capacity (no engine, no time)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from clawlet_tui.engine.errors import ConfigError
from clawlet_tui.tune.capacity import (
    BISECT,
    CONFIRM,
    LOWER,
    RAISE,
    START,
    CapacityTarget,
    RateSearch,
    check_rates,
    round_rate,
)

SLO = 50.0
#: the synthetic engine serves 1000 req/s at most; P99 = 10 ms / (1 - rate / 1000)
SERVICE_RPS = 1000.0
#: where P99 crosses the SLO: 10 / (1 - r / 1000) = 50  <=>  r = 800
TRUE_CAPACITY = SERVICE_RPS * (1 - 10.0 / SLO)


@dataclass(frozen=True)
class Fake:
    throughput_rps: float
    p99_ms: float
    success: float = 1.0
    backlog: int = 0


class QueueingEngine:
    """P99 that grows like a queue's towards saturation, with multiplicative noise."""

    def __init__(self, noise: float = 0.0, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.noise = noise
        self.calls: list[tuple[float, str]] = []

    async def __call__(self, rate: float, role: str) -> Fake:
        self.calls.append((rate, role))
        jitter = 1 + self.rng.gauss(0, self.noise)
        if rate >= SERVICE_RPS:  # overloaded: the backlog grows, requests time out
            return Fake(SERVICE_RPS, 5000.0 * jitter, success=0.9, backlog=int(rate))
        return Fake(rate, 10.0 / (1 - rate / SERVICE_RPS) * jitter)


@pytest.mark.parametrize("start", [10.0, 100.0, 790.0, 5000.0, 50000.0])
async def test_finds_the_known_capacity_within_the_resolution(start: float) -> None:
    engine = QueueingEngine()
    result = await RateSearch(CapacityTarget(SLO), start_rps=start, resolution=0.05).run(engine)
    assert result.ended == "converged" and result.confirmed
    assert result.capacity_rps is not None and result.failed_rps is not None
    assert result.capacity_rps <= TRUE_CAPACITY <= result.failed_rps
    assert result.failed_rps <= result.capacity_rps * 1.05
    assert engine.calls[0] == (round_rate(start), START)
    roles = {role for _, role in engine.calls}
    assert BISECT in roles and CONFIRM in roles
    assert (RAISE in roles) == (start < TRUE_CAPACITY) and (LOWER in roles) == (start > TRUE_CAPACITY)


@pytest.mark.parametrize("seed", range(8))
async def test_under_noise_no_rate_that_failed_is_ever_the_capacity(seed: int) -> None:
    engine = QueueingEngine(noise=0.05, seed=seed)
    result = await RateSearch(CapacityTarget(SLO), start_rps=100.0, resolution=0.05).run(engine)
    cap = result.capacity_rps
    assert cap is not None
    # every measurement of the capacity rate passed, and every rate that ever failed lies above it
    assert all(s.passed for s in result.steps if s.rate_rps == cap)
    assert all(s.rate_rps > cap for s in result.steps if not s.passed)
    # within the resolution of the truth, the noise allowing (5% on P99 moves the crossing ~1%)
    assert TRUE_CAPACITY * 0.9 <= cap <= TRUE_CAPACITY * 1.03


async def test_a_rate_that_fails_its_confirmation_is_not_reported() -> None:
    """The first rate to be confirmed fails its second measurement: the capacity falls below it."""
    confirmed: list[float] = []

    async def flaky(rate: float, role: str) -> Fake:
        if role == CONFIRM and not confirmed:
            confirmed.append(rate)
            return Fake(rate, 80.0)
        return Fake(rate, 20.0 if rate < 500 else 80.0)

    result = await RateSearch(CapacityTarget(SLO), start_rps=100.0, resolution=0.05).run(flaky)
    assert result.capacity_rps is not None and result.capacity_rps < confirmed[0]
    assert result.failed_rps == confirmed[0]
    assert [s.passed for s in result.steps if s.rate_rps == confirmed[0]] == [True, False]
    assert result.confirmed


@pytest.mark.parametrize(
    ("fake", "reason"),
    [
        (Fake(100.0, 60.0), "P99 60.0 > 50 ms"),
        (Fake(100.0, 10.0, success=0.998), "success 99.80% < 99.9%"),
        (Fake(100.0, 10.0, backlog=1000), "backlog 1000 > 20 in flight"),
        (Fake(0.0, 0.0, success=0.0), "nothing succeeded"),
    ],
)
def test_each_rule_of_the_target_fails_a_rate(fake: Fake, reason: str) -> None:
    assert CapacityTarget(SLO).verdict(100.0, fake) == reason


def test_success_of_exactly_99_9_percent_passes() -> None:
    assert CapacityTarget(SLO).verdict(100.0, Fake(100.0, 10.0, success=0.999)) == ""


async def test_nothing_sustainable_ends_with_no_capacity() -> None:
    async def hopeless(rate: float, role: str) -> Fake:
        return Fake(rate, 500.0)

    result = await RateSearch(CapacityTarget(SLO), start_rps=64.0).run(hopeless)
    assert result.capacity_rps is None and result.ended == "none"
    assert all(not s.passed for s in result.steps)
    assert min(s.rate_rps for s in result.steps) >= 1.0


async def test_the_max_rate_caps_the_search() -> None:
    result = await RateSearch(CapacityTarget(SLO), start_rps=100.0, max_rps=300.0).run(QueueingEngine())
    assert result.capacity_rps == 300.0 and result.failed_rps is None and result.ended == "max-rps"
    assert max(s.rate_rps for s in result.steps) == 300.0


@pytest.mark.parametrize("steps", [1, 3, 5])
async def test_no_step_starts_once_the_budget_says_no(steps: int) -> None:
    engine = QueueingEngine()
    search = RateSearch(CapacityTarget(SLO), start_rps=10.0)
    result = await search.run(engine, can_start=lambda: len(engine.calls) < steps)
    assert len(result.steps) == steps and result.ended == "budget"
    assert result.capacity_rps == max(s.rate_rps for s in result.steps)  # all passed: the doubling had not ended


async def test_max_steps_caps_the_search_too() -> None:
    result = await RateSearch(CapacityTarget(SLO), start_rps=10.0, max_steps=4, confirm=False).run(QueueingEngine())
    assert len(result.steps) == 4 and result.ended == "budget"


def test_rates_read_as_typed() -> None:
    assert round_rate(math.sqrt(800 * 1600)) == 1130.0
    assert round_rate(12.3456) == 12.3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0.0, 0.05, 1000.0), "start-rps"),
        ((100.0, 0.0, 1000.0), "resolution"),
        ((100.0, 0.05, math.inf), "max-rps"),
        ((2000.0, 0.05, 1000.0), "start-rps"),
    ],
)
def test_bad_rates_are_config_errors_naming_the_option(args: tuple[float, float, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_rates(*args)
    assert info.value.field == field


@pytest.mark.parametrize("slo", [0.0, -1.0, math.inf])
def test_the_slo_must_be_positive(slo: float) -> None:
    with pytest.raises(ConfigError):
        CapacityTarget(slo)
