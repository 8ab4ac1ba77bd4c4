"""ModelWorker: a model call on its own thread, its outcome on the caller's loop; a hung call never blocks exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from clawlet_tui.engine.pool import ModelWorker


async def test_call_runs_on_the_worker_thread_and_returns_its_result():
    worker = ModelWorker()
    try:
        name = await worker.call(lambda: threading.current_thread().name)
        assert name == f"clawlet-worker-{worker.id}"
        assert await worker.call(sum, [1, 2, 3]) == 6
    finally:
        worker.close()


async def test_an_exception_reaches_the_caller():
    worker = ModelWorker()
    try:
        with pytest.raises(ZeroDivisionError):
            await worker.call(lambda: 1 / 0)
        assert await worker.call(int, "7") == 7  # the worker carries on
    finally:
        worker.close()


async def test_the_outcome_of_a_cancelled_call_is_dropped():
    worker = ModelWorker()
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait()
        return "late"

    loop_errors: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: loop_errors.append(ctx))
    try:
        future = worker.call(slow)
        await asyncio.to_thread(started.wait)
        future.cancel()
        release.set()
        assert await worker.call(str, "next") == "next"  # runs after `slow` has returned
        assert future.cancelled()
        assert loop_errors == []
    finally:
        worker.close()


def test_a_hung_model_call_does_not_keep_the_process_alive(tmp_path):
    """The engine gives up on the hung call (ModelHang); the process must still exit."""
    script = tmp_path / "hang.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, threading
            from clawlet_tui.engine import ClawletEngine, OptimizationConfig, RequestTimeout
            from clawlet_tui.models import FunctionModel

            def hang(batch):
                threading.Event().wait()  # never returns

            async def main():
                config = OptimizationConfig(request_timeout_s=0.2, batch_timeout_s=0, enable_cache=False)
                engine = ClawletEngine(config, FunctionModel(hang))
                await engine.start()
                try:
                    await engine.submit(1)
                except RequestTimeout:
                    print("timed out")
                await engine.stop(drain_timeout_s=1.0)

            asyncio.run(main())
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "timed out" in proc.stdout
