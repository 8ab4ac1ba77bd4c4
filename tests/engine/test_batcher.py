"""DynamicBatcher on its own under the seed's ``timeout`` policy: batch formation, bounds,
cancellation, queue limit.  The work-conserving policies are in test_batch_policy.py."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawlet_tui.engine.batcher import DynamicBatcher
from clawlet_tui.engine.errors import RejectedError


class Harness:
    """A batcher whose dispatch records batches and answers each request with its payload."""

    def __init__(
        self, *, batch_size: int, batch_timeout_s: float, max_queue_size: int = 1000, gated: bool = False,
        policy: str = "timeout",
    ):
        self.batches: list[list[object]] = []
        self.tokens: asyncio.Queue[None] | None = asyncio.Queue() if gated else None
        self.dispatched = asyncio.Event()
        self.batcher = DynamicBatcher(
            self.dispatch,
            batch_size=batch_size,
            batch_timeout_s=batch_timeout_s,
            max_queue_size=max_queue_size,
            policy=policy,
            ready=self.ready if gated else None,
        )

    async def ready(self) -> None:
        assert self.tokens is not None
        await self.tokens.get()

    def dispatch(self, batch) -> None:
        self.batches.append([r.payload for r in batch])
        for r in batch:
            assert not r.future.done()
            r.future.set_result(r.payload)
        self.dispatched.set()


async def test_full_batch_dispatches_without_waiting_for_the_timeout():
    h = Harness(batch_size=4, batch_timeout_s=60)
    h.batcher.start()
    try:
        requests = [h.batcher.submit(i) for i in range(4)]
        results = await asyncio.wait_for(asyncio.gather(*(r.future for r in requests)), 5)
        assert results == [0, 1, 2, 3]
        assert h.batches == [[0, 1, 2, 3]]
        assert h.batcher.depth == 0 and h.batcher.batches_formed == 1
    finally:
        await h.batcher.stop()


async def test_partial_batch_dispatches_after_the_timeout():
    h = Harness(batch_size=8, batch_timeout_s=0.02)
    h.batcher.start()
    try:
        requests = [h.batcher.submit(i) for i in range(3)]
        await asyncio.wait_for(asyncio.gather(*(r.future for r in requests)), 5)
        assert h.batches == [[0, 1, 2]]
    finally:
        await h.batcher.stop()


async def test_batch_size_change_is_read_by_the_running_loop():
    h = Harness(batch_size=8, batch_timeout_s=60)
    h.batcher.start()
    try:
        first = h.batcher.submit("a")
        # the loop is now waiting up to 60 s for 7 more requests
        await asyncio.sleep(0)
        h.batcher.batch_size = 1
        h.batcher.wake()
        assert await asyncio.wait_for(first.future, 5) == "a"
        assert h.batches == [["a"]]
    finally:
        await h.batcher.stop()


async def test_queue_bound_rejects_and_cancelled_requests_free_their_slot():
    h = Harness(batch_size=4, batch_timeout_s=0, max_queue_size=2, gated=True)
    h.batcher.start()
    try:
        a = h.batcher.submit("a")
        b = h.batcher.submit("b")
        assert h.batcher.depth == 2
        with pytest.raises(RejectedError, match=r"queue full \(2 waiting\)"):
            h.batcher.submit("c")
        a.future.cancel()
        await asyncio.wait_for(_depth(h.batcher, 1), 5)
        d = h.batcher.submit("d")  # the cancelled request's slot is free again
        assert h.batcher.depth == 2
        h.tokens.put_nowait(None)
        await asyncio.wait_for(asyncio.gather(b.future, d.future), 5)
        assert h.batches == [["b", "d"]]  # the cancelled one was skipped
        assert h.batcher.depth == 0
    finally:
        await h.batcher.stop()


async def _depth(batcher: DynamicBatcher, n: int) -> None:
    while batcher.depth != n:
        await asyncio.sleep(0)


async def test_drain_queue_returns_live_requests_in_order():
    h = Harness(batch_size=4, batch_timeout_s=0, gated=True)
    h.batcher.start()
    try:
        reqs = [h.batcher.submit(i) for i in range(4)]
        reqs[1].future.cancel()
        await asyncio.wait_for(_depth(h.batcher, 3), 5)
        assert [r.payload for r in h.batcher.drain_queue()] == [0, 2, 3]
        assert h.batcher.depth == 0
    finally:
        await h.batcher.stop()


async def _scenario(batch_size: int, groups: list[int], cancel: set[int]) -> None:
    h = Harness(batch_size=batch_size, batch_timeout_s=0, gated=True)
    h.batcher.start()
    submitted = []
    try:
        n = 0
        for group in groups:
            for _ in range(group):
                request = h.batcher.submit(n)
                submitted.append(request)
                if n in cancel:
                    request.future.cancel()
                n += 1
            await asyncio.sleep(0)  # let cancellation callbacks run before the batch forms
            if h.batcher.depth:
                expected = min(batch_size, h.batcher.depth)
                h.dispatched.clear()
                h.tokens.put_nowait(None)
                await asyncio.wait_for(h.dispatched.wait(), 5)
                assert len(h.batches[-1]) == expected
        while h.batcher.depth:
            h.dispatched.clear()
            h.tokens.put_nowait(None)
            await asyncio.wait_for(h.dispatched.wait(), 5)
    finally:
        await h.batcher.stop()
    assert all(1 <= len(b) <= batch_size for b in h.batches)
    flat = [p for b in h.batches for p in b]
    assert flat == [i for i in range(len(submitted)) if i not in cancel]  # arrival order, each once
    assert all(r.future.cancelled() for i, r in enumerate(submitted) if i in cancel)


@settings(max_examples=60, deadline=None)
@given(
    batch_size=st.integers(1, 6),
    groups=st.lists(st.integers(0, 15), min_size=1, max_size=8),
    cancel=st.sets(st.integers(0, 60), max_size=10),
)
def test_batches_never_exceed_batch_size_for_any_arrival_pattern(batch_size, groups, cancel):
    asyncio.run(_scenario(batch_size, groups, cancel))
