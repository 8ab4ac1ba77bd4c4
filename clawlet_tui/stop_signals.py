"""StopSignals: SIGINT and SIGTERM set an event on the running loop, and say which came first.

What a long-running command (``serve``, ``web``) needs to stop cleanly: the signal only
sets ``stop``; the command awaits it, shuts down in order, and exits with 128 + the
signal's number.  Off the main thread or off Unix no handler can be installed, and only
``stop`` set by other code ends the wait.
"""

from __future__ import annotations

import asyncio
import signal
from types import TracebackType


def absorb_cancellation() -> None:
    """Take back every pending cancellation of the current task.

    For a run that handles its own interruption (Ctrl+C, or SIGTERM turned into the
    cancellation of the running task): without this its clean-up's own awaits would be
    cancelled again, and the load could not be stopped nor the engine drained.
    """
    task = asyncio.current_task()
    if task is not None:
        while task.uncancel():
            pass


class StopSignals:
    """``with StopSignals(stop) as signals: await stop.wait()``; then ``signals.received``."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        #: the number of the first signal that arrived, None if none did
        self.received: int | None = None
        self._installed: list[signal.Signals] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.received is None:
            self.received = int(sig)
        self.stop.set()

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._loop.add_signal_handler(sig, self._on_signal, sig)
                self._installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / not Unix
                pass
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None
        for sig in self._installed:
            self._loop.remove_signal_handler(sig)
        self._installed.clear()
