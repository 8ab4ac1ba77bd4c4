"""The hill climb on a synthetic objective with a known optimum (no engine, no time)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.tune.objective import Objective
from clawlet_tui.tune.search import REMEASURE, START, GridSearch, HillClimb
from clawlet_tui.tune.space import Axis, Point, SearchSpace

AXES = {
    "batch_size": Axis("batch_size", (1, 2, 4, 8, 16, 32, 64)),
    "max_concurrent": Axis("max_concurrent", (1, 2, 3, 4)),
    "batch_policy": Axis("batch_policy", ("adaptive", "eager", "timeout"), ordered=False),
}
SLO = 50.0


@dataclass(frozen=True)
class Fake:
    throughput_rps: float
    p99_ms: float
    success: float = 1.0


def truth(point: Point) -> Fake:
    """Throughput peaks at batch 16 x 3 workers, but P99 there breaks the SLO: the best is 8 x 3."""
    v = dict(point)
    bs, mc = v["batch_size"], v["max_concurrent"]
    policy_bonus = {"adaptive": 1.0, "eager": 0.9, "timeout": 0.8}[v.get("batch_policy", "adaptive")]
    throughput = (1000 - 50 * (math.log2(bs) - 4) ** 2 - 80 * (mc - 3) ** 2) * policy_bonus
    return Fake(max(throughput, 1.0), 3.0 * bs + 5.0 * mc)


def space(params: tuple[str, ...] = ("batch_size", "max_concurrent")) -> SearchSpace:
    return SearchSpace(OptimizationConfig(batch_size=1, max_concurrent=1), params, axes=AXES)


def brute_force_best(s: SearchSpace, objective: Objective) -> Point:
    feasible = [p for p in s.grid() if objective.meets(truth(p))]
    return max(feasible, key=lambda p: truth(p).throughput_rps)


class Recorder:
    def __init__(self, noise: float = 0.0, seed: int = 0) -> None:
        self.calls: list[tuple[Point, str]] = []
        self.rng = random.Random(seed)
        self.noise = noise

    async def __call__(self, point: Point, role: str) -> Fake:
        self.calls.append((point, role))
        t = truth(point)
        return Fake(t.throughput_rps * (1 + self.rng.gauss(0, self.noise)), t.p99_ms * (1 + self.rng.gauss(0, self.noise)))


@pytest.mark.parametrize("seed", range(5))
async def test_finds_the_known_optimum_under_noise_and_re_measures_it(seed: int) -> None:
    s = space()
    objective = Objective(SLO, "throughput")
    evaluate = Recorder(noise=0.01, seed=seed)
    result = await HillClimb(s, objective, margin=0.03).run(evaluate)
    assert result.best == brute_force_best(s, objective) == (("batch_size", 8), ("max_concurrent", 3))
    assert result.ended == "converged" and result.confirmed
    assert (result.best, REMEASURE) in evaluate.calls
    assert evaluate.calls[0] == (s.start, START)
    assert result.trials == len(evaluate.calls) < s.size  # fewer trials than the grid


async def test_walks_an_unordered_axis_too() -> None:
    s = space(("batch_size", "max_concurrent", "batch_policy"))
    result = await HillClimb(s, Objective(SLO), margin=0.03).run(Recorder())
    assert dict(result.best or ()) == {"batch_size": 8, "max_concurrent": 3, "batch_policy": "adaptive"}


async def test_latency_goal_finds_the_lowest_p99() -> None:
    s = space()
    result = await HillClimb(s, Objective(SLO, "latency"), margin=0.03).run(Recorder())
    assert dict(result.best or ()) == {"batch_size": 1, "max_concurrent": 1}


@pytest.mark.parametrize("cap", [1, 2, 5])
async def test_no_trial_starts_once_the_budget_says_no(cap: int) -> None:
    evaluate = Recorder()
    result = await HillClimb(space(), Objective(SLO)).run(evaluate, lambda: len(evaluate.calls) < cap)
    assert len(evaluate.calls) == result.trials == cap
    assert result.ended == "budget"


async def test_a_wall_clock_budget_is_respected() -> None:
    """Each fake trial takes 4 s of a driven clock; a 30 s budget fits 7 trials of at most 4 s."""
    now = [0.0]
    evaluate = Recorder()

    async def timed(point: Point, role: str) -> Fake:
        now[0] += 4.0
        return await evaluate(point, role)

    result = await HillClimb(space(), Objective(SLO)).run(timed, lambda: now[0] + 4.0 <= 30.0)
    assert result.trials == 7 and now[0] <= 30.0


async def test_never_chooses_a_config_that_broke_the_slo() -> None:
    """Everything misses a 5 ms SLO: nothing is chosen, though the search still ranked them."""
    result = await HillClimb(space(), Objective(5.0)).run(Recorder())
    assert result.best is None
    assert all(not e.feasible for _, e in result.estimates)


async def test_a_config_that_failed_its_re_measurement_is_not_chosen() -> None:
    """The would-be best meets the SLO once, then breaks it when re-measured: it is demoted."""
    s = space()
    lucky = (("batch_size", 16), ("max_concurrent", 3))
    seen: dict[Point, int] = {}

    async def evaluate(point: Point, role: str) -> Fake:
        seen[point] = seen.get(point, 0) + 1
        t = truth(point)
        if point == lucky:  # true P99 63 ms; measured 40 ms the first time
            return Fake(t.throughput_rps * 1.2, 40.0 if seen[point] == 1 else t.p99_ms)
        return t

    result = await HillClimb(s, Objective(SLO), margin=0.03).run(evaluate)
    assert seen.get(lucky, 0) >= 1
    assert result.best != lucky
    assert result.best is not None and Objective(SLO).meets(truth(result.best))


async def test_when_the_budget_runs_out_the_best_is_re_measured_from_the_reserve() -> None:
    evaluate = Recorder()
    reserve = [1]

    def can_confirm() -> bool:
        reserve[0] -= 1
        return reserve[0] >= 0

    result = await HillClimb(space(), Objective(SLO)).run(evaluate, lambda: len(evaluate.calls) < 4, can_confirm)
    assert len(evaluate.calls) == 5 and evaluate.calls[-1][1] == REMEASURE
    assert evaluate.calls[-1][0] == result.best and result.ended == "budget"
    assert result.confirmed


async def test_the_grid_takes_the_tuners_three_arguments_and_confirms_nothing() -> None:
    """The tuner calls every method as ``run(evaluate, can_start, can_confirm)``; the grid ignores the last."""
    s = space()
    evaluate = Recorder()
    result = await GridSearch(s, Objective(SLO)).run(evaluate, lambda: True, lambda: True)
    assert len(evaluate.calls) == s.size and not result.confirmed
    assert result.best == brute_force_best(s, Objective(SLO))


async def test_a_long_walk_strides_and_back_fills_what_a_stride_skipped() -> None:
    """From batch 1, throughput peaks at 16 (workers fixed): 2 wins, then strides 2 -> 8 (4 skipped),
    8 -> 64 (the end, 16 and 32 skipped) loses, so 16, the value one step on, is tried and wins."""
    s = SearchSpace(OptimizationConfig(batch_size=1, max_concurrent=3), ("batch_size", "max_concurrent"), axes=AXES)
    evaluate = Recorder()
    result = await HillClimb(s, Objective(1000.0), margin=0.03).run(evaluate)
    walked = [dict(point)["batch_size"] for point, _ in evaluate.calls]
    assert walked[:5] == [1, 2, 8, 64, 16]
    assert dict(result.best or ()) == {"batch_size": 16, "max_concurrent": 3}
    assert 4 not in walked  # the stride skipped it, and the climb never needed it
