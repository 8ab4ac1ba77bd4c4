"""StopSignals: a signal sets the event and is remembered; the handlers go when the block ends."""

from __future__ import annotations

import asyncio
import os
import signal

from clawlet_tui.stop_signals import StopSignals, absorb_cancellation


async def test_sigterm_sets_stop_and_is_the_one_received() -> None:
    stop = asyncio.Event()
    with StopSignals(stop) as signals:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 10)
        signals._on_signal(signal.SIGINT)  # a second signal does not replace the first
    assert signals.received == int(signal.SIGTERM)
    assert asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM) is False  # removed


async def test_no_signal_leaves_received_empty_and_removes_the_handlers() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with StopSignals(stop) as signals:
        assert loop.remove_signal_handler(signal.SIGINT) is True  # it was installed
        loop.add_signal_handler(signal.SIGINT, signals._on_signal, signal.SIGINT)
        stop.set()
        await stop.wait()
    assert signals.received is None
    assert loop.remove_signal_handler(signal.SIGINT) is False  # gone after the block


async def test_a_task_that_absorbs_its_cancellation_can_await_its_clean_up() -> None:
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def run() -> str:
        try:
            started.set()
            await asyncio.Event().wait()  # the load, until cancelled
        except asyncio.CancelledError:
            absorb_cancellation()
            await asyncio.sleep(0)  # clean-up awaits: not cancelled again
            cleaned.set()
        return "stopped cleanly"

    task = asyncio.create_task(run())
    await started.wait()
    task.cancel()
    assert await task == "stopped cleanly" and cleaned.is_set()
