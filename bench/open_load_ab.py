"""Baseline against optimized variants under one open-loop load, interleaved in one process.

Why: below saturation the gap between baseline and optimized is a fraction of a
millisecond, and two runs a minute apart on this machine differ by as much.  Running
the variants in turn, round after round, in one process, and taking each one's median
over the rounds compares them under the same drift.  Each row also splits the latency
into the engine's own stages (queue wait, model compute), which is where a gap shows
its cause.

    python bench/open_load_ab.py PRESET [--rounds 3] [--seconds 10] \
        [--variant NAME=field=value,field=value ...]

Variants: ``baseline`` (the preset's config with the optimizations off) and
``optimized`` (as the preset says) always run; each ``--variant`` is the optimized
side with ``--set``-style overrides, e.g. ``--variant one-worker=max_concurrent=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Any

from clawlet_tui.engine.config import parse_assignment
from clawlet_tui.load import load_preset
from clawlet_tui.runner import run_preset


@dataclass(frozen=True)
class Variant:
    name: str
    mode: str
    overrides: dict[str, Any]


def parse_variant(text: str) -> Variant:
    name, _, sets = text.partition("=")
    if not name or not sets:
        raise SystemExit(f"--variant {text!r}: expected NAME=field=value[,field=value]")
    return Variant(name, "optimized", dict(parse_assignment(item) for item in sets.split(",")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--variant", action="append", default=[], help="NAME=field=value[,field=value]")
    args = parser.parse_args()
    preset = load_preset(args.preset)
    variants = [Variant("baseline", "baseline", {}), Variant("optimized", "optimized", {})]
    variants += [parse_variant(text) for text in args.variant]
    rows: dict[str, list[tuple[float, ...]]] = {v.name: [] for v in variants}
    print(f"# {preset.name}: {args.rounds} rounds x {args.seconds:g} s per variant; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    for round_number in range(args.rounds):
        for v in variants:
            result = asyncio.run(run_preset(
                preset, duration_s=args.seconds, overrides=v.overrides, mode=v.mode, fresh_l2=True,
            ))
            s = result.snapshot
            b = s.batches
            row = (s.total_latency.mean_ms, s.total_latency.p99_ms, b.queue_wait.mean_ms, b.queue_wait.p99_ms,
                   b.compute.mean_ms, b.compute.p99_ms, b.mean_size)
            rows[v.name].append(row)
            print(f"round {round_number + 1} {v.name}: mean {row[0]:.3f} ms, P99 {row[1]:.3f} ms", file=sys.stderr)
    base = [statistics.median(r[i] for r in rows["baseline"]) for i in range(7)]
    print("| variant | mean ms | P99 ms | mean / baseline | P99 / baseline | queue wait mean / P99 ms "
          "| compute mean / P99 ms | mean batch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        m = [statistics.median(r[i] for r in rows[v.name]) for i in range(7)]
        print(f"| {v.name} | {m[0]:.3f} | {m[1]:.3f} | {m[0] / base[0]:.2f} | {m[1] / base[1]:.2f} "
              f"| {m[2]:.3f} / {m[3]:.2f} | {m[4]:.3f} / {m[5]:.2f} | {m[6]:.2f} |")
    print(f"\n# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
