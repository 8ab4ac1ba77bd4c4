"""A stand-in engine for load-generator tests: submit/clock/log_event/model, with hooks.

It records every call (actual send time, intended time, key), tracks how many submits
run at once, can hold every request on a gate, and can fail chosen keys with chosen
exceptions.  Tests synchronize on :meth:`FakeEngine.reached` (a future resolved when the
n-th call arrives), never on sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest


class StubModel:
    name = "stub"

    def make_input(self, key: int) -> np.ndarray:
        return np.full(4, float(key), dtype=np.float32)

    def predict(self, batch: list[Any]) -> list[Any]:
        return list(batch)

    def describe(self) -> str:
        return "stub"


@dataclass
class Call:
    sent_at: float
    intended_at: float | None
    key: Any


class FakeEngine:
    def __init__(self, *, error_for: Callable[[Any], BaseException | None] | None = None) -> None:
        self.clock = time.monotonic
        self.model = StubModel()
        self.events: list[tuple[str, str]] = []
        self.calls: list[Call] = []
        self.active = 0
        self.peak_active = 0
        #: when set (cleared), every submit waits for it
        self.gate: asyncio.Event | None = None
        self._error_for = error_for
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def log_event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set()

    def reached(self, n: int) -> asyncio.Future[None]:
        """A future done once ``n`` submits have been made."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, future))
        self._notify()
        return future

    def active_reached(self, n: int) -> asyncio.Future[None]:
        """A future done once ``n`` submits are running at the same time."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((-n, future))
        self._notify()
        return future

    def _notify(self) -> None:
        for n, future in list(self._waiters):
            done = self.active >= -n if n < 0 else len(self.calls) >= n
            if done and not future.done():
                future.set_result(None)
                self._waiters.remove((n, future))

    async def submit(self, payload: Any, key: Any = None, intended_at: float | None = None) -> Any:
        self.calls.append(Call(self.clock(), intended_at, key))
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        self._notify()
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            error = self._error_for(key) if self._error_for else None
            if error is not None:
                raise error
            return payload
        finally:
            self.active -= 1


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_engine_factory() -> type[FakeEngine]:
    """The FakeEngine class, for tests that need non-default options (no cross-conftest imports)."""
    return FakeEngine


@pytest.fixture
async def unretrieved_errors():
    """Collects loop exception-handler reports (e.g. "Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)
