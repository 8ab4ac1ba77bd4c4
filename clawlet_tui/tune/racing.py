"""Racing: end a hill-climb trial early once it clearly cannot replace the incumbent, or clearly will.

Most of a hill climb's trials are neighbours that lose.  Measuring a loser until it is
stable (up to ``max_windows``) buys nothing: the climb only asks whether it beats the
incumbent by the margin.  So, as F-Race and successive halving do, a search trial ends
as soon as the answer is clear:

* before the stability windows are in: two windows that each broke the SLO (an error,
  or P99 over it) while the incumbent meets it; or the windows so far, merged, fall
  short of the incumbent by far more than a window's noise: with ``k`` windows of
  ``min_windows`` (3) in, the tolerance granted in their favour is
  ``(min_windows - k + 1)`` times the stability tolerance, 30% after one window and
  20% after two;
* from ``min_windows`` on: the windows so far, merged, do not beat the incumbent by the
  margin even with the stability tolerance (10%) granted in their favour, or they broke
  the SLO the incumbent meets.

The same reasoning ends a trial that clearly *wins*: every window so far met the SLO and,
merged, they beat the incumbent by the margin even with the same tolerance counted
against them.  The climb moves on at once; the winner's figures are those of its few
windows, and a lucky one is caught where every pick is, by the re-measurement of the
best before it is declared best.

Why one window can be enough: most losing neighbours in a climb lose by far (a batch of
4 where 32 serves 64 clients: a fifth of the throughput), and every window they are
measured for is wall time the search does not use.  A neighbour within the wider
tolerance is measured on, and decided at three windows as before.

While the incumbent itself breaks the SLO (the climb then ranks by how far a config
misses it) the same rule applies to that shortfall, and a trial that meets the SLO so far
is never cut.  Never used for the start config, a re-measurement, or the grid (the
reference measures everything in full).  A cut trial is marked (``Measurement.cut``) and its figures are
those of the windows it had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .measure import Measurement, MeasureSettings, Window
from .objective import Estimate, Objective


def clearly_decided(
    objective: Objective, incumbent: Estimate, settings: MeasureSettings, margin: float
) -> Callable[[Sequence[Window]], bool] | None:
    """The ``give_up`` rule for a trial racing ``incumbent``: True once it clearly loses or
    clearly wins (None: do not race)."""
    if objective.goal == "capacity":
        return None
    tolerance = settings.tolerance
    if not incumbent.feasible:
        return _closer_to_the_slo(objective, incumbent, settings, margin)

    def broke_slo(w: Window) -> bool:
        return w.errors > 0 or w.p99_ms > objective.slo_p99_ms

    def give_up(windows: Sequence[Window]) -> bool:
        early = len(windows) < settings.min_windows
        if early and sum(broke_slo(w) for w in windows) >= 2:
            return True
        merged = Measurement.from_windows(windows[0], windows, stable=False)
        if not early and not objective.meets(merged):
            return True
        # fewer windows, more benefit of the doubt
        granted = tolerance * max(settings.min_windows - len(windows) + 1, 1)
        wins = not any(broke_slo(w) for w in windows) and objective.meets(merged)
        if objective.goal == "latency":
            if wins and merged.p99_ms * (1.0 + granted) <= incumbent.p99_ms * (1.0 - margin):
                return True
            return merged.p99_ms * max(1.0 - granted, 0.0) >= incumbent.p99_ms * (1.0 - margin)
        if wins and merged.throughput_rps * (1.0 - granted) >= incumbent.throughput_rps * (1.0 + margin):
            return True
        return merged.throughput_rps * (1.0 + granted) <= incumbent.throughput_rps * (1.0 + margin)

    return give_up


def _closer_to_the_slo(
    objective: Objective, incumbent: Estimate, settings: MeasureSettings, margin: float
) -> Callable[[Sequence[Window]], bool]:
    """While nothing meets the SLO the climb ranks configs by how far they miss it: cut a
    trial that, from ``min_windows`` on, misses by more than the incumbent even with the
    tolerance granted (never one that meets the SLO so far: it would win)."""
    incumbent_shortfall = objective.shortfall(incumbent)

    def give_up(windows: Sequence[Window]) -> bool:
        if len(windows) < settings.min_windows:
            return False
        merged = objective.estimate([Measurement.from_windows(windows[0], windows, stable=False)])
        if merged.feasible:
            return False
        return objective.shortfall(merged) * (1.0 - settings.tolerance) >= incumbent_shortfall * (1.0 - margin)

    return give_up
