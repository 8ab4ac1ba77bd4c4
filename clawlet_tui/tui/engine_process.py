"""The engine in a process of its own: what ``clawlet-tui`` runs behind the dashboard.

Why a process.  The engine's latency must not depend on whether someone is looking
(issue 13), and in one process it does, whatever the UI does with its time: every Python
bytecode the UI thread runs holds the GIL the engine loop and its model workers need.
Measured on a quiet 2-core machine, steady preset (Poisson 400 req/s), headless P99
3.0 ms; with a background thread burning pure Python for a fraction of every 0.4 s (GIL
switch interval 0.2 ms, as the in-process dashboard sets): 10% -> P99 6.0 ms, 30% ->
8.0-8.5 ms.  A 160x48 frame costs 100-150 ms of Python at ~2.7 frames/s, i.e. 30-40% of
a core, and the in-process dashboard measured P99 6.6 ms against 3.1 ms headless (2.1x;
target 1.2x).  With the cyclic GC already tamed (:mod:`.gc_policy`), no in-process UI
that renders can get there; a separate interpreter has its own GIL.

Shape.  :meth:`EngineProcess.launch` starts a child with multiprocessing's ``spawn``
context (no fork of a threaded process) that builds the usual :class:`LiveRun` from the
preset (``LiveRun.from_preset``) and serves it over a :func:`multiprocessing.Pipe`:

* the child (:mod:`.engine_child`): its main thread runs an asyncio loop that answers calls (one task each, so a
  slow ``switch_preset`` does not hold up the others) and pushes an :class:`EngineState`
  (snapshot, load view, config) every ``push_interval_s``; the engine itself runs on the
  LiveRun's own loop thread, the loop a reader thread wakes for each message;
* the parent's :class:`EngineProcess` implements :class:`~.controls.EngineControls`:
  reads return the last pushed state (the UI never waits on the child to draw), controls
  are calls with a timeout.  A reply carries the result or the exception, pickled, so a
  refused value raises the same :class:`ConfigError` with the same message as in process;
  it also carries a fresh state, so a change shows in the next frame.

Failure.  A child that pushes nothing for ``stale_after_s`` is reported as ``engine not
responding`` (calls then fail at once rather than each waiting its timeout); a child that
is gone as ``engine exited: <how>``.  :meth:`EngineProcess.stop` always returns: it asks
for a drain (stop the load; every request ends in one outcome), then for an exit, then
terminates and kills if it must, and removes the session's temporary L2 directory
whatever happened to the child.  A parent that dies closes the pipe: the child reads EOF,
drains and exits the same way; SIGTERM to the child does the same; SIGINT is ignored
there (the parent decides when to stop).  Start-up errors (bad model target, a user
model that fails to import, bad preset) cross as the same typed exception, so the CLI
prints its usual one line.

The child's stdout and stderr go to /dev/null: the terminal belongs to the dashboard.  To
see what a user model prints, run ``clawlet-tui --in-process``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ..engine.config import OptimizationConfig
from ..engine.errors import ClawletError
from ..engine.snapshot import MetricsSnapshot
from ..tune.space import DEFAULT_PARAMS
from ..tune.tuner import DEFAULT_BUDGET_S
from .controls import EngineExited, EngineNotResponding
from .engine_child import EngineSpec, EngineState, child_main
from .live import LoadView
from .live_tuning import TuningView

#: longest wait for the child to build its engine (imports numpy, builds the model)
START_TIMEOUT_S = 120.0
#: longest wait for a control call (a config change, a GC run)
CALL_TIMEOUT_S = 5.0
#: longest wait for a call that starts or rebuilds an engine (start, switch_preset)
SLOW_CALL_TIMEOUT_S = 60.0
#: longest wait for the drain (the engine's own drain deadline is 10 s)
STOP_TIMEOUT_S = 20.0
#: longest wait for the child to exit once asked, before SIGTERM, then SIGKILL
EXIT_TIMEOUT_S = 5.0

#: niceness the dashboard's own process adds once its engine process runs (see
#: :func:`yield_cpu_to_engine`)
UI_NICENESS = 10

#: a child that stopped answering gets this long after SIGTERM before SIGKILL
STUCK_GRACE_S = 1.0



class EngineProcess:
    """The dashboard's handle on an engine in a child process (an :class:`EngineControls`)."""

    def __init__(
        self,
        process: Any,
        conn: Connection,
        state: EngineState,
        *,
        call_timeout_s: float = CALL_TIMEOUT_S,
        stale_after_s: float = 3.0,
    ) -> None:
        self._process = process
        self._conn = conn
        self._state = state
        self.call_timeout_s = call_timeout_s
        #: no message from the child for this long: "engine not responding"
        self.stale_after_s = stale_after_s
        self._last_heard = time.monotonic()
        self._ids = itertools.count(1)
        self._pending: dict[int, concurrent.futures.Future[Any]] = {}
        self._send_lock = threading.Lock()
        self._exit_reason: str | None = None
        self._crash: str | None = None
        self._closing = False
        self.started = False
        self.stopped = False
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="clawlet-engine-pipe", daemon=True)
        self._reader.start()

    @classmethod
    def launch(
        cls,
        preset: str,
        overrides: Mapping[str, Any] | None = None,
        *,
        backend_url: str | Sequence[str] | None = None,
        model_name: str | None = None,
        preset_object: Any = None,
        push_interval_s: float = 0.5,
        start_timeout_s: float = START_TIMEOUT_S,
        **options: Any,
    ) -> EngineProcess:
        """Start the child and wait until it has built its engine (not started it: :meth:`start`).

        Raises what building raised in the child (:class:`PresetError`, :class:`ConfigError`,
        ...), or :class:`EngineExited` if the child died first.
        """
        spec = EngineSpec(preset, dict(overrides) if overrides else None, backend_url, model_name,
                          preset_object, push_interval_s)
        context = multiprocessing.get_context("spawn")
        conn, child_conn = context.Pipe()
        process = context.Process(target=child_main, args=(child_conn, spec), name="clawlet-engine")
        process.start()
        child_conn.close()
        try:
            if not conn.poll(start_timeout_s):
                raise EngineNotResponding(f"the engine process did not start within {start_timeout_s:g} s")
            message = conn.recv()
        except (EOFError, OSError):
            process.join(EXIT_TIMEOUT_S)
            raise EngineExited(f"the engine process exited while starting ({_how(process.exitcode)})") from None
        except BaseException:
            _end(process)
            conn.close()
            raise
        if message[0] == "failed":
            process.join(EXIT_TIMEOUT_S)
            _end(process)
            conn.close()
            raise message[1]
        return cls(process, conn, message[1], **options)

    # -- the pipe ---------------------------------------------------------------------------

    def _read(self) -> None:
        """The reader thread: takes every message the child sends, until EOF."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # a message that does not unpickle here: its call times out
                self._crash = f"unreadable message from the engine: {exc!r}"
                continue
            self._last_heard = time.monotonic()
            kind = message[0]
            if kind == "state":
                self._state = message[1]
            elif kind == "reply":
                _, call_id, ok, value, state = message
                if state is not None:
                    self._state = state
                future = self._pending.pop(call_id, None)
                if future is not None and not future.done():
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            elif kind == "crashed":
                self._crash = message[1]
        self._process.join(EXIT_TIMEOUT_S)
        reason = _how(self._process.exitcode)
        self._exit_reason = f"{self._crash} ({reason})" if self._crash else reason
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(EngineExited(f"engine exited: {self._exit_reason}"))

    def _send(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> concurrent.futures.Future[Any]:
        if self._exit_reason is not None:
            raise EngineExited(f"engine exited: {self._exit_reason}")
        call_id = next(self._ids)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._pending[call_id] = future
        try:
            with self._send_lock:
                self._conn.send(("call", call_id, method, args, kwargs))
        except (OSError, ValueError):
            self._pending.pop(call_id, None)
            raise EngineExited("engine exited: the pipe is closed") from None
        return future

    def _call(self, method: str, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
        """A call that blocks its caller (at most ``timeout_s``); fails at once if the child is not answering."""
        self._check_responding()
        future = self._send(method, args, kwargs)
        try:
            return future.result(timeout=timeout_s or self.call_timeout_s)
        except concurrent.futures.TimeoutError:
            raise EngineNotResponding(f"the engine did not answer {method} within {timeout_s or self.call_timeout_s:g} s") from None

    async def _acall(self, method: str, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
        self._check_responding()
        future = self._send(method, args, kwargs)
        timeout = timeout_s or self.call_timeout_s
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise EngineNotResponding(f"the engine did not answer {method} within {timeout:g} s") from None

    def _check_responding(self) -> None:
        problem = self.problem
        if problem is None:
            return
        if self._exit_reason is not None:
            raise EngineExited(problem)
        raise EngineNotResponding(problem)

    # -- EngineControls: lifecycle -----------------------------------------------------------

    @property
    def problem(self) -> str | None:
        if self._exit_reason is not None:
            return None if self._closing else f"engine exited: {self._exit_reason}"
        if not self._closing and time.monotonic() - self._last_heard > self.stale_after_s:
            return "engine not responding"
        return None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    async def start(self) -> None:
        await self._acall("start", timeout_s=SLOW_CALL_TIMEOUT_S)
        self.started = True

    async def stop(self) -> None:
        """Stop the load and drain the engine, let the child exit, remove the temporary L2.

        Idempotent; returns even when the child is stuck (terminated) or already dead.
        """
        if self.stopped:
            return
        self.stopped = True
        try:
            if self.problem is None:
                await self._acall("stop", timeout_s=STOP_TIMEOUT_S)
        except ClawletError:
            pass  # not answering or gone: close() ends it all the same
        finally:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """End the child without a drain request (blocking, bounded); safe to call again."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        try:
            with self._send_lock:
                self._conn.send(("exit",))
        except (OSError, ValueError):
            pass
        if self._exit_reason is None and self._responding():
            self._process.join(EXIT_TIMEOUT_S + STOP_TIMEOUT_S)
            _end(self._process)
        else:  # a stuck child's loop cannot run its SIGTERM handler: a short grace, then SIGKILL
            _end(self._process, grace_s=STUCK_GRACE_S)
        self._reader.join(EXIT_TIMEOUT_S)
        self._conn.close()
        l2_dir = self._state.l2_dir
        if l2_dir is not None:
            shutil.rmtree(l2_dir, ignore_errors=True)

    def _responding(self) -> bool:
        return time.monotonic() - self._last_heard <= self.stale_after_s

    # -- EngineControls: reading (the last pushed state; never waits) -------------------------

    @property
    def state(self) -> EngineState:
        return self._state

    def snapshot(self) -> MetricsSnapshot:
        return self._state.snapshot

    def view(self) -> LoadView:
        return self._state.view

    @property
    def config(self) -> OptimizationConfig:
        return self._state.config

    @property
    def paused(self) -> bool:
        return self._state.paused

    @property
    def open_loop(self) -> bool:
        return self._state.open_loop

    @property
    def target_rps(self) -> float | None:
        return self._state.target_rps

    @property
    def clients(self) -> int | None:
        return self._state.clients

    @property
    def preset_name(self) -> str:
        return self._state.preset_name

    @property
    def preset(self) -> Any:
        return self._call("preset")

    def stats(self) -> Any:
        return self._call("stats")

    # -- EngineControls: controls ------------------------------------------------------------

    def update(self, **changes: Any) -> OptimizationConfig:
        return self._call("update", **changes)

    def trigger_gc(self) -> Any:
        return self._call("trigger_gc")

    def clear_cache(self) -> Any:
        return self._call("clear_cache")

    def reset_metrics(self) -> Any:
        return self._call("reset_metrics")

    def log(self, kind: str, message: str) -> None:
        self._call("log", kind, message)

    async def warm_up(self) -> int:
        return int(await self._acall("warm_up"))

    async def toggle_pause(self) -> bool:
        return await self._acall("toggle_pause")

    async def burst(self, n: int) -> Any:
        return await self._acall("burst", n)

    async def set_rate(self, rps: float) -> None:
        await self._acall("set_rate", rps)

    async def switch_preset(self, name: str) -> bool:
        return await self._acall("switch_preset", name, timeout_s=SLOW_CALL_TIMEOUT_S)

    # -- EngineControls: tuning (it runs in the child, next to the engine: live_tuning.py) ---

    @property
    def tuning(self) -> TuningView | None:
        return self._state.tuning

    async def start_tuning(self, slo_p99_ms: float, budget_s: float = DEFAULT_BUDGET_S,
                           params: tuple[str, ...] = DEFAULT_PARAMS, settings: Any = None) -> TuningView:
        return await self._acall("start_tuning", slo_p99_ms, budget_s, params, settings)

    async def stop_tuning(self) -> OptimizationConfig:
        return await self._acall("stop_tuning")

    async def apply_tuning(self) -> OptimizationConfig:
        return await self._acall("apply_tuning")


def yield_cpu_to_engine(increment: int = UI_NICENESS) -> int:
    """Lower the calling thread's CPU priority (``os.nice``) so the engine wins contention.

    Two processes now share the cores: when the UI renders a frame (100-150 ms of Python
    at 160x48) while the engine's loop or a model worker wakes and every core is busy, the
    scheduler should run the engine first; its latency is what the dashboard shows.  With
    free cores nothing changes.  Call it in the dashboard's main thread after the engine
    process is started (the child keeps the original priority; threads started later
    inherit the new one).  Returns the increment applied (0 if the OS refused).
    """
    try:
        os.nice(increment)
    except OSError:
        return 0
    return increment


def _how(exitcode: int | None) -> str:
    """How a process ended, in words."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return "exit code 0" if exitcode == 0 else f"exit code {exitcode}"


def _end(process: Any, grace_s: float = EXIT_TIMEOUT_S) -> None:
    """SIGTERM (the child drains and exits), then SIGKILL after ``grace_s`` if it must."""
    if process.is_alive():
        process.terminate()
        process.join(grace_s)
    if process.is_alive():
        process.kill()
        process.join(EXIT_TIMEOUT_S)
