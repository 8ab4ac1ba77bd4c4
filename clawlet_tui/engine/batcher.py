"""DynamicBatcher: groups queued requests into batches of up to ``batch_size``.

When a batch leaves depends on ``policy`` (the config's ``batch_policy``):

``"adaptive"`` (default) is work-conserving: no worker idles while requests wait.  As soon
as the loop holds a free execution slot (``ready``) it dispatches what is queued, up to
``batch_size``, sharing the queue evenly with the other idle workers (``idle_workers``)
so two free workers compute two half batches at once rather than one full one.  It sends
fewer than that share when a smaller measured batch size serves the queue sooner
(:meth:`.cost_model.BatchCostModel.preferred_size`: numpy's MLP computes two requests
sooner one after the other than as a batch of 2).  The one time a free worker is left
idle is when the measured times say a batch run beside the busy worker, slowing both
down, finishes the requests concerned later than holding it until that worker's call
ends (:meth:`DynamicBatcher._busy_worker_sooner`; on two cores the MLP's small batches
take twice as long side by side).  While
every worker is busy, requests pile up and the next batch leaves fuller: batches grow
with load by themselves, as in Triton with ``max_queue_delay`` 0.  On top of that the
loop may wait for the *next* arrival, but only when its online cost model
(:mod:`.cost_model`, batch time ≈ a + b·n fitted from measured batches) predicts the wait
pays and the waits it predicted lately did pay.  The prediction: every other worker is
busy and the queue is empty, the arrival rate λ (over the last 64 arrivals before this
batch's first request) is above what the workers can serve at the current batch size
(``λ·(a + b·n) > n·workers``), and one more arrival in the batch saves more than it
costs (``λ·a > n``).  The wait lasts until the next arrival or ``2/λ`` (where the next
arrival of an open stream should have come), whichever is first.  The check
(:class:`.cost_model.WaitOutcomes`): a wait *caught* when a request came within that
horizon and no other worker went idle meanwhile.  Waits go on while at least half of the
last 16 caught; otherwise (and on a fresh batcher) the batch leaves at once and, every
64th time (doubling after each miss, up to 1024), one wait is tried as a probe.  This is
what keeps closed-loop clients (who send again only when served: while every worker
computes no request can come, and the one that comes next arrives with an idle worker)
from waiting on requests that cannot arrive, while an open stream near saturation keeps
its waits.  No wait ever lasts past ``batch_timeout_s`` after the batch's first request
was queued.

``"eager"`` is the same without the predicted waits: it never waits.

``"timeout"`` is the seed's behaviour, kept for comparison: a batch leaves when it holds
``batch_size`` requests or ``batch_timeout_s`` after its first request was queued,
whatever the workers are doing.

Every batch is counted under the reason it left (:data:`DISPATCH_REASONS`): ``full``,
``worker_free`` (dispatched at once to a free worker), ``wait_expired`` (a wait reached
``batch_timeout_s``) or ``predicted_gain`` (after a wait the cost model chose).

Shedding (``shed_late``): a request that cannot finish within ``request_timeout_s`` even
on an optimistic reading of the fitted cost (every batch ahead of it full, every worker
computing) is rejected at once with :class:`PredictedLate` instead of waiting to time out.

Bounds and ordering: at most ``max_queue_size`` live requests wait; past that
:meth:`submit` raises :class:`RejectedError` at once.  Requests leave the queue in
arrival order.  A request whose future was cancelled (caller timed out or gave up)
is skipped and frees its queue slot immediately.  ``batch_size``, ``batch_timeout_s``,
``policy`` and ``max_queue_size`` are plain attributes read on every iteration, so they
can be changed while the loop runs (call :meth:`wake` after a change).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .cost_model import SIZE_COST_MARGIN, ArrivalRate, BatchCostModel, WaitOutcomes
from .errors import PredictedLate, RejectedError

#: why a batch left the queue, in the order snapshots and reports list them
DISPATCH_REASONS: tuple[str, ...] = ("full", "worker_free", "wait_expired", "predicted_gain")
#: the values of ``batch_policy``
POLICIES: tuple[str, ...] = ("adaptive", "eager", "timeout")
#: every this many holds for a busy worker one batch is sent beside it anyway, so the time
#: beside stays measured; the interval doubles after each, up to the second figure (each
#: such batch computes slower: few enough not to show in a P99)
HOLD_PROBE_EVERY = 256
HOLD_MAX_PROBE_EVERY = 4096
#: shedding trusts the fitted cost only this far: a request is shed when even this
#: fraction of the optimistic estimate is past its deadline
_SHED_MARGIN = 0.8


def _hold_pays(r: float, m: int, n: int, q: int, alone: float, beside: float) -> bool:
    """Whether holding a batch of ``n`` until a busy call of ``m`` requests ends (in ``r``
    seconds) finishes the requests concerned sooner, in sum, than running it beside.

    Beside, both calls slow down by ``s = beside / alone``: the busy call's requests finish
    at ``r·s``, this batch's at ``beside``, and the ``q`` requests queued behind it start
    when a worker frees, at ``min(r·s, beside)``.  Held, the busy call's finish at ``r``,
    this batch's at ``r + alone``, and the queued ones start at ``r + alone`` at the
    earliest (the worker the busy call frees would run them beside this batch).
    """
    s = beside / alone
    held = m * r + (n + q) * (r + alone)
    side_by_side = m * r * s + n * beside + q * min(r * s, beside)
    return held < side_by_side


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
    """Forms batches from a FIFO queue under one of :data:`POLICIES`; one loop, owned here.

    Guarantees:

    * :meth:`submit` either queues the request (its future is what the caller awaits) or
      raises at once: :class:`RejectedError` when ``max_queue_size`` live requests wait,
      :class:`PredictedLate` when ``shed_late`` is on and the cost model says it cannot
      finish in time.  Nothing waits unbounded in front of the queue.
    * Requests leave in arrival order, at most ``batch_size`` per batch; a request whose
      future is already done (cancelled, timed out) is never put in a batch and frees
      its slot at once.
    * The loop holds one execution slot (``ready`` / ``release``) while it forms a batch
      and hands the batch and the slot to ``dispatch``; a loop cancelled while forming
      gives its slot back.  Waiting to fill a batch never lasts past ``batch_timeout_s``
      after its first request was queued (waiting for a free slot is the concurrency
      limit's business, not bounded here).  Under the work-conserving policies no slot
      idles while requests are queued, with two exceptions: a predicted wait, taken only
      with every other worker busy and the queue empty, and judged
      (:attr:`wait_outcomes`) so that waits which do not catch stop; and a hold for a
      busy worker (``adaptive``), taken only where the measured times say running beside
      it is slower, and ended by the next call that ends.
    * Every submitted request ends in exactly one outcome: rejected at :meth:`submit`, put
      in exactly one batch, or finished early by its own future (cancelled, timed out).
    * ``batch_size``, ``batch_timeout_s``, ``policy``, ``max_queue_size``,
      ``request_timeout_s`` and ``shed_late`` are plain attributes read on every
      iteration: set them while the loop runs, then call :meth:`wake`.
    * :meth:`start` creates the loop's task and :meth:`stop` cancels and awaits it.
    """

    def __init__(
        self,
        dispatch: Callable[[list[Request]], None],
        *,
        batch_size: int,
        batch_timeout_s: float,
        max_queue_size: int,
        policy: str = "adaptive",
        ready: Callable[[], Awaitable[None]] | None = None,
        release: Callable[[], None] | None = None,
        idle_workers: Callable[[], int] | None = None,
        workers: Callable[[], int] | None = None,
        busy_remaining: Callable[[], tuple[float, int] | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        self.batch_size = batch_size
        self.batch_timeout_s = batch_timeout_s
        self.max_queue_size = max_queue_size
        self.policy = policy
        #: per-request deadline shedding works against (None: no shedding)
        self.request_timeout_s: float | None = None
        self.shed_late = False
        self._dispatch = dispatch
        self._ready = ready
        self._release = release
        #: free execution slots besides the one this loop holds
        self._idle_workers = idle_workers or (lambda: 0)
        self._workers = workers or (lambda: 1)
        #: seconds until the first running batch should finish, and its size (None: none
        #: runs, or unknown)
        self._busy_remaining = busy_remaining or (lambda: None)
        self._clock = clock
        self._queue: deque[Request] = deque()
        self._live = 0
        self._arrived = asyncio.Event()
        self._dispatched = asyncio.Event()
        #: set when a model call ends (:meth:`call_ended`): what a held batch waits for
        self._call_ended = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches_formed = 0
        #: batch compute time against size, fed by the engine with every measured batch
        self.cost = BatchCostModel()
        self.arrivals = ArrivalRate()
        #: whether predicted waits catch the arrival they wait for (kept across resets, like the cost)
        self.wait_outcomes = WaitOutcomes()
        self.dispatch_counts: dict[str, int] = dict.fromkeys(DISPATCH_REASONS, 0)
        #: requests refused as predicted late
        self.shed = 0
        #: batches sent smaller than the queue allowed, a smaller size measuring faster per item
        self.trimmed = 0
        #: batches held for a busy worker rather than run beside it (measured slower)
        self.held_for_busy = 0
        #: (holds since the last one sent beside anyway, interval): see _busy_worker_sooner
        self._hold_probe = (0, HOLD_PROBE_EVERY)

    # -- queue --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Live (not cancelled) requests waiting for a batch."""
        return self._live

    def submit(self, payload: Any) -> Request:
        """Queue ``payload``; the returned request's future resolves with its outcome.

        Raises :class:`RejectedError` when the queue is full, :class:`PredictedLate` when
        shedding is on and the request cannot meet its deadline.
        """
        if self._live >= self.max_queue_size:
            raise RejectedError(f"queue full ({self.max_queue_size} waiting)")
        now = self._clock()
        self.arrivals.arrived(now)
        if self.shed_late and self.request_timeout_s is not None and self._live:
            late = self._predicted_late(self.request_timeout_s)
            if late is not None:
                self.shed += 1
                raise PredictedLate(late)
        request = Request(payload, asyncio.get_running_loop().create_future(), now, self)
        # Only cancellation, a timeout or a forced failure on stop finish a queued request.
        request.future.add_done_callback(request)
        self._queue.append(request)
        self._live += 1
        if not self._arrived.is_set():
            self._arrived.set()
        return request

    def _predicted_late(self, timeout_s: float) -> str | None:
        """Why a request queued now cannot finish within ``timeout_s``, or None if it may.

        The estimate is a lower bound: the queue ahead of it in full batches, spread over
        every worker at once, ignoring the batches already computing.
        """
        fit = self.cost.fit()
        if fit is None:
            return None
        items = self._live + 1
        batch = max(self.batch_size, 1)
        rounds = math.ceil(math.ceil(items / batch) / max(self._workers(), 1))
        earliest = (rounds - 1) * fit.seconds(batch) + fit.seconds(1)
        if earliest * _SHED_MARGIN <= timeout_s:
            return None
        return (
            f"predicted late: {self._live} queued ahead need at least {earliest:.3g} s "
            f"(batch cost {fit.a_s * 1000:.3g} + {fit.b_s * 1000:.3g}·n ms), deadline {timeout_s:g} s"
        )

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

    def _take(self, batch: list[Request], limit: int) -> None:
        while len(batch) < limit and (request := self._pop_live()) is not None:
            batch.append(request)

    def drain_queue(self) -> list[Request]:
        """Remove and return every live queued request (used on stop)."""
        out: list[Request] = []
        while (request := self._pop_live()) is not None:
            out.append(request)
        return out

    def reset_counters(self) -> None:
        """Zero the dispatch reasons and the shed count (the cost model is kept: it is a model)."""
        self.dispatch_counts = dict.fromkeys(DISPATCH_REASONS, 0)
        self.shed = 0
        self.trimmed = 0
        self.held_for_busy = 0

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
                batch, reason = await self._form_batch()
            except BaseException:
                if self._release is not None:
                    self._release()
                raise
            self.batches_formed += 1
            self.dispatch_counts[reason] += 1
            self._dispatch(batch)
            self._dispatched.set()

    def wake(self) -> None:
        """Re-read the settings now (after a change of batch size, timeout or policy)."""
        self._arrived.set()

    async def wait_dispatched(self) -> None:
        """Wait until the loop dispatches its next batch."""
        self._dispatched.clear()
        await self._dispatched.wait()

    async def _form_batch(self) -> tuple[list[Request], str]:
        first = self._pop_live()
        while first is None:
            self._arrived.clear()
            await self._arrived.wait()
            first = self._pop_live()
        if self.policy == "timeout":
            return await self._fill_or_expire(first)
        return await self._work_conserving(first)

    async def _fill_or_expire(self, first: Request) -> tuple[list[Request], str]:
        """The seed's rule: leave when full, or ``batch_timeout_s`` after the first request."""
        batch = [first]
        deadline = first.enqueued_at + self.batch_timeout_s
        while len(batch) < self.batch_size:
            self._take(batch, self.batch_size)
            if len(batch) >= self.batch_size:
                break
            remaining = deadline - self._clock()
            if remaining <= 0:
                return batch, "wait_expired" if self.batch_timeout_s > 0 else "worker_free"
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return batch, "wait_expired"
            if self.policy != "timeout":  # switched while this batch waited: stop waiting
                self._take(batch, self.batch_size)
                return batch, "full" if len(batch) >= self.batch_size else "worker_free"
        return batch, "full"

    async def _work_conserving(self, first: Request) -> tuple[list[Request], str]:
        """Dispatch now what this worker's share of the queue is; wait only where it pays."""
        batch = [first]
        share = math.ceil((1 + self._live) / (1 + self._idle_workers()))
        limit = min(self.batch_size, share)
        self._take(batch, self.cost.preferred_size(limit, self.arrivals.per_s(self._clock())))
        trimmed = len(batch) < limit and self._live > 0
        if trimmed:
            self.trimmed += 1  # a smaller batch computes faster per item: the rest go next
        if self.policy == "adaptive":
            wait_s = self._busy_worker_sooner(len(batch), first.enqueued_at)
            if wait_s is not None:
                return await self._wait_for_busy_worker(batch, wait_s)
        if trimmed:
            return batch, "worker_free"
        waited = False
        outcomes = self.wait_outcomes
        # The policy is read again on every round: a switch (then wake()) ends a wait.
        while self.policy == "adaptive" and len(batch) < self.batch_size and not self._live and not self._idle_workers():
            wait_s, capped = self._worthwhile_wait(len(batch), first.enqueued_at)
            if wait_s is None:
                break
            if not outcomes.may_wait():
                outcomes.skip()  # the model's waits have not been paying: go now
                break
            waited = True
            had = len(batch)
            self._arrived.clear()
            timed_out = False
            try:
                await asyncio.wait_for(self._arrived.wait(), wait_s)
            except TimeoutError:
                # An arrival due in the same loop turn as the timer can be queued by now
                # (timer-driven clients, millisecond selector timeouts): it counts as caught.
                timed_out = True
            self._take(batch, self.batch_size)
            if len(batch) > had:
                # A request that came as another worker went idle followed a completion
                # (a closed loop resubmitting): it would have been served without waiting.
                outcomes.record(not self._idle_workers())
            elif timed_out:
                outcomes.record(False)
                if capped:
                    return batch, "wait_expired"
                break  # the arrival the model expected did not come: go now
        if len(batch) >= self.batch_size:
            return batch, "full"
        return batch, "predicted_gain" if waited else "worker_free"

    def call_ended(self) -> None:
        """A model call ended (the engine calls this): a batch held for it may go."""
        self._call_ended.set()

    def _busy_worker_sooner(self, n: int, first_enqueued_at: float) -> float | None:
        """How long at most to hold a batch of ``n`` for the worker that is busy, or None
        to send it now.

        Sending it to an idle worker runs it beside the busy one, and the cost model's
        measured times say how much slower that is (:meth:`BatchCostModel.estimate` with
        ``overlapped``; on two cores shared with the event loop the MLP's batch of 1 takes
        about twice as long beside another).  :func:`_hold_pays` weighs both choices over
        every request concerned: the busy call's, this batch's and those queued behind it.
        At low load (short queues, small batches that slow each other down) that holds,
        so requests run one call at a time, as a single worker would run them; under load
        (a backlog, large batches that two cores compute side by side at little cost) it
        sends them side by side.  The hold ends when a call ends, and lasts at most as
        long as a busy call that overruns its measured time still leaves holding ahead,
        never past ``batch_timeout_s``, as every wait.

        No hold when the slowdown is within :data:`SIZE_COST_MARGIN` (a sleeping model:
        noise).  Every :data:`HOLD_PROBE_EVERY`-th hold (doubling up to
        :data:`HOLD_MAX_PROBE_EVERY`) is sent beside anyway, so the time beside stays
        measured as the machine changes.
        """
        busy = self._busy_remaining()
        if busy is None:
            return None
        remaining, m = busy
        alone = self.cost.estimate(n)
        beside = self.cost.estimate(n, overlapped=True)
        if alone is None or beside is None or alone <= 0 or beside < alone * (1 + SIZE_COST_MARGIN):
            return None
        queued = self._live

        def pays(r: float) -> bool:
            return _hold_pays(r, m, n, queued, alone, beside)

        if not pays(remaining):
            return None
        cap = first_enqueued_at + self.batch_timeout_s - self._clock()
        if cap <= 0:
            return None
        since, every = self._hold_probe
        if since + 1 >= every:
            self._hold_probe = (0, min(2 * every, HOLD_MAX_PROBE_EVERY))
            return None
        self._hold_probe = (since + 1, every)
        # while a busy call that overruns its measured time still leaves holding ahead,
        # checked one measured batch time at a time
        longest = remaining
        for _ in range(8):
            if not pays(longest + alone):
                return min(longest + alone, cap)
            longest += alone
        return cap

    async def _wait_for_busy_worker(self, batch: list[Request], wait_s: float) -> tuple[list[Request], str]:
        """Hold ``batch`` until a model call ends or ``wait_s`` passes (what
        :meth:`_busy_worker_sooner` said), taking what arrives meanwhile up to
        ``batch_size`` where the measured sizes say a bigger batch pays
        (:meth:`BatchCostModel.preferred_size`); then it leaves on the slot this loop
        holds, and what it did not take goes next."""
        self.held_for_busy += 1
        deadline = self._clock() + wait_s
        self._call_ended.clear()
        while len(batch) < self.batch_size and self.policy == "adaptive" and not self._call_ended.is_set():
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._arrived.clear()
            arrival = asyncio.ensure_future(self._arrived.wait())
            ended = asyncio.ensure_future(self._call_ended.wait())
            try:
                await asyncio.wait((arrival, ended), timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                arrival.cancel()
                ended.cancel()
            if not self._arrived.is_set():
                break  # a call ended, or the hold is up
            wanted = self.cost.preferred_size(min(self.batch_size, len(batch) + self._live), self.arrivals.per_s(self._clock()))
            if wanted > len(batch):  # else the arrival waits its turn: the hold goes on
                self._take(batch, wanted)
        return batch, "full" if len(batch) >= self.batch_size else "predicted_gain"

    def _worthwhile_wait(self, n: int, first_enqueued_at: float) -> tuple[float | None, bool]:
        """How long the cost model says to wait for the next arrival, and whether ``batch_timeout_s`` caps it.

        (None, False) when waiting does not pay: the model is not fitted yet, no rate was
        measured before this batch's first request, the workers keep up with arrivals at
        batch size ``n`` (dispatching now costs no throughput, only waiting would cost
        latency), or one more request saves less than it costs.  This is the model's
        prediction only; :attr:`wait_outcomes` decides whether it is followed.
        """
        fit = self.cost.fit()
        if fit is None:
            return None, False
        now = self._clock()
        rate = self.arrivals.per_s(now, before=first_enqueued_at)
        if rate <= 0.0 or math.isinf(rate):
            return None, False
        if rate * fit.seconds(n) <= n * max(self._workers(), 1):
            return None, False
        if rate * fit.a_s <= n:
            return None, False
        remaining = first_enqueued_at + self.batch_timeout_s - now
        if remaining <= 0:
            return None, False
        expected = 2.0 / rate  # the next arrival of an open stream, with room for Poisson spread
        return (remaining, True) if remaining <= expected else (expected, False)
