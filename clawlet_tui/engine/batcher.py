"""DynamicBatcher: groups queued requests into batches of up to ``batch_size``.

A batch is dispatched as soon as it holds ``batch_size`` live requests, or when
``batch_timeout_s`` has passed since its *first* request was queued, whichever comes
first (Triton's ``max_queue_delay`` semantics).  Before it forms a batch the loop waits
for a free execution slot (``ready``), so while every worker is busy requests keep
accumulating and the next batch leaves fuller: batching adapts to load by itself.

Bounds and ordering: at most ``max_queue_size`` live requests wait; past that
:meth:`submit` raises :class:`RejectedError` at once.  Requests leave the queue in
arrival order.  A request whose future was cancelled (caller timed out or gave up)
is skipped and frees its queue slot immediately.  ``batch_size``, ``batch_timeout_s``
and ``max_queue_size`` are plain attributes read on every iteration, so they can be
changed while the loop runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import RejectedError


class Request:
    """One queued request and the future its result goes to.

    While queued, the request itself is a done-callback of its future: a request
    cancelled or timed out in the queue frees its slot at once.  The callback is removed
    when the request is taken into a batch, so delivering a result schedules nothing
    but the caller's wake-up.
    """

    __slots__ = ("payload", "future", "enqueued_at", "queued", "_batcher")

    def __init__(self, payload: Any, future: asyncio.Future[Any], enqueued_at: float, batcher: DynamicBatcher) -> None:
        self.payload = payload
        self.future = future
        self.enqueued_at = enqueued_at
        #: still waiting in the queue (False once taken into a batch or finished early)
        self.queued = True
        self._batcher = batcher

    def __call__(self, future: asyncio.Future[Any]) -> None:
        self._batcher._unqueue(self)

    def __repr__(self) -> str:
        return f"<Request queued={self.queued} done={self.future.done()}>"


class DynamicBatcher:
    def __init__(
        self,
        dispatch: Callable[[list[Request]], None],
        *,
        batch_size: int,
        batch_timeout_s: float,
        max_queue_size: int,
        ready: Callable[[], Awaitable[None]] | None = None,
        release: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.max_queue_size = max_queue_size
        self._dispatch = dispatch
        self._ready = ready
        self._release = release
        self._clock = clock
        self._queue: deque[Request] = deque()
        self._live = 0
        self._arrived = asyncio.Event()
        self._dispatched = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches_formed = 0

    # -- queue --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Live (not cancelled) requests waiting for a batch."""
        return self._live

    def submit(self, payload: Any) -> Request:
        """Queue ``payload``; the returned request's future resolves with its outcome."""
        if self._live >= self.max_queue_size:
            raise RejectedError(f"queue full ({self.max_queue_size} waiting)")
        request = Request(payload, asyncio.get_running_loop().create_future(), self._clock(), self)
        # Only cancellation, a timeout or a forced failure on stop finish a queued request.
        request.future.add_done_callback(request)
        self._queue.append(request)
        self._live += 1
        if not self._arrived.is_set():
            self._arrived.set()
        return request

    def _unqueue(self, request: Request) -> None:
        if request.queued:
            request.queued = False
            self._live -= 1

    def _pop_live(self) -> Request | None:
        while self._queue:
            request = self._queue.popleft()
            if request.queued:
                request.queued = False
                self._live -= 1
                request.future.remove_done_callback(request)
                return request
        return None

    def drain_queue(self) -> list[Request]:
        """Remove and return every live queued request (used on stop)."""
        out = []
        while (request := self._pop_live()) is not None:
            out.append(request)
        return out

    # -- loop ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="clawlet-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            if self._ready is not None:
                await self._ready()
            try:
                batch = await self._form_batch()
            except BaseException:
                if self._release is not None:
                    self._release()
                raise
            self.batches_formed += 1
            self._dispatch(batch)
            self._dispatched.set()

    def wake(self) -> None:
        """Re-read the settings now (after a change of batch size or timeout)."""
        self._arrived.set()

    async def wait_dispatched(self) -> None:
        """Wait until the loop dispatches its next batch."""
        self._dispatched.clear()
        await self._dispatched.wait()

    async def _form_batch(self) -> list[Request]:
        first = self._pop_live()
        while first is None:
            self._arrived.clear()
            await self._arrived.wait()
            first = self._pop_live()
        batch = [first]
        deadline = first.enqueued_at + self.batch_timeout_s
        while len(batch) < self.batch_size:
            request = self._pop_live()
            if request is not None:
                batch.append(request)
                continue
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        return batch
