"""Observability: the engine's figures for tools outside clawlet.

- :mod:`.prometheus`: a ``prometheus_client`` collector over :class:`MetricsSnapshot`;
- :mod:`.server`: :class:`MetricsServer`, ``/metrics`` over HTTP;
- :mod:`.latest`: :class:`LatestSnapshot`, the snapshot the engine loop last published,
  readable from the server's threads.

Like the dashboard, this package reads only :class:`MetricsSnapshot`, never the engine.

    latest = LatestSnapshot(engine.snapshot)      # on the engine loop, after engine.start()
    latest.start()
    server = MetricsServer(9464, latest.get)      # MetricsServerError if the port is taken
    server.start()
    ...
    await latest.stop()
    server.stop()
"""

from .latest import LatestSnapshot
from .prometheus import SnapshotCollector, make_registry, snapshot_families
from .server import MetricsServer, MetricsServerError

__all__ = [
    "LatestSnapshot",
    "MetricsServer",
    "MetricsServerError",
    "SnapshotCollector",
    "make_registry",
    "snapshot_families",
]
