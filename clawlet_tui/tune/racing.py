"""Racing: end a hill-climb trial early once it clearly cannot replace the incumbent.

Most of a hill climb's trials are neighbours that lose.  Measuring a loser until it is
stable (up to ``max_windows``) buys nothing: the climb only asks whether it beats the
incumbent by the margin.  So, as F-Race and successive halving do, a search trial ends
as soon as the answer is clear:

* before the stability windows are in: two windows that each broke the SLO (an error,
  or P99 over it) while the incumbent meets it;
* from ``min_windows`` on: the windows so far, merged, do not beat the incumbent by the
  margin even with the stability tolerance (10%) granted in their favour, or they broke
  the SLO the incumbent meets.

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


def clearly_losing(
    objective: Objective, incumbent: Estimate, settings: MeasureSettings, margin: float
) -> Callable[[Sequence[Window]], bool] | None:
    """The ``give_up`` rule for a trial racing ``incumbent`` (None: do not race)."""
    if objective.goal == "capacity":
        return None
    tolerance = settings.tolerance
    if not incumbent.feasible:
        return _closer_to_the_slo(objective, incumbent, settings, margin)

    def broke_slo(w: Window) -> bool:
        return w.errors > 0 or w.p99_ms > objective.slo_p99_ms

    def give_up(windows: Sequence[Window]) -> bool:
        if len(windows) < settings.min_windows:
            return sum(broke_slo(w) for w in windows) >= 2
        merged = Measurement.from_windows(windows[0], windows, stable=False)
        if not objective.meets(merged):
            return True
        if objective.goal == "latency":
            return merged.p99_ms * (1.0 - tolerance) >= incumbent.p99_ms * (1.0 - margin)
        return merged.throughput_rps * (1.0 + tolerance) <= incumbent.throughput_rps * (1.0 + margin)

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
