"""ClawletEngine end to end with small models: cache levels, single-flight, batching,
concurrency, baseline mode, live reconfiguration, stop/drain, L2 failure handling."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os

import numpy as np
import pytest

from clawlet_tui.engine import BackendError, ClawletEngine, EngineStopped, RejectedError
from clawlet_tui.engine.cache import DiskStore
from clawlet_tui.engine.snapshot import snapshot_from_dict, snapshot_to_dict
from clawlet_tui.models import FunctionModel, LatencyModel, MLPModel


def double(x):
    return x * 2


# -- cache levels -----------------------------------------------------------------------


async def test_l2_hit_is_promoted_to_l1_without_calling_the_model(make_engine, gates, wait_until):
    first_gate = gates(double)
    first = await make_engine(first_gate.model("m"), batch_timeout_s=0.001, l2_admission="always")
    assert await first.submit(21) == 42
    array = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(await first.submit(array), array * 2)
    # written behind the response; wait for it (see test_stop_flushes_pending_l2_writes)
    await wait_until(lambda: first.snapshot().cache.l2.size == 2)
    await first.stop()
    assert first_gate.calls == 2

    second_gate = gates(double)
    second = await make_engine(second_gate.model("m"), batch_timeout_s=0.001, l2_admission="always")
    assert await second.submit(21) == 42
    np.testing.assert_array_equal(await second.submit(array.copy()), array * 2)
    assert second_gate.calls == 0
    snap = second.snapshot()
    assert snap.cache.l2.hits == 2
    assert snap.cache.l1.size == 2  # promoted
    assert await second.submit(21) == 42
    snap = second.snapshot()
    assert snap.cache.l1.hits == 1 and snap.cache.l2.hits == 2 and second_gate.calls == 0


async def test_l2_is_keyed_by_model_namespace(make_engine, gates, wait_until):
    a = await make_engine(gates(double).model("a"), batch_timeout_s=0.001, l2_admission="always")
    assert await a.submit(5) == 10
    await wait_until(lambda: a.snapshot().cache.l2.size == 1)
    await a.stop()
    other = gates(lambda x: x + 1)
    b = await make_engine(other.model("b"), batch_timeout_s=0.001, l2_admission="always")
    assert await b.submit(5) == 6 and other.calls == 1


async def test_l2_does_not_mix_models_with_different_weights(make_engine, wait_until):
    x = np.ones(8, dtype=np.float32)
    m0, m1 = MLPModel((8, 16, 8), seed=0), MLPModel((8, 16, 8), seed=1)
    e0 = await make_engine(m0, batch_timeout_s=0.001, l2_admission="always")
    await e0.submit(x)
    await wait_until(lambda: e0.snapshot().cache.l2.size == 1)
    await e0.stop()
    e1 = await make_engine(m1, batch_timeout_s=0.001, l2_admission="always")
    np.testing.assert_allclose(await e1.submit(x), m1.predict([x])[0], rtol=1e-5)


async def test_single_flight_computes_identical_requests_once(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), batch_timeout_s=0.001, batch_size=8)
    n = 6
    tasks = [asyncio.create_task(engine.submit(7)) for _ in range(n)]
    await wait_until(lambda: gate.entered == 1)
    assert engine.snapshot().cache.inflight_joins == n - 1
    gate.open()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert results == [14] * n
    assert gate.calls == 1 and gate.sizes == [1]
    snap = engine.snapshot()
    assert snap.cache.inflight_joins == n - 1
    assert snap.outcomes.succeeded == n
    assert snap.cache.l1.misses == n
    assert await engine.submit(7) == 14 and gate.calls == 1  # now an L1 hit
    accounted(engine)


async def test_single_flight_survives_one_waiter_cancelling(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), batch_timeout_s=0.001)
    tasks = [asyncio.create_task(engine.submit(3)) for _ in range(3)]
    await wait_until(lambda: gate.entered == 1)
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    gate.open()
    assert await asyncio.wait_for(asyncio.gather(*tasks[1:]), 10) == [6, 6]
    assert gate.calls == 1
    o = engine.snapshot().outcomes
    assert (o.succeeded, o.cancelled) == (2, 1)
    accounted(engine)


async def test_l1_disabled_still_serves_and_counts_no_l1_lookups(make_engine, gates):
    gate = gates(double)
    engine = await make_engine(gate.model(), l1_cache_size=0, enable_l2=False, batch_timeout_s=0.001)
    assert [await engine.submit(4) for _ in range(3)] == [8, 8, 8]
    assert gate.calls == 3
    s = engine.snapshot().cache.l1
    assert (s.size, s.hits, s.enabled) == (0, 0, False)


async def test_cache_ttl_uses_the_engine_clock(make_engine, gates, clock):
    gate = gates(double)
    engine = await make_engine(gate.model(), clock=clock, cache_ttl_s=10, enable_l2=False, batch_timeout_s=0)
    assert await engine.submit(1) == 2
    assert await engine.submit(1) == 2 and gate.calls == 1
    clock.advance(10)
    assert await engine.submit(1) == 2 and gate.calls == 2
    assert engine.snapshot().cache.l1.expirations == 1


# -- batching and concurrency -------------------------------------------------------------


async def test_full_batch_dispatches_without_waiting_via_engine(make_engine, gates):
    gate = gates(double)
    engine = await make_engine(gate.model(), batch_size=4, batch_timeout_s=60, enable_cache=False, batch_policy="timeout")
    results = await asyncio.wait_for(asyncio.gather(*(engine.submit(i) for i in range(4))), 5)
    assert results == [0, 2, 4, 6] and gate.sizes == [4]
    assert engine.snapshot().batches.size_histogram == ((4, 1),)


async def test_partial_batch_dispatches_after_the_timeout_via_engine(make_engine, gates):
    gate = gates(double)
    engine = await make_engine(gate.model(), batch_size=8, batch_timeout_s=0.02, enable_cache=False, batch_policy="timeout")
    results = await asyncio.wait_for(asyncio.gather(*(engine.submit(i) for i in range(3))), 5)
    assert results == [0, 2, 4] and gate.sizes == [3]


async def test_concurrent_model_calls_never_exceed_max_concurrent(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), max_concurrent=2, batch_size=1, enable_cache=False)
    tasks = [asyncio.create_task(engine.submit(i)) for i in range(8)]
    await wait_until(lambda: gate.entered == 2 and engine.snapshot().concurrency.queue_depth == 6)
    snap = engine.snapshot()
    assert snap.concurrency.busy == 2 and gate.active == 2
    gate.open()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 10) == [2 * i for i in range(8)]
    assert gate.peak == 2 and engine.snapshot().concurrency.peak_busy == 2
    assert engine.snapshot().concurrency.completed_batches == 8
    accounted(engine)


async def test_raising_and_lowering_max_concurrent_live(make_engine, gates, wait_until):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), max_concurrent=1, batch_size=1, enable_cache=False)
    tasks = [asyncio.create_task(engine.submit(i)) for i in range(6)]
    await wait_until(lambda: gate.entered == 1 and engine.snapshot().concurrency.queue_depth == 5)
    engine.update(max_concurrent=3)
    await wait_until(lambda: gate.active == 3)
    assert engine.snapshot().pool.size == 3
    engine.update(max_concurrent=1)
    gate.open()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert gate.peak == 3
    assert engine.snapshot().concurrency.max_concurrent == 1


async def test_baseline_mode_is_the_same_path_without_optimizations(make_engine, gates, accounted):
    gate = gates(double)
    engine = await make_engine(gate.model(), mode="baseline", batch_size=8, max_concurrent=4)
    assert engine.mode == "baseline"
    c = engine.config
    assert (c.batch_size, c.enable_batching, c.enable_cache, c.max_concurrent, c.effective_pool_size) == (
        1, False, False, 1, 1,
    )
    results = await asyncio.wait_for(asyncio.gather(*(engine.submit(5) for _ in range(5))), 10)
    assert results == [10] * 5
    assert gate.sizes == [1] * 5 and gate.peak == 1  # no cache, no batching, one at a time
    snap = engine.snapshot()
    assert snap.mode == "baseline" and snap.cache.inflight_joins == 0 and not snap.cache.enabled
    accounted(engine)


async def test_queue_bound_rejects_and_counts(make_engine, gates, wait_until, accounted):
    gate = gates(double, closed=True)
    engine = await make_engine(gate.model(), max_concurrent=1, batch_size=1, max_queue_size=2, enable_cache=False)
    running = asyncio.create_task(engine.submit(0))
    await wait_until(lambda: gate.entered == 1)
    queued = [asyncio.create_task(engine.submit(i)) for i in (1, 2)]
    await wait_until(lambda: engine.snapshot().concurrency.queue_depth == 2)
    with pytest.raises(RejectedError):
        await engine.submit(3)
    o = engine.snapshot().outcomes
    assert o.rejected == 1 and dict(o.errors_by_kind) == {"RejectedError": 1}
    gate.open()
    assert await asyncio.wait_for(asyncio.gather(running, *queued), 10) == [0, 2, 4]
    accounted(engine)


# -- live reconfiguration under load --------------------------------------------------------


async def test_live_reconfigure_of_every_field_loses_no_request(make_engine, tmp_l2, accounted):
    model = LatencyModel(fixed_ms=0.2, per_item_ms=0.01, dim=4)
    engine = await make_engine(model, batch_size=4, max_concurrent=2, batch_timeout_s=0.002)
    completed = 0
    progress = asyncio.Event()
    stop = False
    errors: list[BaseException] = []

    async def client(seed: int) -> None:
        nonlocal completed
        i = 0
        while not stop:
            key = (seed * 7 + i) % 23
            try:
                out = await engine.submit(model.make_input(key), key=key)
                np.testing.assert_allclose(out, model.make_input(key) * 2)
            except RejectedError:
                if engine.running:
                    raise
                return
            except BaseException as exc:  # anything else is a lost or broken request
                errors.append(exc)
                return
            completed += 1
            i += 1
            progress.set()
            await asyncio.sleep(0)  # an L1 hit completes without suspending: yield to the others

    async def after_some_progress(n: int = 15) -> None:
        target = completed + n
        while completed < target and not errors:
            progress.clear()
            await progress.wait()

    clients = [asyncio.create_task(client(s)) for s in range(8)]
    changes = [
        dict(batch_size=16),
        dict(batch_size=1),
        dict(batch_size=6, batch_timeout_s=0.0),
        dict(max_concurrent=1),
        dict(max_concurrent=4, pool_size=2),
        dict(pool_size=1),
        dict(pool_size=None),
        dict(l1_cache_size=0),
        dict(l1_cache_size=50, cache_ttl_s=0.01),
        dict(enable_cache=False),
        dict(enable_cache=True, enable_l2=False),
        dict(enable_l2=True, l2_size_limit_bytes=2 * 2**20),
        dict(enable_batching=False),
        dict(enable_batching=True, batch_timeout_s=0.01),
        dict(max_queue_size=8),  # one outstanding request per client: never full
        dict(max_queue_size=1000, isolate_failures=False),
        dict(request_timeout_s=60.0, memory_check_interval_s=0.5, max_memory_usage=0.9),
        dict(memory_budget_bytes=2**40),  # blas_threads: refused while running (next test)
    ]
    try:
        for change in changes:
            await asyncio.wait_for(after_some_progress(), 20)
            engine.update(**change)
        await asyncio.wait_for(after_some_progress(), 20)
    finally:
        stop = True
        await asyncio.wait_for(engine.stop(), 30)
        await asyncio.wait_for(asyncio.gather(*clients), 10)
    assert errors == []
    accounted(engine)
    o = engine.snapshot().outcomes
    assert o.failed == 0 and o.timed_out == 0 and o.cancelled == 0
    assert o.succeeded >= 15 * (len(changes) + 1)
    config_events = [e for e in engine.snapshot(events=200).events if e.kind == "config"]
    assert len(config_events) == len(changes)


async def test_invalid_update_changes_nothing(make_engine, gates):
    engine = await make_engine(gates().model(), batch_size=4)
    before = engine.config
    with pytest.raises(Exception, match="batch_size must be >= 1, got 0"):
        engine.update(batch_size=0)
    assert engine.config is before
    assert engine.update(batch_size=9).batch_size == 9 and engine.config.batch_size == 9


async def test_blas_threads_is_refused_while_running_and_changes_nothing(make_engine, gates):
    """Process-wide and OpenBLAS misbehaves when it goes up and down under load: set it before start."""
    from clawlet_tui.engine import ConfigError

    engine = await make_engine(gates().model(), batch_size=4, blas_threads=1)
    before = engine.config
    with pytest.raises(ConfigError, match="blas_threads cannot change while the engine runs") as caught:
        engine.update(blas_threads=2, batch_size=8)
    assert caught.value.field == "blas_threads"
    assert engine.config is before and engine.config.batch_size == 4
    assert engine.update(blas_threads=1, batch_size=8).batch_size == 8  # unchanged value: fine


def test_blas_threads_can_be_set_before_start():
    engine = ClawletEngine(model=FunctionModel(lambda batch: batch))
    engine.update(blas_threads=2)
    assert engine.config.blas_threads == 2


# -- stop / drain ---------------------------------------------------------------------------


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_stop_drains_queued_requests_with_results(make_engine, gates, wait_until, accounted, enable_cache):
    gate = gates(double, closed=True)
    engine = await make_engine(
        gate.model(), max_concurrent=1, batch_size=2, batch_timeout_s=60, enable_cache=enable_cache,
        batch_policy="timeout",
    )
    tasks = [asyncio.create_task(engine.submit(i)) for i in range(7)]
    await wait_until(lambda: gate.entered == 1 and engine.snapshot().concurrency.queue_depth == 5)
    stopping = asyncio.create_task(engine.stop(drain_timeout_s=30))
    await wait_until(lambda: not engine.running)
    with pytest.raises(RejectedError):
        await engine.submit(100)
    gate.open()
    await asyncio.wait_for(stopping, 30)
    assert [t.result() for t in tasks] == [2 * i for i in range(7)]
    assert max(gate.sizes) <= 2
    assert engine.snapshot().outcomes.succeeded == 7
    accounted(engine)


@pytest.mark.parametrize("enable_cache", [False, True])
async def test_drain_timeout_fails_leftovers_with_engine_stopped(make_engine, gates, wait_until, accounted, enable_cache):
    gate = gates(double, closed=True)
    engine = await make_engine(
        gate.model(), max_concurrent=1, batch_size=2, batch_timeout_s=60, enable_cache=enable_cache,
        request_timeout_s=60, batch_policy="timeout",
    )
    tasks = [asyncio.create_task(engine.submit(i)) for i in range(5)]
    await wait_until(lambda: gate.entered == 1 and engine.snapshot().concurrency.queue_depth == 3)
    try:
        await asyncio.wait_for(engine.stop(drain_timeout_s=0.2), 10)
    finally:
        gate.open()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, EngineStopped) for r in results), results
    o = engine.snapshot().outcomes
    assert o.failed == 5 and dict(o.errors_by_kind) == {"EngineStopped": 5}
    assert not engine.running
    accounted(engine)


async def test_submit_after_stop_is_rejected_and_counted(make_engine, gates, accounted):
    engine = await make_engine(gates().model())
    await engine.stop()
    await engine.stop()  # idempotent
    with pytest.raises(RejectedError, match="engine is stopped"):
        await engine.submit(1)
    assert engine.snapshot().outcomes.rejected == 1
    accounted(engine)


async def test_submit_before_start_is_rejected(make_engine, gates):
    engine = await make_engine(gates().model(), start=False)
    with pytest.raises(RejectedError):
        await engine.submit(1)
    await engine.start()
    assert await engine.submit(1) == 1
    with pytest.raises(RuntimeError):
        await engine.start()


# -- L2 failures: serving continues --------------------------------------------------------


async def _serves_without_l2(engine, gate) -> None:
    assert await engine.submit(11) == 22
    assert await engine.submit(11) == 22
    assert gate.calls == 1  # L1 still works
    snap = engine.snapshot()
    assert snap.cache.l2_disabled_reason
    assert any(e.kind == "warning" and "L2" in e.message for e in snap.events)


async def test_l2_dir_that_is_a_regular_file(make_engine, gates, tmp_path):
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    gate = gates(double)
    engine = await make_engine(gate.model(), l2_cache_dir=str(path), batch_timeout_s=0.001)
    await _serves_without_l2(engine, gate)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
async def test_l2_dir_in_unwritable_parent(make_engine, gates, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o500)
    try:
        gate = gates(double)
        engine = await make_engine(gate.model(), l2_cache_dir=str(parent / "l2"), batch_timeout_s=0.001)
        await _serves_without_l2(engine, gate)
    finally:
        os.chmod(parent, 0o700)


async def test_corrupted_l2_database(make_engine, gates, tmp_path):
    directory = tmp_path / "l2"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    gate = gates(double)
    engine = await make_engine(gate.model(), l2_cache_dir=str(directory), batch_timeout_s=0.001)
    await _serves_without_l2(engine, gate)


# -- misc API ---------------------------------------------------------------------------------


async def test_intended_at_is_the_latency_origin(make_engine, gates, clock):
    engine = await make_engine(gates().model(), clock=clock, enable_cache=False, batch_timeout_s=0)
    await engine.submit(1, intended_at=clock() - 2.0)
    assert engine.snapshot().total_latency.max_ms == pytest.approx(2000.0)


async def test_clear_cache_reset_metrics_and_events(make_engine, gates):
    gate = gates(double)
    engine = await make_engine(gate.model(), batch_timeout_s=0, enable_l2=False)
    await engine.submit(1)
    await engine.submit(1)
    engine.clear_cache()
    await engine.submit(1)
    assert gate.calls == 2
    engine.log_event("load", "burst 100")
    engine.reset_metrics()
    snap = engine.snapshot()
    assert snap.outcomes.submitted == 0 and snap.cache.l1.hits == 0 and snap.batches.count == 0
    kinds = [e.kind for e in snap.events]
    assert kinds[-3:] == ["cache", "load", "metrics"]
    seqs = [e.seq for e in snap.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await engine.submit(2)
    engine.reset_metrics(log=False)  # the dashboard's tuning: one reset a window, no line each
    again = engine.snapshot()
    assert again.outcomes.submitted == 0 and again.events == snap.events


async def test_snapshot_round_trips_through_dict_and_json(make_engine, gates, clock):
    def flaky(batch):
        if any(x < 0 for x in batch):
            raise ValueError("negative")
        return [x * 2 for x in batch]

    engine = await make_engine(FunctionModel(flaky, name="flaky"), clock=clock, batch_timeout_s=0, batch_size=2)
    for second in range(3):
        await engine.submit(second)
        with pytest.raises(BackendError, match="negative"):
            await engine.submit(-1 - second)
        clock.advance(1.0)
    engine.trigger_gc()
    snap = engine.snapshot()
    assert snap.series and snap.outcomes.errors_by_kind and snap.events and snap.batches.size_histogram
    assert snapshot_from_dict(snapshot_to_dict(snap)) == snap
    assert snapshot_from_dict(json.loads(json.dumps(snapshot_to_dict(snap)))) == snap


class HeldWrites(concurrent.futures.Executor):
    """Wraps the engine's single L2 I/O thread.  From the first L2 write on, every job
    waits (in order) until :meth:`release` or shutdown; reads before that pass through.

    This makes deterministic the moment stop() or clear_cache() runs while a write-behind
    job is queued on the I/O thread.
    """

    def __init__(self, inner, put_many):
        self.inner = inner
        self.put_many = put_many
        self.held = []

    def submit(self, fn, /, *args, **kwargs):
        if self.held or fn == self.put_many:
            future = concurrent.futures.Future()
            self.held.append((future, fn, args))
            return future
        return self.inner.submit(fn, *args, **kwargs)

    def release(self):
        held, self.held = self.held, []
        for future, fn, args in held:
            if future.set_running_or_notify_cancel():
                future.set_result(fn(*args))

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.release()
        self.inner.shutdown(wait=wait)


async def test_stop_flushes_pending_l2_writes(make_engine, gates, tmp_l2, wait_until):
    engine = await make_engine(gates(double).model("m"), batch_timeout_s=0.001, l2_admission="always")
    cache = engine._cache
    cache._io = HeldWrites(cache._io, cache.l2.put_many)
    assert await engine.submit(21) == 42
    await wait_until(lambda: len(cache._io.held) == 1)  # the write-behind gathers for a moment
    assert len(cache._io.held) == 1  # the write-behind job is queued
    await engine.stop()
    store = DiskStore(tmp_l2.directory, size_limit_bytes=2**20, ttl_s=60)
    try:
        assert store.get("m|int:21") == 42
    finally:
        store.close()


async def test_stop_writes_values_not_yet_handed_to_the_io_thread(make_engine, gates, tmp_l2):
    engine = await make_engine(gates(double).model("m"), batch_timeout_s=0.001, l2_admission="always")
    assert [await engine.submit(x) for x in range(5)] == [0, 2, 4, 6, 8]
    await engine.stop()  # whatever the write-behind still holds is written now
    store = DiskStore(tmp_l2.directory, size_limit_bytes=2**20, ttl_s=60)
    try:
        assert [store.get(f"m|int:{x}") for x in range(5)] == [0, 2, 4, 6, 8]
    finally:
        store.close()


async def test_clear_cache_is_not_undone_by_pending_l2_writes(make_engine, gates, wait_until):
    gate = gates(double)
    engine = await make_engine(gate.model("m"), batch_timeout_s=0.001, l2_admission="always")
    cache = engine._cache
    cache._io = HeldWrites(cache._io, cache.l2.put_many)
    assert await engine.submit(21) == 42
    await wait_until(lambda: len(cache._io.held) == 1)  # the write-behind gathers for a moment
    assert len(cache._io.held) == 1
    engine.clear_cache()
    await asyncio.get_running_loop().run_in_executor(None, cache._io.release)
    assert await engine.submit(21) == 42
    assert gate.calls == 2  # cleared: computed again


def test_engine_rejects_unknown_mode():
    with pytest.raises(ValueError):
        ClawletEngine(model=LatencyModel(), mode="turbo")


async def test_backed_up_l2_reads_are_skipped_not_queued(make_engine, gates, wait_until):
    """Under overload the single L2 thread must not become a second, unbounded queue."""
    from clawlet_tui.engine import cache as cache_module

    first_gate = gates(double)
    first = await make_engine(first_gate.model("m"), batch_timeout_s=0.001, l2_admission="always")
    assert await first.submit(21) == 42
    await wait_until(lambda: first.snapshot().cache.l2.size == 1)
    await first.stop()

    gate = gates(double)
    engine = await make_engine(gate.model("m"), batch_timeout_s=0.001, l2_admission="always")
    engine._cache._l2_reads = cache_module._L2_READS_LIMIT  # as if that many reads were waiting
    assert await engine.submit(21) == 42  # on disk, but the reads are backed up: computed
    assert gate.calls == 1
    snap = engine.snapshot()
    assert snap.cache.l2_bypassed == 1 and snap.cache.l2.hits == 0 and snap.cache.l2.misses == 0
    engine._cache._l2_reads = 0
    # with the reads flowing again, a new key is looked up in L2 (a miss) before the model
    assert await engine.submit(22) == 44
    assert engine.snapshot().cache.l2.misses == 1


async def test_opening_counts_the_first_minutes_lookups_and_latencies(make_engine, gates, clock):
    """The first minute's hit rate stops at the first request after 60 s; a reset starts a new one."""
    gate = gates(double)
    engine = await make_engine(gate.model(), clock=clock, enable_l2=False, batch_timeout_s=0)
    for key in (1, 2, 1, 1):  # 2 misses, 2 hits
        await engine.submit(key)
        clock.advance(10)
    opening = engine.snapshot().opening
    assert (opening.cache_lookups, opening.cache_hits, opening.latency.count) == (4, 2, 4)
    assert opening.elapsed_s == pytest.approx(40.0) and not opening.complete
    clock.advance(25)  # 65 s: past the first minute
    for key in (3, 1, 1):
        await engine.submit(key)
    snap = engine.snapshot()
    assert (snap.opening.cache_lookups, snap.opening.cache_hits) == (4, 2)
    assert snap.opening.hit_rate == 0.5 and snap.opening.complete and snap.opening.latency.count == 4
    assert snap.cache.l1.hits + snap.cache.l1.misses == 7  # the run's own figure goes on
    engine.reset_metrics()
    await engine.submit(1)
    opening = engine.snapshot().opening
    assert (opening.cache_lookups, opening.cache_hits, opening.latency.count) == (1, 1, 1)
