"""Does the dashboard distort what it measures?  Latency and throughput, with it vs headless.

Two measurements, each in alternating rounds within one run (the order flips every round
to spread the machine's drift over both sides):

1. **Latency** (issue 13): the shipped ``steady`` preset, open loop (Poisson 400 req/s,
   Zipf keys), for ``--latency-seconds``:

   * headless, by ``clawlet_tui.runner.run_preset`` (what ``clawlet-tui run`` does);
   * with the Textual dashboard in the same process, as ``clawlet-tui`` runs it
     (``LiveRun``: the engine on its own loop thread), rendering to a virtual 160x48
     terminal (``App.run_test``) with its real refresh timer.  Every frame the compositor
     produces is also encoded to terminal escape sequences, the work a real terminal
     costs (the headless driver skips only that step and the write).

   P50 and P99 are the engine's own figures (``snapshot().total_latency``), measured from
   each request's intended send time (no coordinated omission).  Target: dashboard P99
   <= 1.2x headless P99.  Each run also reports the garbage collector's full (gen 2)
   collections during the load and its longest pause, which is what the dashboard used to
   add (see ``clawlet_tui/tui/gc_policy.py``).

2. **Throughput under saturation** (issue 4): closed loop, 64 clients, unique keys, cache
   off, batch 16, so every request is computed and the engine is the bottleneck.  Target:
   ratio >= 0.95.

    python bench/dashboard_overhead.py [--rounds 4] [--latency-seconds 20] [--seconds 10]
    python bench/dashboard_overhead.py --without-gc-freeze   # the dashboard as it was before
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawlet_tui.load import load_preset
from clawlet_tui.runner import run_preset
from clawlet_tui.tui import gc_policy
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.live import LiveRun

SIZE = (160, 48)

THROUGHPUT_PRESET = """
name = "{name}"
description = "dashboard overhead benchmark: closed loop, compute bound"
[engine]
batch_size = 16
batch_timeout_s = 0.005
enable_cache = false
l2_cache_dir = "{l2}"
[load]
mode = "closed"
concurrency = 64
duration_s = {seconds}
[load.keys]
distribution = "unique"
"""


@dataclass(frozen=True)
class Run:
    """One side of one round."""

    p50_ms: float
    p99_ms: float
    throughput_rps: float
    #: full collections during the load, and the longest collection of any generation (ms)
    gen2_collections: int
    longest_gc_ms: float
    #: dashboard only: snapshots shown, frames rendered
    refreshes: int = 0
    frames: int = 0


class GCWatch:
    """Counts full collections and times the longest one (any generation) via ``gc.callbacks``.

    Only once :attr:`armed` (the load is flowing): start-up collections, such as the one
    :func:`gc_policy.freeze` runs before the first request, hit no request.
    """

    def __init__(self) -> None:
        self.armed = False
        self.gen2 = 0
        self.longest_s = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if not self.armed:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.longest_s = max(self.longest_s, time.perf_counter() - self._started)
            self._started = None
            if info["generation"] == 2:
                self.gen2 += 1

    @contextmanager
    def watching(self) -> Iterator[GCWatch]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


def _result(snapshot: Any, watch: GCWatch, refreshes: int = 0, frames: int = 0) -> Run:
    latency = snapshot.total_latency
    return Run(
        latency.p50_ms,
        latency.p99_ms,
        snapshot.total_throughput_rps,
        watch.gen2,
        watch.longest_s * 1000,
        refreshes,
        frames,
    )


async def headless(preset: Any) -> Run:
    with GCWatch().watching() as watch:

        def arm(*_: Any) -> None:  # progress ticks (4/s) start once the load runs
            watch.armed = True

        result = await run_preset(preset, progress=arm)
    return _result(result.snapshot, watch)


def _encode_frames(app: ClawletApp) -> Callable[[], int]:
    """Make the app encode each frame as a terminal would receive it; returns a frame counter.

    The headless driver renders every update in the compositor but skips turning it into
    escape sequences; a real terminal pays that too, so the benchmark does it here.
    """
    from textual._compositor import CompositorUpdate

    display = app._display
    frames = 0

    def encode_and_display(screen: Any, renderable: Any) -> None:
        nonlocal frames
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)
            frames += 1
        display(screen, renderable)

    app._display = encode_and_display  # type: ignore[method-assign]
    return lambda: frames


async def with_dashboard(preset: Any) -> Run:
    live = LiveRun.from_preset(preset.name, preset_loader=lambda _: preset)
    app = ClawletApp(live)
    frames = _encode_frames(app)
    duration = float(preset.load.duration_s)
    with GCWatch().watching() as watch:
        async with app.run_test(size=SIZE) as pilot:
            while not live.started:  # on_mount starts the engine, then the load
                await pilot.pause(0.01)
            watch.armed = True
            await asyncio.wait_for(live.host.run(live.generator.target.wait()), timeout=duration + 60)
            snapshot = live.engine.snapshot()
            refreshes = app.refresh_count
            await pilot.press("q")
    run = _result(snapshot, watch, refreshes, frames())
    # the dashboard must really have been refreshing and rendering all along
    expected = duration / app.refresh_interval_s
    if run.refreshes < 0.5 * expected or run.frames < run.refreshes:
        raise RuntimeError(f"dashboard showed {run.refreshes} snapshots in {run.frames} frames in {duration:g} s")
    return run


def alternate(rounds: int, headless_run: Callable[[], Run], dashboard_run: Callable[[], Run], show: Callable[[int, Run, Run], None]) -> list[tuple[Run, Run]]:
    pairs = []
    for round_ in range(rounds):
        if round_ % 2 == 0:
            h = headless_run()
            d = dashboard_run()
        else:
            d = dashboard_run()
            h = headless_run()
        pairs.append((h, d))
        show(round_ + 1, h, d)
    return pairs


def _gc(run: Run) -> str:
    return f"gen2 x{run.gen2_collections}, longest GC {run.longest_gc_ms:.0f} ms"


def latency_rounds(args: argparse.Namespace) -> None:
    steady = load_preset("steady")
    # no l2_cache_dir: each run, headless or not, gets a fresh temporary L2 (as `run` does)
    preset = dataclasses.replace(steady, load=dataclasses.replace(steady.load, duration_s=args.latency_seconds))

    def show(round_: int, h: Run, d: Run) -> None:
        print(
            f"round {round_}: headless P50 {h.p50_ms:.2f} P99 {h.p99_ms:.2f} ms ({_gc(h)}); "
            f"dashboard P50 {d.p50_ms:.2f} P99 {d.p99_ms:.2f} ms ({_gc(d)}; {d.frames} frames); "
            f"P99 ratio {d.p99_ms / h.p99_ms:.2f}",
            flush=True,
        )

    print(f"latency: preset steady, {args.latency_seconds:g} s per run, dashboard at {SIZE[0]}x{SIZE[1]}")
    pairs = alternate(
        args.rounds, lambda: asyncio.run(headless(preset)), lambda: asyncio.run(with_dashboard(preset)), show
    )
    hs = [h for h, _ in pairs]
    ds = [d for _, d in pairs]
    ratios = [d.p99_ms / h.p99_ms for h, d in pairs]
    h50, h99 = statistics.mean(h.p50_ms for h in hs), statistics.mean(h.p99_ms for h in hs)
    d50, d99 = statistics.mean(d.p50_ms for d in ds), statistics.mean(d.p99_ms for d in ds)
    print("\n| run | P50 ms | P99 ms | P99 range ms |\n|---|---:|---:|---:|")
    print(f"| headless | {h50:.2f} | {h99:.2f} | {min(h.p99_ms for h in hs):.1f}–{max(h.p99_ms for h in hs):.1f} |")
    print(f"| with dashboard | {d50:.2f} | {d99:.2f} | {min(d.p99_ms for d in ds):.1f}–{max(d.p99_ms for d in ds):.1f} |")
    print(
        f"| P99 ratio (dashboard / headless) | | **{d99 / h99:.2f}** | rounds {min(ratios):.2f}–{max(ratios):.2f} |\n",
        flush=True,
    )


def throughput_rounds(args: argparse.Namespace, tmp: Path) -> None:
    path = tmp / "dashboard-bench.toml"
    path.write_text(THROUGHPUT_PRESET.format(name="dashboard-bench", l2=tmp / "l2-closed", seconds=args.seconds))
    preset = load_preset(str(path))

    def show(round_: int, h: Run, d: Run) -> None:
        print(
            f"round {round_}: headless {h.throughput_rps:,.0f} req/s, with dashboard {d.throughput_rps:,.0f} req/s, "
            f"ratio {d.throughput_rps / h.throughput_rps:.3f}",
            flush=True,
        )

    print(f"throughput under saturation: closed loop, 64 clients, {args.seconds:g} s per run")
    pairs = alternate(
        args.rounds, lambda: asyncio.run(headless(preset)), lambda: asyncio.run(with_dashboard(preset)), show
    )
    h_mean = statistics.mean(h.throughput_rps for h, _ in pairs)
    d_mean = statistics.mean(d.throughput_rps for _, d in pairs)
    ratios = [d.throughput_rps / h.throughput_rps for h, d in pairs]
    print(f"\n| run | req/s |\n|---|---:|\n| headless | {h_mean:,.0f} |\n| with dashboard | {d_mean:,.0f} |")
    print(f"| ratio (dashboard / headless) | **{d_mean / h_mean:.3f}** (rounds {min(ratios):.2f}–{max(ratios):.2f}) |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of each steady run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each saturation run")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--without-gc-freeze", action="store_true", help="do not freeze start-up objects (the dashboard before issue 13)"
    )
    args = parser.parse_args()
    if args.without_gc_freeze:
        gc_policy.FREEZE_AFTER_START = False
    with tempfile.TemporaryDirectory(prefix="clawlet-bench-") as tmp:
        if not args.skip_latency:
            latency_rounds(args)
        if not args.skip_throughput:
            throughput_rounds(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
