"""MemoryOptimizer: keeps the process under ``max_memory_usage`` of its memory budget.

Usage is the process's resident set size divided by the budget (by default the
machine's total memory; settable, e.g. 512 MB, so the behaviour shows on a large
machine).  When usage is above the threshold, or on demand, it runs a full garbage
collection and asks its owner to shrink caches (``shrink`` callback: drop that fraction
of L1), then measures RSS again.  "Freed" is RSS before minus RSS after, as measured;
it can be 0 because an allocator does not always hand memory back to the OS.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from .snapshot import MemoryStats


@dataclass(frozen=True)
class GCResult:
    """What one optimizer run did."""

    manual: bool
    rss_before: int
    rss_after: int
    objects_collected: int
    l1_entries_dropped: int

    @property
    def freed_bytes(self) -> int:
        return self.rss_before - self.rss_after


class MemoryOptimizer:
    def __init__(
        self,
        *,
        threshold: float,
        budget_bytes: int | None,
        shrink: Callable[[float], int] | None = None,
        shrink_fraction: float = 0.5,
    ) -> None:
        self._process = psutil.Process()
        self.system_total = psutil.virtual_memory().total
        self.threshold = threshold
        self.budget_bytes = budget_bytes or self.system_total
        self._shrink = shrink
        self.shrink_fraction = shrink_fraction
        self.triggers = 0
        self.manual_runs = 0
        self.freed_total = 0
        self.last_freed = 0
        self.objects_collected_total = 0
        self.l1_dropped_total = 0

    def configure(self, *, threshold: float, budget_bytes: int | None) -> None:
        self.threshold = threshold
        self.budget_bytes = budget_bytes or self.system_total

    def rss(self) -> int:
        return int(self._process.memory_info().rss)

    def usage(self) -> float:
        return self.rss() / self.budget_bytes

    def check(self) -> GCResult | None:
        """Run the optimizer if usage is above the threshold; the result, or None."""
        if self.usage() > self.threshold:
            return self.run(manual=False)
        return None

    def run(self, *, manual: bool) -> GCResult:
        before = self.rss()
        dropped = self._shrink(self.shrink_fraction) if self._shrink is not None else 0
        collected = gc.collect()
        after = self.rss()
        result = GCResult(manual, before, after, collected, dropped)
        if manual:
            self.manual_runs += 1
        else:
            self.triggers += 1
        self.last_freed = result.freed_bytes
        self.freed_total += result.freed_bytes
        self.objects_collected_total += collected
        self.l1_dropped_total += dropped
        return result

    def stats(self) -> MemoryStats:
        rss = self.rss()
        system = psutil.virtual_memory()
        return MemoryStats(
            rss_bytes=rss,
            budget_bytes=self.budget_bytes,
            usage_fraction=rss / self.budget_bytes,
            threshold=self.threshold,
            system_percent=float(system.percent),
            system_total_bytes=int(system.total),
            gc_triggers=self.triggers,
            manual_gc=self.manual_runs,
            freed_bytes_total=self.freed_total,
            last_freed_bytes=self.last_freed,
            objects_collected_total=self.objects_collected_total,
            l1_entries_dropped_total=self.l1_dropped_total,
        )
