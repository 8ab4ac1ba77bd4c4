"""The work-conserving batch policies ("adaptive", "eager"), the cost model and shedding.

The batcher's decisions read a clock it is given; here it is driven by hand, and
workers are slots the test holds and frees, so "idle", "busy" and "waited" are exact.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clawlet_tui.engine.batcher import DISPATCH_REASONS, DynamicBatcher
from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.cost_model import ArrivalRate, BatchCostModel, WaitOutcomes
from clawlet_tui.engine.errors import BackendError, PredictedLate, RejectedError
from clawlet_tui.models.latency import LatencyModel


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Workers:
    """``workers`` execution slots; a dispatched batch holds one until :meth:`finish`."""

    def __init__(self, workers: int, *, policy: str = "adaptive", batch_size: int = 8, batch_timeout_s: float = 60.0):
        self.limit = workers
        self.busy = 0
        self.clock = Clock()
        self.running: list[list[object]] = []
        self.batches: list[list[object]] = []
        self.freed = asyncio.Event()
        self.dispatched = asyncio.Event()
        self.batcher = DynamicBatcher(
            self.dispatch,
            batch_size=batch_size,
            batch_timeout_s=batch_timeout_s,
            max_queue_size=1000,
            policy=policy,
            ready=self.ready,
            idle_workers=lambda: self.limit - self.busy,
            workers=lambda: self.limit,
            clock=self.clock,
        )

    async def ready(self) -> None:
        while self.busy >= self.limit:
            self.freed.clear()
            await self.freed.wait()
        self.busy += 1

    def dispatch(self, batch) -> None:
        payloads = [r.payload for r in batch]
        self.batches.append(payloads)
        self.running.append(batch)
        self.dispatched.set()

    def finish(self) -> None:
        """The oldest running batch completes: results out, slot free."""
        batch = self.running.pop(0)
        for r in batch:
            r.future.set_result(r.payload)
        self.busy -= 1
        self.freed.set()

    async def until_batches(self, n: int) -> None:
        while len(self.batches) < n:
            self.dispatched.clear()
            await asyncio.wait_for(self.dispatched.wait(), 5)

    def reasons(self) -> dict[str, int]:
        return {k: v for k, v in self.batcher.dispatch_counts.items() if v}


@pytest.fixture
async def pool():
    made: list[Workers] = []

    def make(*args, **kwargs) -> Workers:
        w = Workers(*args, **kwargs)
        made.append(w)
        w.batcher.start()
        return w

    yield make
    for w in made:
        await w.batcher.stop()


@pytest.mark.parametrize("policy", ["adaptive", "eager"])
async def test_an_idle_worker_takes_a_lone_request_at_once(pool, policy):
    # batch_timeout_s is 60 s: under the seed's policy this request would wait a minute.
    w = pool(1, policy=policy)
    w.batcher.submit("a")
    await w.until_batches(1)
    assert w.batches == [["a"]] and w.reasons() == {"worker_free": 1}


async def test_the_timeout_policy_still_waits_for_a_full_batch(pool):
    w = pool(1, policy="timeout", batch_size=2)
    w.batcher.submit("a")
    for _ in range(5):
        await asyncio.sleep(0)
    assert w.batches == [] and w.batcher.depth == 0  # taken, held for its batch to fill
    w.batcher.submit("b")
    await w.until_batches(1)
    assert w.batches == [["a", "b"]] and w.reasons() == {"full": 1}


async def test_while_every_worker_is_busy_requests_accumulate_into_the_next_batch(pool):
    w = pool(1, batch_size=8)
    w.batcher.submit(0)
    await w.until_batches(1)
    for i in range(1, 6):
        w.batcher.submit(i)
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(w.batches) == 1 and w.batcher.depth == 5
    w.finish()
    await w.until_batches(2)
    assert w.batches[1] == [1, 2, 3, 4, 5]


async def test_a_full_queue_leaves_in_full_batches(pool):
    w = pool(1, batch_size=4)
    w.batcher.submit(0)
    await w.until_batches(1)
    for i in range(1, 10):
        w.batcher.submit(i)
    w.finish()
    await w.until_batches(2)
    w.finish()
    await w.until_batches(3)
    assert w.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8]]
    assert w.reasons() == {"worker_free": 1, "full": 2}


async def test_idle_workers_share_the_queue(pool):
    w = pool(2, batch_size=32)
    for i in range(16):
        w.batcher.submit(i)
    await w.until_batches(2)
    assert w.batches == [list(range(8)), list(range(8, 16))]


async def test_policy_switch_is_read_by_the_running_loop(pool):
    w = pool(1, policy="timeout", batch_size=4)
    w.batcher.submit("a")
    for _ in range(3):
        await asyncio.sleep(0)
    assert w.batches == []
    w.batcher.policy = "eager"
    w.batcher.wake()
    # the loop re-reads its settings and goes on waiting only under the timeout rule:
    w.batcher.submit("b")
    await w.until_batches(1)
    assert w.batches[0][0] == "a"


# -- waiting only where it pays ---------------------------------------------------------


def fitted(a_s: float, b_s: float) -> BatchCostModel:
    model = BatchCostModel()
    for n in (1, 2, 4, 8, 16):
        model.observe(n, a_s + b_s * n)
    return model


def batcher_with(cost: BatchCostModel, rate: float, clock: Clock, *, workers: int, timeout_s: float) -> DynamicBatcher:
    b = DynamicBatcher(lambda batch: None, batch_size=64, batch_timeout_s=timeout_s, max_queue_size=10, workers=lambda: workers, clock=clock)
    b.cost = cost
    arrivals = ArrivalRate()
    for k in range(200):
        arrivals.arrived(clock.now - (200 - k) / rate)
    b.arrivals = arrivals
    return b


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(0.0, 0.05),
    b=st.floats(0.0, 0.005),
    rate=st.floats(1.0, 100_000.0),
    n=st.integers(1, 63),
    workers=st.integers(1, 8),
    timeout_s=st.floats(0.0, 0.2),
    age_s=st.floats(0.0, 0.3),
)
def test_no_wait_passes_batch_timeout_and_waits_only_when_the_model_says_it_pays(a, b, rate, n, workers, timeout_s, age_s):
    clock = Clock()
    batcher = batcher_with(fitted(a, b), rate, clock, workers=workers, timeout_s=timeout_s)
    wait_s, capped = batcher._worthwhile_wait(n, clock.now - age_s)
    if wait_s is None:
        return
    fit = batcher.cost.fit()
    measured_rate = batcher.arrivals.per_s(clock.now, before=clock.now - age_s)  # the load before the batch
    assert 0 < wait_s <= timeout_s - age_s + 1e-12
    assert measured_rate * fit.seconds(n) > n * workers  # the workers cannot keep up at batch n
    assert measured_rate * fit.a_s > n  # one more request saves more than it costs
    assert capped == (wait_s == pytest.approx(timeout_s - age_s))


def test_an_unfitted_model_never_waits():
    clock = Clock()
    b = batcher_with(BatchCostModel(), 10_000.0, clock, workers=1, timeout_s=1.0)
    assert b._worthwhile_wait(1, clock.now) == (None, False)


def test_a_high_fixed_cost_under_overload_waits_for_the_next_arrival():
    clock = Clock()
    b = batcher_with(fitted(0.010, 0.0001), 2000.0, clock, workers=1, timeout_s=0.05)
    wait_s, capped = b._worthwhile_wait(2, clock.now)
    assert wait_s == pytest.approx(2 / 2000.0, rel=0.05) and not capped


# -- the cost model ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0.0, 0.1),
    b=st.floats(0.0, 0.01),
    sizes=st.lists(st.integers(1, 256), min_size=2, max_size=80),
)
def test_the_fit_recovers_a_known_line(a, b, sizes):
    assume(len(set(sizes[-64:])) >= 2)
    model = BatchCostModel(window=64)
    for n in sizes:
        model.observe(n, a + b * n)
    fit = model.fit()
    assert fit is not None
    assert fit.a_s == pytest.approx(a, abs=1e-9)
    assert fit.b_s == pytest.approx(b, abs=1e-9)
    assert fit.samples == min(len(sizes), 64)


def test_one_batch_size_cannot_be_fitted():
    model = BatchCostModel()
    for _ in range(10):
        model.observe(4, 0.01)
    assert model.fit() is None


def test_the_fit_follows_the_last_window_only():
    model = BatchCostModel(window=8)
    for n in range(1, 9):
        model.observe(n, 1.0 + 1.0 * n)
    for n in range(1, 9):
        model.observe(n, 0.002 + 0.001 * n)
    fit = model.fit()
    assert fit.a_s == pytest.approx(0.002) and fit.b_s == pytest.approx(0.001)


def test_arrival_rate_tracks_gaps_and_falls_in_a_lull():
    rate = ArrivalRate()
    for k in range(500):
        rate.arrived(k * 0.01)
    assert rate.per_s(4.99) == pytest.approx(100.0, rel=0.01)
    assert rate.per_s(4.99 + 1.0) == pytest.approx(1.0, rel=0.01)


def test_arrival_rate_read_before_a_burst_is_exact():
    # Closed-loop clients resubmit in bursts of 4 every 10 ms; the batcher reads the rate as
    # the latest burst forms a batch.  Counting that burst would read up to one burst high.
    rate = ArrivalRate(window=64)
    for k in range(40):
        for _ in range(4):
            rate.arrived(k * 0.01)
    now = 39 * 0.01
    assert rate.per_s(now, before=now) == pytest.approx(400.0)
    assert rate.per_s(now) > 400.0  # the whole ring, up to the newest: the burst counted
    assert rate.per_s(now, before=0.0) == 0.0  # nothing arrived before: no rate


def test_wait_outcomes_probe_rarely_until_waits_catch_then_follow_the_model():
    outcomes = WaitOutcomes(window=4, probe_after=3, max_probe_after=12)
    assert not outcomes.may_wait()  # a fresh batcher has no evidence that waits pay
    probes = []
    for batch in range(60):
        if outcomes.may_wait():
            probes.append(batch)
            outcomes.record(False)  # a closed loop: every probe misses
        else:
            outcomes.skip()
    assert probes == [3, 10, 23, 36, 49]  # after 3, 6, 12, 12, 12 skipped batches
    outcomes.record(True)  # an open stream: the next probe catches
    assert outcomes.paying is False  # 1 of the last 4 caught
    outcomes.record(True)
    assert outcomes.paying and outcomes.may_wait() and outcomes.probe_after == 3
    for _ in range(2):
        outcomes.record(False)
    assert outcomes.paying  # 2 of the last 4: still half
    outcomes.record(False)
    assert not outcomes.paying and not outcomes.may_wait()


# -- shedding ---------------------------------------------------------------------------


def best_case_finish(queued_ahead: int, batch: int, workers: int, a: float, b: float) -> float:
    """The earliest the newest request can finish: FIFO, full batches, every worker free."""
    free_at = [0.0] * workers
    remaining = queued_ahead + 1
    finish = 0.0
    while remaining:
        size = min(batch, remaining)
        remaining -= size
        k = free_at.index(min(free_at))
        free_at[k] += a + b * size
        finish = free_at[k]
    return finish


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(0.0, 0.05),
    b=st.floats(0.0, 0.005),
    queued=st.integers(1, 500),
    batch=st.integers(1, 64),
    workers=st.integers(1, 8),
    timeout_s=st.floats(0.001, 2.0),
)
async def test_shedding_never_drops_a_request_that_could_meet_its_deadline(a, b, queued, batch, workers, timeout_s):
    clock = Clock()
    batcher = DynamicBatcher(lambda batch: None, batch_size=batch, batch_timeout_s=0.0, max_queue_size=10_000, workers=lambda: workers, clock=clock)
    batcher.cost = fitted(a, b)
    batcher.shed_late = True
    batcher.request_timeout_s = timeout_s
    for _ in range(queued):
        batcher._queue.append(_Queued())
        batcher._live += 1
    try:
        batcher.submit("new")
    except PredictedLate:
        assert best_case_finish(queued, batch, workers, a, b) > timeout_s
        assert batcher.shed == 1


class _Queued:
    queued = True


async def test_shedding_rejects_at_once_what_cannot_finish_and_counts_it():
    clock = Clock()
    batcher = DynamicBatcher(lambda batch: None, batch_size=4, batch_timeout_s=0.0, max_queue_size=10_000, workers=lambda: 1, clock=clock)
    batcher.cost = fitted(0.010, 0.001)  # a batch of 4 takes 14 ms
    batcher.shed_late = True
    batcher.request_timeout_s = 0.1
    with pytest.raises(PredictedLate, match="predicted late"):
        for i in range(100):  # 25 full batches would take 350 ms at best
            batcher.submit(i)
    assert best_case_finish(batcher.depth, 4, 1, 0.010, 0.001) > 0.1
    assert batcher.shed == 1 and batcher.depth < 40
    assert isinstance(PredictedLate("x"), RejectedError)


# -- through the engine -----------------------------------------------------------------


def test_the_seed_config_example_runs_verbatim():
    config = OptimizationConfig(
        batch_size=4, batch_timeout=0.05, l1_cache_size=100, cache_ttl=3600, max_memory_usage=0.7, max_concurrent=2
    )
    assert config.batch_timeout_s == 0.05 and config.cache_ttl_s == 3600.0 and config.max_concurrent == 2
    assert config.replace(batch_size=8).batch_timeout_s == 0.05


async def test_policy_switches_while_load_flows_lose_nothing(make_engine, accounted):
    model = LatencyModel(fixed_ms=0.2, per_item_ms=0.01, dim=4)
    engine = await make_engine(model, batch_size=8, batch_timeout_s=0.002, enable_cache=False, max_concurrent=2)
    done = 0
    switched = asyncio.Event()

    async def client(k: int) -> None:
        nonlocal done
        for i in range(60):
            await engine.submit(model.make_input(k * 1000 + i))
            done += 1
            if done % 40 == 0:
                switched.set()

    clients = asyncio.gather(*(client(k) for k in range(8)))
    for policy in ["timeout", "eager", "adaptive", "timeout", "adaptive"]:
        switched.clear()
        await asyncio.wait_for(switched.wait(), 30)
        engine.update(batch_policy=policy)
    await asyncio.wait_for(clients, 60)
    snap = engine.snapshot()
    assert snap.outcomes.succeeded == 8 * 60 and snap.batches.policy == "adaptive"
    assert sum(count for _, count in snap.batches.dispatch_reasons) == snap.batches.count
    assert [reason for reason, _ in snap.batches.dispatch_reasons] == list(DISPATCH_REASONS)
    accounted(engine)


@pytest.mark.parametrize("fixed_ms,per_item_ms", [(2.0, 0.0), (1.0, 0.2), (0.0, 0.5)])
async def test_accelerator_like_models_are_never_held_back_with_one_client(make_engine, fixed_ms, per_item_ms):
    model = LatencyModel(fixed_ms=fixed_ms, per_item_ms=per_item_ms, dim=4)
    engine = await make_engine(model, batch_size=32, batch_timeout_s=5.0, enable_cache=False)
    for i in range(30):
        await engine.submit(model.make_input(i))
    reasons = dict(engine.snapshot().batches.dispatch_reasons)
    assert reasons["worker_free"] == 30 and reasons["wait_expired"] == reasons["predicted_gain"] == 0


async def test_the_cost_model_is_fitted_from_measured_batches(make_engine):
    # costs large enough that scheduling noise on a busy machine (a few ms) cannot flip
    # the sign of the fitted intercept or slope: this checks the wiring, the fit itself
    # is checked exactly on synthetic batches
    model = LatencyModel(fixed_ms=20.0, per_item_ms=4.0, dim=4)
    engine = await make_engine(model, batch_size=16, enable_cache=False, max_concurrent=1, calibrate=False)
    assert engine.snapshot().batches.cost_a_ms is None
    for size in (1, 4, 8, 16, 2):
        await asyncio.gather(*(engine.submit(model.make_input(size * 100 + i)) for i in range(size)))
    batches = engine.snapshot().batches
    assert batches.cost_samples >= 2 and batches.cost_a_ms is not None and batches.cost_b_ms is not None
    assert batches.cost_a_ms > 0 and batches.cost_b_ms > 0


class Broken:
    name = "broken"

    def predict(self, batch):
        raise ValueError("my model broke")


class Short:
    name = "short"

    def predict(self, batch):
        return list(batch)[:-1]


async def test_a_failing_model_is_visible_with_its_own_message_once(make_engine):
    engine = await make_engine(Broken(), enable_cache=False, isolate_failures=False)
    for i in range(5):
        with pytest.raises(BackendError):
            await engine.submit(i)
    snap = engine.snapshot()
    (kind, message), = snap.outcomes.first_errors
    assert kind == "ValueError" and "my model broke" in message
    assert "test_batch_policy.py" in message and "in predict" in message
    errors = [e for e in snap.events if e.kind == "error"]
    assert len(errors) == 1 and "my model broke" in errors[0].message


async def test_a_wrong_output_count_names_the_model_and_the_counts(make_engine):
    engine = await make_engine(Short(), enable_cache=False, batch_size=4, batch_policy="timeout", max_concurrent=1)
    results = await asyncio.gather(*(engine.submit(i) for i in range(4)), return_exceptions=True)
    assert all(isinstance(r, BackendError) for r in results)
    message = dict(engine.snapshot().outcomes.first_errors)["BadOutput"]
    assert "short" in message and "3 outputs" in message and "batch of 4" in message


# -- preferred sizes: a size that computes slower per item than a smaller one is not sent --


def measured(sizes: dict[int, float], times: int = 3) -> BatchCostModel:
    cost = BatchCostModel()
    for _ in range(times):
        for n, seconds in sizes.items():
            cost.observe(n, seconds)
    return cost


# the numpy MLP's shape (ms per batch, one thread): a batch of 2 is slower per item than 1
MLP_LIKE = {1: 0.68e-3, 2: 1.57e-3, 4: 1.59e-3, 8: 2.0e-3}


def test_a_size_slower_per_item_than_a_smaller_one_is_trimmed_to_it():
    cost = measured(MLP_LIKE)
    assert cost.preferred_size(2) == 1  # 0.785 ms per item at 2 against 0.68 at 1
    assert cost.preferred_size(4) == 4 and cost.preferred_size(8) == 8  # batching pays there
    assert cost.preferred_size(3) == 3  # never measured: sent as queued, and so measured


def test_an_unmeasured_size_or_one_that_batching_speeds_up_is_sent_as_queued():
    assert BatchCostModel().preferred_size(2) == 2
    assert measured({1: 1.0e-3, 2: 2.1e-3}, times=2).preferred_size(2) == 2  # too few samples to trust
    assert measured({1: 1.0e-3, 2: 1.5e-3}).preferred_size(2) == 2  # 2 computes 25% faster per item


def test_a_small_queue_is_split_when_one_after_another_finishes_sooner_at_no_cost_per_item():
    # the MLP measured in calibration (ms): 3 at 0.70 per item is within 10% of 1 alone, so a
    # per-item rule sends all three; one after another they finish at 0.64, 1.28, 1.92 ms
    # (sum 3.84) instead of all at 2.1 (sum 6.3)
    cost = measured({1: 0.64e-3, 2: 1.95e-3, 3: 2.1e-3, 4: 1.96e-3, 8: 1.99e-3})
    assert cost.preferred_size(3) == 1
    assert cost.preferred_size(4) == 4  # 0.49 ms per item: batching pays, all four finish at 1.96
    assert cost.preferred_size(8) == 8


def test_under_light_load_a_near_tie_goes_to_the_smaller_batch_and_nothing_is_probed():
    # 4 as one batch sums 4 x 2.1 = 8.4 ms of completion times, one at a time
    # 0.9 x (1+2+3+4) = 9.0: within 10%.  At 200 req/s (0.18 of a worker) the smaller
    # batch takes the tie; at 2,000 req/s the batch's throughput counts
    cost = measured({1: 0.9e-3, 2: 2.14e-3, 3: 2.1e-3, 4: 2.1e-3})
    assert cost.preferred_size(4, arrival_rate=2000.0) == 4
    light = [cost.preferred_size(4, arrival_rate=200.0) for _ in range(200)]
    assert set(light) == {1}  # and no probe of 4 among them
    # a rate not known to be light: 2 is trimmed to 1 as before, and probed every 32nd time
    heavy = [cost.preferred_size(2, arrival_rate=None) for _ in range(32)]
    assert heavy == [1] * 31 + [2]


@given(st.integers(min_value=2, max_value=16), st.floats(min_value=0.1e-3, max_value=1e-3), st.floats(min_value=1.0, max_value=1.5))
def test_planning_never_picks_a_size_that_computes_slower_per_item(n, one_s, growth):
    """Trimming by completion times costs next to no throughput: whatever is sent instead
    of ``n`` computes within 10% as fast per item as ``n`` would."""
    sizes = {k: one_s * k ** growth for k in range(1, n + 1)}  # superlinear: per item rises with k
    sizes[n] = one_s * n * 0.8  # except n itself, cheapest per item by more than the margin
    cost = measured(sizes)
    chosen = cost.preferred_size(n)
    assert sizes[chosen] / chosen <= sizes[n] / n * 1.1


@given(st.integers(min_value=2, max_value=64), st.floats(min_value=1e-2, max_value=1e-1))
def test_a_linear_cost_with_a_fixed_part_is_never_trimmed(n, a_s):
    """Where the fixed cost of a call outweighs the per-item cost of the whole queue
    (a >= b·n), the queued size is best: a split only adds fixed costs.  (Splitting a
    queue of n into k and n - k changes the completion-time sum by (n - k)·(a - b·k), so a
    smaller fixed cost may rightly be split when the queue is short.)"""
    cost = measured({size: a_s + 1e-4 * size for size in range(1, n + 1)})
    assert cost.preferred_size(n) == n


def test_the_trimmed_size_is_measured_again_at_doubling_intervals():
    cost = measured(MLP_LIKE)
    answers = [cost.preferred_size(2) for _ in range(32 + 64)]
    probes = [i for i, n in enumerate(answers) if n == 2]
    assert probes == [31, 95]  # after 32, then after 64 more (up to every 1024th)


async def test_the_batcher_sends_one_of_two_queued_when_one_is_cheaper_per_item(pool):
    w = pool(1, batch_size=8)
    for n, seconds in MLP_LIKE.items():
        for _ in range(3):
            w.batcher.cost.observe(n, seconds)
    w.batcher.submit(0)
    await w.until_batches(1)
    w.batcher.submit(1)
    w.batcher.submit(2)
    w.finish()
    await w.until_batches(2)
    assert w.batches[1] == [1] and w.batcher.trimmed == 1  # 2 stays queued behind a busy worker
    w.finish()
    await w.until_batches(3)
    assert w.batches[2] == [2] and w.batcher.trimmed == 1  # the last one alone: nothing trimmed


# -- a lone batch waits for the busy worker when running beside it is measured slower --


def with_overlap_costs(w: Workers, alone_s: float, beside_s: float) -> None:
    for _ in range(3):
        w.batcher.cost.observe(1, alone_s)
        w.batcher.cost.observe(1, beside_s, overlapped=True)


async def test_a_lone_request_waits_for_the_busy_worker_when_that_finishes_it_sooner(pool, wait_until):
    w = pool(2, batch_size=8)
    with_overlap_costs(w, alone_s=1e-3, beside_s=2e-3)  # beside another batch: twice as slow
    w.batcher.submit(0)
    await w.until_batches(1)  # one worker computes
    w.batcher._busy_remaining = lambda: (0.5e-3, 1)  # its batch of 1 should be done in 0.5 ms
    w.batcher.submit(1)
    await wait_until(lambda: w.batcher.held_for_busy == 1)
    assert w.batches == [[0]]  # held, though a worker is idle
    w.finish()
    w.batcher.call_ended()  # what the engine calls as a model call returns
    await w.until_batches(2)
    assert w.batches == [[0], [1]]
    assert w.reasons() == {"worker_free": 1, "predicted_gain": 1}


def test_holding_weighs_every_request_concerned():
    from clawlet_tui.engine.batcher import _hold_pays

    # twice as slow beside: one request held behind one busy request always gains
    assert _hold_pays(0.5e-3, 1, 1, 0, 1e-3, 2e-3) and _hold_pays(5e-3, 1, 1, 0, 1e-3, 2e-3)
    # 20% slower beside: holding pays only when the busy call is nearly done
    assert _hold_pays(0.1e-3, 1, 1, 0, 1e-3, 1.2e-3) and not _hold_pays(0.5e-3, 1, 1, 0, 1e-3, 1.2e-3)
    # a backlog behind the batch: the second worker serves it sooner side by side
    assert not _hold_pays(0.5e-3, 8, 8, 32, 2e-3, 2.4e-3)


async def test_a_lone_request_goes_to_the_idle_worker_when_running_beside_costs_little(pool):
    w = pool(2, batch_size=8)
    with_overlap_costs(w, alone_s=1e-3, beside_s=1.2e-3)  # 0.5 ms + 1 ms alone > 1.2 ms beside
    w.batcher.submit(0)
    await w.until_batches(1)
    w.batcher._busy_remaining = lambda: (0.5e-3, 1)
    w.batcher.submit(1)
    await w.until_batches(2)
    assert w.batcher.held_for_busy == 0 and w.reasons() == {"worker_free": 2}


def test_batches_joined_on_the_way_feed_the_line_but_neither_size_mean():
    cost = BatchCostModel()
    for _ in range(3):
        cost.observe(1, 1e-3)
        cost.observe(1, 5e-3, overlapped=None)
    assert cost.size_cost(1) == pytest.approx(1e-3) and cost.size_cost(1, overlapped=True) is None
    assert len(cost) == 6
