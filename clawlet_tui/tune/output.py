"""What ``tune`` prints: the live table of trials, the Pareto front, the chosen config.

Plain text for a terminal or a log (no colour, no cursor moves), so the same lines read
well when stdout is a file.  Every figure is one measured in the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from .objective import CAPACITY_MIN_SUCCESS, Estimate
from .pareto import pareto_front
from .space import Point, describe_point, format_value
from .tuner import Trial, TuneResult

_COLUMNS = (("#", 3), ("role", 10), ("thr req/s", 10), ("P50 ms", 8), ("P99 ms", 8), ("ok %", 6), ("SLO", 4), ("windows", 11))


def table_header(goal: str = "throughput") -> str:
    """``--objective capacity`` shows each config's capacity where the others show throughput
    (P50 and P99 are then those measured at that rate)."""
    columns = (_COLUMNS[:2] + (("cap req/s", 10),) + _COLUMNS[3:]) if goal == "capacity" else _COLUMNS
    head = " ".join(f"{name:>{width}}" if i != 1 else f"{name:<{width}}" for i, (name, width) in enumerate(columns))
    return f"{head}  config"


def table_row(trial: Trial) -> str:
    m = trial.measurement
    if trial.capacity is not None:
        windows = f"{len(trial.capacity.steps)} rates"
    else:
        windows = f"{len(m.windows)} {'stable' if m.stable else 'cut' if m.cut else 'unstable'}"
    cells = (
        f"{trial.number:>3}",
        f"{trial.role:<10}",
        f"{trial.figure_rps:>10.1f}",
        f"{m.p50_ms:>8.2f}",
        f"{m.p99_ms:>8.2f}",
        f"{m.success * 100:>6.1f}",
        f"{'yes' if trial.meets_slo else 'no':>4}",
        f"{windows:>11}",
    )
    return " ".join(cells) + "  " + describe_point(trial.point)


@dataclass(frozen=True)
class FrontPoint:
    point: Point
    estimate: Estimate


def front(result: TuneResult) -> list[FrontPoint]:
    """Configs on the throughput / P99 front, among those whose every request succeeded."""
    least = CAPACITY_MIN_SUCCESS if result.objective.goal == "capacity" else 1.0
    candidates = [FrontPoint(p, e) for p, e in result.search.estimates if e.success >= least and e.throughput_rps > 0]
    return pareto_front(candidates, lambda f: f.estimate.throughput_rps, lambda f: f.estimate.p99_ms)


#: what tune says instead of an improvement when the start config stays (``TuneResult.kept_start``)
KEPT_START = "Kept the start config: measured again after the search, no config beat it by more than the noise margin"


def improvement(result: TuneResult) -> str:
    """``throughput 812 -> 1460 req/s (1.80x), P99 9.1 -> 7.7 ms``: chosen against the start config
    (:data:`KEPT_START` when the start config stays: there is no other config to compare)."""
    if result.kept_start:
        return KEPT_START
    best = result.best_estimate
    start = result.start_estimate
    if best is None or start is None:
        return "no config met the SLO"
    figure = "capacity" if result.objective.goal == "capacity" else "throughput"
    thr = f"{figure} {start.throughput_rps:.0f} -> {best.throughput_rps:.0f} req/s"
    p99 = f"P99 {start.p99_ms:.2f} -> {best.p99_ms:.2f} ms"
    if result.objective.goal != "latency":
        ratio = best.throughput_rps / start.throughput_rps if start.throughput_rps > 0 else float("inf")
        return f"{thr} ({ratio:.2f}x), {p99}"
    change = (1.0 - best.p99_ms / start.p99_ms) * 100.0 if start.p99_ms > 0 else 0.0
    direction = "lower" if change >= 0 else "higher"
    return f"{p99} ({abs(change):.0f}% {direction}), {thr}"


def config_changes(result: TuneResult) -> list[tuple[str, str, str]]:
    """``(field, start, chosen)`` for every tuned field, changed or not."""
    if result.best_point is None:
        return []
    best = dict(result.best_point)
    return [(name, format_value(name, value), format_value(name, best[name])) for name, value in result.start_point]


def summary_lines(result: TuneResult) -> list[str]:
    if result.objective.goal == "capacity":
        lines = ["", "Pareto front (capacity vs P99 at that rate, configs that sustained a rate):"]
    else:
        lines = ["", "Pareto front (throughput vs P99, configs with 100% success):"]
    points = front(result)
    if not points:
        lines.append("  (none: every config had errors)")
    for fp in points:
        e = fp.estimate
        mark = " <- chosen" if fp.point == result.best_point else ""
        lines.append(f"  {e.throughput_rps:10.1f} req/s  P99 {e.p99_ms:8.2f} ms  {describe_point(fp.point)}{mark}")
    lines.append("")
    best = result.best_estimate
    if result.best_point is None or best is None:
        lowest = min((e.p99_ms for _, e in result.search.estimates), default=0.0)
        success = f">= {CAPACITY_MIN_SUCCESS * 100:g}%" if result.objective.goal == "capacity" else "100%"
        lines.append(
            f"No config met the SLO (P99 <= {result.objective.slo_p99_ms:g} ms with {success} success); "
            f"the lowest P99 reached was {lowest:.2f} ms."
        )
    else:
        confirmed = "re-measured" if result.search.confirmed else "not re-measured: the budget ran out"
        lines.append(f"Chosen ({best.count} measurement{'s' if best.count != 1 else ''}, {confirmed}):")
        for name, before, after in config_changes(result):
            lines.append(f"  {name:<16} {before:>8} -> {after}" + ("" if before != after else "  (unchanged)"))
        if result.kept_start:
            lines.append(KEPT_START)
        else:
            again = " (start config measured again after the search)" if result.start_again is not None else ""
            lines.append(f"Against the start config, same run{again}: {improvement(result)}")
    if result.interrupted:
        lines.append("Interrupted: the figures above are the best found before the signal")
    lines.append(
        f"{len(result.trials)} trials in {result.wall_s:.0f} s (budget {result.budget_s:g} s, search {result.search.ended}); "
        f"requests: {result.sent} sent, {result.completed} succeeded, {result.failed} failed"
        + ("" if result.accounted else "  ACCOUNTING MISMATCH")
    )
    return lines


def trial_numbers_on_front(result: TuneResult) -> set[int]:
    on = {fp.point for fp in front(result)}
    return {t.number for t in result.trials if t.point in on}
