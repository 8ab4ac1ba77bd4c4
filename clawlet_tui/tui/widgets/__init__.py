"""Dashboard panels, one per file; each shows one part of a MetricsSnapshot."""

from .batches import BatchesPanel
from .cache import CachePanel
from .concurrency import ConcurrencyPanel
from .config_panel import ConfigPanel
from .event_log import EventLogPanel
from .latency import LatencyPanel
from .memory import MemoryPanel
from .outcomes import OutcomesPanel
from .panel import MetricPanel
from .throughput import ThroughputPanel

__all__ = [
    "BatchesPanel",
    "CachePanel",
    "ConcurrencyPanel",
    "ConfigPanel",
    "EventLogPanel",
    "LatencyPanel",
    "MemoryPanel",
    "MetricPanel",
    "OutcomesPanel",
    "ThroughputPanel",
]
