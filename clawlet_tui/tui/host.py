"""EngineHost: the live engine and its load generator run on their own event loop thread.

The dashboard renders on Textual's loop; a full 160x48 frame costs 100-150 ms of Python
(layout and compositor, measured at 2 refreshes a second).  Sharing one loop, every
frame would stall the engine and show up in its own P99 (we measured ~60 ms P99 with the
dashboard vs ~10 ms headless on the same load).  On a thread of its own the engine loop
waits at most one GIL switch interval for the GIL whenever it wakes while the UI thread
runs Python; so do the model workers, each time a numpy call hands the GIL back.  Two
things still stop every thread at once and a second thread cannot help with: the cyclic
garbage collector (see :mod:`.gc_policy`) and C code that keeps the GIL.

:class:`OnEngineThread` wraps the engine and the generator for the UI: a method call runs
on the engine loop and returns its result (or raises its error) to the caller; a
coroutine method is awaited there.  Plain attribute reads pass through.  Before the host
starts and after it stops, calls go straight to the object.  A synchronous call waits at
most :data:`CALL_TIMEOUT_S`: an engine loop that stalls (a user's ``async def predict``
that blocks) raises :class:`~.controls.EngineNotResponding` and sets :attr:`EngineHost.problem`
instead of freezing every key.

This thread design is what ``clawlet-tui --in-process`` runs.  It cannot keep the engine's
P99 within 1.2x of headless: any Python the UI thread runs takes the GIL from the engine
(see :mod:`.engine_process` for the measurements), so ``clawlet-tui`` runs the engine in a
child process instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .controls import EngineNotResponding

T = TypeVar("T")

#: longest wait for a synchronous call on the engine loop
CALL_TIMEOUT_S = 5.0

#: GIL switch interval while the engine has its own thread beside the UI.  Python's 5 ms
#: default put the dashboard's P99 at 37 ms (issue 4); 0.5 ms brought it to 20-27 ms once
#: the collector was tamed (issue 13), 0.2 ms to 15-25 ms (headless in the same runs:
#: 12.6-13.6 ms); 0.1 ms was no better.
SWITCH_INTERVAL_S = 0.0002


class EngineHost:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._switch_interval = sys.getswitchinterval()
        #: None, or "engine not responding" after a call timed out (until one succeeds)
        self.problem: str | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None and self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        # The UI thread renders in long stretches of Python; by default another thread waits
        # up to 5 ms for the GIL at each hand-off, and a request crosses several (loop ->
        # worker, each numpy call inside the model -> loop).  A shorter interval keeps the
        # engine's latency close to headless.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self.loop = loop
        self._thread = threading.Thread(target=run, name="clawlet-engine-loop", daemon=True)
        self._thread.start()
        ready.wait()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the engine loop and return its result here (blocking briefly)."""
        if not self.running or threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        assert self.loop is not None
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller
                result.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        try:
            value = result.result(timeout=CALL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            self.problem = "engine not responding"
            raise EngineNotResponding(f"the engine loop did not answer within {CALL_TIMEOUT_S:g} s") from None
        self.problem = None
        return value

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the engine loop from another loop."""
        if not self.running:
            return await coro
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        if not self.running:
            return
        assert self.loop is not None and self._thread is not None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
        sys.setswitchinterval(self._switch_interval)


class OnEngineThread:
    """A stand-in for an object that lives on the engine loop (see the module docstring)."""

    def __init__(self, host: EngineHost, target: Any) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "target", target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if not inspect.ismethod(value):
            return value
        host: EngineHost = self._host
        if inspect.iscoroutinefunction(value):

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return await host.run(value(*args, **kwargs))

            return call_async

        def call(*args: Any, **kwargs: Any) -> Any:
            return host.call(value, *args, **kwargs)

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.target, name, value)
