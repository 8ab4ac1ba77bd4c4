"""Backends execute batches for the engine.

The engine only needs ``await backend.run(inputs, timeout_s) -> outputs`` plus pool
stats and resizing; :class:`InProcessBackend` runs a :class:`~clawlet_tui.models.base.Model`
on pooled worker threads.  A remote backend (HTTP, Open Inference Protocol) implements
the same protocol with pooled connections.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any, Protocol

from .errors import BackendError
from .pool import ConnectionPool, ModelWorker
from .snapshot import PoolStats


class Backend(Protocol):
    name: str

    async def start(self) -> None: ...

    async def run(self, inputs: Sequence[Any], timeout_s: float | None) -> Sequence[Any]: ...

    def resize(self, pool_size: int) -> None: ...

    def pool_stats(self) -> PoolStats: ...

    async def close(self) -> None: ...


def _give_up(call: asyncio.Future[Any], hung: list[bool]) -> None:
    if not call.done():
        hung.append(True)
        call.cancel()


class InProcessBackend:
    """Runs a model in this process: sync models on pooled worker threads, async ones on the loop.

    A call that does not return within ``timeout_s`` fails its batch with
    ``BackendError(kind="ModelHang")``; the stuck worker thread is discarded and a fresh one
    takes its place, so a hung model never holds a slot forever.

    A model with per-worker state defines ``worker_predict(threads) -> predict``: each new
    worker gets its own predict from it (one ONNX Runtime session per worker), given
    ``threads`` intra-op threads; other models share their one ``predict``.
    """

    def __init__(self, model: Any, pool_size: int, threads: int = 1) -> None:
        self.model = model
        self.name = getattr(model, "name", type(model).__name__)
        self._async = inspect.iscoroutinefunction(model.predict)
        #: intra-op threads for a per-worker model's state; the engine sets it before start
        self.threads = threads
        self.pool: ConnectionPool[ModelWorker] = ConnectionPool(self._new_worker, ModelWorker.close, pool_size)

    def _new_worker(self) -> ModelWorker:
        per_worker = getattr(self.model, "worker_predict", None)
        return ModelWorker(per_worker(self.threads) if per_worker is not None and not self._async else None)

    async def start(self) -> None:
        return None

    async def run(self, inputs: Sequence[Any], timeout_s: float | None) -> Sequence[Any]:
        worker = await self.pool.acquire()
        loop = asyncio.get_running_loop()
        hung: list[bool] = []
        try:
            if self._async:
                call: asyncio.Future[Any] = asyncio.ensure_future(self.model.predict(inputs))
            else:
                call = worker.call(worker.predict or self.model.predict, inputs)
            # One timer per batch that cancels the call, not asyncio.wait_for: this runs
            # for every batch, and wait_for costs a task wrapper and more callbacks.
            timer = None if timeout_s is None else loop.call_later(timeout_s, _give_up, call, hung)
            try:
                outputs: Sequence[Any] = await call
            finally:
                if timer is not None:
                    timer.cancel()
        except asyncio.CancelledError:
            if not hung:
                self.pool.release(worker)
                raise
            self.pool.discard(worker)
            raise BackendError(
                f"model call did not return within {timeout_s:g} s; worker replaced", kind="ModelHang"
            ) from None
        except BaseException:
            self.pool.release(worker)
            raise
        self.pool.release(worker)
        return outputs

    def resize(self, pool_size: int) -> None:
        self.pool.resize(pool_size)

    def pool_stats(self) -> PoolStats:
        return self.pool.stats()

    async def close(self) -> None:
        self.pool.close()
