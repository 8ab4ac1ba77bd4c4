"""Observability: the engine's figures for tools outside clawlet.

- :mod:`.prometheus`: a ``prometheus_client`` collector over :class:`MetricsSnapshot`.

Like the dashboard, this package reads only :class:`MetricsSnapshot`, never the engine.
"""

from .prometheus import SnapshotCollector, make_registry, snapshot_families

__all__ = ["SnapshotCollector", "make_registry", "snapshot_families"]
