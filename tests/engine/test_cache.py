"""LRUCache against a reference model; DiskStore (L2) safety and failure handling."""

from __future__ import annotations

import asyncio
import math
import os
import stat

import diskcache
import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from clawlet_tui.engine import cache as cache_module
from clawlet_tui.engine.cache import MISSING, DiskStore, LRUCache, MultiLevelCache, decode_value, encode_value
from clawlet_tui.engine.config import OptimizationConfig
from clawlet_tui.engine.deadlines import Deadlines
from clawlet_tui.engine.errors import RequestTimeout


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

# -- LRUCache -------------------------------------------------------------------------


def test_lru_evicts_least_recently_used_and_counts():
    c = LRUCache(2, ttl_s=100, clock=FakeClock())
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now most recent
    c.put("c", 3)  # evicts b
    assert c.get("b") is MISSING
    assert c.get("a") == 1 and c.get("c") == 3
    assert (c.hits, c.misses, c.evictions, c.expirations) == (3, 1, 1, 0)
    assert len(c) == 2


def test_lru_ttl_with_fake_clock():
    clock = FakeClock()
    c = LRUCache(10, ttl_s=5.0, clock=clock)
    c.put("k", "v")
    clock.advance(4.999)
    assert "k" in c and c.get("k") == "v"
    clock.advance(0.001)  # exactly ttl: expired
    assert "k" not in c
    assert c.get("k", "dflt") == "dflt"
    assert (c.hits, c.misses, c.expirations, len(c)) == (1, 1, 1, 0)


def test_lru_put_refreshes_expiry_and_recency():
    clock = FakeClock()
    c = LRUCache(2, ttl_s=5.0, clock=clock)
    c.put("a", 1)
    c.put("b", 2)
    clock.advance(4)
    c.put("a", 10)  # refresh: a is newest, new expiry
    c.put("c", 3)  # evicts b
    clock.advance(4)
    assert c.get("a") == 10 and c.get("b") is MISSING


def test_set_ttl_applies_to_new_entries_only():
    clock = FakeClock()
    c = LRUCache(10, ttl_s=10, clock=clock)
    c.put("old", 1)
    c.set_ttl(1)
    c.put("new", 2)
    clock.advance(2)
    assert c.get("old") == 1 and c.get("new") is MISSING


def test_resize_and_shrink():
    c = LRUCache(10, ttl_s=100, clock=FakeClock())
    for i in range(10):
        c.put(i, i)
    assert c.resize(4) == 6
    assert sorted(c._data) == [6, 7, 8, 9] and c.maxsize == 4
    assert c.shrink(0.5) == 2
    assert sorted(c._data) == [8, 9] and c.maxsize == 4
    assert c.evictions == 8
    assert c.resize(0) == 2 and len(c) == 0
    c.put("x", 1)  # size 0: never stores
    assert len(c) == 0 and not c.stats().enabled
    s = LRUCache(3, 1, FakeClock()).stats()
    assert s.enabled and s.capacity == 3


class LRUMachine(RuleBasedStateMachine):
    """LRUCache vs a dict + recency list + expiry table driven by the same fake clock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(0.0)
        self.ttl = 10.0
        self.maxsize = 3
        self.cache = LRUCache(self.maxsize, self.ttl, clock=self.clock)
        self.values: dict[int, int] = {}
        self.expires: dict[int, float] = {}
        self.order: list[int] = []  # least recent first
        self.hits = self.misses = self.evictions = self.expirations = 0

    def _drop_lru(self, n: int) -> None:
        for _ in range(n):
            k = self.order.pop(0)
            del self.values[k], self.expires[k]

    @rule(key=st.integers(0, 6), value=st.integers())
    def put(self, key, value):
        self.cache.put(key, value)
        if self.maxsize <= 0:
            return
        self.values[key] = value
        self.expires[key] = self.clock.now + self.ttl
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)
        over = max(len(self.order) - self.maxsize, 0)
        self._drop_lru(over)
        self.evictions += over

    @rule(key=st.integers(0, 6))
    def get(self, key):
        got = self.cache.get(key)
        if key not in self.values:
            self.misses += 1
            assert got is MISSING
        elif self.expires[key] <= self.clock.now:
            self.order.remove(key)
            del self.values[key], self.expires[key]
            self.misses += 1
            self.expirations += 1
            assert got is MISSING
        else:
            self.order.remove(key)
            self.order.append(key)
            self.hits += 1
            assert got == self.values[key]

    @rule(key=st.integers(0, 6))
    def contains(self, key):
        expected = key in self.values and self.expires[key] > self.clock.now
        assert (key in self.cache) == expected

    @rule(dt=st.sampled_from([0.0, 0.5, 3.0, 9.999, 10.0, 25.0]))
    def advance(self, dt):
        self.clock.advance(dt)

    @rule(size=st.integers(0, 5))
    def resize(self, size):
        dropped = self.cache.resize(size)
        self.maxsize = size
        n = max(len(self.order) - size, 0)
        self._drop_lru(n)
        self.evictions += n
        assert dropped == n

    @precondition(lambda self: len(self.order) > 0)
    @rule(fraction=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    def shrink(self, fraction):
        dropped = self.cache.shrink(fraction)
        n = len(self.order) - int(len(self.order) * (1 - fraction))
        self._drop_lru(n)
        self.evictions += n
        assert dropped == n

    @rule(ttl=st.sampled_from([1.0, 10.0]))
    def set_ttl(self, ttl):
        self.cache.set_ttl(ttl)
        self.ttl = ttl

    @invariant()
    def agrees(self):
        c = self.cache
        assert (c.hits, c.misses, c.evictions, c.expirations) == (
            self.hits, self.misses, self.evictions, self.expirations,
        )
        assert list(c._data) == self.order
        assert len(c) <= max(self.maxsize, 0)
        s = c.stats()
        assert (s.size, s.capacity, s.hits, s.misses) == (len(self.order), self.maxsize, self.hits, self.misses)


TestLRUStateMachine = LRUMachine.TestCase
TestLRUStateMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


# -- value encoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.linspace(0, 1, 7, dtype=np.float64),
        np.array([1, -2, 3], dtype=">i8"),
        np.array([True, False]),
        np.array(3.5, dtype=np.float32),  # 0-d
        np.zeros((0, 4), dtype=np.float32),
        np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        np.array([1 + 2j], dtype=np.complex64),
    ],
)
def test_array_round_trip_is_exact(array):
    back = decode_value(encode_value(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


@pytest.mark.parametrize("value", [1, -2.5, "text", None, True, [1, "a", None], {"a": [1, 2.5], "b": {"c": "d"}}])
def test_json_round_trip(value):
    assert decode_value(encode_value(value)) == value


def test_values_without_safe_encoding_are_not_encoded():
    assert encode_value(object()) is None
    assert encode_value(np.array([object()], dtype=object)) is None
    assert encode_value({1, 2}) is None
    with pytest.raises(ValueError):
        decode_value(b"\x80\x04pickle")


@pytest.mark.parametrize("value", [(1, 2.0), {1: "a"}])
def test_lossy_json_values_are_not_stored(value):
    blob = encode_value(value)
    assert blob is None or decode_value(blob) == value and type(decode_value(blob)) is type(value)


# -- DiskStore ------------------------------------------------------------------------


def test_disk_store_round_trip_and_counters(tmp_path):
    store = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    array = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    store.put_many([("a", array), ("j", {"x": [1, 2]}), ("bad", object())])
    np.testing.assert_array_equal(store.get("a"), array)
    assert store.get("a").dtype == np.float32
    assert store.get("j") == {"x": [1, 2]}
    assert store.get("bad") is MISSING and store.get("none") is MISSING
    assert (store.hits, store.misses, store.skipped) == (3, 2, 1)
    assert store.count() == 2 and store.volume() > 0
    assert store.enabled and store.stats().enabled
    store.clear()
    assert store.get("a") is MISSING and store.enabled
    store.close()


def test_disk_store_persists_across_instances(tmp_path):
    first = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    first.put_many([("k", np.ones(3, dtype=np.float32))])
    first.close()
    second = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    np.testing.assert_array_equal(second.get("k"), np.ones(3, dtype=np.float32))
    second.close()


def test_directory_is_created_owner_only(tmp_path):
    directory = tmp_path / "a" / "b" / "l2"
    DiskStore(directory, size_limit_bytes=2**20, ttl_s=60).close()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_existing_directory_is_tightened_to_owner_only(tmp_path):
    directory = tmp_path / "l2"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    DiskStore(directory, size_limit_bytes=2**20, ttl_s=60).close()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


UNPICKLED = []


class Trap:
    """Unpickling this object records it: the test fails if that ever happens."""

    def __reduce__(self):
        return (UNPICKLED.append, ("unpickled!",))


def test_foreign_pickled_row_is_never_unpickled(tmp_path):
    directory = tmp_path / "l2"
    store = DiskStore(directory, size_limit_bytes=2**20, ttl_s=60)
    store.put_many([("good", [1, 2])])
    foreign = diskcache.Cache(str(directory))
    foreign.set("evil", Trap())
    foreign.close()
    UNPICKLED.clear()
    assert store.get("evil") is MISSING
    assert UNPICKLED == []
    assert not store.enabled
    assert "unpickle" in store.disabled_reason
    assert store.get("good") is MISSING  # disabled: serves nothing more
    store.put_many([("x", 1)])  # and writes nothing, without raising
    store.close()
    assert UNPICKLED == []


def test_store_disables_itself_on_io_error(tmp_path):
    store = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    store._cache.close()
    store._cache = None  # any use now raises AttributeError, like a lost database
    assert store.get("k") is MISSING
    assert store.disabled_reason.startswith("AttributeError")
    assert store.count() == 0 and store.volume() == 0


def test_directory_that_is_a_file_cannot_open(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(OSError):
        DiskStore(path, size_limit_bytes=2**20, ttl_s=60)


def test_nan_json_value_round_trips(tmp_path):
    store = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    store.put_many([("n", [math.nan])])
    assert math.isnan(store.get("n")[0])
    store.close()


# -- the L2 key index -------------------------------------------------------------------


def test_index_answers_misses_and_follows_writes_evictions_and_clear(tmp_path):
    store = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    assert not store.absent("k")  # index not loaded yet: anything may be on disk
    store.load_index()
    assert store.absent("k") and store.misses == 1  # a miss, counted, no read
    store.put_many([("k", 1), ("skipped", object())])
    assert not store.absent("k") and store.absent("skipped")
    store._cache.delete("k")  # as if diskcache had evicted it
    assert store.get("k") is MISSING  # the read that finds out...
    assert store.absent("k")  # ...drops it from the index
    store.put_many([("k", 1)])
    store.clear()
    assert store.absent("k")
    store.close()


def test_index_is_loaded_from_the_keys_on_disk(tmp_path):
    first = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    first.put_many([("old", 7)])
    first.close()
    second = DiskStore(tmp_path / "l2", size_limit_bytes=2**20, ttl_s=60)
    second.load_index()
    assert not second.absent("old") and second.absent("new")
    assert second.get("old") == 7
    second.close()


class CountingStore(DiskStore):
    """A DiskStore that counts its disk reads."""

    reads: list[str] = []

    def get(self, key):
        CountingStore.reads.append(key)
        return super().get(key)


class Computations:
    """``compute`` for get_or_compute: a finished future holding ``value``, counted."""

    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        future = asyncio.get_running_loop().create_future()
        future.set_result(self.value)
        return future


@pytest.fixture
async def counting_cache(tmp_path, monkeypatch):
    """``await counting_cache()``: a started MultiLevelCache over a CountingStore, stopped at teardown."""
    monkeypatch.setattr(cache_module, "DiskStore", CountingStore)
    CountingStore.reads = []
    caches = []

    async def make(**changes):
        changes.setdefault("l2_admission", "always")
        config = OptimizationConfig(l2_cache_dir=str(tmp_path / "l2"), **changes)
        deadlines = Deadlines(lambda future, timeout_s: future.set_exception(RequestTimeout("late")))
        cache = MultiLevelCache(config, "m", deadlines=deadlines)
        caches.append(cache)
        await cache.start()
        await cache.flush()  # the index is loaded
        return cache

    yield make
    for cache in caches:
        await cache.stop()


async def test_second_hit_admission_writes_a_value_the_second_time_its_key_is_computed(counting_cache):
    cache = await counting_cache(l2_admission="second_hit")
    compute = Computations(42)
    assert await cache.get_or_compute(21, compute, None) == 42
    await cache.flush()
    stats = cache.stats()
    assert stats.l2.size == 0 and stats.l2_declined == 1  # asked for once: not written
    cache.l1.clear()
    assert await cache.get_or_compute(21, compute, None) == 42  # computed again ...
    await cache.flush()
    stats = cache.stats()
    assert compute.calls == 2 and stats.l2.size == 1 and stats.l2_declined == 1  # ... and admitted
    cache.l1.clear()
    assert await cache.get_or_compute(21, compute, None) == 42
    assert compute.calls == 2 and cache.stats().l2.hits == 1  # from disk from now on


async def test_a_unique_key_load_writes_nothing_to_l2_under_second_hit_admission(counting_cache):
    cache = await counting_cache(l2_admission="second_hit")
    for key in range(50):
        assert await cache.get_or_compute(key, Computations(key), None) == key
    await cache.flush()
    stats = cache.stats()
    assert stats.l2.size == 0 and stats.l2_declined == 50 and stats.l2.misses == 50


async def test_switching_admission_to_always_writes_the_next_values(counting_cache):
    cache = await counting_cache(l2_admission="second_hit")
    assert await cache.get_or_compute(1, Computations(1), None) == 1
    cache.reconfigure(cache._config.replace(l2_admission="always"))
    assert await cache.get_or_compute(2, Computations(2), None) == 2
    await cache.flush()
    stats = cache.stats()
    assert stats.l2.size == 1 and stats.l2_declined == 1


async def test_l2_miss_on_a_never_written_key_reads_nothing(counting_cache):
    cache = await counting_cache()
    compute = Computations(42)
    assert await cache.get_or_compute(21, compute, None) == 42
    assert compute.calls == 1 and CountingStore.reads == []
    stats = cache.stats()
    assert (stats.l1.misses, stats.l2.misses, stats.l2.hits) == (1, 1, 0)
    # once written, the key is read from disk (L1 emptied to get there)
    await cache.flush()
    cache.l1.clear()
    assert await cache.get_or_compute(21, compute, None) == 42
    assert compute.calls == 1 and CountingStore.reads == ["m|int:21"]
    assert cache.stats().l2.hits == 1


async def test_a_written_key_is_found_after_reopening(counting_cache):
    first = await counting_cache()
    assert await first.get_or_compute("k", Computations([1, 2]), None) == [1, 2]
    await first.stop()
    second = await counting_cache()
    compute = Computations(None)
    assert await second.get_or_compute("k", compute, None) == [1, 2]
    assert compute.calls == 0 and CountingStore.reads == ["m|str:'k'"]
    assert await second.get_or_compute("other", Computations(3), None) == 3
    assert CountingStore.reads == ["m|str:'k'"]  # a key never written: no read


async def test_clear_empties_the_index(counting_cache):
    cache = await counting_cache()
    assert await cache.get_or_compute(1, Computations(10), None) == 10
    await cache.flush()
    cache.clear()
    await cache.flush()
    compute = Computations(11)
    assert await cache.get_or_compute(1, compute, None) == 11
    assert compute.calls == 1 and CountingStore.reads == []
