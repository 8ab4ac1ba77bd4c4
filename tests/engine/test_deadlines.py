"""Deadlines: one timer expiring many futures, in deadline order, never a finished one."""

from __future__ import annotations

import asyncio

import pytest

from clawlet_tui.engine.deadlines import Deadlines


class Expired(Exception):
    pass


def expire(future: asyncio.Future[object], timeout_s: float) -> None:
    future.set_exception(Expired(timeout_s))


async def test_a_pending_future_fails_at_its_deadline():
    deadlines = Deadlines(expire)
    future = asyncio.get_running_loop().create_future()
    deadlines.add(future, 0.01)
    with pytest.raises(Expired) as info:
        await future
    assert info.value.args == (0.01,)
    assert deadlines.expired == 1
    assert len(deadlines) == 0


async def test_a_finished_future_is_left_alone():
    deadlines = Deadlines(expire)
    loop = asyncio.get_running_loop()
    done, sentinel = loop.create_future(), loop.create_future()
    deadlines.add(done, 0.01)
    done.set_result("ok")
    deadlines.add(sentinel, 0.02)  # expires after `done`'s deadline has passed
    with pytest.raises(Expired):
        await sentinel
    assert done.result() == "ok"
    assert deadlines.expired == 1


async def test_finished_entries_are_dropped_as_new_ones_arrive():
    """The FIFO holds about what is in flight, not every request ever made."""
    deadlines = Deadlines(expire)
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(100)]
    for future in futures:
        deadlines.add(future, 60.0)
        future.set_result(None)
    assert len(deadlines) == 1  # only the last, added after the others had finished
    deadlines.close()


async def test_a_shorter_timeout_added_later_expires_first():
    """After a config change lowers the timeout, new requests must not wait behind old deadlines."""
    deadlines = Deadlines(expire)
    loop = asyncio.get_running_loop()
    long, short = loop.create_future(), loop.create_future()
    deadlines.add(long, 60.0)
    deadlines.add(short, 0.01)
    with pytest.raises(Expired):
        await short
    assert not long.done()
    assert len(deadlines) == 1
    deadlines.close()
    assert len(deadlines) == 0


async def test_many_deadlines_expire_in_order_with_one_timer():
    deadlines = Deadlines(expire)
    loop = asyncio.get_running_loop()
    order: list[int] = []
    futures = []
    for i in range(20):
        future = loop.create_future()
        future.add_done_callback(lambda _, i=i: order.append(i))
        deadlines.add(future, 0.005)
        futures.append(future)
    await asyncio.gather(*futures, return_exceptions=True)
    assert order == list(range(20))
    assert deadlines.expired == 20
