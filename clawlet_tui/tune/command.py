"""``clawlet-tui tune PRESET --slo-p99 MS``: the command's arguments and its run.

:func:`add_arguments` fills a (sub)parser and :func:`run` carries the command out, so
the main CLI can mount it as a subcommand (``set_defaults(func=run)``); until then
``python -m clawlet_tui.tune`` runs the same two functions.

Exit codes: 0 a config met the objective (and ``--out`` / ``--report`` were written);
2 bad input, one line naming what and why (unknown param, SLO <= 0, a budget too short
for two trials, a preset that cannot be tuned); 1 no trial met the SLO (the table, the
front and the report are still written, ``--out`` is not: a config that broke the SLO
is never offered as a preset); 1 a file could not be written; 130 / 143 stopped by
Ctrl+C / SIGTERM: the load stops, the engine drains, the best so far is printed (and
written to ``--out`` / ``--report`` when given).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from ..engine.errors import ClawletError, ConfigError
from .measure import MeasureSettings
from .objective import Objective
from .space import DEFAULT_PARAMS, SearchSpace, parse_params
from .tuner import DEFAULT_BUDGET_S, DEFAULT_CAPACITY_BUDGET_S, Trial, check_budget, check_load

if TYPE_CHECKING:  # pragma: no cover
    from ..load import Preset
    from .tuner import TuneResult

PROG = "clawlet-tui tune"
EXIT_OK = 0
EXIT_WRITE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_CONFIG_MET_SLO = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``tune`` options, on ``parser`` (a subcommand's parser or a standalone one)."""
    parser.add_argument("preset", metavar="PRESET", help="preset name or path to a preset TOML file")
    parser.add_argument(
        "--slo-p99", dest="slo_p99", type=float, default=None, metavar="MS",
        help="latency objective: P99 at or below MS milliseconds (default: the preset's slo_p99_ms)",
    )
    parser.add_argument(
        "--budget", type=float, default=None, metavar="S",
        help=f"wall-time budget in seconds; no trial starts that could end past it (default: {DEFAULT_BUDGET_S:g}; "
        f"{DEFAULT_CAPACITY_BUDGET_S:g} with --objective capacity, whose trials are rate searches)",
    )
    parser.add_argument(
        "--objective", choices=("auto", "capacity"), default="auto",
        help="auto: closed loop, the highest throughput under the SLO; open loop, the lowest P99 (default). "
        "capacity: the highest open-loop rate sustained under the SLO (see 'clawlet-tui capacity')",
    )
    parser.add_argument(
        "--params", default=",".join(DEFAULT_PARAMS), metavar="LIST",
        help=f"comma-separated engine fields to tune (default: {','.join(DEFAULT_PARAMS)})",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.toml", help="write the tuned preset (same load, chosen [engine])")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE", help="write every trial to FILE: .md, .json, .csv or .html (a chart)")
    parser.add_argument("--max-trials", dest="max_trials", type=int, default=None, metavar="N", help="stop after N trials")
    parser.add_argument("--warmup", type=float, default=1.0, metavar="S", help="seconds each trial warms up before measuring (default: 1)")
    parser.add_argument("--window", type=float, default=1.0, metavar="S", help="seconds per measurement window (default: 1)")
    parser.add_argument(
        "--max-windows", dest="max_windows", type=int, default=6, metavar="N",
        help="windows before an unstable trial ends anyway (default: 6; at least 3)",
    )
    parser.add_argument(
        "--search", choices=("hill", "grid"), default="hill",
        help="hill: noise-aware hill climb from the preset's config (default); grid: every config once",
    )
    parser.add_argument(
        "--margin", type=float, default=0.05, metavar="FRACTION",
        help="how much better a config must measure to replace the incumbent, the noise ignored (default: 0.05)",
    )


def run(args: argparse.Namespace, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Carry out ``tune`` with parsed ``args``; the exit code (see the module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        plan = _plan(args)
    except ClawletError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=err)
        return EXIT_BAD_INPUT if isinstance(exc, ConfigError) else exc.exit_code
    preset, objective, params, settings = plan
    space = SearchSpace(preset.config, params)
    print(f"Tuning {preset.name}: {preset.load.describe()}", file=out)
    print(f"Objective: {objective.describe()}", file=out)
    print(
        f"Space: {' x '.join(f'{a.name}({len(a.values)})' for a in space.axes)} = {space.size} configs; "
        f"budget {args.budget:g} s; trials {settings.warmup_s:g} s warm-up + {settings.window_s:g} s windows "
        f"until 3 agree within {settings.tolerance * 100:g}% (at most {settings.max_windows})",
        file=out,
    )
    print(file=out)
    from .output import table_header, table_row

    print(table_header(objective.goal), file=out, flush=True)

    def on_trial(trial: Trial) -> None:
        print(table_row(trial), file=out, flush=True)

    from .tuner import tune

    outcome = run_with_signals(
        lambda: tune(
            preset, objective, params=params, budget_s=args.budget, settings=settings,
            margin=args.margin, max_trials=args.max_trials, on_trial=on_trial, method=args.search,
        ),
        PROG, err,
    )
    if isinstance(outcome, int):
        return outcome
    result, signal_code = outcome
    code = _finish(args, result, out, err)
    if signal_code is not None:
        print(
            f"{PROG}: interrupted by {'SIGTERM' if signal_code == EXIT_TERMINATED else 'SIGINT'}: the load stopped and "
            "the engine drained; the best so far is above (and in --out / --report when given)",
            file=err,
        )
        return signal_code
    return code


def run_with_signals(make: Callable[[], Awaitable[Any]], prog: str, err: IO[str]) -> tuple[Any, int | None] | int:
    """``asyncio.run(make())`` with SIGTERM treated as Ctrl+C is (the main CLI's :class:`SignalWatch`).

    ``make()`` returns a result with an ``interrupted`` flag after a signal, having
    stopped the load and drained the engine itself.  Returns ``(result, None)``, or
    ``(result, 130 / 143)`` when a signal interrupted it; or an exit code alone when it
    ended with nothing to show (a signal while starting, an expected error).
    """
    from ..cli import SignalWatch, _Stopped  # imported here: the CLI imports this module

    signals = SignalWatch()
    try:
        result = signals.run(make)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted before anything was measured", file=err)
        return EXIT_INTERRUPTED
    except _Stopped as exc:
        print(f"\n{prog}: {exc}", file=err)
        return exc.exit_code
    except ClawletError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=err)
        return exc.exit_code
    return result, (signals.exit_code if getattr(result, "interrupted", False) else None)


def _plan(args: argparse.Namespace) -> tuple[Preset, Objective, tuple[str, ...], MeasureSettings]:
    """Everything checked before the engine starts: the preset, objective, params, settings."""
    from ..load import load_preset
    from ..report import format_for_path

    params = parse_params(args.params)
    if args.slo_p99 is not None and not args.slo_p99 > 0:
        raise ConfigError(f"--slo-p99 must be a number of milliseconds > 0, got {args.slo_p99:g}", field="slo_p99")
    if args.max_trials is not None and args.max_trials < 2:
        raise ConfigError(f"--max-trials must be at least 2 (the start config and one more), got {args.max_trials}", field="max_trials")
    if not 0 <= args.margin < 1:
        raise ConfigError(f"--margin must be a fraction in [0, 1), got {args.margin:g}", field="margin")
    settings = MeasureSettings(warmup_s=args.warmup, window_s=args.window, max_windows=args.max_windows)
    goal = "capacity" if args.objective == "capacity" else "throughput"
    if args.budget is None:
        args.budget = DEFAULT_CAPACITY_BUDGET_S if goal == "capacity" else DEFAULT_BUDGET_S
    check_budget(args.budget, settings, goal)
    if args.out is not None and args.out.suffix != ".toml":
        raise ConfigError(f"--out must name a .toml file, got {str(args.out)!r}", field="out")
    if args.report is not None:
        format_for_path(args.report)
    preset = load_preset(args.preset)
    slo = args.slo_p99 if args.slo_p99 is not None else preset.slo_p99_ms
    if slo is None:
        raise ConfigError(f"--slo-p99 is required: preset {preset.name!r} has no slo_p99_ms", field="slo_p99")
    check_load(preset, goal)
    objective = Objective(slo, "capacity") if goal == "capacity" else Objective.for_load(slo, preset.load.mode)
    return preset, objective, params, settings


def _finish(args: argparse.Namespace, result: TuneResult, out: IO[str], err: IO[str]) -> int:
    from .output import improvement, summary_lines
    from .presetfile import write_tuned_preset
    from .report import save_tune_report

    for line in summary_lines(result):
        print(line, file=out)
    code = EXIT_OK if result.best_point is not None else EXIT_NO_CONFIG_MET_SLO
    try:
        if args.report is not None:
            save_tune_report(args.report, result)
            print(f"Report: {args.report}", file=out)
        if args.out is not None:
            if result.best_point is None:
                print(f"--out {args.out} not written: no config met the SLO", file=out)
            else:
                write_tuned_preset(
                    args.out, result.preset, dict(result.best_point),
                    slo_p99_ms=result.objective.slo_p99_ms, summary=improvement(result),
                )
                print(f"Tuned preset: {args.out} (run it: clawlet-tui run --preset {args.out})", file=out)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {exc.filename or ''}: {exc.strerror or exc}", file=err)
        return EXIT_WRITE_FAILED
    return code


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 2 (as the main CLI's parser)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(prog: str = "python -m clawlet_tui.tune") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Tune a preset's engine config on one live engine under the preset's own load: "
        "closed loop, the highest throughput with P99 <= SLO; open loop, the lowest P99.",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return run(args)
