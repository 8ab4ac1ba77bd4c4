"""Does the batch policy hold on an accelerator-like model?  Measured against the ideal.

The model is the ``latency`` kind (:class:`~clawlet_tui.models.LatencyModel`): a call on
a batch of ``n`` sleeps ``a + b·n`` (a fixed cost per call plus a small per-item cost;
sleeping releases the GIL, as waiting on a GPU or a socket does).  For each cost shape
the engine (max batch 32, ``batch_timeout_s`` 5 ms, cache off, ``W`` workers) serves
``C`` closed-loop clients under each batch policy, a fresh engine per row.

The ideal, for ``C`` closed-loop clients (no think time) and ``W`` workers:

* every request's latency is at least ``a + b·n``, the cost of the batch it is in, so by
  Little's law throughput ``X ≤ C / (a + b·m)``, ``m`` the mean batch size seen by requests;
* ``W`` workers are busy at most all the time and a request in a batch of ``n`` occupies
  a worker for ``(a + b·n) / n``; since ``1/n`` is convex, ``X ≤ W·m / (a + b·m)``.

The first bound falls with ``m``, the second rises, and they meet at ``m = C/W``: the
clients split evenly over the workers, each worker computing back to back.  With
``1 ≤ m ≤ batch_size``::

    n* = min(max(C / W, 1), batch_size)
    ideal throughput X* = min(C / (a + b·n*), W·n* / (a + b·n*))
    ideal latency    R* = C / X*          (= a + b at C = 1)

The table prints measured mean latency ÷ R* (1.00 is ideal, higher is worse) and
throughput ÷ X* (1.00 is ideal, lower is worse), the mean batch, and why batches left
(``full`` / ``worker_free`` / ``wait_expired`` / ``predicted_gain``).  The engine's own
costs (the event loop, thread hand-offs, the sleep's oversleep) are not in the ideal:
they are what the ratios show, besides the policy.

    python bench/accelerator.py [--seconds 2] [--clients 1 8] [--shapes 5+0.1 1+1 20+0.5]
                                [--policies adaptive eager timeout] [--workers W]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import shlex
import sys
import time
from array import array
from dataclasses import dataclass

import numpy as np
from machine_load import busy_cpu_s

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.batcher import DISPATCH_REASONS, POLICIES
from clawlet_tui.engine.config import cpu_count
from clawlet_tui.models import LatencyModel, build_model

MAX_BATCH = 32
WAIT_S = 0.005
WARMUP_S = 0.3
SHAPES = ("5+0.1", "1+1", "20+0.5")
_REASON_ABBREVIATIONS = {"full": "full", "worker_free": "free", "wait_expired": "expired", "predicted_gain": "gain"}


@dataclass(frozen=True)
class Shape:
    """A batch of ``n`` costs ``fixed_ms + per_item_ms·n``."""

    fixed_ms: float
    per_item_ms: float

    @classmethod
    def parse(cls, text: str) -> Shape:
        fixed, _, per_item = text.partition("+")
        try:
            return cls(float(fixed), float(per_item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"a cost shape is FIXED_MS+PER_ITEM_MS, e.g. 5+0.1; got {text!r}") from None

    def seconds(self, n: float) -> float:
        return (self.fixed_ms + self.per_item_ms * n) / 1000.0

    def ideal(self, clients: int, workers: int, batch_size: int) -> tuple[float, float, float]:
        """(best batch n*, ideal throughput X* in req/s, ideal mean latency R* in s); see the module doc."""
        n = min(max(clients / workers, 1.0), float(batch_size))
        throughput = min(clients / self.seconds(n), workers * n / self.seconds(n))
        return n, throughput, clients / throughput

    def __str__(self) -> str:
        return f"{self.fixed_ms:g} + {self.per_item_ms:g}·n ms"


@dataclass(frozen=True)
class Row:
    req_s: float
    mean_s: float
    p99_s: float
    mean_batch: float
    reasons: dict[str, int]
    cost_ms: tuple[float, float] | None


async def closed_loop(shape: Shape, policy: str, clients: int, workers: int, seconds: float) -> Row:
    """``clients`` closed-loop clients against a fresh engine for ``seconds``, after a warm-up."""
    model = build_model({"kind": "latency", "fixed_ms": shape.fixed_ms, "per_item_ms": shape.per_item_ms})
    assert isinstance(model, LatencyModel)
    config = OptimizationConfig(
        batch_size=MAX_BATCH, batch_timeout_s=WAIT_S, batch_policy=policy, max_concurrent=workers,
        enable_cache=False, enable_l2=False,
    )
    engine = ClawletEngine(config, model)
    await engine.start()
    keys = itertools.count()

    async def run(until: float, latencies: array | None) -> None:
        async def client() -> None:
            while time.perf_counter() < until:
                payload = model.make_input(next(keys))
                sent = time.perf_counter()
                await engine.submit(payload)
                if latencies is not None:
                    latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(client() for _ in range(clients)))

    await run(time.perf_counter() + WARMUP_S, None)
    engine.reset_metrics()  # batch counts and dispatch reasons from here on; the cost fit is kept
    latencies = array("d")
    started = time.perf_counter()
    await run(started + seconds, latencies)
    wall = time.perf_counter() - started
    batches = engine.snapshot(events=0).batches
    await engine.stop()
    measured = np.frombuffer(latencies, dtype=np.float64)
    return Row(
        req_s=len(measured) / wall,
        mean_s=float(measured.mean()),
        p99_s=float(np.percentile(measured, 99)),
        mean_batch=batches.mean_size,
        reasons={reason: count for reason, count in batches.dispatch_reasons if count},
        cost_ms=None if batches.cost_a_ms is None else (batches.cost_a_ms, batches.cost_b_ms or 0.0),
    )


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reasons(reasons: dict[str, int]) -> str:
    total = sum(reasons.values()) or 1
    return ", ".join(
        f"{_REASON_ABBREVIATIONS[r]} {reasons[r] / total:.0%}" for r in DISPATCH_REASONS if r in reasons
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per row")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="closed-loop client counts")
    parser.add_argument("--shapes", type=Shape.parse, nargs="+", default=[Shape.parse(s) for s in SHAPES],
                        help="cost shapes FIXED_MS+PER_ITEM_MS")
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES, help="batch policies")
    parser.add_argument("--workers", type=int, default=cpu_count(), help="max_concurrent (default: the engine's, one per core)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"# command: {shlex.join(['python', *sys.argv])}")
    print(f"# {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; latency model "
          f"(sleeps a + b·n), {args.workers} workers, max batch {MAX_BATCH}, batch_timeout_s {WAIT_S * 1000:g} ms, "
          f"cache off; {WARMUP_S:g} s warm-up then {args.seconds:g} s per row")
    print("# latency ratio = measured mean ÷ ideal R* (1.00 ideal, higher worse); "
          "throughput ratio = measured ÷ ideal X* (1.00 ideal, lower worse)")
    print("# load = 1-min load average when the row started; others' CPU = cores busy with other "
          "processes while the row ran: near 0 is a clean row\n")
    print("| cost a + b·n | C | policy | ideal R* ms | mean ms | latency ÷ ideal | P99 ms | ideal X* req/s "
          "| req/s | throughput ÷ ideal | batch (ideal) | batches left | fitted a + b·n ms | load | others' CPU |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for shape in args.shapes:
        for clients in args.clients:
            best_n, ideal_x, ideal_r = shape.ideal(clients, args.workers, MAX_BATCH)
            for policy in args.policies:
                load_1m, busy, own, started = os.getloadavg()[0], busy_cpu_s(), own_cpu_s(), time.perf_counter()
                row = asyncio.run(closed_loop(shape, policy, clients, args.workers, args.seconds))
                busy_after = busy_cpu_s()
                others = "–"
                if busy is not None and busy_after is not None:
                    cores = (busy_after - busy - (own_cpu_s() - own)) / (time.perf_counter() - started)
                    others = f"{max(cores, 0.0):.2f}"
                fitted = "–" if row.cost_ms is None else f"{row.cost_ms[0]:.2f} + {row.cost_ms[1]:.3f}·n"
                print(
                    f"| {shape} | {clients} | {policy} | {ideal_r * 1000:.2f} | {row.mean_s * 1000:.2f} "
                    f"| {row.mean_s / ideal_r:.2f} | {row.p99_s * 1000:.2f} | {ideal_x:,.0f} | {row.req_s:,.0f} "
                    f"| {row.req_s / ideal_x:.2f} | {row.mean_batch:.1f} ({best_n:.3g}) | {_reasons(row.reasons)} "
                    f"| {fitted} | {load_1m:.2f} | {others} |",
                    flush=True,
                )
    print(f"\n# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
