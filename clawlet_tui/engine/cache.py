"""The seed's multi-level cache: an in-memory LRU (L1) in front of a disk store (L2).

Guarantees:

* :class:`LRUCache` is exact: O(1) get/put, at most ``maxsize`` entries, entries older
  than ``ttl_s`` are never returned, and every lookup counts as exactly one hit or miss.
* :class:`DiskStore` never unpickles: values are numpy arrays stored as raw bytes with a
  JSON header (dtype, shape), or JSON documents; anything else is simply not stored on
  disk.  Rows written any other way are treated as misses.  Any I/O or database error
  disables the store (the reason is kept) and serving continues without it.
* :class:`MultiLevelCache` promotes L2 hits to L1, and computes identical requests that
  are already in flight once (single-flight): every waiter gets the same result.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .snapshot import CacheLevelStats

log = logging.getLogger(__name__)

MISSING: Any = object()


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
        return b != b  # NaN
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
    """

    def __init__(self, directory: Path, *, size_limit_bytes: int, ttl_s: float) -> None:
        import diskcache

        class _RawOnlyDisk(diskcache.Disk):
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
        except Exception as exc:  # disk full, read-only, corrupted database
            self._disable(exc)

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
        try:
            self._cache.clear()
        except Exception as exc:
            self._disable(exc)

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
            size=self.count(),
            capacity_bytes=self.size_limit_bytes,
            hits=self.hits,
            misses=self.misses,
            volume_bytes=self.volume(),
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


class MultiLevelCache:
    """L1 LRU, optional L2 disk store, and the in-flight table for single-flight.

    The engine drives the asynchronous part (it owns the tasks and the I/O thread); this
    class keeps the data structures and the counters so they can be read in one place.
    """

    def __init__(
        self, l1: LRUCache, l2: DiskStore | None, namespace: str, l2_error: str | None = None
    ) -> None:
        self.l1 = l1
        self.l2 = l2
        self.namespace = namespace
        self.inflight: dict[Hashable, Flight] = {}
        self.inflight_joins = 0
        #: misses sent straight to the model because too many L2 reads were already waiting
        self.l2_bypassed = 0
        #: why the L2 store could not be opened, if it could not
        self.l2_error = l2_error

    def l2_key(self, key: Hashable) -> str:
        """A stable string key for disk: the model namespace plus a typed form of the key."""
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "sha":
            return f"{self.namespace}|h:{key[1]}"
        return f"{self.namespace}|{type(key).__name__}:{key!r}"

    @property
    def l2_enabled(self) -> bool:
        return self.l2 is not None and self.l2.enabled

    @property
    def l2_disabled_reason(self) -> str | None:
        return self.l2_error or (self.l2.disabled_reason if self.l2 is not None else None)

    def hit_rate(self) -> float:
        """Share of cache lookups answered by L1 or L2 (single-flight joins count as misses)."""
        lookups = self.l1.hits + self.l1.misses
        hits = self.l1.hits + (self.l2.hits if self.l2 is not None else 0)
        return hits / lookups if lookups else 0.0
