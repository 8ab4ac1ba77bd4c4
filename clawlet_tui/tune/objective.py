"""What ``tune`` optimizes, and how measurements of one config are pooled.

* Closed-loop load (N clients): the highest throughput with P99 <= SLO and every
  request successful (Model Analyzer's "max throughput within a latency budget").
* Open-loop load (a fixed offered rate): the lowest P99 at that rate, every request
  successful; a config that also keeps P99 <= SLO meets the objective.
* ``--objective capacity``: the highest open-loop rate the config sustains with P99 <= SLO
  and success >= 99.9% (:mod:`.capacity`); a trial's "throughput" is that rate.

A config is *feasible* when every one of its measurements succeeded fully and kept
P99 <= SLO; only a feasible config can be chosen, so tuning never recommends a config
that broke the SLO in its own measurement.  Infeasible configs are still ranked (by how
far they miss), so a search that starts outside the SLO climbs towards it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..engine.errors import ConfigError

GOALS = ("throughput", "latency", "capacity")
#: the success a capacity measurement needs (``capacity``'s rule); the other goals need 100%
CAPACITY_MIN_SUCCESS = 0.999


class Measured(Protocol):
    """What the objective reads from a measurement (a :class:`~.measure.Measurement` or a stand-in)."""

    @property
    def throughput_rps(self) -> float: ...

    @property
    def p99_ms(self) -> float: ...

    @property
    def success(self) -> float: ...


@dataclass(frozen=True)
class Estimate:
    """A config's figures pooled over its measurements (means; the worst success)."""

    throughput_rps: float
    p99_ms: float
    success: float
    #: every measurement met the SLO with full success
    feasible: bool
    count: int


@dataclass(frozen=True)
class Objective:
    slo_p99_ms: float
    #: "throughput" (closed loop: maximize it), "latency" (open loop: minimize P99) or
    #: "capacity" (maximize the sustained open-loop rate)
    goal: str = "throughput"

    def __post_init__(self) -> None:
        if not isinstance(self.slo_p99_ms, (int, float)) or isinstance(self.slo_p99_ms, bool) or not 0 < self.slo_p99_ms < float("inf"):
            raise ConfigError(f"--slo-p99 must be a number of milliseconds > 0, got {self.slo_p99_ms!r}", field="slo_p99_ms")
        if self.goal not in GOALS:
            raise ConfigError(f"goal must be one of {', '.join(GOALS)}, got {self.goal!r}", field="goal")

    @classmethod
    def for_load(cls, slo_p99_ms: float, load_mode: str) -> Objective:
        return cls(slo_p99_ms, "throughput" if load_mode == "closed" else "latency")

    def describe(self) -> str:
        if self.goal == "throughput":
            return f"highest throughput with P99 <= {self.slo_p99_ms:g} ms and 100% success (closed loop)"
        if self.goal == "capacity":
            return (
                f"highest capacity: the open-loop rate sustained with P99 <= {self.slo_p99_ms:g} ms "
                f"and success >= {CAPACITY_MIN_SUCCESS * 100:g}%"
            )
        return f"lowest P99 at the offered rate with 100% success, P99 <= {self.slo_p99_ms:g} ms to meet the SLO (open loop)"

    def meets(self, m: Measured) -> bool:
        """One measurement met the SLO: full success, something succeeded, P99 within the SLO."""
        least = CAPACITY_MIN_SUCCESS if self.goal == "capacity" else 1.0
        return m.success >= least and m.throughput_rps > 0 and m.p99_ms <= self.slo_p99_ms

    def estimate(self, measurements: Sequence[Measured]) -> Estimate:
        n = len(measurements)
        if n == 0:
            raise ValueError("no measurement to estimate from")
        return Estimate(
            throughput_rps=sum(m.throughput_rps for m in measurements) / n,
            p99_ms=sum(m.p99_ms for m in measurements) / n,
            success=min(m.success for m in measurements),
            feasible=all(self.meets(m) for m in measurements),
            count=n,
        )

    def value(self, e: Estimate) -> float:
        """Higher is better, among feasible estimates: throughput, or minus P99."""
        return -e.p99_ms if self.goal == "latency" else e.throughput_rps

    def shortfall(self, e: Estimate) -> float:
        """How far an estimate misses (0 for a feasible one): failures first, then P99 over the SLO."""
        if e.feasible:
            return 0.0
        return (1.0 - e.success) * 1000.0 + (1000.0 if e.throughput_rps <= 0 else 0.0) + e.p99_ms / self.slo_p99_ms

    def key(self, e: Estimate) -> tuple[int, float]:
        """Sort key, larger is better: feasible before infeasible, then value or shortfall."""
        return (1, self.value(e)) if e.feasible else (0, -self.shortfall(e))

    def better(self, a: Estimate, b: Estimate, margin: float = 0.0) -> bool:
        """``a`` beats ``b`` by more than ``margin`` (relative): the noise a search ignores."""
        if a.feasible != b.feasible:
            return a.feasible
        if a.feasible:
            if self.goal != "latency":
                return a.throughput_rps > b.throughput_rps * (1.0 + margin)
            return a.p99_ms < b.p99_ms * (1.0 - margin)
        return self.shortfall(a) < self.shortfall(b) * (1.0 - margin)
