"""LoadGenerator against a stand-in engine (see conftest.FakeEngine).

Only test_open_loop_rate_over_three_seconds spends real time on purpose (~3 s); the rest
synchronize on the fake engine's futures or on the event loop itself.
"""

from __future__ import annotations

import asyncio
import gc
import time

import numpy as np
import pytest

from clawlet_tui.engine.errors import BackendError, ConfigError, EngineStopped, RejectedError, RequestTimeout
from clawlet_tui.load import KeySpec, LoadGenerator, LoadProfile


def open_profile(rate_rps: float, **kwargs) -> LoadProfile:
    kwargs.setdefault("keys", KeySpec("unique"))
    return LoadProfile(rate_rps=rate_rps, **kwargs)


async def test_open_loop_rate_over_three_seconds(engine):
    rate, seconds = 200, 3
    gen = LoadGenerator(engine, open_profile(rate, duration_s=seconds))
    await gen.start()
    await gen.wait()
    stats = gen.stats()
    assert stats.sent == stats.completed == rate * seconds
    assert stats.finished and stats.outstanding == 0
    origin = engine.calls[0].intended_at - 0.5 / rate
    intended = np.array([c.intended_at for c in engine.calls]) - origin
    actual = np.array([c.sent_at for c in engine.calls]) - origin
    # the schedule itself is exact ...
    assert np.histogram(intended, bins=np.arange(seconds + 1))[0].tolist() == [rate] * seconds
    # ... and the requests really went out at 200 +-5% per second of the run
    for count in np.histogram(actual, bins=np.arange(seconds + 1))[0]:
        assert abs(count - rate) <= 0.05 * rate
    assert all(c.sent_at >= c.intended_at - 1e-3 for c in engine.calls)  # never early
    assert engine.events[0] == ("load", f"start: {gen.profile.describe()}")
    assert engine.events[-1][0] == "load" and "finished" in engine.events[-1][1]


async def test_overdue_arrivals_go_out_at_once_with_their_intended_times(engine):
    rate = 1000
    gen = LoadGenerator(engine, open_profile(rate, requests=150))
    await gen.start()
    time.sleep(0.1)  # block the event loop: ~100 arrivals fall due while nothing can run
    await gen.wait()
    intended = np.array([c.intended_at for c in engine.calls])
    assert len(intended) == 150
    assert np.allclose(np.diff(intended), 1 / rate)  # spacing is the schedule's, not the send times'
    late = [c for c in engine.calls if c.sent_at - c.intended_at > 0.05]
    assert len(late) >= 40  # sent late, but their latency will count from when they were due


async def test_closed_loop_never_exceeds_concurrency(engine):
    gen = LoadGenerator(engine, LoadProfile(mode="closed", concurrency=4, requests=300))
    await gen.start()
    await gen.wait()
    stats = gen.stats()
    assert stats.sent == stats.completed == 300
    assert engine.peak_active == 4
    assert stats.concurrency == 4 and stats.mode == "closed"
    assert all(c.intended_at is None for c in engine.calls)


async def test_closed_loop_set_rate_adds_clients(engine):
    engine.hold()
    gen = LoadGenerator(engine, LoadProfile(mode="closed", concurrency=2, requests=100))
    await gen.start()
    await engine.active_reached(2)
    gen.set_rate(5)
    await engine.active_reached(5)
    assert gen.stats().concurrency == 5
    engine.release()
    await gen.wait()
    assert engine.peak_active == 5
    assert gen.stats().completed == 100


async def test_inject_burst_adds_exactly_n(engine):
    gen = LoadGenerator(engine, open_profile(2000, requests=50))
    await gen.start()
    await engine.reached(10)
    assert gen.inject_burst(25) == 25
    await gen.wait()
    stats = gen.stats()
    assert stats.sent == stats.completed == 75
    assert ("burst", "burst of 25 requests") in engine.events
    with pytest.raises(ConfigError):
        gen.inject_burst(0)


async def test_inject_burst_on_top_of_closed_loop(engine):
    engine.hold()
    gen = LoadGenerator(engine, LoadProfile(mode="closed", concurrency=3, requests=3))
    await gen.start()
    await engine.active_reached(3)
    gen.inject_burst(10)
    await engine.active_reached(13)
    engine.release()
    await gen.wait()
    assert gen.stats().sent == gen.stats().completed == 13


async def test_pause_stops_sending_and_resume_continues_without_a_flood(engine):
    gen = LoadGenerator(engine, open_profile(500, duration_s=60))
    await gen.start()
    await engine.reached(20)
    gen.pause()
    assert gen.paused and gen.stats().paused and gen.stats().target_rps == 0
    sent = len(engine.calls)
    await asyncio.sleep(0.1)  # observation window: 50 arrivals would have been due
    assert len(engine.calls) == sent
    before_resume = engine.clock()
    gen.resume()
    await engine.reached(sent + 20)
    # arrivals resume from where the load paused: nothing intended inside the pause
    assert engine.calls[sent].intended_at >= before_resume
    await gen.stop()
    assert [e for e in engine.events if e[1] in ("paused", "resumed")] == [("load", "paused"), ("load", "resumed")]


async def test_stop_leaves_nothing_outstanding(engine):
    engine.hold()
    gen = LoadGenerator(engine, open_profile(5000, duration_s=60))
    await gen.start()
    await engine.reached(30)
    stopping = asyncio.ensure_future(gen.stop())
    await asyncio.sleep(0)  # let stop() flag the scheduler before requests finish
    engine.release()
    await stopping
    await gen.stop()  # idempotent
    stats = gen.stats()
    assert stats.outstanding == 0 and stats.finished
    assert stats.sent == stats.completed == len(engine.calls)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert gen.inject_burst(5) == 0


async def test_stop_timeout_cancels_and_counts(engine):
    engine.hold()
    gen = LoadGenerator(engine, LoadProfile(mode="closed", concurrency=4, duration_s=60))
    await gen.start()
    await engine.active_reached(4)
    await gen.stop(timeout_s=0)
    stats = gen.stats()
    assert stats.sent == 4 and stats.failed == (("CancelledError", 4),)
    assert stats.outstanding == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_exceptions_are_counted_by_class_never_raised(fake_engine_factory, unretrieved_errors):
    errors = {0: RejectedError("full"), 1: RequestTimeout("slow"), 2: BackendError("bad"), 3: EngineStopped("bye")}
    engine = fake_engine_factory(error_for=lambda key: errors.get(key % 5))
    gen = LoadGenerator(engine, open_profile(5000, requests=100))
    await gen.start()
    await gen.wait()
    stats = gen.stats()
    assert stats.completed == 20
    assert stats.failed == (
        ("BackendError", 20),
        ("EngineStopped", 20),
        ("RejectedError", 20),
        ("RequestTimeout", 20),
    )
    assert stats.sent == stats.completed + stats.failed_total
    gc.collect()
    assert unretrieved_errors == []


async def test_model_errors_are_counted_too(engine, unretrieved_errors):
    class BrokenModel:
        def make_input(self, key):
            raise ValueError("no input")

    gen = LoadGenerator(engine, open_profile(5000, requests=10), model=BrokenModel())
    await gen.start()
    await gen.wait()
    assert gen.stats().failed == (("ValueError", 10),)
    gc.collect()
    assert unretrieved_errors == []


async def test_outstanding_cap_drops_instead_of_sending(engine):
    engine.hold()
    gen = LoadGenerator(engine, open_profile(10_000, requests=20), max_outstanding=5)
    await gen.start()
    time.sleep(0.01)  # every arrival is due before the scheduler first runs
    while gen.stats().sent + gen.stats().dropped_by_generator < 20:
        await asyncio.sleep(0)
    stats = gen.stats()
    assert stats.sent == 5 and stats.dropped_by_generator == 15 and stats.outstanding == 5
    engine.release()
    await gen.wait()
    assert gen.stats().completed == 5


async def test_set_rate_open_loop_sets_target_now(engine):
    gen = LoadGenerator(engine, LoadProfile(shape="ramp", start_rps=100, end_rps=300, duration_s=60))
    await gen.start()
    gen.set_rate(400)
    assert gen.stats().target_rps == pytest.approx(400, rel=0.02)
    with pytest.raises(ConfigError):
        gen.set_rate(0)
    await gen.stop()
    assert ("load", "rate 400 req/s") in engine.events


async def test_payloads_come_from_the_model_for_the_key(engine):
    seen = []

    async def submit(payload, key=None, intended_at=None):
        seen.append((key, payload))

    engine.submit = submit
    gen = LoadGenerator(engine, LoadProfile(rate_rps=5000, requests=200, keys=KeySpec("zipf", 20, 1.1)))
    await gen.start()
    await gen.wait()
    assert len(seen) == 200
    for key, payload in seen:
        assert np.array_equal(payload, engine.model.make_input(key))


async def test_stats_before_start_and_misuse(engine):
    gen = LoadGenerator(engine, open_profile(10, requests=1))
    stats = gen.stats()
    assert stats.sent == 0 and not stats.finished and stats.description.startswith("open loop")
    with pytest.raises(RuntimeError):
        await gen.wait()
    await gen.start()
    with pytest.raises(RuntimeError):
        await gen.start()
    await gen.stop()
