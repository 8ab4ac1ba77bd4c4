"""A noise-aware hill climb over a :class:`~.space.SearchSpace`, like Model Analyzer's quick mode.

From the start config it tries the neighbours of the incumbent one axis at a time (the
next value down and up, up first on an axis whose last winning move went up; every
other value of an unordered axis).  A neighbour that
beats the incumbent by more than ``margin`` (relative, the measurement noise) becomes
the incumbent, and the climb keeps going the same way along that axis while it keeps
winning, in strides that double (2, 4, ... values on; the axis's end if nearer).  When
a stride loses, the value one step on, which it skipped, is tried before the climb
moves to the next axis: on an axis with one peak the walk ends where single steps
would, in fewer trials when the peak is far.  When no neighbour wins, the incumbent is measured again, and it is
declared best only if, pooled over its measurements, it still ranks first among every
config measured; otherwise the climb goes on from the one that does.

Guarantees:

* a point is measured at most once by the climb itself, plus one re-measurement when it
  is about to be declared best (so at most twice);
* no search trial starts unless ``can_start()`` says so (the caller's wall-time budget
  and trial cap).  When it says no, the best so far is re-measured if it was measured
  only once and ``can_confirm()`` allows that one trial (the caller keeps a trial's time
  in reserve for it); the search then ends, the best marked unconfirmed unless it was
  re-measured and still ranks first;
* the chosen point is feasible under the objective (every one of its measurements met
  the SLO) or there is none.

``evaluate(point, role)`` is async and returns something with ``throughput_rps``,
``p99_ms`` and ``success``, so a synthetic objective drives the search in tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .objective import Estimate, Measured, Objective
from .space import Point, SearchSpace

Evaluate = Callable[[Point, str], Awaitable[Measured]]

#: roles of a trial
START, SEARCH, REMEASURE = "start", "search", "re-measure"


class BudgetSpent(Exception):
    """``can_start`` refused the next trial."""


@dataclass(frozen=True)
class SearchResult:
    #: the best feasible point (None: no measured point met the SLO)
    best: Point | None
    #: the best point was re-measured and still ranked first
    confirmed: bool
    #: every measured point with its pooled estimate, in first-measured order
    estimates: tuple[tuple[Point, Estimate], ...]
    trials: int
    #: why the search ended: "converged", "budget" or "interrupted"
    ended: str


class HillClimb:
    def __init__(self, space: SearchSpace, objective: Objective, *, margin: float = 0.05) -> None:
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}")
        self.space = space
        self.objective = objective
        self.margin = margin
        self.results: dict[Point, list[Measured]] = {}
        self.trials = 0
        self._evaluate: Evaluate | None = None
        self._can_start: Callable[[], bool] = lambda: True
        #: per ordered axis, whether its last winning move went up (tried first next pass)
        self._won_upward: dict[str, bool] = {}

    # -- bookkeeping --------------------------------------------------------------------

    def estimate(self, point: Point) -> Estimate:
        return self.objective.estimate(self.results[point])

    def best_point(self, *, feasible_only: bool = False) -> Point | None:
        """The measured point that ranks first on its pooled estimate."""
        candidates = [p for p in self.results if not feasible_only or self.estimate(p).feasible]
        if not candidates:
            return None
        return max(candidates, key=lambda p: self.objective.key(self.estimate(p)))

    async def _measure(self, point: Point, role: str) -> Estimate:
        if not self._can_start():
            raise BudgetSpent
        assert self._evaluate is not None
        result = await self._evaluate(point, role)
        self.trials += 1
        self.results.setdefault(point, []).append(result)
        return self.estimate(point)

    async def _known(self, point: Point) -> Estimate:
        """The point's estimate, measuring it first if it never was."""
        if point in self.results:
            return self.estimate(point)
        return await self._measure(point, SEARCH)

    def _wins(self, a: Point, b: Point) -> bool:
        return self.objective.better(self.estimate(a), self.estimate(b), self.margin)

    # -- the climb ----------------------------------------------------------------------

    async def run(
        self,
        evaluate: Evaluate,
        can_start: Callable[[], bool] = lambda: True,
        can_confirm: Callable[[], bool] = lambda: False,
    ) -> SearchResult:
        self._evaluate, self._can_start = evaluate, can_start
        ended = "converged"
        incumbent = self.space.start
        try:
            await self._measure(incumbent, START)
            while True:
                moved = await self._climb_pass(incumbent)
                if moved is not None:
                    incumbent = moved
                    continue
                leader = self.best_point()
                assert leader is not None
                if leader != incumbent:
                    incumbent = leader  # a re-measure demoted the incumbent: climb from the leader
                    continue
                if len(self.results[incumbent]) >= 2:
                    break  # re-measured and still first
                await self._measure(incumbent, REMEASURE)
        except BudgetSpent:
            ended = "budget"
            leader = self.best_point(feasible_only=True)
            if leader is not None and len(self.results[leader]) < 2 and can_confirm():
                self._can_start = lambda: True
                await self._measure(leader, REMEASURE)
        return self.result(ended)

    def result(self, ended: str) -> SearchResult:
        """The search as it stands: also what an interrupted search has found so far."""
        best = self.best_point(feasible_only=True)
        confirmed = best is not None and len(self.results[best]) >= 2 and best == self.best_point()
        return SearchResult(
            best=best,
            confirmed=confirmed,
            estimates=tuple((p, self.estimate(p)) for p in self.results),
            trials=self.trials,
            ended=ended,
        )

    async def _climb_pass(self, incumbent: Point) -> Point | None:
        """Try each axis's neighbours of ``incumbent``; the new incumbent, or None if none wins."""
        values = dict(incumbent)
        for axis in self.space.axes:
            neighbours = axis.neighbours(values[axis.name])
            if axis.ordered and self._won_upward.get(axis.name):
                neighbours.reverse()  # the way this axis last won first: it often wins again
            for value in neighbours:
                candidate = self.space.moved(incumbent, axis.name, value)
                await self._known(candidate)
                if not self._wins(candidate, incumbent):
                    continue
                if axis.ordered:  # keep going the way that won, in strides that double
                    direction = 1 if axis.values.index(value) > axis.values.index(values[axis.name]) else -1
                    self._won_upward[axis.name] = direction > 0
                    stride = 2
                    while (further := axis.leap(dict(candidate)[axis.name], direction, stride)) is not None:
                        here = dict(candidate)[axis.name]
                        nxt = self.space.moved(candidate, axis.name, further)
                        await self._known(nxt)
                        if self._wins(nxt, candidate):
                            candidate, stride = nxt, stride * 2
                            continue
                        # overshot: the value one step on, which the stride skipped, may still win
                        one = axis.step(here, direction)
                        if one is not None and one != further:
                            nxt = self.space.moved(candidate, axis.name, one)
                            await self._known(nxt)
                            if self._wins(nxt, candidate):
                                candidate = nxt
                        break
                return candidate
        return None


class GridSearch(HillClimb):
    """Every point of the space once, the start first: the reference a search is measured against.

    Shares the hill climb's bookkeeping, so its result reads the same; the best is the
    first-ranked point on one measurement each (``confirmed`` is False).
    """

    async def run(
        self,
        evaluate: Evaluate,
        can_start: Callable[[], bool] = lambda: True,
        can_confirm: Callable[[], bool] = lambda: False,
    ) -> SearchResult:
        """As :meth:`HillClimb.run`; ``can_confirm`` is never asked: a grid measures each point once."""
        self._evaluate, self._can_start = evaluate, can_start
        ended = "converged"
        try:
            await self._measure(self.space.start, START)
            for point in self.space.grid():
                await self._known(point)
        except BudgetSpent:
            ended = "budget"
        return dataclasses.replace(self.result(ended), confirmed=False)


#: search methods by name (``tune --search``)
METHODS = {"hill": HillClimb, "grid": GridSearch}

