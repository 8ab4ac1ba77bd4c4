"""ConcurrencyController and ConnectionPool on their own."""

from __future__ import annotations

import asyncio

import pytest

from clawlet_tui.engine.concurrency import ConcurrencyController
from clawlet_tui.engine.pool import ConnectionPool


async def _settle() -> None:
    # a few loop iterations: enough for woken waiters to run their next step
    for _ in range(5):
        await asyncio.sleep(0)


async def test_limit_is_enforced_and_waiters_are_fifo():
    c = ConcurrencyController(2)
    await c.acquire()
    await c.acquire()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await c.acquire()
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await _settle()
    assert c.busy == 2 and order == []
    c.release()
    await _settle()
    assert order == [0] and c.busy == 2 and c.completed == 1
    c.release()
    c.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == [0, 1, 2] and c.busy == 2 and c.peak_busy == 2


async def test_raising_the_limit_wakes_waiters_at_once():
    c = ConcurrencyController(1)
    await c.acquire()
    tasks = [asyncio.create_task(c.acquire()) for _ in range(3)]
    await _settle()
    c.set_limit(3)
    await asyncio.wait_for(asyncio.gather(*tasks[:2]), 5)
    assert c.busy == 3 and not tasks[2].done()
    c.release()
    await asyncio.wait_for(tasks[2], 5)
    assert c.peak_busy == 3


async def test_lowering_the_limit_holds_new_work_until_busy_drops():
    c = ConcurrencyController(3)
    for _ in range(3):
        await c.acquire()
    c.set_limit(1)
    assert c.busy == 3  # running work is never interrupted
    task = asyncio.create_task(c.acquire())
    await _settle()
    c.release()
    c.release()
    await _settle()
    assert not task.done() and c.busy == 1
    c.release()
    await asyncio.wait_for(task, 5)
    assert c.busy == 1


async def test_cancelled_waiter_leaves_the_queue():
    c = ConcurrencyController(1)
    await c.acquire()
    task = asyncio.create_task(c.acquire())
    await _settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(c._waiters) == 0
    c.release()
    assert c.busy == 0
    await asyncio.wait_for(c.acquire(), 5)


async def test_waiter_cancelled_just_before_release_raises_cancelled_error():
    c = ConcurrencyController(1)
    await c.acquire()
    task = asyncio.create_task(c.acquire())
    await _settle()
    task.cancel()  # cancels the waiter's future; the task has not run yet
    c.release()  # _wake pops the cancelled future and skips it
    with pytest.raises(asyncio.CancelledError):
        await task
    assert c.busy == 0


def test_bad_limits():
    with pytest.raises(ValueError):
        ConcurrencyController(0)
    with pytest.raises(ValueError):
        ConcurrencyController(1).set_limit(0)


# -- ConnectionPool ---------------------------------------------------------------------


class Sessions:
    def __init__(self) -> None:
        self.made = 0
        self.closed: list[int] = []

    def factory(self) -> list[int]:
        self.made += 1
        return [self.made]

    def close(self, session: list[int]) -> None:
        self.closed.append(session[0])


async def test_pool_creates_lazily_reuses_and_waits():
    s = Sessions()
    pool = ConnectionPool(s.factory, s.close, 2)
    a = await pool.acquire()
    b = await pool.acquire()
    assert s.made == 2 and pool.in_use == 2
    waiter = asyncio.create_task(pool.acquire())
    await _settle()
    assert not waiter.done() and pool.waits == 1
    pool.release(a)
    assert await asyncio.wait_for(waiter, 5) is a
    pool.discard(b)
    c = await pool.acquire()
    assert c is not b and s.made == 3 and pool.discarded == 1 and s.closed == [2]
    st = pool.stats()
    assert (st.size, st.in_use, st.idle, st.created, st.discarded) == (2, 2, 0, 3, 1)


async def test_pool_shrink_closes_sessions_as_they_return():
    s = Sessions()
    pool = ConnectionPool(s.factory, s.close, 3)
    sessions = [await pool.acquire() for _ in range(3)]
    pool.release(sessions[0])
    pool.resize(1)
    assert s.closed == [1] and pool.total == 2
    pool.release(sessions[1])
    assert s.closed == [1, 2] and pool.total == 1
    pool.release(sessions[2])
    assert pool.total == 1 and pool.stats().idle == 1
    pool.close()
    assert s.closed == [1, 2, 3]


async def test_growing_the_pool_wakes_every_waiter_that_now_fits():
    s = Sessions()
    pool = ConnectionPool(s.factory, s.close, 1)
    await pool.acquire()
    waiters = [asyncio.create_task(pool.acquire()) for _ in range(2)]
    await _settle()
    try:
        pool.resize(3)
        await _settle()
        assert all(w.done() for w in waiters)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def test_controller_is_fifo_resizable_counts_waits_and_survives_cancellation() -> None:
    limit = ConcurrencyController(2)
    await limit.acquire()
    await limit.acquire()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await limit.acquire()
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(4)]
    await asyncio.sleep(0)  # let them queue (no timing involved: one loop turn)
    assert limit.waits == 4 and limit.busy == 2
    tasks[0].cancel()  # a cancelled waiter gives up its place
    limit.release()
    await asyncio.gather(tasks[1], return_exceptions=True)
    assert order == [1] and limit.busy == 2
    limit.set_limit(4)  # growing wakes the next ones at once
    await asyncio.gather(*tasks[2:])
    assert order == [1, 2, 3] and limit.busy == 4 and limit.peak_busy == 4
    limit.set_limit(1)  # shrinking lets holders finish; nobody new gets in until below the limit
    for _ in range(3):
        limit.release()
    late = asyncio.create_task(waiter(9))
    await asyncio.sleep(0)
    assert order == [1, 2, 3] and limit.busy == 1
    limit.release()
    await late
    assert order == [1, 2, 3, 9] and limit.busy == 1
