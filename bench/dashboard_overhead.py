"""Does the dashboard slow the engine down?  Engine throughput with the dashboard vs headless.

In one run, the same preset (closed loop, 64 clients, unique keys, cache off, so every
request is computed and the engine is the bottleneck) is served twice for the same time:

1. headless, by ``clawlet_tui.runner.run_preset`` (what ``clawlet-tui run`` does);
2. with the Textual dashboard running in the same process and event loop, rendering to a
   virtual 160x48 terminal (``App.run_test``), refreshing its panels as it does live.

It prints both throughputs and their ratio (target >= 0.95).  The order alternates over
``--rounds`` to spread out drift of the machine.

    python bench/dashboard_overhead.py [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from clawlet_tui.load import load_preset
from clawlet_tui.runner import run_preset
from clawlet_tui.tui.app import ClawletApp
from clawlet_tui.tui.live import LiveRun

PRESET = """
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


async def headless(path: Path) -> float:
    result = await run_preset(load_preset(str(path)))
    return result.snapshot.total_throughput_rps


async def with_dashboard(path: Path, seconds: float) -> float:
    live = LiveRun.from_preset(str(path))
    app = ClawletApp(live)
    async with app.run_test(size=(160, 48)) as pilot:
        finished = asyncio.ensure_future(live.generator.wait())
        await asyncio.wait([finished], timeout=seconds + 30)
        throughput = live.engine.snapshot().total_throughput_rps
        refreshes = app.refresh_count
        await pilot.press("q")
    if refreshes < seconds:  # the dashboard must really have been refreshing
        raise RuntimeError(f"dashboard refreshed only {refreshes} times in {seconds:g} s")
    return throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clawlet-bench-") as tmp:
        path = Path(tmp) / "dashboard-bench.toml"
        path.write_text(PRESET.format(name="dashboard-bench", l2=Path(tmp) / "l2", seconds=args.seconds))
        pairs = []
        for round_ in range(args.rounds):
            if round_ % 2 == 0:
                h = asyncio.run(headless(path))
                d = asyncio.run(with_dashboard(path, args.seconds))
            else:
                d = asyncio.run(with_dashboard(path, args.seconds))
                h = asyncio.run(headless(path))
            pairs.append((h, d))
            print(f"round {round_ + 1}: headless {h:,.0f} req/s, with dashboard {d:,.0f} req/s, ratio {d / h:.3f}")
        h_mean = sum(h for h, _ in pairs) / len(pairs)
        d_mean = sum(d for _, d in pairs) / len(pairs)
        print(f"\n| run | req/s |\n|---|---:|\n| headless | {h_mean:,.0f} |\n| with dashboard | {d_mean:,.0f} |")
        print(f"| ratio (dashboard / headless) | {d_mean / h_mean:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
