"""LatestSnapshot: the engine loop publishes snapshots, any thread reads the last one.

:meth:`ClawletEngine.snapshot` reads live engine state (counters, deques, histograms
that bin their pending values when read) while the engine loop changes it, so it must
run on the engine loop.  An HTTP server answers scrapes on threads of its own: it reads
this holder instead.

Whoever already takes snapshots on the engine loop (the dashboard's refresh, ``run``'s
progress line) calls :meth:`publish`; otherwise :meth:`start` adds a task that takes
one every ``interval_s`` (0.5 s by default, so a scrape sees figures at most that old).
:meth:`stop` publishes a last snapshot, so a scrape after the run agrees with its report.

Publishing swaps one reference to an immutable snapshot (a single attribute store,
atomic under the interpreter), so readers need no lock and never see a half-built one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..engine.snapshot import MetricsSnapshot


class LatestSnapshot:
    """The last :class:`MetricsSnapshot` published; :meth:`get` is safe from any thread."""

    def __init__(self, source: Callable[[], MetricsSnapshot] | None = None, *, interval_s: float = 0.5) -> None:
        """``source`` (e.g. ``engine.snapshot``) is only called on the loop :meth:`start` ran on."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.source = source
        self.interval_s = interval_s
        self._latest: MetricsSnapshot | None = None
        self._task: asyncio.Task[None] | None = None

    def publish(self, snapshot: MetricsSnapshot) -> None:
        self._latest = snapshot

    def get(self) -> MetricsSnapshot | None:
        """The last snapshot published, or None before the first."""
        return self._latest

    def start(self) -> None:
        """Publish a snapshot now and then every ``interval_s`` (call on the engine loop)."""
        if self.source is None:
            raise RuntimeError("LatestSnapshot.start needs a source")
        if self._task is not None:
            return
        self.publish(self.source())
        self._task = asyncio.get_running_loop().create_task(self._refresh(), name="clawlet-latest-snapshot")

    async def stop(self) -> None:
        """Stop refreshing and publish a last snapshot (on the engine loop)."""
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert self.source is not None
        self.publish(self.source())

    async def _refresh(self) -> None:
        assert self.source is not None
        while True:
            await asyncio.sleep(self.interval_s)
            self.publish(self.source())
