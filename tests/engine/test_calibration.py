"""Calibration: the model timed at each batch size before the first request (engine/calibration.py)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from clawlet_tui.engine.calibration import REPEATS, calibrate, calibration_sizes
from clawlet_tui.engine.cost_model import BatchCostModel
from clawlet_tui.models import MLPModel
from clawlet_tui.models.faulty import FaultyModel


def test_sizes_are_every_size_to_8_then_powers_of_two_and_the_batch_size():
    assert calibration_sizes(1) == [1]
    assert calibration_sizes(4) == [1, 2, 3, 4]
    assert calibration_sizes(8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert calibration_sizes(12) == [1, 2, 3, 4, 5, 6, 7, 8, 12]
    assert calibration_sizes(32) == [1, 2, 3, 4, 5, 6, 7, 8, 16, 32]


class FakeModel:
    """A model whose batch of n takes ``1 + n`` ms alone and twice that beside another call,
    on a clock it advances itself: calibration's figures are known exactly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.running = 0
        self.calls: list[int] = []

    def clock(self) -> float:
        return self.now

    async def run(self, inputs) -> list:
        self.calls.append(len(inputs))
        self.running += 1
        await asyncio.sleep(0)  # let a call started beside this one begin
        slowdown = 2.0 if self.running > 1 else 1.0
        await asyncio.sleep(0)
        self.now += (1 + len(inputs)) * 1e-3 * slowdown / self.running  # calls beside share the clock
        self.running -= 1
        return list(inputs)


async def test_every_size_is_measured_alone_and_powers_of_two_beside_another():
    model, cost = FakeModel(), BatchCostModel()
    result = await calibrate(model.run, lambda key: key, cost, batch_size=8, parallel=2, clock=model.clock)
    for n in range(1, 9):
        assert cost.size_cost(n) == pytest.approx((1 + n) * 1e-3)
    assert {n for n, _ in result.beside_ms} == {1, 2, 4, 8}
    assert cost.size_cost(3, overlapped=True) is None  # not a power of two: estimated from its neighbours
    assert cost.estimate(3, overlapped=True) is not None
    assert not result.cut_short
    assert result.calls == 1 + REPEATS * 8 + REPEATS * 4 * 2  # a first call, alone, two at a time
    assert "calibrated" in result.describe() and "beside another" in result.describe()


async def test_one_worker_measures_nothing_beside():
    model, cost = FakeModel(), BatchCostModel()
    result = await calibrate(model.run, lambda key: key, cost, batch_size=4, parallel=1, clock=model.clock)
    assert result.beside_ms == () and cost.size_cost(1, overlapped=True) is None
    assert max(model.calls) == 4


async def test_the_budget_cuts_calibration_short_and_says_so():
    model, cost = FakeModel(), BatchCostModel()
    # each round over sizes 1..32 costs 2+...+9 + 17 + 33 ms = 94 ms: a 0.1 s budget ends in round 2
    result = await calibrate(model.run, lambda key: key, cost, batch_size=32, parallel=2, budget_s=0.1, clock=model.clock)
    assert result.cut_short and result.alone_ms == () and result.beside_ms == ()
    assert "budget" in result.describe()
    assert cost.size_cost(1) is None  # two samples each: not enough to trust a mean


# -- in the engine ---------------------------------------------------------------------


async def test_a_started_engine_has_measured_sizes_and_no_request_counted(make_engine):
    engine = await make_engine(MLPModel(layers=(16, 32, 16)), batch_size=4, max_concurrent=2, calibrate=True)
    snap = engine.snapshot()
    assert snap.outcomes.submitted == 0 and snap.batches.items == 0
    assert snap.batches.cost_samples > 0 and snap.batches.cost_a_ms is not None
    (event,) = [e for e in snap.events if e.message.startswith("calibrated")]
    assert event.kind == "model" and "beside another" in event.message
    model = engine.model
    payload = model.make_input(1)
    assert np.array_equal(await engine.submit(payload), model.predict([payload])[0])


class Counting:
    name = "counting"

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def predict(self, batch):
        self.calls += 1
        if self.fail:
            raise ValueError("cannot take made-up inputs")
        return [x * 2 for x in batch]

    def make_input(self, key: int) -> np.ndarray:
        return np.full(4, float(key % 7), np.float32)


async def test_a_model_failing_on_made_up_inputs_is_learnt_from_traffic(make_engine):
    model = Counting(fail=True)
    engine = await make_engine(model, batch_size=4, calibrate=True, enable_cache=False)
    snap = engine.snapshot()
    assert any(e.message.startswith("calibration skipped: ValueError") for e in snap.events)
    assert snap.batches.cost_samples == 0
    model.fail = False
    assert np.array_equal(await engine.submit(np.ones(4, np.float32)), np.full(4, 2.0, np.float32))


async def test_no_calibration_when_switched_off_refused_or_without_inputs(make_engine):
    off = Counting()
    await make_engine(off, calibrate=False)
    faulty = FaultyModel(Counting())
    await make_engine(faulty, calibrate=True)

    class NoInputs:
        name = "no-inputs"
        calls = 0

        def predict(self, batch):
            NoInputs.calls += 1
            return list(batch)

    await make_engine(NoInputs(), calibrate=True)
    assert off.calls == 0 and faulty.inner.calls == 0 and NoInputs.calls == 0
