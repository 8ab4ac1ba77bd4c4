"""LoadGenerator: drives an engine with a :class:`~clawlet_tui.load.profiles.LoadProfile`.

Open loop: one scheduler task sleeps until the next intended send time, then starts the
request as its own task and passes that time to ``engine.submit(intended_at=...)``, so
latency counts from when the request *should* have been sent.  If the scheduler falls
behind (a blocked event loop, a slow machine) it sends every overdue arrival at once,
still with its own intended time: a stall shows up as latency instead of silently
thinning the load (no coordinated omission, as in wrk2).

Closed loop: N client tasks each send the next request when the last one returns.

Guarantees:

* every request the generator sends ends in exactly one counted outcome: completed, or
  failed under the exception's class name (``RejectedError``, ``RequestTimeout``,
  ``CancelledError``, ...).  Nothing is raised out of the generator for a failed request
  and no task is left with an unretrieved exception;
* bounded state: outstanding requests are a set that shrinks as they finish; above
  ``max_outstanding`` new arrivals are counted as ``dropped_by_generator`` instead of sent;
* every task is owned: the scheduler or clients are created in :meth:`start` and awaited
  (or cancelled, past ``stop``'s timeout) in :meth:`stop`.

The generator uses only ``engine.submit``, ``engine.clock``, ``engine.log_event`` and
``engine.model``, so a stand-in object with those four works in tests.  Like the engine,
it belongs to one event loop: call its methods from that loop's thread.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine.errors import ConfigError
from .keys import KeySampler
from .profiles import ArrivalSchedule, LoadProfile

if TYPE_CHECKING:
    from ..models.base import ModelInfo

#: default cap on requests in flight from one generator
MAX_OUTSTANDING = 100_000
#: overdue arrivals sent before the scheduler yields to the event loop
_SEND_CHUNK = 1000
#: payloads kept per generator (a repeated key reuses its payload instead of rebuilding it)
_PAYLOAD_CACHE = 4096
#: seconds the recent send rate is averaged over
_RECENT_S = 5


@dataclass(frozen=True)
class LoadStats:
    """What a generator has done so far (immutable; take a new one to refresh)."""

    #: the profile's one-line description
    description: str
    #: "open" or "closed"
    mode: str
    #: requests handed to the engine (including injected bursts)
    sent: int = 0
    #: requests that returned a result
    completed: int = 0
    #: requests that ended in an exception, by class name, sorted by name
    failed: tuple[tuple[str, int], ...] = ()
    #: arrivals not sent because ``max_outstanding`` requests were already in flight
    dropped_by_generator: int = 0
    #: sent requests without an outcome yet
    outstanding: int = 0
    #: seconds since start (until the load ended)
    elapsed_s: float = 0.0
    #: open loop: scheduled requests per second now (0 while paused or after the end)
    target_rps: float = 0.0
    #: closed loop: number of clients
    concurrency: int | None = None
    #: sends per second over the whole run, and over the last few seconds
    achieved_rps: float = 0.0
    recent_rps: float = 0.0
    paused: bool = False
    #: the load ended (or was stopped) and every sent request has an outcome
    finished: bool = False

    @property
    def failed_total(self) -> int:
        return sum(count for _, count in self.failed)


class LoadGenerator:
    """Sends a profile's requests to an engine; see the module docstring for guarantees.

    ``model`` supplies payloads (``make_input(key)``; default ``engine.model``).  ``clock``
    must tell time in the engine's clock domain (default ``engine.clock``), since intended
    send times are passed to the engine.
    """

    def __init__(
        self,
        engine: Any,
        profile: LoadProfile,
        *,
        model: ModelInfo | None = None,
        clock: Callable[[], float] | None = None,
        max_outstanding: int = MAX_OUTSTANDING,
    ) -> None:
        if not isinstance(profile, LoadProfile):
            raise TypeError(f"profile must be a LoadProfile, got {type(profile).__name__}")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise ConfigError(f"max_outstanding must be an integer >= 1, got {max_outstanding!r}", field="max_outstanding")
        self.engine = engine
        self.profile = profile
        self._model = model
        self._clock: Callable[[], float] = clock if clock is not None else engine.clock
        self._max_outstanding = max_outstanding
        self._sampler = KeySampler(profile.keys)
        self._schedule: ArrivalSchedule | None = None
        if profile.mode == "open":
            self._schedule = ArrivalSchedule(profile, np.random.default_rng(profile.seed))
        self._concurrency: int = profile.concurrency or 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._clients: dict[int, asyncio.Task[None]] = {}
        self._outstanding: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

        self._sent = 0
        self._completed = 0
        self._failed: Counter[str] = Counter()
        self._dropped = 0
        self._closed_issued = 0
        self._recent: deque[list[int]] = deque(maxlen=_RECENT_S + 2)

        self._started_at: float | None = None
        self._load_done_at: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._wake: asyncio.Future[None] | None = None
        self._stopping = False

        self._payload_model: ModelInfo | None = None
        self._payloads: dict[int, Any] = {}
        self._cache_payloads = profile.keys.distribution != "unique"

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start sending (returns at once; the load runs in background tasks)."""
        if self._started_at is not None:
            raise RuntimeError("LoadGenerator.start() called twice")
        self._loop = asyncio.get_running_loop()
        self._started_at = self._clock()
        if self._paused_at is not None:  # paused before start: the pause begins now
            self._paused_at = self._started_at
        self.engine.log_event("load", f"start: {self.profile.describe()}")
        if self._schedule is not None:
            self._spawn_worker(self._run_open(), "load-scheduler")
        else:
            for index in range(self._concurrency):
                self._spawn_client(index)

    async def wait(self) -> None:
        """Until the load has ended and every request it sent has an outcome.

        Raises only if the generator itself broke (a bug), never for failed requests.
        """
        if self._started_at is None:
            raise RuntimeError("LoadGenerator.wait() before start()")
        while self._workers or self._outstanding:
            await asyncio.wait(self._workers | self._outstanding)
        if self._error is not None:
            raise self._error

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop sending and wait for outstanding requests; idempotent.

        Past ``timeout_s`` the remaining requests are cancelled (and counted as
        ``CancelledError``).  None waits as long as the engine takes; the engine's own
        request timeout bounds that.
        """
        if self._started_at is None:
            self._stopping = True
            return
        if not self._stopping:
            self._stopping = True
            if self._load_done_at is None:
                self.engine.log_event("load", f"stopped after {self._sent} requests")
            self._unpaused.set()
            self._wake_scheduler()
        pending = self._workers | self._outstanding
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
        for task in pending:
            task.cancel()
        while self._workers or self._outstanding:
            await asyncio.wait(self._workers | self._outstanding)

    async def __aenter__(self) -> LoadGenerator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- control ------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        """Stop sending until :meth:`resume`; load time (and the profile's shape) freezes."""
        if self._paused_at is None and not self._stopping:
            self._paused_at = self._clock()
            self._unpaused.clear()
            self.engine.log_event("load", "paused")

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self._clock() - self._paused_at
            self._paused_at = None
            self._unpaused.set()
            self._wake_scheduler()
            self.engine.log_event("load", "resumed")

    def inject_burst(self, n: int) -> int:
        """Send ``n`` requests at once on top of the running load; returns how many were sent.

        Returns 0 once the generator is stopping.  Fewer than ``n`` are sent only when
        ``max_outstanding`` is reached (the rest count as dropped).
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"burst size must be an integer >= 1, got {n!r}", field="burst")
        if self._started_at is None:
            raise RuntimeError("LoadGenerator.inject_burst() before start()")
        if self._stopping:
            return 0
        now = self._clock()
        sent = sum(1 for _ in range(n) if self._send(now) is not None)
        self.engine.log_event("burst", f"burst of {n} requests" + ("" if sent == n else f" ({n - sent} dropped)"))
        return sent

    def set_rate(self, rps: float) -> None:
        """Open loop: scale the profile so its rate now is ``rps`` (the shape continues,
        scaled).  Closed loop: set the number of clients to ``round(rps)``."""
        if not isinstance(rps, (int, float)) or isinstance(rps, bool) or not math.isfinite(rps):
            raise ConfigError(f"rate must be a finite number, got {rps!r}", field="rate")
        if self._schedule is None:
            clients = round(rps)
            if clients < 1:
                raise ConfigError(f"concurrency must be >= 1, got {rps!r}", field="concurrency")
            self._concurrency = clients
            if self._started_at is not None and not self._stopping and self._load_done_at is None:
                for index in range(clients):
                    if index not in self._clients:
                        self._spawn_client(index)
            self.engine.log_event("load", f"concurrency {clients}")
            return
        if rps <= 0:
            raise ConfigError(f"rate must be > 0 req/s, got {rps!r} (use pause to stop sending)", field="rate")
        t = self._load_time()
        base = self.profile.rate_at(t)
        if base <= 0:
            base = self.profile.nominal_rps
        self._schedule.set_scale(t, rps / base)
        self._wake_scheduler()
        self.engine.log_event("load", f"rate {rps:g} req/s")

    # -- reading ------------------------------------------------------------------------

    def stats(self) -> LoadStats:
        now = self._clock()
        started = self._started_at
        elapsed = 0.0 if started is None else max(0.0, (self._load_done_at or now) - started)
        target = 0.0
        if self._schedule is not None and started is not None and not self.paused and self._load_done_at is None:
            target = self._schedule.rate_at(self._load_time())
        return LoadStats(
            description=self.profile.describe(),
            mode=self.profile.mode,
            sent=self._sent,
            completed=self._completed,
            failed=tuple(sorted(self._failed.items())),
            dropped_by_generator=self._dropped,
            outstanding=len(self._outstanding),
            elapsed_s=elapsed,
            target_rps=target,
            concurrency=self._concurrency if self._schedule is None else None,
            achieved_rps=self._sent / elapsed if elapsed > 0 else 0.0,
            recent_rps=self._recent_rate(now, elapsed),
            paused=self.paused,
            finished=started is not None and self._load_done_at is not None and not self._outstanding,
        )

    # -- open loop ----------------------------------------------------------------------

    async def _run_open(self) -> None:
        schedule = self._schedule
        assert schedule is not None
        while not self._stopping:
            if self._paused_at is not None:
                await self._unpaused.wait()
                continue
            t = schedule.peek()
            if t is None:
                return
            now = self._clock()
            origin = self._origin()
            if origin + t > now:
                await self._nap(origin + t - now)
                continue
            sent = 0
            while t is not None and origin + t <= now and sent < _SEND_CHUNK:
                schedule.pop()
                self._send(origin + t)
                sent += 1
                t = schedule.peek()
            await asyncio.sleep(0)  # let the new requests start before planning more

    async def _nap(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if :meth:`_wake_scheduler` is called."""
        assert self._loop is not None
        wake = self._wake = self._loop.create_future()
        handle = self._loop.call_later(delay, _resolve, wake)
        try:
            await wake
        finally:
            handle.cancel()
            self._wake = None

    def _wake_scheduler(self) -> None:
        if self._wake is not None:
            _resolve(self._wake)

    # -- closed loop --------------------------------------------------------------------

    def _spawn_client(self, index: int) -> None:
        self._clients[index] = self._spawn_worker(self._run_client(index), f"load-client-{index}")

    async def _run_client(self, index: int) -> None:
        profile = self.profile
        try:
            while not self._stopping and index < self._concurrency:
                if self._paused_at is not None:
                    await self._unpaused.wait()
                    continue
                if profile.requests is not None and self._closed_issued >= profile.requests:
                    return
                if profile.duration_s is not None and self._load_time() >= profile.duration_s:
                    return
                self._closed_issued += 1
                task = self._send(None)
                if task is None:  # at the outstanding cap: wait for room
                    await asyncio.wait(set(self._outstanding), return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.wait({task})  # not `await task`: cancelling a client must not cancel its request
        finally:
            if self._clients.get(index) is asyncio.current_task():
                del self._clients[index]

    # -- requests -----------------------------------------------------------------------

    def _send(self, intended_at: float | None) -> asyncio.Task[None] | None:
        assert self._loop is not None
        if len(self._outstanding) >= self._max_outstanding:
            self._dropped += 1
            return None
        key = self._sampler.next()
        task = self._loop.create_task(self._request(key, intended_at))
        self._outstanding.add(task)
        task.add_done_callback(self._on_request_done)
        self._sent += 1
        self._count_recent()
        return task

    async def _request(self, key: int, intended_at: float | None) -> None:
        await self.engine.submit(self._payload(key), key=key, intended_at=intended_at)

    def _on_request_done(self, task: asyncio.Task[None]) -> None:
        self._outstanding.discard(task)
        if task.cancelled():
            self._failed["CancelledError"] += 1
            return
        exc = task.exception()
        if exc is None:
            self._completed += 1
        else:
            self._failed[type(exc).__name__] += 1

    def _payload(self, key: int) -> Any:
        model = self._model if self._model is not None else self.engine.model
        if not self._cache_payloads:
            return model.make_input(key)
        if model is not self._payload_model:
            self._payloads.clear()
            self._payload_model = model
        payload = self._payloads.get(key)
        if payload is None:
            payload = model.make_input(key)
            if len(self._payloads) >= _PAYLOAD_CACHE:
                self._payloads.clear()
            self._payloads[key] = payload
        return payload

    # -- bookkeeping --------------------------------------------------------------------

    def _spawn_worker(self, coro: Any, name: str) -> asyncio.Task[None]:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=name)
        self._workers.add(task)
        task.add_done_callback(self._on_worker_done)
        return task

    def _on_worker_done(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()
            self.engine.log_event("error", f"load generator failed: {self._error!r}")
        if not self._workers and self._load_done_at is None:
            self._load_done_at = self._clock()
            if not self._stopping:
                self.engine.log_event("load", f"finished: {self._sent} requests sent")

    def _origin(self) -> float:
        """Engine-clock time at which load time 0 fell (shifted by pauses)."""
        assert self._started_at is not None
        return self._started_at + self._paused_total

    def _load_time(self) -> float:
        """Seconds of load so far, pauses excluded."""
        if self._started_at is None:
            return 0.0
        now = self._paused_at if self._paused_at is not None else self._clock()
        return max(0.0, now - self._origin())

    def _count_recent(self) -> None:
        second = int(self._clock() - (self._started_at or 0.0))
        if self._recent and self._recent[-1][0] == second:
            self._recent[-1][1] += 1
        else:
            self._recent.append([second, 1])

    def _recent_rate(self, now: float, elapsed: float) -> float:
        if self._started_at is None or elapsed <= 0:
            return 0.0
        current = int(now - self._started_at)
        if current < 1:
            return self._sent / elapsed
        span = min(_RECENT_S, current)
        return sum(count for second, count in self._recent if current - span <= second < current) / span


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
