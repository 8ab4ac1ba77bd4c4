"""The same MLP on ONNX Runtime and on numpy: raw limit by batch size, and through the engine.

The numpy MLP's own weights are written as an ONNX graph (MatMul/Add/Relu, dynamic batch
axis) so both compute the same function; the script checks they agree within 1e-5 first.
In one run:

1. raw limit: items/s with ``workers`` threads each calling its own predict back to back
   on a batch of 1..32 (numpy: one BLAS thread each; ONNX: one InferenceSession per thread
   with one intra-op thread, as the engine's workers get);
2. engine: ``ClawletEngine`` req/s under closed-loop load at the same batch size, cache off;
3. ``onnx / numpy`` ratios of both, and how busy *other* processes kept the cores
   meanwhile (the machine is shared: compare the ratios of one run, not absolute figures).

Needs ``pip install 'clawlet-tui[onnx]' onnx``.

    python bench/onnx_vs_numpy.py [--seconds 2] [--workers 2]
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from engine_vs_limit import closed_loop
from machine_load import busy_cpu_s

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.engine import limit_blas_threads
from clawlet_tui.models import MLPModel
from clawlet_tui.models.onnx import OnnxModel
from clawlet_tui.models.onnx_export import write_mlp_onnx

BATCH_SIZES = (1, 2, 4, 8, 16, 32)


class OtherLoad:
    """Cores that other processes kept busy during a measurement (0 = a quiet machine)."""

    def __enter__(self) -> OtherLoad:
        self._wall, self._own, self._busy = time.perf_counter(), time.process_time(), busy_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._wall
        own = time.process_time() - self._own
        busy = busy_cpu_s()
        self.cores = None if busy is None or self._busy is None else max(busy - self._busy - own, 0.0) / wall


def predictor(model: Any) -> Callable[[Sequence[Any]], Any]:
    """What one engine worker calls: its own session for ONNX, the shared predict for numpy."""
    per_worker = getattr(model, "worker_predict", None)
    return per_worker(1) if per_worker is not None else model.predict


def raw_items_per_s(model: Any, batch_size: int, workers: int, seconds: float) -> float:
    batch = [model.make_input(k) for k in range(batch_size)]
    calls = [predictor(model) for _ in range(workers)]
    for call in calls:
        call(batch)  # warm up (and make each ONNX session)
    done = [0] * workers
    gate = threading.Barrier(workers + 1)
    deadline = [0.0]

    def work(i: int) -> None:
        gate.wait()
        while time.perf_counter() < deadline[0]:
            calls[i](batch)
            done[i] += batch_size

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline[0] = start + seconds
    gate.wait()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - start)


async def engine_req_per_s(model: Any, batch_size: int, workers: int, seconds: float, l2_dir: str) -> float:
    config = OptimizationConfig(
        batch_size=batch_size, batch_timeout_s=0.005, max_concurrent=workers, enable_cache=False, l2_cache_dir=l2_dir,
    )
    clients = max(64, 2 * batch_size * workers)
    # warm-up off the clock: every worker makes its session first
    return await closed_loop(ClawletEngine(config, model), model, clients, seconds, warm=batch_size * workers * 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="model workers (max_concurrent)")
    args = parser.parse_args()
    limit_blas_threads(1)  # one BLAS thread per worker, as in the engine, set once for the run
    mlp = MLPModel()
    folder = tempfile.mkdtemp(prefix="clawlet-bench-onnx-")
    onnx_model = OnnxModel(write_mlp_onnx(mlp, Path(folder) / "mlp.onnx"))
    check = [mlp.make_input(k) for k in range(8)]
    gap = float(np.abs(np.stack(onnx_model.predict(check)) - np.stack(mlp.predict(check))).max())
    assert gap < 1e-5, f"the ONNX graph does not compute the numpy MLP (max difference {gap:g})"
    ort = onnx_model._ort
    print(f"# onnx vs numpy: {mlp.describe()}; ONNX Runtime {ort.__version__}, numpy {np.__version__}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"{args.workers} workers, {args.seconds:g} s per point; outputs agree within {gap:.1e}\n")
    print("| batch | raw numpy items/s | raw onnx items/s | raw onnx / numpy | engine numpy req/s "
          "| engine onnx req/s | engine onnx / numpy | other load (cores) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for batch_size in BATCH_SIZES:
        with OtherLoad() as load:
            raw_np = raw_items_per_s(mlp, batch_size, args.workers, args.seconds)
            raw_ox = raw_items_per_s(onnx_model, batch_size, args.workers, args.seconds)
            eng_np = asyncio.run(engine_req_per_s(mlp, batch_size, args.workers, args.seconds, folder))
            eng_ox = asyncio.run(engine_req_per_s(onnx_model, batch_size, args.workers, args.seconds, folder))
        other = "?" if load.cores is None else f"{load.cores:.2f}"
        print(f"| {batch_size} | {raw_np:,.0f} | {raw_ox:,.0f} | {raw_ox / raw_np:.2f} | {eng_np:,.0f} | {eng_ox:,.0f} "
              f"| {eng_ox / eng_np:.2f} | {other} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
