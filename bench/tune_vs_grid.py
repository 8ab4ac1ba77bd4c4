"""Which search should ``tune`` use?  Trials to reach 95% of a full grid's best, measured.

1. **The grid, live**: every config of a small space (default batch_size x max_concurrent)
   measured once on one live engine under the preset's load, as ``tune --search grid``
   does; its best feasible throughput is the reference, its wall time the cost to beat.
2. **Replays** of that grid, ``--seeds`` times per method: a method asks for configs and
   gets back the grid's measurement of that config with its own noise (3 of the config's
   measured windows, drawn with replacement).  After each trial, the method's current
   pick (its best feasible config so far, by what *it* measured) is scored by the grid's
   figure for it; "trials to 95%" is the first trial at which that pick reaches 95% of
   the grid's best.  Methods: the hill climb (``tune``'s default), optuna's TPE with the
   SLO as a constraint (the start config enqueued first; needs ``pip install optuna``),
   and random search without replacement.
3. **The hill climb, live** (``tune`` as shipped), on the same preset and SLO: its chosen
   config's grid throughput against the grid's best, and its wall time against the grid's.

    python bench/tune_vs_grid.py [--preset FILE] [--slo-p99 MS] [--seeds 30]

Prints ratios measured in this run; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawlet_tui.load import load_preset
from clawlet_tui.tune.measure import MeasureSettings
from clawlet_tui.tune.objective import Objective
from clawlet_tui.tune.report import result_dict, save_tune_report
from clawlet_tui.tune.search import HillClimb
from clawlet_tui.tune.space import Point, SearchSpace, describe_point
from clawlet_tui.tune.tuner import tune

CLOSED_MLP = """\
name = "{name}"
description = "bench: closed loop, 16 clients, unique keys, MLP"

[engine]
batch_size = 4
batch_timeout_s = 0.005
max_concurrent = 1

[load]
mode = "closed"
concurrency = 16
duration_s = 60

[load.keys]
distribution = "unique"

[model]
kind = "mlp"
"""

CLOSED_LATENCY = """\
name = "{name}"
description = "bench: closed loop, 64 clients, unique keys, latency model 4 ms + 0.25 ms/item"

[engine]
batch_size = 4
batch_timeout_s = 0.005
max_concurrent = 1

[load]
mode = "closed"
concurrency = 64
duration_s = 60

[load.keys]
distribution = "unique"

[model]
kind = "latency"
fixed_ms = 4.0
per_item_ms = 0.25
"""

BUILTIN = {"mlp": (CLOSED_MLP, 50.0), "latency": (CLOSED_LATENCY, 100.0)}


@dataclass(frozen=True)
class Sample:
    throughput_rps: float
    p99_ms: float
    success: float


class Replay:
    """The grid's measurements, served back with their window-to-window noise.

    Built from a grid tune's JSON report (``tune --search grid --report FILE.json``), so
    a measured grid can be replayed again without measuring it again.
    """

    def __init__(self, report: dict[str, Any], objective: Objective) -> None:
        self.objective = objective
        self.windows: dict[Point, list[tuple[float, float, float]]] = {}
        self.truth: dict[Point, tuple[float, float, bool]] = {}
        for trial in report["trials"]:
            point = tuple(trial["config"].items())
            self.windows.setdefault(point, []).extend(
                (w["throughput_rps"], w["p99_ms"], w["succeeded"] / max(w["succeeded"] + w["errors"], 1))
                for w in trial["window_figures"]
            )
            self.truth[point] = (trial["throughput_rps"], trial["p99_ms"], trial["meets_slo"])
        feasible = [thr for thr, _, ok in self.truth.values() if ok]
        self.best = max(feasible) if feasible else 0.0
        self.best_point = max((p for p, t in self.truth.items() if t[2]), key=lambda p: self.truth[p][0], default=None)

    def sample(self, point: Point, rng: random.Random) -> Sample:
        drawn = [rng.choice(self.windows[point]) for _ in range(3)]
        return Sample(
            statistics.fmean(d[0] for d in drawn), statistics.fmean(d[1] for d in drawn), min(d[2] for d in drawn)
        )

    def score(self, point: Point | None) -> float:
        """The grid's throughput for ``point`` as a fraction of the grid's best (0 if it broke the SLO there)."""
        if point is None or self.best <= 0:
            return 0.0
        thr, _, ok = self.truth[point]
        return thr / self.best if ok else 0.0


def trials_to(curve: list[float], target: float = 0.95) -> int | None:
    for i, score in enumerate(curve, 1):
        if score >= target:
            return i
    return None


async def hill_curve(space: SearchSpace, replay: Replay, objective: Objective, seed: int, margin: float) -> tuple[list[float], int, float]:
    rng = random.Random(seed)
    climb = HillClimb(space, objective, margin=margin)
    curve: list[float] = []

    async def evaluate(point: Point, role: str) -> Sample:
        return replay.sample(point, rng)

    def can_start() -> bool:
        if climb.trials:
            curve.append(replay.score(climb.best_point(feasible_only=True)))
        return climb.trials < 3 * space.size

    result = await climb.run(evaluate, can_start)
    curve.append(replay.score(result.best))
    return curve, result.trials, replay.score(result.best)


def random_curve(space: SearchSpace, replay: Replay, objective: Objective, seed: int) -> list[float]:
    rng = random.Random(seed)
    points = list(space.grid())
    points.remove(space.start)
    rng.shuffle(points)
    seen: dict[Point, Sample] = {}
    curve = []
    for point in [space.start, *points]:
        seen[point] = replay.sample(point, rng)
        feasible = [p for p, s in seen.items() if objective.meets(s)]
        pick = max(feasible, key=lambda p: seen[p].throughput_rps) if feasible else None
        curve.append(replay.score(pick))
    return curve


def tpe_curve(space: SearchSpace, replay: Replay, objective: Objective, seed: int, n_trials: int) -> list[float] | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(seed)
    seen: dict[Point, Sample] = {}

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(dict(space.start))
    curve = []

    def objective_fn(trial: Any) -> float:
        point = tuple((axis.name, trial.suggest_categorical(axis.name, list(axis.values))) for axis in space.axes)
        s = replay.sample(point, rng)
        seen[point] = s  # TPE's pick: its best feasible trial (the latest measurement of each config)
        trial.set_constraint("p99", s.p99_ms - objective.slo_p99_ms)  # feasible when <= 0
        trial.set_constraint("errors", 1.0 - s.success)
        feasible = [p for p, v in seen.items() if objective.meets(v)]
        pick = max(feasible, key=lambda p: seen[p].throughput_rps) if feasible else None
        curve.append(replay.score(pick))
        return s.throughput_rps

    study.optimize(objective_fn, n_trials=n_trials)
    return curve


def time_breakdown(result: Any) -> str:
    """Seconds in warm-ups and in windows, by trial role, and how many trials racing cut short."""
    return _breakdown(
        [(t.role, t.measurement.warmup.duration_s, sum(w.duration_s for w in t.measurement.windows), len(t.measurement.windows), t.measurement.cut)
         for t in result.trials],
        result.wall_s,
    )


def time_breakdown_dict(report: dict[str, Any]) -> str:
    """The same from a saved grid report (its warm-ups are what the windows do not cover)."""
    rows = []
    for i, t in enumerate(report["trials"]):
        windows_s = sum(w["duration_s"] for w in t["window_figures"])
        ended = t["ended_at_s"] - (report["trials"][i - 1]["ended_at_s"] if i else 0.0)
        rows.append((t["role"], max(ended - windows_s, 0.0), windows_s, t["windows"], t.get("cut", False)))
    return _breakdown(rows, report["wall_s"])


def _breakdown(rows: list[tuple[str, float, float, int, bool]], wall_s: float) -> str:
    warm = sum(r[1] for r in rows)
    windows = sum(r[2] for r in rows)
    by_role: dict[str, float] = {}
    for role, w, m, _, _ in rows:
        by_role[role] = by_role.get(role, 0.0) + w + m
    roles = ", ".join(f"{role} {secs:.0f} s" for role, secs in by_role.items())
    cut = sum(1 for r in rows if r[4])
    return (
        f"{wall_s:.0f} s = warm-ups {warm:.0f} s + windows {windows:.0f} s ({sum(r[3] for r in rows)} windows) "
        f"+ start/stop {max(wall_s - warm - windows, 0):.0f} s; by role: {roles}; {cut} trial(s) cut short by racing"
    )


def summarize(name: str, counts: list[int | None], cap: int) -> str:
    reached = [c for c in counts if c is not None]
    if not reached:
        return f"  {name:<12} never reached 95% within {cap} trials"
    med = statistics.median(c if c is not None else cap + 1 for c in counts)
    p90 = sorted(c if c is not None else cap + 1 for c in counts)[int(0.9 * (len(counts) - 1))]
    return f"  {name:<12} trials to 95% of grid best: median {med:g}, p90 {p90 if p90 <= cap else f'>{cap}'}; reached in {len(reached)}/{len(counts)} runs"


async def main_async(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if args.preset in BUILTIN:
            text, slo = BUILTIN[args.preset]
            path = Path(tmp) / f"bench-{args.preset}.toml"
            path.write_text(text.format(name=path.stem), encoding="utf-8")
        else:
            path, slo = Path(args.preset), None
        preset = load_preset(path)
        slo = args.slo_p99 or slo or preset.slo_p99_ms
        objective = Objective.for_load(slo, preset.load.mode)
        params = tuple(args.params.split(","))
        settings = MeasureSettings(warmup_s=args.warmup, window_s=args.window, max_windows=args.max_windows)
        space = SearchSpace(preset.config, params)
        print(f"preset {preset.name}: {preset.load.describe()}; {preset.build_model().describe()}")
        print(f"objective: {objective.describe()}; space {space.size} configs ({', '.join(params)})")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work shares them)")

        def show(trial: Any) -> None:
            m = trial.measurement
            print(f"    grid {trial.number:>3}: {describe_point(trial.point):<28} {m.throughput_rps:8.1f} req/s  P99 {m.p99_ms:7.2f} ms  {'ok' if trial.meets_slo else 'SLO broken'}", flush=True)

        if args.grid is not None:
            report = json.loads(Path(args.grid).read_text(encoding="utf-8"))
            print(f"grid, from {args.grid}: {len(report['trials'])} trials in {report['wall_s']:.0f} s")
        else:
            grid = await tune(preset, objective, params=params, budget_s=86400.0, settings=settings, method="grid", on_trial=show if args.verbose else None)
            report = result_dict(grid)
            if args.save_grid:
                save_tune_report(args.save_grid, grid)
            print(f"grid, live: {grid.search.trials} trials in {grid.wall_s:.0f} s")
        grid_wall_s = report["wall_s"]
        replay = Replay(report, objective)
        if replay.best_point is None:
            lowest = min(t[1] for t in replay.truth.values())
            print(f"no config of the grid met the SLO (lowest P99 {lowest:.1f} ms); nothing to compare. Raise --slo-p99.")
            return 1
        print(f"grid best: {replay.best:.1f} req/s at {describe_point(replay.best_point)}")

        hill_counts, hill_final, hill_trials = [], [], []
        tpe_counts: list[int | None] = []
        random_counts = []
        cap = space.size
        for seed in range(args.seeds):
            curve, trials, final = await hill_curve(space, replay, objective, seed, args.margin)
            hill_counts.append(trials_to(curve))
            hill_final.append(final)
            hill_trials.append(trials)
            random_counts.append(trials_to(random_curve(space, replay, objective, seed)))
            tpe = tpe_curve(space, replay, objective, seed, cap)
            if tpe is not None:
                tpe_counts.append(trials_to(tpe))
        print(f"replays ({args.seeds} seeds each, noise: 3 of each config's own measured windows):")
        print(summarize("hill climb", hill_counts, 3 * cap))
        print(
            f"  {'':<12} stops by itself after median {statistics.median(hill_trials):g} trials "
            f"({statistics.median(hill_trials) / cap:.0%} of the grid); its final pick is >= 95% of the grid's best in "
            f"{sum(f >= 0.95 for f in hill_final)}/{args.seeds} runs (mean {statistics.fmean(hill_final):.1%})"
        )
        if tpe_counts:
            print(summarize("optuna TPE", tpe_counts, cap))
        else:
            print("  optuna TPE   skipped (pip install optuna to include it)")
        print(summarize("random", random_counts, cap))
        for margin in [float(m) for m in args.margins.split(",")] if args.margins else []:
            runs = [await hill_curve(space, replay, objective, seed, margin) for seed in range(args.seeds)]
            finals = [r[2] for r in runs]
            print(
                summarize(f"hill m={margin:g}", [trials_to(r[0]) for r in runs], 3 * cap)
                + f"; stops after median {statistics.median(r[1] for r in runs):g}, final >= 95% in {sum(f >= 0.95 for f in finals)}/{args.seeds}"
            )

        if args.live:
            live = await tune(preset, objective, params=params, budget_s=args.budget, settings=settings, margin=args.margin)
            pick = live.best_point
            print(
                f"hill climb, live: {len(live.trials)} trials in {live.wall_s:.0f} s ({live.wall_s / grid_wall_s:.0%} of the grid's wall time); "
                f"picked {describe_point(pick) if pick else 'nothing'}: {replay.score(pick):.1%} of the grid's best by the grid's measurement"
            )
            print(f"  where the live climb's time went: {time_breakdown(live)}")
            print(f"  where the grid's time went:       {time_breakdown_dict(report)}")
        print(f"machine: load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="mlp", help="'mlp', 'latency' (built-in closed-loop presets) or a preset file")
    parser.add_argument("--slo-p99", type=float, default=None)
    parser.add_argument("--params", default="batch_size,max_concurrent")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--max-windows", type=int, default=6)
    parser.add_argument("--budget", type=float, default=120.0, help="budget of the live hill climb")
    parser.add_argument("--no-live", dest="live", action="store_false", help="skip the live hill climb")
    parser.add_argument("--verbose", action="store_true", help="print every grid trial")
    parser.add_argument("--save-grid", default=None, metavar="FILE.json", help="save the live grid's report, to replay later")
    parser.add_argument("--grid", default=None, metavar="FILE.json", help="replay this grid report instead of measuring one")
    parser.add_argument("--margins", default=None, help="comma-separated hill-climb margins to compare in the replays")
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
