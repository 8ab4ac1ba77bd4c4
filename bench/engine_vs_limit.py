"""How close does the engine get to the model's own limit on this machine?

In one run:

1. the raw model's items/s at batch sizes 1..64, computed by ``workers`` threads calling
   ``model.predict`` back to back (BLAS limited to one thread each, as in the engine):
   the most this machine can do at that batch size;
2. the engine's req/s under closed-loop load at the same batch size (cache off, so every
   request is computed), printed as a ratio to (1);
3. baseline mode vs the optimized config on the same closed-loop load;
4. the cache-hit path: req/s when every request is an L1 hit.

Timings vary between machines and runs; the ratios are what to compare.

    python bench/engine_vs_limit.py [--seconds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.engine import limit_blas_threads
from clawlet_tui.models import MLPModel

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)


def raw_items_per_s(model: MLPModel, batch_size: int, workers: int, seconds: float) -> float:
    """Items/s with ``workers`` threads each running predict on batches of ``batch_size``."""
    batch = [model.make_input(k) for k in range(batch_size)]
    model.predict(batch)  # warm up
    deadline = time.perf_counter() + seconds
    done = [0] * workers
    start_gate = threading.Barrier(workers)

    def work(i: int) -> None:
        start_gate.wait()
        while time.perf_counter() < deadline:
            model.predict(batch)
            done[i] += batch_size

    start = time.perf_counter()
    # One BLAS thread per worker, as in the engine, set once for the whole run: toggling
    # OpenBLAS's thread count back and forth leaves a pool thread spinning (see limit_blas_threads).
    limit_blas_threads(1)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    return sum(done) / (time.perf_counter() - start)


async def closed_loop(
    engine: ClawletEngine, model: Any, clients: int, seconds: float, *, keys: int | None = None, warm: int = 0
) -> float:
    """Requests/s with ``clients`` each sending the next request when the last returns.

    ``warm`` requests go first, off the clock (a model that builds per-worker state on its
    first call, e.g. an ONNX Runtime session, must not pay for it in the figure).
    """
    await engine.start()
    payloads = [model.make_input(k) for k in range(keys or 4096)]
    await asyncio.gather(*(engine.submit(payloads[k % len(payloads)], key=k) for k in range(warm)))
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    async def client(i: int) -> None:
        k = i
        while time.perf_counter() < deadline:
            key = k % len(payloads)
            await engine.submit(payloads[key], key=key)
            counts[i] += 1
            k += clients

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    await engine.stop()
    return sum(counts) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="model workers (max_concurrent)")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop clients (at least 2 x batch x workers are used)")
    args = parser.parse_args()
    model = MLPModel()
    l2_dir = tempfile.mkdtemp(prefix="clawlet-bench-")
    print(f"# engine vs limit: {model.describe()}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"{args.workers} workers, {args.seconds:g} s per point\n")
    print("| batch | raw model items/s | engine req/s | engine / raw | clients |")
    print("|---:|---:|---:|---:|---:|")
    for batch_size in BATCH_SIZES:
        raw = raw_items_per_s(model, batch_size, args.workers, args.seconds)
        clients = max(args.clients, 2 * batch_size * args.workers)
        config = OptimizationConfig(
            batch_size=batch_size, batch_timeout_s=0.005, max_concurrent=args.workers,
            enable_cache=False, l2_cache_dir=l2_dir,
        )
        served = asyncio.run(closed_loop(ClawletEngine(config, model), model, clients, args.seconds))
        print(f"| {batch_size} | {raw:,.0f} | {served:,.0f} | {served / raw:.2f} | {clients} |")

    clients = args.clients
    print(f"\n## baseline vs optimized, closed loop, {clients} clients, unique keys\n")
    optimized_config = OptimizationConfig(batch_size=32, batch_timeout_s=0.005, max_concurrent=args.workers, l2_cache_dir=l2_dir, enable_l2=False)
    baseline = asyncio.run(closed_loop(ClawletEngine(optimized_config, model, mode="baseline"), model, clients, args.seconds, keys=1_000_000))
    optimized = asyncio.run(closed_loop(ClawletEngine(optimized_config, model), model, clients, args.seconds, keys=1_000_000))
    print("| mode | req/s |\n|---|---:|")
    print(f"| baseline (batch 1, 1 worker, no cache) | {baseline:,.0f} |")
    print(f"| optimized (batch 32, {args.workers} workers, L1 on) | {optimized:,.0f} |")
    print(f"| ratio | {optimized / baseline:.1f}x |")

    print(f"\n## cache-hit path: {clients} clients over 64 keys, L1 holds them all\n")
    hot = OptimizationConfig(batch_size=32, batch_timeout_s=0.005, max_concurrent=args.workers, l2_cache_dir=l2_dir, enable_l2=False)
    hits = asyncio.run(closed_loop(ClawletEngine(hot, model), model, clients, args.seconds, keys=64))
    print(f"| path | req/s |\n|---|---:|\n| L1 hit | {hits:,.0f} |\n| computed (optimized, above) | {optimized:,.0f} |")
    print(f"| ratio | {hits / optimized:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
