"""ConnectionPool: a bounded pool of backend sessions that batches check out and return.

For the in-process model a session is a :class:`ModelWorker`, a dedicated thread, so a
numpy model really runs on several cores; a remote backend pools HTTP connections behind
the same interface.  Sessions are created lazily up to ``size``; when all are in use,
``acquire`` waits (and counts the wait).  Shrinking the pool retires idle sessions and,
as busy ones come back, closes them until the pool fits.  A session known to be broken
(e.g. stuck in a hung model call) is ``discard``-ed and replaced on demand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from .snapshot import PoolStats

S = TypeVar("S")


class ModelWorker:
    """One worker thread for model calls."""

    _ids = 0

    def __init__(self) -> None:
        ModelWorker._ids += 1
        self.id = ModelWorker._ids
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"clawlet-worker-{self.id}")

    def close(self) -> None:
        # Never wait: a worker discarded because its call hung must not block shutdown.
        self.executor.shutdown(wait=False, cancel_futures=True)


class ConnectionPool(Generic[S]):
    def __init__(self, factory: Callable[[], S], close: Callable[[S], None], size: int) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self._factory = factory
        self._close = close
        self.size = size
        self._idle: deque[S] = deque()
        self._in_use: set[int] = set()
        self._waiters: deque[asyncio.Future[S]] = deque()
        self.created = 0
        self.waits = 0
        self.discarded = 0

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    @property
    def total(self) -> int:
        return len(self._idle) + len(self._in_use)

    async def acquire(self) -> S:
        """A session; waits (first come, first served) while all ``size`` are in use."""
        if not self._waiters:
            session = self._take()
            if session is not None:
                return session
        self.waits += 1
        future: asyncio.Future[S] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future in self._waiters:
                self._waiters.remove(future)
            elif future.done() and not future.cancelled():
                self.release(future.result())  # handed to us as we were cancelled: pass it on
            raise

    def _take(self) -> S | None:
        """An idle session, or a new one if the pool has room; marked in use."""
        if self._idle:
            session = self._idle.popleft()
        elif self.total < self.size:
            session = self._factory()
            self.created += 1
        else:
            return None
        self._in_use.add(id(session))
        return session

    def release(self, session: S) -> None:
        self._in_use.discard(id(session))
        if self.total >= self.size:
            self._close(session)
        else:
            self._idle.append(session)
        self._wake()

    def discard(self, session: S) -> None:
        """Throw a broken session away; a new one is created when needed."""
        self._in_use.discard(id(session))
        self.discarded += 1
        self._close(session)
        self._wake()

    def resize(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.size = size
        while self._idle and self.total > self.size:
            self._close(self._idle.popleft())
        self._wake()

    def _wake(self) -> None:
        """Hand sessions straight to waiters, oldest first, while there are any to hand out."""
        while self._waiters:
            future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            session = self._take()
            if session is None:
                return
            self._waiters.popleft()
            future.set_result(session)

    def close(self) -> None:
        while self._idle:
            self._close(self._idle.popleft())

    def stats(self) -> PoolStats:
        return PoolStats(
            size=self.size,
            in_use=self.in_use,
            idle=len(self._idle),
            created=self.created,
            waits=self.waits,
            discarded=self.discarded,
        )
