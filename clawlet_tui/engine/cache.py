"""The seed's multi-level cache: an in-memory LRU (L1) in front of a disk store (L2).

Guarantees:

* :class:`LRUCache` is exact: O(1) get/put, at most ``maxsize`` entries, entries older
  than ``ttl_s`` are never returned, and every lookup counts as exactly one hit or miss.
* :class:`DiskStore` never unpickles: values are numpy arrays stored as raw bytes with a
  JSON header (dtype, shape), or JSON documents; anything else is simply not stored on
  disk.  Rows written any other way are treated as misses.  Any I/O or database error
  disables the store (the reason is kept) and serving continues without it.
* :class:`DiskStore` keeps an in-memory index of its keys, so a miss on a key it does not
  hold costs no I/O.  The index assumes this process is the only writer to the L2
  directory while the store is open (see :class:`DiskStore`).
* :class:`MultiLevelCache` owns caching as a whole: :meth:`~MultiLevelCache.get_or_compute`
  looks in L1, joins an identical computation already in flight (single-flight: every
  waiter gets the same result, and one waiter giving up never cancels it for the others),
  reads L2 on its own I/O thread, and writes new values to L2 behind the response.  Its
  :meth:`~MultiLevelCache.start` / :meth:`~MultiLevelCache.stop` own that thread and the
  write-behind task; ``stop`` writes everything still waiting before L2 is closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .admission import SecondHitFilter
from .config import OptimizationConfig
from .deadlines import Deadlines
from .errors import EngineStopped, RequestTimeout
from .snapshot import CacheLevelStats, CacheStats

log = logging.getLogger(__name__)

MISSING: Any = object()
#: L2 writes waiting to be handed to the I/O thread; past this new values are not written.
_L2_BACKLOG_LIMIT = 10_000
#: the write-behind gathers values this long before handing them to the I/O thread as one
#: transaction: at most 20 wake-ups and commits a second, however many values are stored
#: (one per request at 200 req/s cost a disk commit and a GIL fight per request).
_WRITE_DELAY_S = 0.05
#: L2 reads waiting for the I/O thread; past this a miss skips L2 and is computed.
#: L2 is a shortcut: under overload a single disk thread must not become the bottleneck
#: (or an unbounded queue in front of the bounded one).
_L2_READS_LIMIT = 64


class LRUCache:
    """Least-recently-used cache with a time-to-live, like cachetools' TTLCache but smaller."""

    def __init__(self, maxsize: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        entry = self._data.get(key)
        return entry is not None and entry[1] > self._clock()

    def get(self, key: Hashable, default: Any = MISSING) -> Any:
        """The value for ``key`` (and mark it most recently used), or ``default``; counts a hit or a miss."""
        entry = self._data.get(key)
        if entry is None:
            self.misses += 1
            return default
        value, expires_at = entry
        if expires_at <= self._clock():
            del self._data[key]
            self.expirations += 1
            self.misses += 1
            return default
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.maxsize <= 0:
            return
        self._data[key] = (value, self._clock() + self.ttl_s)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
            self.evictions += 1

    def resize(self, maxsize: int) -> int:
        """Change the bound; evicts least-recently-used entries to fit.  Returns how many were evicted."""
        self.maxsize = maxsize
        return self._evict_to(maxsize)

    def shrink(self, fraction: float) -> int:
        """Drop the least-recently-used ``fraction`` of entries (memory pressure); the bound stays."""
        return self._evict_to(int(len(self._data) * (1.0 - fraction)))

    def _evict_to(self, size: int) -> int:
        dropped = 0
        while len(self._data) > max(size, 0):
            self._data.popitem(last=False)
            dropped += 1
        self.evictions += dropped
        return dropped

    def set_ttl(self, ttl_s: float) -> None:
        """New TTL for entries stored from now on (existing entries keep their expiry)."""
        self.ttl_s = ttl_s

    def clear(self) -> None:
        self._data.clear()

    def reset_counters(self) -> None:
        self.hits = self.misses = self.evictions = self.expirations = 0

    def stats(self) -> CacheLevelStats:
        return CacheLevelStats(
            enabled=self.maxsize > 0,
            size=len(self._data),
            capacity=self.maxsize,
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            expirations=self.expirations,
        )


# -- L2 -------------------------------------------------------------------------------

_ARRAY_TAG = b"CLWA"
_JSON_TAG = b"CLWJ"


def encode_value(value: Any) -> bytes | None:
    """Bytes for the disk store, or None when the value has no safe encoding."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and not value.dtype.hasobject:
        header = json.dumps({"dtype": value.dtype.str, "shape": list(value.shape)}).encode()
        return _ARRAY_TAG + len(header).to_bytes(4, "little") + header + np.ascontiguousarray(value).tobytes()
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return None
    # Only values JSON gives back unchanged (a tuple would come back a list, int keys as str).
    return _JSON_TAG + text.encode() if _same(json.loads(text), value) else None


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return bool(b != b)  # NaN
    return bool(a == b)


def decode_value(blob: bytes) -> Any:
    """Inverse of :func:`encode_value`; raises ValueError on anything else."""
    tag = blob[:4]
    if tag == _ARRAY_TAG:
        size = int.from_bytes(blob[4:8], "little")
        header = json.loads(blob[8 : 8 + size])
        array = np.frombuffer(blob[8 + size :], dtype=np.dtype(header["dtype"]))
        return array.reshape(header["shape"]).copy()
    if tag == _JSON_TAG:
        return json.loads(blob[4:])
    raise ValueError("not a clawlet cache record")


class DiskStore:
    """L2: a size-limited :mod:`diskcache` store of raw bytes keyed by strings.

    The directory is created with owner-only permissions (0700).  A diskcache row that was
    written pickled (by anything else) is never unpickled: :class:`_RawOnlyDisk` refuses it.

    Key index: once :meth:`load_index` has run (on the I/O thread, right after opening),
    the store keeps the hashes of the keys it holds in memory, so :meth:`absent` can answer
    most misses -- every miss when keys are unique -- on the event loop with no I/O and no
    thread hop.  The index is a superset of what is on disk: keys found at open, plus keys
    written since; a key diskcache evicted or expired stays until a disk read misses it
    (that read is all a stale entry costs), and :meth:`clear` empties it.  It assumes this
    store is the only writer to its directory while it is open: a value another process
    writes there meanwhile is not seen (a miss, computed again), never a wrong value.
    Memory: about 60 bytes per key on disk.
    """

    def __init__(self, directory: Path, *, size_limit_bytes: int, ttl_s: float) -> None:
        import diskcache

        # diskcache has no type hints, so Disk is Any to mypy
        class _RawOnlyDisk(diskcache.Disk):  # type: ignore[misc]
            def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:  # noqa: D401
                if mode == diskcache.core.MODE_PICKLE:
                    raise ValueError("refusing to unpickle an L2 cache value")
                return super().fetch(mode, filename, value, read)

            def get(self, key: Any, raw: bool) -> Any:
                if not raw:
                    raise ValueError("refusing to unpickle an L2 cache key")
                return super().get(key, raw)

        self.directory = Path(directory)
        self.ttl_s = ttl_s
        self.size_limit_bytes = size_limit_bytes
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        # SQLite's page cache and memory map count toward this process's RSS, which is what
        # the memory optimizer measures: diskcache's defaults (32 MiB cache + 64 MiB mmap)
        # grew a 10-minute soak by ~100 MiB; 8 MiB + 16 MiB keep L2 fast and the RSS honest.
        self._cache = diskcache.Cache(
            str(self.directory),
            size_limit=size_limit_bytes,
            disk=_RawOnlyDisk,
            eviction_policy="least-recently-stored",
            sqlite_cache_size=2**11,
            sqlite_mmap_size=2**24,
        )
        self.hits = 0
        self.misses = 0
        self.skipped = 0
        self.disabled_reason: str | None = None
        #: ``hash()`` of every key that may be on disk; None until loaded (every key may be)
        self._index: set[int] | None = None
        #: entries and bytes on disk, as of the last job on the I/O thread: :meth:`stats`
        #: is called on the event loop, which must not wait for SQLite
        self._count = 0
        self._volume = 0

    def load_index(self) -> None:
        """Read the keys on disk into the index.  Called once, from the I/O thread.

        Runs before any write to this store (the I/O thread runs one job at a time, in
        order), so the index then holds every key on disk.  A key diskcache cannot give
        back as a string (a foreign row) leaves the index unloaded: every lookup reads.
        """
        self.refresh_totals()
        try:
            index = {hash(key) for key in self._cache.iterkeys()}
        except Exception as exc:
            log.info("L2 key index at %s not loaded (%s); every lookup reads the disk", self.directory, exc)
            return
        self._index = index

    def refresh_totals(self) -> None:
        """Read the entry count and bytes on disk (I/O: call it off the event loop)."""
        self._count = self.count()
        self._volume = self.volume()

    def absent(self, key: str) -> bool:
        """True if the index shows ``key`` is not on disk: a miss, counted, with no I/O.

        Safe on the event loop while the I/O thread writes (a set lookup is atomic).
        False means "may be there": read it with :meth:`get`.
        """
        index = self._index
        if index is None or hash(key) in index:
            return False
        self.misses += 1
        return True

    def reset_counters(self) -> None:
        self.hits = self.misses = 0

    def set_ttl(self, ttl_s: float) -> None:
        """TTL for values written from now on."""
        self.ttl_s = ttl_s

    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None

    def get(self, key: str) -> Any:
        """Value for ``key`` or MISSING.  Called from an I/O thread."""
        if not self.enabled:
            return MISSING
        try:
            blob = self._cache.get(key, default=None)
            if blob is None:
                self.misses += 1
                if self._index is not None:
                    self._index.discard(hash(key))  # evicted or expired
                return MISSING
            value = decode_value(blob)
        except Exception as exc:  # corrupted file, I/O error, foreign row
            self._disable(exc)
            self.misses += 1
            return MISSING
        self.hits += 1
        return value

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Store several values in one transaction.  Called from an I/O thread."""
        if not self.enabled:
            return
        try:
            with self._cache.transact():
                for key, value in items:
                    blob = encode_value(value)
                    if blob is None:
                        self.skipped += 1
                        continue
                    self._cache.set(key, blob, expire=self.ttl_s)
                    if self._index is not None:
                        self._index.add(hash(key))
        except Exception as exc:  # disk full, read-only, corrupted database
            self._disable(exc)
        self.refresh_totals()

    def _disable(self, exc: BaseException) -> None:
        if self.disabled_reason is None:
            self.disabled_reason = f"{type(exc).__name__}: {exc}"
            log.warning("L2 cache at %s disabled: %s", self.directory, self.disabled_reason)

    def set_size_limit(self, size_limit_bytes: int) -> None:
        self.size_limit_bytes = size_limit_bytes
        try:
            self._cache.reset("size_limit", size_limit_bytes)
        except Exception as exc:
            self._disable(exc)

    def clear(self) -> None:
        if self._index is not None:
            self._index = set()
        try:
            self._cache.clear()
        except Exception as exc:
            self._disable(exc)
        self.refresh_totals()

    def volume(self) -> int:
        try:
            return int(self._cache.volume())
        except Exception:
            return 0

    def count(self) -> int:
        try:
            return len(self._cache)
        except Exception:
            return 0

    def close(self) -> None:
        try:
            self._cache.close()
        except Exception:  # pragma: no cover - best effort on shutdown
            pass

    def stats(self) -> CacheLevelStats:
        return CacheLevelStats(
            enabled=self.enabled,
            size=self._count,
            capacity_bytes=self.size_limit_bytes,
            hits=self.hits,
            misses=self.misses,
            volume_bytes=self._volume,
        )


# -- L1 + L2 + single-flight ----------------------------------------------------------


class Flight:
    """One computation shared by every identical request that arrives while it runs."""

    __slots__ = ("future", "task", "waiters")

    def __init__(self, future: Any, task: Any = None) -> None:
        #: resolves with the value (or the error) for every waiter
        self.future = future
        #: the task computing it, if one was needed (L2 lookup first); None: ``future`` is the queued request's
        self.task = task
        self.waiters = 0

    def abandon(self) -> None:
        """Called when a waiter gives up; the last one to go cancels the computation."""
        self.waiters -= 1
        if self.waiters <= 0 and not self.future.done():
            if self.task is not None:
                self.task.cancel()
            else:
                self.future.cancel()


def request_key(payload: Any, key: Hashable | None) -> Hashable | None:
    """What identifies a request in the cache: ``key`` if given, else a hash of an array
    payload (bytes, dtype and shape), else a str/bytes/number payload itself; None (not
    cacheable) for anything else."""
    if key is not None:
        return key
    if isinstance(payload, np.ndarray):
        digest = hashlib.blake2b(payload.tobytes(), digest_size=16)
        digest.update(f"{payload.dtype.str}{payload.shape}".encode())
        return ("sha", digest.hexdigest())
    if isinstance(payload, (str, bytes, int, float)):
        return payload
    return None


class MultiLevelCache:
    """Caching as a whole: L1, optional L2, single-flight and the L2 write-behind.

    :meth:`get_or_compute` is the only way in on the request path.  Guarantees:

    * Exact counting: every lookup is one L1 hit or miss; an L1 miss that reaches L2 is
      one L2 hit or miss (a miss the key index answers counts too); a miss that joins a
      computation in flight counts one ``inflight_joins``; one that skips L2 because
      ``_L2_READS_LIMIT`` reads are already waiting counts one ``l2_bypassed``.
    * Single-flight: identical keys in flight are computed once and every waiter gets the
      same value or error.  A waiter that times out (its own ``timeout_s``) or is
      cancelled leaves the flight to the others; the last one to go cancels it.
    * L2 is a shortcut, never a bottleneck or a failure: its reads and writes run on one
      I/O thread owned here; a miss on a key L2 does not hold costs no read (the store's
      key index); writes go behind the response, gathered for ``_WRITE_DELAY_S`` into
      one transaction, at most ``_L2_BACKLOG_LIMIT`` waiting (more are counted as
      skipped); with ``l2_admission = "second_hit"`` a value is written only when its key
      is computed for the second time (the first counts one ``l2_declined``: see
      :mod:`.admission`); any L2 error disables it, keeps the reason (``l2_disabled_reason``) and
      serving goes on without it.
    * :meth:`stop` cancels the lookups still running, writes the whole backlog and waits
      for the I/O thread to finish it before L2 is closed.
    """

    def __init__(
        self,
        config: OptimizationConfig,
        namespace: str,
        *,
        deadlines: Deadlines,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[str, str], None] = lambda kind, message: None,
    ) -> None:
        self._config = config
        self.namespace = namespace
        self._deadlines = deadlines
        self._on_event = on_event
        self.l1 = LRUCache(config.l1_cache_size, config.cache_ttl_s, clock)
        self.l2: DiskStore | None = None
        #: why the L2 store could not be opened, if it could not
        self.l2_error: str | None = None
        self.inflight: dict[Hashable, Flight] = {}
        self.inflight_joins = 0
        #: misses sent straight to the model because too many L2 reads were already waiting
        self.l2_bypassed = 0
        #: keys computed once so far: L2 admits a value on its key's second computation
        self._admission = SecondHitFilter()
        #: values not written to L2 because their key was computed for the first time
        self.l2_declined = 0
        self._running = False
        self._io: Executor | None = None
        self._lookups: set[asyncio.Task[None]] = set()
        self._l2_reads = 0
        self._backlog: list[tuple[str, Any]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the I/O thread and the write-behind task, and open L2 if the config asks."""
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clawlet-l2")
        self._wakeup = asyncio.Event()
        self._writer = asyncio.create_task(self._write_behind(), name="clawlet-l2-writer")
        self._running = True
        self._open_l2(self._config)

    async def stop(self) -> None:
        """Cancel lookups in progress, write the backlog, stop the I/O thread, close L2."""
        self._running = False
        tasks = [*self._lookups, *([self._writer] if self._writer is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._writer = None
        if self._io is not None:
            # The last writes go behind anything already queued on the I/O thread; shutting
            # it down (off the loop) waits for all of them before L2 is closed.
            if self._backlog and self.l2 is not None:
                self._io.submit(self.l2.put_many, list(self._backlog))
            self._backlog.clear()
            await asyncio.get_running_loop().run_in_executor(None, self._io.shutdown, True)
            self._io = None
        if self.l2 is not None:
            self.l2.close()

    async def flush(self) -> None:
        """Hand the write backlog to the I/O thread and wait until every job given to it so
        far (index load, writes, clears) has run: L2 then holds everything stored."""
        if self._io is None:
            return
        await self._flush()
        await asyncio.get_running_loop().run_in_executor(self._io, _nothing)

    def lookups(self) -> tuple[asyncio.Task[None], ...]:
        """The L2 lookups in progress (what a draining engine waits for)."""
        return tuple(self._lookups)

    # -- the request path ---------------------------------------------------------------

    def l2_key(self, key: Hashable) -> str:
        """A stable string key for disk: the model namespace plus a typed form of the key."""
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "sha":
            return f"{self.namespace}|h:{key[1]}"
        return f"{self.namespace}|{type(key).__name__}:{key!r}"

    def get_or_compute(
        self, key: Hashable, compute: Callable[[], asyncio.Future[Any]], timeout_s: float | None
    ) -> Awaitable[Any]:
        """What the caller awaits for the value of ``key``.

        ``compute()`` starts computing the value and returns the future that will hold it
        (cancelling that future abandons the computation); it is called at most once per
        flight, and may raise (say, queue full) to fail the request at once.  The value
        comes from L1, a flight in progress, L2 or ``compute``, in that order, and is
        stored in L1 and written to L2 in the background.  The awaitable fails with
        ``RequestTimeout`` after ``timeout_s`` (None: no limit).
        """
        value = self.l1.get(key) if self.l1.maxsize > 0 else MISSING
        if value is not MISSING:
            return _after_a_turn(value)
        flight = self.inflight.get(key)
        if flight is None:
            flight = self._begin_flight(key, compute)
        else:
            self.inflight_joins += 1
        return self._wait(flight, timeout_s)

    def _begin_flight(self, key: Hashable, compute: Callable[[], asyncio.Future[Any]]) -> Flight:
        """Start computing a miss; identical requests arriving meanwhile join this flight."""
        l2 = self.l2
        l2_key = self.l2_key(key)
        read_l2 = l2 is not None and l2.enabled and self._config.enable_l2 and not l2.absent(l2_key)
        if read_l2 and self._l2_reads >= _L2_READS_LIMIT:
            read_l2 = False
            self.l2_bypassed += 1
        if read_l2:
            flight = Flight(asyncio.get_running_loop().create_future())
            flight.future.add_done_callback(_consume_exception)
            flight.task = asyncio.create_task(self._fill_via_l2(key, l2_key, compute, flight))
            self._lookups.add(flight.task)
            flight.task.add_done_callback(self._lookups.discard)
        else:
            flight = Flight(compute())
            flight.future.add_done_callback(lambda f: self._store(key, l2_key, f))
        self.inflight[key] = flight
        flight.future.add_done_callback(lambda _: self._end_flight(key, flight))
        return flight

    def _end_flight(self, key: Hashable, flight: Flight) -> None:
        if self.inflight.get(key) is flight:
            del self.inflight[key]

    async def _fill_via_l2(
        self, key: Hashable, l2_key: str, compute: Callable[[], asyncio.Future[Any]], flight: Flight
    ) -> None:
        """Compute one miss for every waiter of ``flight``: L2 first, else ``compute``."""
        try:
            l2 = self.l2
            if l2 is not None and l2.enabled:
                assert self._io is not None
                self._l2_reads += 1
                try:
                    value = await asyncio.get_running_loop().run_in_executor(self._io, l2.get, l2_key)
                finally:
                    self._l2_reads -= 1
                if value is not MISSING:
                    self.l1.put(key, value)
                    flight.future.set_result(value)
                    return
            computed = compute()
            computed.add_done_callback(lambda f: self._store(key, l2_key, f))
            flight.future.set_result(await computed)
        except asyncio.CancelledError:
            flight.future.cancel()
        except BaseException as exc:
            if not flight.future.done():
                flight.future.set_exception(exc)

    async def _wait(self, flight: Flight, timeout_s: float | None) -> Any:
        """Wait for a flight others may share, with this caller's own deadline.

        The caller's own future is resolved from the flight; a timeout or cancellation
        of this caller leaves the flight to its other waiters (and cancels it if none remain).
        """
        loop = asyncio.get_running_loop()
        shared = flight.future
        waiter: asyncio.Future[Any] = loop.create_future()

        def relay(done: asyncio.Future[Any]) -> None:
            if waiter.done():
                return
            if done.cancelled():
                waiter.set_exception(EngineStopped("request abandoned"))
            elif (exc := done.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(done.result())

        flight.waiters += 1
        shared.add_done_callback(relay)
        if timeout_s is not None:
            self._deadlines.add(waiter, timeout_s)
        try:
            return await waiter
        except (RequestTimeout, asyncio.CancelledError):
            if not shared.done():
                shared.remove_done_callback(relay)
                flight.abandon()
            raise

    def _store(self, key: Hashable, l2_key: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None or not self._config.enable_cache:
            return
        value = future.result()
        self.l1.put(key, value)
        l2 = self.l2
        if l2 is None or not l2.enabled or not self._config.enable_l2:
            return
        if self._config.l2_admission == "second_hit" and not self._admission.admit(hash(l2_key)):
            self.l2_declined += 1
            return
        if len(self._backlog) >= _L2_BACKLOG_LIMIT:
            l2.skipped += 1
            return
        self._backlog.append((l2_key, value))
        if self._wakeup is not None:
            self._wakeup.set()

    # -- L2 -----------------------------------------------------------------------------

    def _open_l2(self, config: OptimizationConfig) -> None:
        if not (config.enable_cache and config.enable_l2) or self.l2 is not None:
            return
        path = config.l2_path()
        try:
            self.l2 = DiskStore(path, size_limit_bytes=config.l2_size_limit_bytes, ttl_s=config.cache_ttl_s)
            self.l2_error = None
        except Exception as exc:
            self.l2_error = f"{type(exc).__name__}: {exc}"
            log.warning("L2 cache at %s disabled: %s", path, self.l2_error)
            self._on_event("warning", f"L2 cache disabled: {self.l2_error}")
            return
        assert self._io is not None
        self._io.submit(self.l2.load_index)

    async def _write_behind(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(_WRITE_DELAY_S)
            self._wakeup.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Hand the whole backlog to the I/O thread as one transaction and wait for it."""
        l2 = self.l2
        if l2 is None or self._io is None:
            self._backlog.clear()
            return
        if not self._backlog:
            return
        items, self._backlog = self._backlog, []
        was_enabled = l2.enabled
        # Shielded: once handed over, the write happens even if this task is cancelled
        # (stop), and stop waits for the I/O thread to finish it.
        await asyncio.shield(asyncio.wrap_future(self._io.submit(l2.put_many, items)))
        if was_enabled and not l2.enabled:
            self._on_event("warning", f"L2 cache disabled: {l2.disabled_reason}")

    # -- control ------------------------------------------------------------------------

    def reconfigure(self, config: OptimizationConfig) -> None:
        """Apply ``config``'s cache fields (sizes, TTL, L2 on/off and directory) at once.

        A new L2 directory closes the old store on the I/O thread, behind the writes
        already handed to it; the backlog goes to the new one.
        """
        old, self._config = self._config, config
        self.l1.resize(config.l1_cache_size)
        self.l1.set_ttl(config.cache_ttl_s)
        l2 = self.l2
        if l2 is not None:
            if config.l2_size_limit_bytes != old.l2_size_limit_bytes:
                l2.set_size_limit(config.l2_size_limit_bytes)
            l2.set_ttl(config.cache_ttl_s)
            if config.l2_cache_dir != old.l2_cache_dir:
                self.l2 = None
                if self._io is not None:
                    self._io.submit(l2.close)
                else:
                    l2.close()
        if self._running:
            self._open_l2(config)

    def expect_repeats(self, keys: Iterable[Hashable]) -> None:
        """Count ``keys`` as already asked for once, so L2 admits their values the first
        time they are computed (a cache warm-up: its keys were chosen because the load
        asks for them again and again)."""
        for key in keys:
            self._admission.admit(hash(self.l2_key(key)))

    def shrink_l1(self, fraction: float) -> int:
        """Drop the least-recently-used ``fraction`` of L1 (memory pressure)."""
        return self.l1.shrink(fraction)

    def clear(self) -> None:
        """Empty L1 and L2 (counters are kept).

        L2 is cleared on the I/O thread, after any write already handed to it, so a
        pending write cannot bring an old value back; writes not yet handed over are dropped.
        """
        self.l1.clear()
        self._backlog.clear()
        l2 = self.l2
        if l2 is not None:
            if self._io is not None and self._running:
                self._io.submit(l2.clear)
            else:
                l2.clear()

    def reset_counters(self) -> None:
        """Zero every counter (hits, misses, evictions, joins, bypasses); entries stay."""
        self.l1.reset_counters()
        if self.l2 is not None:
            self.l2.reset_counters()
        self.inflight_joins = 0
        self.l2_bypassed = 0
        self.l2_declined = 0

    # -- reading ------------------------------------------------------------------------

    @property
    def l2_enabled(self) -> bool:
        return self.l2 is not None and self.l2.enabled

    @property
    def l2_disabled_reason(self) -> str | None:
        return self.l2_error or (self.l2.disabled_reason if self.l2 is not None else None)

    def lookup_counts(self) -> tuple[int, int]:
        """``(lookups, hits)``: every lookup is one L1 hit or miss; a hit is an L1 or L2 hit."""
        return self.l1.hits + self.l1.misses, self.l1.hits + (self.l2.hits if self.l2 is not None else 0)

    def hit_rate(self) -> float:
        """Share of cache lookups answered by L1 or L2 (single-flight joins count as misses)."""
        lookups, hits = self.lookup_counts()
        return hits / lookups if lookups else 0.0

    def stats(self) -> CacheStats:
        l2 = self.l2
        return CacheStats(
            enabled=self._config.enable_cache,
            l1=self.l1.stats(),
            l2=l2.stats() if l2 is not None else CacheLevelStats(),
            inflight_joins=self.inflight_joins,
            l2_bypassed=self.l2_bypassed,
            l2_declined=self.l2_declined,
            hit_rate=self.hit_rate(),
            l2_disabled_reason=self.l2_disabled_reason,
        )


def _nothing() -> None:
    pass


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _after_a_turn(value: Any) -> Any:
    """``value``, after yielding to the loop once.

    For L1 hits: a caller whose every request hits L1 would otherwise never give the
    event loop a turn and starve other clients (and a dashboard).
    """
    await asyncio.sleep(0)
    return value
