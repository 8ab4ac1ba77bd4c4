"""ConcurrencyController: at most ``limit`` batches execute at once.

An asyncio semaphore whose limit can change at run time.  Raising the limit wakes
waiters at once; lowering it never interrupts running batches, it only holds new ones
back until ``busy`` is below the new limit.  Waiters are served first come, first served.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ConcurrencyController:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.busy = 0
        self.peak_busy = 0
        self.completed = 0
        #: acquisitions that had to wait for a slot
        self.waits = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.busy < self.limit and not self._waiters:
            self._take()
            return
        self.waits += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed to us as we were cancelled: give it back.
                self.release(completed=False)
            elif future in self._waiters:
                self._waiters.remove(future)
            raise

    def _take(self) -> None:
        self.busy += 1
        self.peak_busy = max(self.peak_busy, self.busy)

    def release(self, *, completed: bool = True) -> None:
        self.busy -= 1
        if completed:
            self.completed += 1
        self._wake()

    def reset_counters(self) -> None:
        """Zero ``completed``, ``waits`` and ``peak_busy`` (slots in use stay as they are)."""
        self.completed = 0
        self.waits = 0
        self.peak_busy = self.busy

    def set_limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.busy < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self._take()
                future.set_result(None)
