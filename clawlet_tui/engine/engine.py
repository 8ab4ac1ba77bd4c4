"""ClawletEngine: the seed's ClawletOptimized, measured for real.

Path of a request::

    submit -> MultiLevelCache.get_or_compute: L1 -> in-flight table (single-flight)
              -> L2 key index -> L2 read (I/O thread) -> queue
           -> DynamicBatcher (waits for a ConcurrencyController slot) -> backend worker
           -> result to every waiter; value stored in L1, written to L2 in the background

Guarantees:

* Every submitted request ends in exactly one outcome that the monitor counts: a
  result, a failure (``BackendError`` / ``EngineStopped``), a rejection (queue full or
  engine not running), a timeout (``request_timeout_s``), or cancellation by the caller.
* A request whose caller gave up (timeout, cancel) frees its queue slot; it never
  receives a late result.  Identical requests in flight share one computation that is
  abandoned only when all of their callers have gone.
* ``reconfigure`` applies any valid config while requests flow; nothing queued is lost.
* ``stop`` rejects new requests, drains what is queued and running, and after
  ``drain_timeout_s`` fails whatever is left with ``EngineStopped``.  Every task is
  owned by the engine or by the component that created it (the cache's L2 lookups and
  write-behind, the batcher's loop) and awaited in ``stop``.
* Baseline mode is the same code path with batching, caching and concurrency off.
"""

from __future__ import annotations

import asyncio
import logging
import sysconfig
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .backend import Backend, InProcessBackend
from .batcher import DISPATCH_REASONS, DynamicBatcher, Request
from .cache import MultiLevelCache, request_key
from .calibration import calibrate
from .concurrency import ConcurrencyController
from .config import OptimizationConfig
from .deadlines import Deadlines
from .errors import BackendError, ClawletError, ConfigError, EngineStopped, RejectedError, RequestTimeout
from .memory import GCResult, MemoryOptimizer
from .monitor import PerformanceMonitor
from .snapshot import BatchStats, ConcurrencyStats, EngineEvent, MetricsSnapshot, OpeningStats

log = logging.getLogger(__name__)

MODES = ("optimized", "baseline")


def as_baseline(config: OptimizationConfig) -> OptimizationConfig:
    """``config`` with the optimizations switched off: one request at a time, no batching, no cache."""
    return config.as_baseline()


def _consume_exception(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def limit_blas_threads(threads: int) -> None:
    """Set the process's BLAS thread count (workers are the engine's parallelism), and leave it so.

    Not restored when the engine stops: with OpenBLAS, raising the count again and then
    lowering it for the next engine in the same process left a pool thread spinning, which
    took ~0.7 of a core from that engine (the second half of a ``compare``, a preset switch
    in the dashboard): 20% less throughput, measured.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    if any(info.get("num_threads") != threads for info in blas):
        threadpool_limits(limits=threads, user_api="blas")


_OWN_FILES = str(Path(__file__).resolve().parent.parent)
_LIBRARY_DIRS = tuple({sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")})


def where_raised(exc: BaseException) -> str:
    """`` (mymodel.py:12 in predict)``: the last traceback frame in the user's code.

    Frames in clawlet itself, the standard library and installed packages (numpy, ...)
    are skipped, so a model that fails inside numpy still points at its own line.
    Empty when no such frame exists.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = str(Path(frame.filename).resolve()) if frame.filename and not frame.filename.startswith("<") else ""
        if not path or path.startswith(_OWN_FILES) or path.startswith(_LIBRARY_DIRS):
            continue
        return f" ({Path(path).name}:{frame.lineno} in {frame.name})"
    return ""


def _expire(future: asyncio.Future[Any], timeout_s: float) -> None:
    future.set_exception(RequestTimeout(f"no result within {timeout_s:g} s"))


class ClawletEngine:
    """The seed's optimized inference engine: cache, batcher, workers and monitor around a model.

    A library user builds one with a config and a model (or a :class:`Backend`), awaits
    :meth:`start`, awaits :meth:`submit` per request, reads :meth:`snapshot` and changes
    the config live with :meth:`update` / :meth:`reconfigure`.

    What it guarantees (details in the module docstring):

    * every :meth:`submit` ends in exactly one outcome the monitor counts (result,
      failure, rejection, timeout or cancellation), and a caller that gave up never gets
      a late result;
    * at most ``max_concurrent`` batches run at once, at most ``max_queue_size`` requests
      wait, and no request waits past ``request_timeout_s``;
    * :meth:`reconfigure` applies any valid config live without losing queued requests;
    * every task it creates is owned by it or one of its components and awaited in
      :meth:`stop`, which drains, then fails what is left with ``EngineStopped``;
    * :meth:`snapshot` is an immutable picture that refers to no live object.

    The engine keeps the request path, batch execution and accounting; each component
    owns its own state (:class:`MultiLevelCache` caching and its I/O thread,
    :class:`DynamicBatcher` the queue, :class:`PerformanceMonitor` the counters).
    """

    def __init__(
        self,
        config: OptimizationConfig | None = None,
        model: Any = None,
        *,
        mode: str = "optimized",
        backend: Backend | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        config = config or OptimizationConfig()
        if mode == "baseline":
            config = as_baseline(config)
        if model is None and backend is None:
            from ..models.mlp import MLPModel

            model = MLPModel()
        self.mode = mode
        self.model = model
        self.clock = clock
        #: the model's batch limit (an ONNX model with a fixed batch of 1), None for any
        self._model_max_batch: int | None = getattr(model, "max_batch_size", None) if backend is None else None
        config = self._fit_model(config)
        self._config = config
        self._backend: Backend = backend or InProcessBackend(model, config.effective_pool_size, config.blas_threads)
        self.monitor = PerformanceMonitor(clock)
        self._events: deque[EngineEvent] = deque(maxlen=200)
        self._event_seq = 0
        self._state = "new"
        namespace = getattr(model, "cache_namespace", None) or getattr(model, "name", None) or self._backend.name
        self._deadlines = Deadlines(_expire)
        self._cache = MultiLevelCache(
            config, namespace, deadlines=self._deadlines, clock=clock, on_event=self.log_event
        )
        self._concurrency = ConcurrencyController(config.max_concurrent)
        self._batcher = DynamicBatcher(
            self._dispatch,
            batch_size=config.effective_batch_size,
            batch_timeout_s=self._batch_timeout(config),
            max_queue_size=config.max_queue_size,
            policy=config.batch_policy,
            ready=self._concurrency.acquire,
            release=lambda: self._concurrency.release(completed=False),
            idle_workers=self._idle_workers,
            workers=lambda: self._concurrency.limit,
            busy_remaining=self._busy_remaining,
            clock=clock,
        )
        self._batcher.request_timeout_s = config.request_timeout_s
        self._batcher.shed_late = config.shed_late
        self._memory = MemoryOptimizer(
            threshold=config.max_memory_usage, budget_bytes=config.memory_budget_bytes, shrink=self._cache.shrink_l1
        )
        self._batch_tasks: dict[asyncio.Task[None], list[Request]] = {}
        #: model calls running now, and how many ever started (a call that saw the count move
        #: ran beside another for part of its time: see BatchCostModel.observe)
        self._calls_running = 0
        #: when each dispatched batch was handed over, and its size (what busy_remaining reads:
        #: a batch counts as busy from dispatch, before its task first runs)
        self._dispatched_at: dict[asyncio.Task[None], tuple[float, int]] = {}
        self._calls_started = 0
        #: most batches executing at once (the controller also counts the slot the batcher
        #: reserves while it waits to fill a batch; this counts model work only)
        self._peak_executing = 0
        self._background: list[asyncio.Task[None]] = []
        self._stopped: asyncio.Event | None = None
        #: cache ``(lookups, hits)`` when the opening span ended (None while it runs)
        self._opening_counts: tuple[int, int] | None = None

    def _busy_remaining(self) -> tuple[float, int] | None:
        """Seconds until the first dispatched batch should end, by its size's time alone
        (:meth:`BatchCostModel.estimate`), and that batch's size; None when none is out or
        no estimate exists yet."""
        now, cost = self.clock(), self._batcher.cost
        soonest: tuple[float, int] | None = None
        for started, n in self._dispatched_at.values():
            expected = cost.estimate(n)
            if expected is None:
                return None
            left = max(started + expected - now, 0.0)
            if soonest is None or left < soonest[0]:
                soonest = (left, n)
        return soonest

    def _idle_workers(self) -> int:
        """Execution slots free besides the one the batcher holds while it forms a batch."""
        return max(self._concurrency.limit - self._concurrency.busy, 0)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def config(self) -> OptimizationConfig:
        return self._config

    @property
    def running(self) -> bool:
        return self._state == "running"

    async def start(self) -> None:
        """Open the L2 store, start the batcher and the background tasks."""
        if self._state != "new":
            raise RuntimeError(f"engine cannot start from state {self._state!r}")
        limit_blas_threads(self._config.blas_threads)
        if isinstance(self._backend, InProcessBackend):  # per-worker sessions take the same count
            self._backend.threads = self._config.blas_threads
        self._stopped = asyncio.Event()
        try:
            await self._backend.start()
        except BaseException:
            # e.g. a remote backend that is not ready: leave nothing behind
            self._state = "stopped"
            self._stopped.set()
            raise
        await self._cache.start()
        await self._calibrate()
        self.monitor.reset()
        self._opening_counts = None
        self._batcher.start()
        self._background = [asyncio.create_task(self._memory_loop(), name="clawlet-memory")]
        self._state = "running"
        self.log_event("engine", f"started ({self.mode}) serving {getattr(self.model, 'name', self._backend.name)}")
        if self._model_max_batch is not None:
            notice = getattr(self.model, "notice", None)
            self.log_event("model", notice or f"the model takes batches of at most {self._model_max_batch}")

    async def _calibrate(self) -> None:
        """Time the model at each batch size before serving (engine/calibration.py), when
        ``calibrate`` is on, the model runs here and can make inputs; a model that fails
        on them leaves the cost model empty, to be learnt from traffic."""
        config, model = self._config, self.model
        make_input = getattr(model, "make_input", None)
        if (
            not config.calibrate
            or make_input is None
            or getattr(model, "calibrate", True) is False
            or not isinstance(self._backend, InProcessBackend)
        ):
            return
        backend, timeout_s = self._backend, config.request_timeout_s
        try:
            result = await calibrate(
                lambda inputs: backend.run(inputs, timeout_s),
                make_input,
                self._batcher.cost,
                batch_size=config.effective_batch_size,
                parallel=min(config.max_concurrent, config.effective_pool_size),
            )
        except Exception as exc:
            self._batcher.cost.reset()
            self.log_event("model", f"calibration skipped: {type(exc).__name__}: {exc}")
            return
        self.log_event("model", result.describe())

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop accepting work, finish what is queued and running, then release everything.

        After ``drain_timeout_s`` the remaining requests fail with :class:`EngineStopped`.
        Safe to call twice; a second call waits for the first to finish.
        """
        if self._state in ("stopping", "stopped"):
            if self._stopped is not None:
                await self._stopped.wait()
            return
        if self._state == "new":
            self._state = "stopped"
            return
        self._state = "stopping"
        in_flight = self.monitor.outcomes().in_flight
        self.log_event("engine", f"stopping: draining {in_flight} request(s)")
        self._batcher.batch_timeout_s = 0.0  # flush partial batches now
        self._batcher.wake()
        try:
            await asyncio.wait_for(self._drain(), drain_timeout_s)
        except TimeoutError:
            self._fail_leftovers(f"engine stopped before the request finished (drain limit {drain_timeout_s:g} s)")
        await self._batcher.stop()
        leftovers = list(self._batch_tasks)
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await self._cache.stop()  # cancels its lookups, writes its L2 backlog
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._deadlines.close()
        await self._backend.close()
        self._state = "stopped"
        self.log_event("engine", "stopped")
        assert self._stopped is not None
        self._stopped.set()

    async def _drain(self) -> None:
        while True:
            tasks = [*self._batch_tasks, *self._cache.lookups()]
            if not tasks and self._batcher.depth == 0:
                return
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            else:
                await self._batcher.wait_dispatched()

    def _fail_leftovers(self, message: str) -> None:
        requests = self._batcher.drain_queue()
        for batch in self._batch_tasks.values():
            requests.extend(batch)
        for request in requests:
            if not request.future.done():
                request.future.set_exception(EngineStopped(message))
                request.future.add_done_callback(_consume_exception)

    # -- requests -----------------------------------------------------------------------

    async def submit(self, payload: Any, key: Hashable | None = None, *, intended_at: float | None = None) -> Any:
        """Serve one request; the model's output for ``payload``.

        ``key`` identifies the input for the cache (None: a hash of an array payload, or
        the payload itself if it is a str/bytes/number).  ``intended_at`` is the engine
        clock time the client meant to send it; latency is measured from there.
        """
        started = intended_at if intended_at is not None else self.clock()
        self.monitor.record_submitted()
        if self._opening_counts is None and not self.monitor.in_opening(self.clock()):
            # the first request after the opening span: its lookups are not the span's
            self._opening_counts = self._cache.lookup_counts()
        try:
            if self._state != "running":
                raise RejectedError(f"engine is {self._state}")
            result = await self._begin(payload, key)
        except asyncio.CancelledError:
            self.monitor.record_cancelled()
            raise
        except RequestTimeout:
            self.monitor.record_timeout()
            raise
        except RejectedError as exc:
            self._first_error(self.monitor.record_rejected(type(exc).__name__, str(exc)), type(exc).__name__, exc)
            raise
        except BackendError as exc:
            self._first_error(self.monitor.record_failure(exc.kind, str(exc)), exc.kind, exc)
            raise
        except ClawletError as exc:
            self._first_error(self.monitor.record_failure(type(exc).__name__, str(exc)), type(exc).__name__, exc)
            raise
        except Exception as exc:  # a bug below us: still one counted outcome
            kind = type(exc).__name__
            self._first_error(self.monitor.record_failure(kind, f"{kind}: {exc}"), kind, exc)
            raise BackendError(f"{kind}: {exc}", kind=kind) from exc
        now = self.clock()
        self.monitor.record_success(now - started, now)
        return result

    def _first_error(self, first: bool, kind: str, exc: BaseException) -> None:
        """Log the first error of each kind, with its message, in the event log."""
        if first:
            self.log_event("error", f"first {kind}: {exc}")

    def _begin(self, payload: Any, key: Hashable | None) -> Awaitable[Any]:
        """Start serving one request; what the caller awaits for its outcome.

        A plain function, not a coroutine: on the path without cache the caller awaits
        its queued request's own future, with no coroutine or task in between.
        """
        config = self._config
        cache_key = request_key(payload, key) if config.enable_cache else None
        if cache_key is None:
            # Nothing to share: a timeout fails the request's future, a cancellation of
            # the caller cancels it; either frees its queue slot.
            request = self._batcher.submit(payload)
            if config.request_timeout_s is not None:
                self._deadlines.add(request.future, config.request_timeout_s)
            return request.future
        batcher = self._batcher
        return self._cache.get_or_compute(
            cache_key, lambda: batcher.submit(payload).future, config.request_timeout_s
        )

    # -- batches ------------------------------------------------------------------------

    def _dispatch(self, batch: list[Request]) -> None:
        """Called by the batcher, holding one concurrency slot, with a formed batch."""
        task = asyncio.create_task(self._run_batch(batch, first_attempt=True))
        self._batch_tasks[task] = batch
        self._dispatched_at[task] = (self.clock(), len(batch))
        self._peak_executing = max(self._peak_executing, len(self._batch_tasks))
        task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batch_tasks.pop(task, None)
        self._dispatched_at.pop(task, None)
        self._concurrency.release()

    async def _run_batch(self, batch: list[Request], *, first_attempt: bool) -> None:
        live = [r for r in batch if not r.future.done()]
        if not live:
            return
        started = self.clock()
        waits = [started - r.enqueued_at for r in live] if first_attempt else []
        call = self._calls_started = self._calls_started + 1
        beside = self._calls_running > 0
        self._calls_running += 1
        try:
            try:
                outputs = await self._backend.run([r.payload for r in live], self._config.request_timeout_s)
            finally:
                self._calls_running -= 1
                self._batcher.call_ended()
            if len(outputs) != len(live):
                raise BackendError(
                    f"model {self._model_name()} returned {len(outputs)} outputs for a batch of {len(live)} inputs",
                    kind="BadOutput",
                )
        except Exception as exc:
            self.monitor.record_batch(len(live), waits, self.clock() - started)
            if self._config.isolate_failures and len(live) > 1 and not isinstance(exc, BackendError):
                self.monitor.record_split()
                middle = len(live) // 2
                await self._run_batch(live[:middle], first_attempt=False)
                await self._run_batch(live[middle:], first_attempt=False)
                return
            if isinstance(exc, BackendError):
                kind, message = exc.kind, str(exc)
            else:
                kind, message = type(exc).__name__, f"{type(exc).__name__}: {exc}{where_raised(exc)}"
            for request in live:
                if not request.future.done():
                    request.future.set_exception(BackendError(message, kind=kind))
            return
        elapsed = self.clock() - started
        self.monitor.record_batch(len(live), waits, elapsed)
        # alone, beside another call from the start, or joined by one on the way (a mix)
        overlapped = True if beside else (False if self._calls_started == call else None)
        self._batcher.cost.observe(len(live), elapsed, overlapped=overlapped)
        for request, output in zip(live, outputs):
            if not request.future.done():
                request.future.set_result(output)

    # -- memory -------------------------------------------------------------------------

    async def _memory_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.memory_check_interval_s)
            result = self._memory.check()
            if result is not None:
                self._log_gc(result)

    def trigger_gc(self) -> GCResult:
        """Run the memory optimizer now (gc + shrink L1), whatever the usage."""
        result = self._memory.run(manual=True)
        self._log_gc(result)
        return result

    def _log_gc(self, result: GCResult) -> None:
        why = "manual" if result.manual else f"usage above {self._config.max_memory_usage:.0%}"
        self.log_event(
            "gc",
            f"{why}: collected {result.objects_collected} objects, dropped {result.l1_entries_dropped} L1 entries, "
            f"RSS {result.rss_before / 2**20:.1f} -> {result.rss_after / 2**20:.1f} MiB",
        )

    # -- control ------------------------------------------------------------------------

    def update(self, **changes: Any) -> OptimizationConfig:
        """Apply field changes live (validated; raises ConfigError and changes nothing if invalid)."""
        new = self._config.replace(**changes)
        self.reconfigure(new)
        return new

    def reconfigure(self, config: OptimizationConfig) -> None:
        """Switch to ``config`` while requests flow.  Queued and running requests are kept.

        ``blas_threads`` is the one field that cannot change while the engine runs (raises
        ConfigError, nothing changes): it is process-wide, and raising then lowering
        OpenBLAS's count under load left a pool thread spinning on a core (see
        :func:`limit_blas_threads`).  Set it before ``start``.
        """
        if self._state in ("running", "stopping") and config.blas_threads != self._config.blas_threads:
            raise ConfigError(
                f"blas_threads cannot change while the engine runs (it is {self._config.blas_threads}); "
                "set it in the preset or with --set",
                field="blas_threads",
            )
        fitted = self._fit_model(config)
        if fitted is not config:
            self.log_event("config", f"batch_size {config.batch_size} -> {fitted.batch_size}: the model takes no more")
        config = fitted
        old, self._config = self._config, config
        changed = old.changed_fields(config)
        if not changed:
            return
        self._batcher.batch_size = config.effective_batch_size
        self._batcher.policy = config.batch_policy
        self._batcher.request_timeout_s = config.request_timeout_s
        self._batcher.shed_late = config.shed_late
        if self._state == "running":
            self._batcher.batch_timeout_s = self._batch_timeout(config)
        self._batcher.max_queue_size = config.max_queue_size
        self._batcher.wake()
        self._concurrency.set_limit(config.max_concurrent)
        self._backend.resize(config.effective_pool_size)
        self._memory.configure(threshold=config.max_memory_usage, budget_bytes=config.memory_budget_bytes)
        self._cache.reconfigure(config)
        self.log_event("config", ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items()))

    def _fit_model(self, config: OptimizationConfig) -> OptimizationConfig:
        """``config`` with ``batch_size`` at most the model's batch limit (a fixed batch of 1
        runs unbatched), so the snapshot, the dashboard and reports show the size that runs."""
        limit = self._model_max_batch
        if limit is None or config.batch_size <= limit:
            return config
        return config.replace(batch_size=limit)

    @staticmethod
    def _batch_timeout(config: OptimizationConfig) -> float:
        return config.batch_timeout_s if config.enable_batching else 0.0

    def expect_repeats(self, keys: Iterable[Hashable]) -> None:
        """Tell the cache these keys will be asked for again (L2 then stores their values at
        once under ``l2_admission = "second_hit"``); what a cache warm-up does first."""
        self._cache.expect_repeats(keys)

    async def flush_cache(self) -> None:
        """Wait until L2 holds every value stored so far (a warm-up ends warm on disk too)."""
        await self._cache.flush()

    def clear_cache(self) -> None:
        """Empty L1 and L2 (counters are kept); see :meth:`MultiLevelCache.clear`."""
        self._cache.clear()
        self.log_event("cache", "cache cleared")

    def reset_metrics(self, *, log: bool = True) -> None:
        """Start the measurements afresh; requests in flight stay counted as submitted.

        ``log=False`` leaves no event-log line: the dashboard's tuning resets once a window,
        and a line a second would push its trials out of the log."""
        self.monitor.reset(keep_in_flight=True)
        self._cache.reset_counters()
        self._opening_counts = None
        self._peak_executing = len(self._batch_tasks)
        self._concurrency.reset_counters()
        self._batcher.reset_counters()
        reset_backend = getattr(self._backend, "reset_counters", None)  # optional: a balanced remote backend
        if reset_backend is not None:
            reset_backend()
        if log:
            self.log_event("metrics", "metrics reset")

    def log_event(self, kind: str, message: str) -> None:
        self._event_seq += 1
        self._events.append(EngineEvent(self._event_seq, self.monitor.uptime(), kind, message))

    # -- reading ------------------------------------------------------------------------

    def _model_name(self) -> str:
        return str(getattr(self.model, "name", self._backend.name))

    def _batch_stats(self, measured: BatchStats) -> BatchStats:
        """The monitor's batch figures plus the batcher's policy, dispatch reasons and cost fit."""
        batcher = self._batcher
        fit = batcher.cost.fit()
        return replace(
            measured,
            policy=batcher.policy,
            dispatch_reasons=tuple((reason, batcher.dispatch_counts[reason]) for reason in DISPATCH_REASONS),
            cost_a_ms=fit.a_s * 1000.0 if fit is not None else None,
            cost_b_ms=fit.b_s * 1000.0 if fit is not None else None,
            cost_samples=len(batcher.cost),
            shed=batcher.shed,
            trimmed=batcher.trimmed,
        )

    def snapshot(self, events: int = 50) -> MetricsSnapshot:
        """An immutable picture of everything the engine measures (what dashboards and reports read)."""
        monitor = self.monitor
        window = monitor.window()
        concurrency = ConcurrencyStats(
            busy=len(self._batch_tasks),
            max_concurrent=self._concurrency.limit,
            peak_busy=self._peak_executing,
            queue_depth=self._batcher.depth,
            max_queue_size=self._batcher.max_queue_size,
            completed_batches=self._concurrency.completed,
        )
        recent = tuple(self._events)[-events:] if events else ()
        return MetricsSnapshot(
            time_s=self.clock(),
            uptime_s=monitor.uptime(),
            running=self.running,
            mode=self.mode,
            model_name=self._model_name(),
            config=self._config,
            outcomes=monitor.outcomes(),
            window_s=monitor.window_s,
            window_throughput_rps=window.throughput_rps,
            total_throughput_rps=monitor.total_throughput(),
            window_error_rps=window.errors_per_s,
            window_latency=window.latency,
            window_latency_histogram=window.latency_histogram,
            total_latency=monitor.latency.stats(),
            total_latency_histogram=monitor.latency.display_buckets(),
            batches=self._batch_stats(monitor.batch_stats(window)),
            cache=self._cache.stats(),
            memory=self._memory.stats(),
            concurrency=concurrency,
            pool=self._backend.pool_stats(),
            # optional in the Backend protocol: only a backend over several servers has rows
            backends=tuple(getattr(self._backend, "server_stats", tuple)()),
            series=monitor.series(),
            events=recent,
            opening=self._opening(),
        )

    def _opening(self) -> OpeningStats:
        monitor = self.monitor
        lookups, hits = self._opening_counts if self._opening_counts is not None else self._cache.lookup_counts()
        return OpeningStats(
            span_s=monitor.opening_s,
            elapsed_s=min(monitor.uptime(), monitor.opening_s),
            latency=monitor.opening_latency.stats(),
            cache_lookups=lookups,
            cache_hits=hits,
        )
