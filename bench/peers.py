"""Where clawlet stands: the engine beside inline calls, a thread per request and ``batched``.

Every system serves the same model, the project's own MLP (``clawlet_tui.models.MLPModel``,
one BLAS thread), to the same closed-loop clients: C clients each send the next request
as soon as the last one returns, for ``--seconds`` after a short warm-up that is not
measured.  Every input is different (a fresh key per request), so no cache could help;
clawlet's cache is off anyway.  Each (system, C) runs in a fresh subprocess, one after
another, so no system inherits another's threads, heap or BLAS state.

The systems:

* ``inline``: the model called on the event loop, one request at a time (no server at all);
* ``thread``: each request's model call on its own thread from asyncio's default pool
  (``asyncio.to_thread``), as a synchronous web handler would run it; no batching;
* ``batched``: the ``batched`` library from PyPI (``pip install 'clawlet-tui[bench]'``),
  ``aio.dynamically`` with max batch 32 and a 5 ms wait;
* ``clawlet``: :class:`~clawlet_tui.engine.ClawletEngine` with max batch 32 and
  ``batch_timeout_s`` 5 ms, cache off, everything else at its defaults (adaptive policy,
  one worker per core).

Latency is measured per request around the call, from the client's side; P50 and P99
are exact (numpy over every sample).  The ratios printed at the end are the targets of
issue 12; they compare systems *within this run* only: absolute figures on a shared
machine drift by tens of percent between runs.

    python bench/peers.py [--seconds 3] [--clients 1 16 64] [--systems inline thread batched clawlet]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any, Protocol

import numpy as np
from machine_load import busy_cpu_s

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.engine.engine import limit_blas_threads
from clawlet_tui.models import MLPModel

MAX_BATCH = 32
WAIT_S = 0.005
WARMUP_S = 0.5
CLIENTS = (1, 16, 64)
#: one BLAS thread per model call for every system, set before numpy loads in the child
_ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class System(Protocol):
    async def start(self) -> None: ...

    async def submit(self, payload: Any) -> Any: ...

    def batches_so_far(self) -> tuple[int, int] | None:
        """(items, batches) computed since start, or None for a system that does not batch."""
        ...

    async def stop(self) -> None: ...


class Inline:
    """The model called in the client's own coroutine: the cost of one call, nothing else."""

    def __init__(self, model: MLPModel) -> None:
        self.model = model

    async def start(self) -> None:
        return None

    async def submit(self, payload: Any) -> Any:
        return self.model.predict([payload])[0]

    def batches_so_far(self) -> tuple[int, int] | None:
        return None

    async def stop(self) -> None:
        return None


class ThreadPerRequest(Inline):
    async def submit(self, payload: Any) -> Any:
        return (await asyncio.to_thread(self.model.predict, [payload]))[0]


class Batched(Inline):
    """The ``batched`` library's asyncio dynamic batcher around the same model."""

    async def start(self) -> None:
        from batched import aio

        self._batched = aio.dynamically(self.model.predict, batch_size=MAX_BATCH, timeout_ms=WAIT_S * 1000)

    async def submit(self, payload: Any) -> Any:
        return await self._batched(payload)

    def batches_so_far(self) -> tuple[int, int] | None:
        stats = self._batched.stats
        return stats.total_processed, stats.total_batches


class Clawlet(Inline):
    async def start(self) -> None:
        config = OptimizationConfig(batch_size=MAX_BATCH, batch_timeout_s=WAIT_S, enable_cache=False, enable_l2=False)
        self.engine = ClawletEngine(config, self.model)
        await self.engine.start()

    async def submit(self, payload: Any) -> Any:
        return await self.engine.submit(payload)

    def batches_so_far(self) -> tuple[int, int] | None:
        batches = self.engine.snapshot(events=0).batches
        return batches.items, batches.count

    async def stop(self) -> None:
        await self.engine.stop()


SYSTEMS: dict[str, Callable[[MLPModel], System]] = {
    "inline": Inline,
    "thread": ThreadPerRequest,
    "batched": Batched,
    "clawlet": Clawlet,
}


@dataclass(frozen=True)
class Measured:
    system: str
    clients: int
    requests: int
    req_s: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    mean_batch: float | None


async def run_clients(
    system: System, model: MLPModel, clients: int, seconds: float, keys: itertools.count[int], latencies: array | None
) -> float:
    """``clients`` closed-loop clients for ``seconds``; the wall time until the last one returned.

    A request still in flight at the deadline is waited for and counted.
    """
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < stop_at:
            payload = model.make_input(next(keys))  # a key never used before: no cache can help
            sent = time.perf_counter()
            await system.submit(payload)
            if latencies is not None:
                latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def measure(name: str, clients: int, seconds: float) -> Measured:
    """One system at one client count, in this process (the parent runs it in a fresh one)."""
    limit_blas_threads(1)
    model = MLPModel()
    system = SYSTEMS[name](model)
    await system.start()
    keys = itertools.count()
    await run_clients(system, model, clients, WARMUP_S, keys, None)
    before = system.batches_so_far()
    latencies = array("d")
    wall = await run_clients(system, model, clients, seconds, keys, latencies)
    after = system.batches_so_far()
    await system.stop()
    ms = np.frombuffer(latencies, dtype=np.float64) * 1000.0
    mean_batch = None
    if before is not None and after is not None and after[1] > before[1]:
        mean_batch = (after[0] - before[0]) / (after[1] - before[1])
    return Measured(
        system=name,
        clients=clients,
        requests=len(ms),
        req_s=len(ms) / wall,
        mean_ms=float(ms.mean()),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        mean_batch=mean_batch,
    )


def measure_in_subprocess(name: str, clients: int, seconds: float) -> Measured | str:
    """The child's :class:`Measured`, or the last line of its error output."""
    command = [sys.executable, __file__, "--measure", name, "--clients", str(clients), "--seconds", str(seconds)]
    env = {**os.environ, **_ONE_BLAS_THREAD}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds * 10 + 60)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    return Measured(**json.loads(done.stdout.strip().splitlines()[-1]))


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_facts() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        usable = os.cpu_count() or 1

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    load = os.getloadavg()
    return [
        f"command: {shlex.join(['python', *sys.argv])}",
        f"machine: {cpu}, {os.cpu_count()} cores ({usable} usable), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"python {platform.python_version()}, numpy {np.__version__}, clawlet-tui {version('clawlet-tui')}, batched {version('batched')}",
        f"model: {MLPModel().describe()}, one BLAS thread; max batch {MAX_BATCH}, wait {WAIT_S * 1000:g} ms",
    ]


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def target_lines(results: dict[tuple[str, int], Measured]) -> list[str]:
    """The issue's targets, each with the figures it is computed from; only those this run can judge."""
    rows: list[tuple[str, str, str, bool]] = []
    claw1, inline1 = results.get(("clawlet", 1)), results.get(("inline", 1))
    if claw1 and inline1:
        gap = claw1.mean_ms - inline1.mean_ms
        rows.append(("C1 clawlet mean − inline mean", f"{gap:+.2f} ms ({_ms(claw1.mean_ms)} vs {_ms(inline1.mean_ms)})", "≤ 0.5 ms", gap <= 0.5))
    for clients, peers in ((16, ("inline", "thread", "batched")), (64, ("batched",))):
        claw = results.get(("clawlet", clients))
        ran = [results[(p, clients)] for p in peers if (p, clients) in results]
        if claw is None or not ran:
            continue
        best = max(ran, key=lambda m: m.req_s)
        label = "best of " + "/".join(m.system for m in ran) if len(ran) > 1 else best.system
        ratio = claw.req_s / best.req_s
        rows.append((
            f"C{clients} clawlet req/s ÷ {label}",
            f"{ratio:.2f}x ({claw.req_s:,.0f} vs {best.system} {best.req_s:,.0f})", "≥ 2x", ratio >= 2.0,
        ))
        batched = results.get(("batched", clients))
        if batched is not None:
            rows.append((
                f"C{clients} clawlet P99 vs batched P99",
                f"{_ms(claw.p99_ms)} vs {_ms(batched.p99_ms)} ms", "≤", claw.p99_ms <= batched.p99_ms,
            ))
    if not rows:
        return []
    lines = ["| target | this run | goal | met |", "|---|---:|---|---|"]
    lines += [f"| {what} | {got} | {goal} | {'yes' if met else '**no**'} |" for what, got, goal, met in rows]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per system and client count")
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS), help="closed-loop client counts")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS), help="systems to run")
    parser.add_argument("--measure", choices=list(SYSTEMS), help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.measure:
        (clients,) = args.clients
        print(json.dumps(asdict(asyncio.run(measure(args.measure, clients, args.seconds)))))
        return 0

    for line in machine_facts():
        print(f"# {line}")
    print(f"# closed loop, unique inputs, {WARMUP_S:g} s warm-up then {args.seconds:g} s measured, "
          "each row in a fresh process")
    print("# load = 1-min load average when the row started (it counts this bench's own threads too); "
          "others' CPU = cores busy with other processes while the row ran: near 0 is a clean row\n")
    print("| system | C | req/s | mean ms | P50 ms | P99 ms | mean batch | load | others' CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: dict[tuple[str, int], Measured] = {}
    for clients in args.clients:
        for name in args.systems:
            load, busy, own, started = os.getloadavg()[0], busy_cpu_s(), children_cpu_s(), time.perf_counter()
            outcome = measure_in_subprocess(name, clients, args.seconds)
            busy_after = busy_cpu_s()
            others = "–"
            if busy is not None and busy_after is not None:
                cores = (busy_after - busy - (children_cpu_s() - own)) / (time.perf_counter() - started)
                others = f"{max(cores, 0.0):.2f}"
            if isinstance(outcome, str):
                print(f"| {name} | {clients} | failed: {outcome[:100]} | | | | | {load:.2f} | {others} |", flush=True)
                continue
            results[(name, clients)] = m = outcome
            batch = "–" if m.mean_batch is None else f"{m.mean_batch:.1f}"
            print(f"| {name} | {clients} | {m.req_s:,.0f} | {_ms(m.mean_ms)} | {_ms(m.p50_ms)} | {_ms(m.p99_ms)} "
                  f"| {batch} | {load:.2f} | {others} |", flush=True)
    lines = target_lines(results)
    if lines:
        print("\n## issue 12 targets (ratios within this run)\n")
        print("\n".join(lines))
    print(f"\n# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
