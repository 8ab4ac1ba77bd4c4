"""The Pareto front of throughput (higher is better) against P99 (lower is better).

A point is on the front when no other point is at least as good on both and strictly
better on one.  Equal points are all kept (none dominates the other).  O(n log n):
sort by throughput, highest first, and keep each point whose P99 is lower than every
P99 seen at a strictly higher throughput, and no higher than the best at the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TypeVar

T = TypeVar("T")


def pareto_front(
    items: Sequence[T],
    # the defaults are for (throughput, p99) pairs; T itself is unbounded, hence the ignores
    throughput: Callable[[T], float] = lambda item: item[0],  # type: ignore[index]
    p99: Callable[[T], float] = lambda item: item[1],  # type: ignore[index]
) -> list[T]:
    """The items on the front, by throughput from highest to lowest (input order within ties)."""
    order = sorted(range(len(items)), key=lambda i: -throughput(items[i]))
    front: list[T] = []
    best_above = float("inf")  # lowest P99 among strictly higher throughputs
    for _, group in groupby(order, key=lambda i: throughput(items[i])):
        members = list(group)
        lowest = min(p99(items[i]) for i in members)
        if lowest < best_above:
            front.extend(items[i] for i in members if p99(items[i]) == lowest)
            best_above = lowest
    return front
