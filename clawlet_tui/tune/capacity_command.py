"""``clawlet-tui capacity PRESET --slo-p99 MS``: the command's arguments and its run.

Mounted by the main CLI as a subcommand (``set_defaults(func=run)``), as ``tune`` is.
Exit codes, as ``tune``'s: 0 a capacity was found (``--report`` written); 2 bad input,
one line naming what and why; 1 no rate was sustained (the curve and the report are
still written), or a file could not be written; 130 / 143 stopped by Ctrl+C / SIGTERM,
after the load stopped and the engine drained, with what was found so far printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..engine.errors import ClawletError, ConfigError
from .capacity import DEFAULT_MAX_RPS, DEFAULT_RESOLUTION, CapacityTarget, RateStep, check_rates
from .capacity_live import CapacityResult, default_start_rps
from .command import EXIT_BAD_INPUT, EXIT_INTERRUPTED, _one_line, run_with_signals
from .measure import MeasureSettings

if TYPE_CHECKING:  # pragma: no cover
    from ..load import Preset

PROG = "clawlet-tui capacity"
EXIT_OK = 0
EXIT_NOTHING_SUSTAINED = 1
EXIT_WRITE_FAILED = 1
DEFAULT_BUDGET_S = 180.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preset", metavar="PRESET", help="preset name or path to a preset TOML file (its [engine] is the config measured)")
    parser.add_argument(
        "--slo-p99", dest="slo_p99", type=float, default=None, metavar="MS",
        help="P99 at or below MS milliseconds, from the intended send time (default: the preset's slo_p99_ms)",
    )
    parser.add_argument(
        "--resolution", type=float, default=DEFAULT_RESOLUTION, metavar="FRACTION",
        help=f"stop when the highest passing and lowest failing rate are within this fraction (default: {DEFAULT_RESOLUTION:g})",
    )
    parser.add_argument("--start-rps", dest="start_rps", type=float, default=None, metavar="RPS",
                        help="first rate tried (default: an open-loop preset's rate, else 100)")
    parser.add_argument("--max-rps", dest="max_rps", type=float, default=DEFAULT_MAX_RPS, metavar="RPS",
                        help=f"never offer more than this (default: {DEFAULT_MAX_RPS:g})")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, metavar="S",
                        help=f"wall-time budget in seconds; no rate starts that could end past it (default: {DEFAULT_BUDGET_S:g})")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE", help="write every step to FILE: .md, .json, .csv or .html (a chart of the curve)")
    parser.add_argument("--warmup", type=float, default=1.0, metavar="S", help="seconds each rate warms up before measuring (default: 1)")
    parser.add_argument("--window", type=float, default=1.0, metavar="S", help="seconds per measurement window (default: 1)")
    parser.add_argument("--max-windows", dest="max_windows", type=int, default=6, metavar="N",
                        help="windows before an unstable rate ends anyway (default: 6; at least 3)")


def _plan(args: argparse.Namespace) -> tuple[Preset, CapacityTarget, MeasureSettings, float]:
    from ..load import load_preset
    from ..report import format_for_path

    if args.slo_p99 is not None and not args.slo_p99 > 0:
        raise ConfigError(f"--slo-p99 must be a number of milliseconds > 0, got {args.slo_p99:g}", field="slo_p99")
    settings = MeasureSettings(warmup_s=args.warmup, window_s=args.window, max_windows=args.max_windows)
    least = 2 * settings.max_trial_s
    if not least <= args.budget <= 7 * 86400:
        raise ConfigError(f"--budget must be at least {least:g} s (two rates at their longest), got {args.budget:g}", field="budget")
    if args.report is not None:
        format_for_path(args.report)
    preset = load_preset(args.preset)
    slo = args.slo_p99 if args.slo_p99 is not None else preset.slo_p99_ms
    if slo is None:
        raise ConfigError(f"--slo-p99 is required: preset {preset.name!r} has no slo_p99_ms", field="slo_p99")
    start = args.start_rps if args.start_rps is not None else default_start_rps(preset)
    check_rates(start, args.resolution, args.max_rps)
    return preset, CapacityTarget(slo), settings, start


def run(args: argparse.Namespace, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Carry out ``capacity`` with parsed ``args``; the exit code (see the module docstring)."""
    from .capacity_live import describe_probe_load, find_capacity
    from .capacity_report import describe_config, save_capacity_report, summary_lines, table_header, table_row

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        preset, target, settings, start = _plan(args)
    except ClawletError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=err)
        return EXIT_BAD_INPUT if isinstance(exc, ConfigError) else exc.exit_code
    print(f"Capacity of {preset.name}: {describe_config(preset.config)}", file=out)
    print(f"Load: {describe_probe_load(preset.load)}", file=out)
    print(
        f"Target: {target.describe()}; from {start:g} req/s, doubling, then bisecting to within {args.resolution:.0%}; "
        f"each rate {settings.warmup_s:g} s warm-up + {settings.window_s:g} s windows until 3 agree "
        f"(at most {settings.max_windows}); budget {args.budget:g} s",
        file=out,
    )
    print(file=out)
    print(table_header(), file=out, flush=True)

    def on_step(step: RateStep) -> None:
        print(table_row(step), file=out, flush=True)

    outcome = run_with_signals(
        lambda: find_capacity(
            preset, target, start_rps=start, resolution=args.resolution, max_rps=args.max_rps,
            budget_s=args.budget, settings=settings, on_step=on_step,
        ),
        PROG, err,
    )
    if isinstance(outcome, int):
        return outcome
    result, signal_code = outcome
    assert isinstance(result, CapacityResult)
    for line in summary_lines(result):
        print(line, file=out)
    code = EXIT_OK if result.search.capacity_rps is not None else EXIT_NOTHING_SUSTAINED
    if args.report is not None:
        try:
            save_capacity_report(args.report, result)
        except OSError as exc:
            print(f"{PROG}: error: cannot write {exc.filename or ''}: {exc.strerror or exc}", file=err)
            return EXIT_WRITE_FAILED if signal_code is None else signal_code
        print(f"Report: {args.report}", file=out)
    if result.interrupted:
        print(f"{PROG}: interrupted by {'SIGTERM' if signal_code == 143 else 'SIGINT'}: the load stopped and the engine drained; "
              "the figures above are what was measured before", file=err)
        return signal_code or EXIT_INTERRUPTED
    return code
