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
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .snapshot import PoolStats

S = TypeVar("S")


class ModelWorker:
    """One daemon thread for model calls, fed through a queue.

    Not a ``ThreadPoolExecutor``: the interpreter joins executor threads at exit, so a model
    call that never returns would keep the whole process alive after the engine has given up
    on it (``ModelHang``) and stopped.  A daemon thread is simply abandoned at exit.
    """

    _ids = 0

    def __init__(self, predict: Callable[..., Any] | None = None) -> None:
        ModelWorker._ids += 1
        self.id = ModelWorker._ids
        #: this worker's own predict (a model's per-worker state, e.g. an ONNX Runtime
        #: session), or None to call the model's shared ``predict``
        self.predict = predict
        self._calls: queue.SimpleQueue[tuple[asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._calls = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=f"clawlet-worker-{self.id}", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn(*args)`` on this worker; its outcome settles the returned future on the caller's loop.

        Cancelling the future does not stop the call (threads cannot be interrupted); its
        outcome is dropped when it arrives.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.put((future, fn, args))
        return future

    def _serve(self) -> None:
        while (job := self._calls.get()) is not None:
            future, fn, args = job
            if future.cancelled():
                continue
            try:
                outcome, failed = fn(*args), False
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller, who decides
                outcome, failed = exc, True
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, outcome, failed)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                pass
            del job, future, outcome

    def close(self) -> None:
        """Stop after the current call; never waits (a worker stuck in a hung call must not block shutdown)."""
        self._calls.put(None)


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.done():  # cancelled while the call ran (timeout, shutdown)
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


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
        """An idle session, or a new one if the pool has room; marked in use.

        The most recently released session goes first (last in, first out): below
        saturation one worker thread then takes nearly every batch and stays warm (its
        stack, caches and scheduler state), instead of each batch waking the thread that
        has slept longest.  Shrinking retires from the other end, the coldest.
        """
        if self._idle:
            session = self._idle.pop()
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
