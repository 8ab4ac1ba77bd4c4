"""Shared fixtures for the engine and model tests.

Every engine built through :func:`make_engine` uses an L2 directory under ``tmp_path``
(never ``~/.cache``) and is stopped at teardown; every :class:`Gate` is released at
teardown so no worker thread outlives the test blocked on an event.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.models import FunctionModel


class FakeClock:
    """A monotonic clock the test drives by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Gate:
    """A batch function that records every call and can be held shut.

    ``fn(batch)`` returns ``[transform(x) for x in batch]``.  While the gate is closed the
    call blocks (in its worker thread) until :meth:`open`; ``active``/``peak`` count calls
    executing at the same time, under a lock.
    """

    def __init__(self, transform: Callable[[Any], Any] = lambda x: x, *, closed: bool = False) -> None:
        self.transform = transform
        self._open = threading.Event()
        if not closed:
            self._open.set()
        self._lock = threading.Lock()
        self.batches: list[list[Any]] = []
        self.active = 0
        self.peak = 0
        self.entered = 0

    def open(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    @property
    def calls(self) -> int:
        return len(self.batches)

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]

    def __call__(self, batch: list[Any]) -> list[Any]:
        with self._lock:
            self.batches.append(list(batch))
            self.entered += 1
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            # bounded so a failing test can never hang the interpreter at exit
            self._open.wait(30)
            return [self.transform(x) for x in batch]
        finally:
            with self._lock:
                self.active -= 1

    def model(self, name: str = "gate") -> FunctionModel:
        return FunctionModel(self, name=name)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (a guard against hangs, not a timing assertion)."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.002)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tmp_l2(tmp_path) -> Callable[..., OptimizationConfig]:
    """``tmp_l2(**fields)``: a config whose L2 store lives under this test's tmp_path."""
    directory = tmp_path / "l2"

    def make(**changes: Any) -> OptimizationConfig:
        changes.setdefault("l2_cache_dir", str(directory))
        # Tests count model calls, gate them and drive clocks from a fresh engine: no
        # warm-up calls before the first request (tests/engine/test_calibration.py tests it).
        changes.setdefault("calibrate", False)
        return OptimizationConfig(**changes)

    make.directory = directory  # type: ignore[attr-defined]
    return make


@pytest.fixture
def gates():
    """``gates(transform=..., closed=...)`` makes a Gate that is opened at teardown."""
    made: list[Gate] = []

    def make(transform: Callable[[Any], Any] = lambda x: x, *, closed: bool = False) -> Gate:
        gate = Gate(transform, closed=closed)
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.open()


@pytest.fixture
async def make_engine(tmp_l2):
    """``await make_engine(model, **config_fields)``: a started engine, stopped at teardown."""
    engines: list[ClawletEngine] = []

    async def make(model: Any, *, mode: str = "optimized", clock: Any = None, start: bool = True, **fields: Any):
        kwargs = {"clock": clock} if clock is not None else {}
        engine = ClawletEngine(tmp_l2(**fields), model, mode=mode, **kwargs)
        engines.append(engine)
        if start:
            await engine.start()
        return engine

    yield make
    for engine in engines:
        await asyncio.wait_for(engine.stop(drain_timeout_s=1.0), 30)


def assert_accounted(engine: ClawletEngine) -> None:
    """Every submitted request ended in exactly one counted outcome."""
    o = engine.snapshot().outcomes
    assert o.in_flight == 0, o
    assert o.submitted == o.succeeded + o.failed + o.rejected + o.timed_out + o.cancelled, o


@pytest.fixture
def accounted():
    return assert_accounted


@pytest.fixture
def wait_until():
    return until
