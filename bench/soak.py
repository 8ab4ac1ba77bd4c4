"""Soak: a long run at a fixed arrival rate, printing RSS over time and the accounting totals.

What it shows: memory stays bounded (RSS settles once L1 is full and the histograms
are allocated) and no request is lost: at the end
``submitted == succeeded + failed + rejected + timed_out + cancelled`` with nothing in flight.

    python bench/soak.py [--preset soak] [--duration 600] [--every 30]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile

from clawlet_tui.engine import ClawletEngine
from clawlet_tui.load import LoadGenerator, load_preset
from clawlet_tui.models import build_model


async def soak(preset_name: str, duration_s: float | None, every_s: float) -> int:
    preset = load_preset(preset_name)
    profile = preset.load if duration_s is None else dataclasses.replace(preset.load, duration_s=duration_s)
    model = build_model(preset.model_spec)
    with tempfile.TemporaryDirectory(prefix="clawlet-soak-") as l2_dir:
        config = preset.config.replace(l2_cache_dir=l2_dir)
        engine = ClawletEngine(config, model)
        await engine.start()
        generator = LoadGenerator(engine, profile, model=model)
        print(f"# soak: {preset.name}: {profile.describe()}; {model.describe()}")
        print("| t (s) | RSS (MiB) | sent | succeeded | in flight | window req/s | p99 (ms) | L1 entries | GC runs |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        first_rss = None
        await generator.start()
        finished = asyncio.ensure_future(generator.wait())
        try:
            while not finished.done():
                await asyncio.wait([finished], timeout=every_s)
                snap = engine.snapshot()
                rss = snap.memory.rss_bytes / 2**20
                first_rss = first_rss if first_rss is not None else rss
                print(
                    f"| {snap.uptime_s:.0f} | {rss:.1f} | {generator.stats().sent} | {snap.outcomes.succeeded} | "
                    f"{snap.outcomes.in_flight} | {snap.window_throughput_rps:.0f} | {snap.window_latency.p99_ms:.1f} | "
                    f"{snap.cache.l1.size} | {snap.memory.gc_triggers} |",
                    flush=True,
                )
        finally:
            await generator.stop()
            before_stop = engine.snapshot()
            await engine.stop()
        o = engine.snapshot().outcomes
        accounted = o.succeeded + o.failed + o.rejected + o.timed_out + o.cancelled
        print(f"\nRSS: first sample {first_rss:.1f} MiB, last {before_stop.memory.rss_bytes / 2**20:.1f} MiB")
        print(
            f"accounting: submitted {o.submitted} = succeeded {o.succeeded} + failed {o.failed} + rejected {o.rejected}"
            f" + timed out {o.timed_out} + cancelled {o.cancelled} ({accounted}); in flight after stop: {o.in_flight}"
        )
        return 0 if accounted == o.submitted and o.in_flight == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="soak")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: the preset's)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args()
    return asyncio.run(soak(args.preset, args.duration, args.every))


if __name__ == "__main__":
    sys.exit(main())
