"""Issue 5: timeouts, cancellation, poison isolation, injected faults, hangs, memory pressure."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from clawlet_tui.engine import BackendError, RequestTimeout
from clawlet_tui.models import FaultyModel, FunctionModel, LatencyModel, MLPModel


def double(x):
    return x * 2


# -- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_request_timeout_on_a_hung_model_discards_the_worker(make_engine, gates, accounted, enable_cache):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), request_timeout_s=0.2, batch_timeout_s=0, enable_cache=enable_cache)
    with pytest.raises(RequestTimeout):
        await engine.submit(1)
    # the model call is still stuck; stop() drains it, bounded by request_timeout_s (ModelHang)
    await asyncio.wait_for(engine.stop(), 10)
    snap = engine.snapshot()
    assert snap.pool.discarded == 1
    o = snap.outcomes
    assert (o.timed_out, o.failed, o.succeeded) == (1, 0, 0)
    assert dict(o.errors_by_kind) == {"RequestTimeout": 1}
    accounted(engine)


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_timed_out_request_never_gets_a_late_result(make_engine, gates, accounted, enable_cache):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), request_timeout_s=0.3, batch_timeout_s=0, enable_cache=enable_cache)
    loop_errors = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: loop_errors.append(ctx))
    with pytest.raises(RequestTimeout):
        await engine.submit(1)
    gate.open()  # the model now returns (or its call is already declared hung): either way, too late
    await asyncio.wait_for(engine.stop(), 10)
    o = engine.snapshot().outcomes
    assert (o.submitted, o.timed_out, o.failed, o.succeeded) == (1, 1, 0, 0)
    assert loop_errors == []
    accounted(engine)


async def test_queued_request_that_times_out_frees_its_slot_and_never_runs(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(
        gate.model(), request_timeout_s=0.2, max_concurrent=1, batch_size=1, enable_cache=False
    )
    results = await asyncio.gather(engine.submit(1), engine.submit(2), return_exceptions=True)
    assert all(isinstance(r, RequestTimeout) for r in results)
    assert engine.snapshot().concurrency.queue_depth == 0
    await asyncio.wait_for(engine.stop(), 10)
    assert gate.entered == 1  # the queued one was skipped
    assert engine.snapshot().outcomes.timed_out == 2
    accounted(engine)


# -- caller cancellation ---------------------------------------------------------------------


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_cancelled_queued_request_is_counted_and_frees_its_slot(
    make_engine, gates, wait_until, accounted, enable_cache
):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), max_concurrent=1, batch_size=1, enable_cache=enable_cache)
    running = asyncio.create_task(engine.submit(1))
    await wait_until(lambda: gate.entered == 1)
    queued = asyncio.create_task(engine.submit(2))
    await wait_until(lambda: engine.snapshot().concurrency.queue_depth == 1)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await wait_until(lambda: engine.snapshot().concurrency.queue_depth == 0)
    assert engine.snapshot().outcomes.cancelled == 1
    gate.open()
    assert await asyncio.wait_for(running, 10) == 2
    await engine.stop()
    assert gate.calls == 1
    accounted(engine)


async def test_cancelled_running_request_gets_no_result(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), batch_timeout_s=0)
    task = asyncio.create_task(engine.submit(1))
    await wait_until(lambda: gate.entered == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.open()
    await engine.stop()
    o = engine.snapshot().outcomes
    assert (o.cancelled, o.succeeded, o.failed) == (1, 0, 0)
    accounted(engine)


# -- poison isolation and injected faults -------------------------------------------------


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_one_poison_input_fails_alone(make_engine, accounted, enable_cache):
    inner = MLPModel((8, 16, 8))
    model = FaultyModel(inner, poison_every=8)
    # the seed's batcher, so the eight requests form one batch whatever the loop's timing
    # (adaptive would send the first at once to the idle worker)
    engine = await make_engine(
        model, batch_size=8, batch_timeout_s=60, max_concurrent=1, enable_cache=enable_cache, batch_policy="timeout"
    )
    inputs = [model.make_input(k) for k in range(8)]
    assert FaultyModel.is_poison(inputs[7]) and not any(FaultyModel.is_poison(x) for x in inputs[:7])
    results = await asyncio.wait_for(asyncio.gather(*(engine.submit(x) for x in inputs), return_exceptions=True), 10)
    for x, r in zip(inputs[:7], results[:7]):
        np.testing.assert_allclose(r, inner.predict([x])[0], rtol=1e-5)
    assert isinstance(results[7], BackendError) and results[7].kind == "InjectedFault"
    snap = engine.snapshot()
    assert snap.batches.splits > 0
    assert (snap.outcomes.succeeded, snap.outcomes.failed) == (7, 1)
    assert dict(snap.outcomes.errors_by_kind) == {"InjectedFault": 1}
    accounted(engine)


async def test_two_bad_inputs_in_a_batch_of_eight(make_engine, gates):
    def picky(batch):
        if any(x < 0 for x in batch):
            raise ValueError("negative input")
        return [x * 2 for x in batch]

    engine = await make_engine(FunctionModel(picky), batch_size=8, batch_timeout_s=60, enable_cache=False)
    payloads = [0, 1, -2, 3, 4, 5, -6, 7]
    results = await asyncio.wait_for(asyncio.gather(*(engine.submit(p) for p in payloads), return_exceptions=True), 10)
    for p, r in zip(payloads, results):
        if p < 0:
            assert isinstance(r, BackendError) and r.kind == "ValueError"
        else:
            assert r == 2 * p
    assert engine.snapshot().batches.splits >= 3


async def test_without_isolation_the_whole_batch_fails(make_engine):
    model = FaultyModel(MLPModel((8, 16, 8)), poison_every=4)
    engine = await make_engine(model, batch_size=4, batch_timeout_s=60, isolate_failures=False, enable_cache=False, batch_policy="timeout")
    results = await asyncio.gather(*(engine.submit(model.make_input(k)) for k in range(4)), return_exceptions=True)
    assert all(isinstance(r, BackendError) for r in results)
    assert engine.snapshot().batches.splits == 0


async def test_injected_errors_are_counted_by_kind(make_engine, accounted):
    model = FaultyModel(LatencyModel(fixed_ms=0, per_item_ms=0, dim=4), error_rate=0.5, seed=3)
    engine = await make_engine(model, batch_size=1, enable_cache=False)
    results = [r for r in await asyncio.gather(*(engine.submit(model.make_input(k)) for k in range(40)), return_exceptions=True)]
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures and len(failures) < 40
    assert all(isinstance(r, BackendError) and r.kind == "InjectedFault" for r in failures)
    o = engine.snapshot().outcomes
    assert o.failed == len(failures) and o.succeeded == 40 - len(failures)
    assert dict(o.errors_by_kind) == {"InjectedFault": len(failures)}
    accounted(engine)


async def test_model_returning_the_wrong_number_of_outputs(make_engine):
    class Short:
        name = "short"

        def predict(self, batch):
            return list(batch)[:-1]

    engine = await make_engine(Short(), batch_size=2, batch_timeout_s=60, enable_cache=False)
    results = await asyncio.gather(engine.submit(1), engine.submit(2), return_exceptions=True)
    assert all(isinstance(r, BackendError) and r.kind == "BadOutput" for r in results)
    assert dict(engine.snapshot().outcomes.errors_by_kind) == {"BadOutput": 2}


async def test_async_model_function(make_engine):
    async def predict(batch):
        await asyncio.sleep(0)
        return [x + 1 for x in batch]

    engine = await make_engine(FunctionModel(predict), batch_size=4, batch_timeout_s=0.001)
    assert await asyncio.gather(*(engine.submit(i) for i in range(4))) == [1, 2, 3, 4]


# -- memory pressure --------------------------------------------------------------------------


async def _fill_l1(engine, n: int) -> None:
    await asyncio.gather(*(engine.submit(i) for i in range(n)))
    assert engine.snapshot().cache.l1.size == n


async def test_memory_pressure_shrinks_l1_and_counts_a_trigger(make_engine, gates):
    engine = await make_engine(
        gates(double).model(), memory_budget_bytes=64 * 2**20, max_memory_usage=0.01,
        memory_check_interval_s=3600, l1_cache_size=1000, enable_l2=False, batch_size=64, batch_timeout_s=0.001,
    )
    await _fill_l1(engine, 200)
    assert engine.snapshot().memory.usage_fraction > 0.01
    result = engine._memory.check()
    assert result is not None and not result.manual and result.l1_entries_dropped == 100
    snap = engine.snapshot()
    assert snap.cache.l1.size == 100 and snap.cache.l1.capacity == 1000
    assert snap.memory.gc_triggers == 1 and snap.memory.manual_gc == 0
    assert snap.memory.l1_entries_dropped_total == 100


async def test_memory_loop_logs_a_gc_event(make_engine, gates, wait_until):
    engine = await make_engine(
        gates(double).model(), memory_budget_bytes=64 * 2**20, max_memory_usage=0.01,
        memory_check_interval_s=0.01, enable_l2=False,
    )
    await wait_until(lambda: any(e.kind == "gc" for e in engine.snapshot().events))
    event = next(e for e in engine.snapshot().events if e.kind == "gc")
    assert "usage above 1%" in event.message
    assert engine.snapshot().memory.gc_triggers >= 1


async def test_no_trigger_below_the_threshold_and_manual_gc(make_engine, gates):
    engine = await make_engine(
        gates(double).model(), memory_budget_bytes=2**50, max_memory_usage=0.99, enable_l2=False, batch_timeout_s=0
    )
    await _fill_l1(engine, 10)
    assert engine._memory.check() is None
    result = engine.trigger_gc()
    assert result.manual and result.l1_entries_dropped == 5
    snap = engine.snapshot()
    assert (snap.memory.manual_gc, snap.memory.gc_triggers, snap.cache.l1.size) == (1, 0, 5)
    assert snap.events[-1].kind == "gc" and snap.events[-1].message.startswith("manual")
    assert snap.memory.budget_bytes == 2**50 and snap.memory.threshold == 0.99
