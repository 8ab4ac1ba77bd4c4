"""Deadlines: per-request timeouts with one event-loop timer for all of them.

Why not ``loop.call_later`` per request: that is a timer handle, a heap push and a
cancel on the engine's hottest path, for timers that almost never fire.  Requests that
share a timeout value expire in the order they arrived (the loop clock is monotonic), so
a FIFO per timeout value plus one timer armed for the earliest head does the same job
in O(1) per request.  Finished requests are dropped from the head as new ones arrive,
so each FIFO holds about as many entries as there are requests in flight.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

Expire = Callable[["asyncio.Future[Any]", float], None]


class Deadlines:
    """Calls ``expire(future, timeout_s)`` for each added future not done by its deadline."""

    def __init__(self, expire: Expire) -> None:
        self._expire = expire
        #: timeout value -> (deadline, future) in deadline order
        self._queues: dict[float, deque[tuple[float, asyncio.Future[Any]]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.expired = 0

    def __len__(self) -> int:
        """Entries held (finished ones not yet dropped included)."""
        return sum(len(queue) for queue in self._queues.values())

    def add(self, future: asyncio.Future[Any], timeout_s: float) -> None:
        """Expire ``future`` if it is still pending ``timeout_s`` from now."""
        loop = future.get_loop()
        deadline = loop.time() + timeout_s
        queue = self._queues.get(timeout_s)
        if queue is None:
            queue = self._queues[timeout_s] = deque()
        else:
            while queue and queue[0][1].done():
                queue.popleft()
        queue.append((deadline, future))
        if self._timer is None or deadline < self._timer_at:
            self._arm(loop, deadline)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, loop)
        self._timer_at = when

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        earliest: float | None = None
        for timeout_s, queue in list(self._queues.items()):
            while queue:
                deadline, future = queue[0]
                if future.done():
                    queue.popleft()
                elif deadline <= now:
                    queue.popleft()
                    self.expired += 1
                    self._expire(future, timeout_s)
                else:
                    break
            if queue:
                head = queue[0][0]
                earliest = head if earliest is None else min(earliest, head)
            else:
                del self._queues[timeout_s]
        if earliest is not None:
            self._arm(loop, earliest)

    def close(self) -> None:
        """Forget every entry and cancel the timer (the futures are left as they are)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queues.clear()
