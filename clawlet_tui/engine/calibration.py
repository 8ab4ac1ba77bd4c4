"""Model warm-up: time the model at each batch size before the engine serves a request.

Why: the adaptive batcher decides from measured times how many queued requests to send
(:meth:`.cost_model.BatchCostModel.preferred_size`) and whether a batch should run beside
a busy worker or wait for it (``overlapped`` times).  Learnt from live traffic, every one
of those first measurements is a request's latency: at 200 req/s with unique keys the
batches of 2 to 4 the engine sent to learn that they compute slower per item than
batches of 1 (the numpy MLP: 0.6 ms for 1, 1.3 ms for 2) were most of the run's slowest
1%, so the P99 of a 10-second run was the price of learning.  Timing the model on
made-up inputs before the first request, as Triton's ``model_warmup`` runs a model
before it is marked ready, moves that price out of the measured traffic, and also pages
in the weights and starts the worker threads.

What it does: a first call (not counted), then :data:`REPEATS` rounds over
:func:`calibration_sizes`, each batch alone, then (with two or more workers) two batches
at once at each power of two and the largest size (the slowdown beside another call
differs by size: the MLP's batch of 1, memory-bound, takes twice as long; its batch of
8 barely longer), every time fed to the cost model exactly as a
live batch would be.  It stops at ``budget_s``: a slow model gets the sizes it had time
for and learns the rest online, as before.  Only models that can make inputs
(``make_input``) running in this process are calibrated; a model can refuse with a
``calibrate = False`` attribute (the fault-injecting wrapper does: its faults are for
the load, not for start-up).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .cost_model import BatchCostModel

#: measured batches per size (what :meth:`BatchCostModel.size_cost` needs to trust a mean)
REPEATS = 3
#: seconds calibration may take at most (plus the call running when it runs out)
BUDGET_S = 0.5
#: keys of the made-up inputs: far from the small keys load generators use, so no
#: calibration input is ever a request's (it is not cached either way)
KEY_BASE = 0x7FFF0000


def calibration_sizes(batch_size: int) -> list[int]:
    """Every size up to 8 (where per-item cost is least regular), then powers of two and
    ``batch_size`` itself."""
    sizes = list(range(1, min(batch_size, 8) + 1))
    n = 16
    while n < batch_size:
        sizes.append(n)
        n *= 2
    if batch_size > 8:
        sizes.append(batch_size)
    return sizes


@dataclass(frozen=True)
class Calibration:
    """What a calibration measured: for the event log."""

    calls: int
    elapsed_s: float
    #: (size, mean ms alone) for every size measured :data:`REPEATS` times
    alone_ms: tuple[tuple[int, float], ...]
    #: (size, mean ms beside another batch)
    beside_ms: tuple[tuple[int, float], ...]
    #: the budget ran out before every size was measured
    cut_short: bool

    def describe(self) -> str:
        def sizes(pairs: tuple[tuple[int, float], ...]) -> str:
            return ", ".join(f"{n}: {ms:.2f}" for n, ms in pairs)

        text = f"calibrated in {self.elapsed_s * 1000:.0f} ms ({self.calls} calls): ms per batch alone {sizes(self.alone_ms)}"
        if self.beside_ms:
            text += f"; beside another {sizes(self.beside_ms)}"
        if self.cut_short:
            text += f" (stopped at the {BUDGET_S:g} s budget: other sizes are learnt from traffic)"
        return text


async def calibrate(
    run: Callable[[Sequence[Any]], Awaitable[Any]],
    make_input: Callable[[int], Any],
    cost: BatchCostModel,
    *,
    batch_size: int,
    parallel: int,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> Calibration:
    """Time ``run`` (one model call on a list of inputs) at each size into ``cost``.

    ``parallel``: how many calls may run at once (two at once are timed only if >= 2).
    Exceptions from the model propagate; the caller decides what a failed warm-up means.
    """
    sizes = calibration_sizes(max(batch_size, 1))
    payloads = [make_input(KEY_BASE + i) for i in range(sizes[-1])]
    started = clock()
    deadline = started + budget_s
    calls = 0

    async def timed(n: int) -> float:
        nonlocal calls
        t0 = clock()
        await run(payloads[:n])
        calls += 1
        return clock() - t0

    await timed(1)  # pages in the weights, starts a worker: slower than any later call
    cut_short = False
    for _ in range(REPEATS):
        for n in sizes:
            if clock() >= deadline:
                cut_short = True
                break
            cost.observe(n, await timed(n), overlapped=False)
        if cut_short:
            break
    beside_sizes = [n for n in sizes if n & (n - 1) == 0 or n == sizes[-1]]
    if parallel >= 2 and not cut_short:
        for _ in range(REPEATS):
            for n in beside_sizes:
                if clock() >= deadline:
                    cut_short = True
                    break
                for seconds in await asyncio.gather(timed(n), timed(n)):
                    cost.observe(n, seconds, overlapped=True)
            if cut_short:
                break
    alone = tuple((n, ms * 1000) for n in sizes if (ms := cost.size_cost(n)) is not None)
    beside = tuple((n, ms * 1000) for n in beside_sizes if (ms := cost.size_cost(n, overlapped=True)) is not None)
    return Calibration(calls, clock() - started, alone, beside, cut_short)
