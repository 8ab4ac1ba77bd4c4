"""The clawlet engine: dynamic batching, multi-level cache, concurrency control, memory
optimizer, connection pool and performance monitor around any model.  No UI here.

    engine = ClawletEngine(OptimizationConfig(batch_size=8), model)
    await engine.start()
    output = await engine.submit(payload)
    await engine.stop()
"""

from .config import OptimizationConfig
from .engine import ClawletEngine, as_baseline
from .errors import (
    BackendError,
    ClawletError,
    ConfigError,
    EngineStopped,
    PresetError,
    RejectedError,
    RequestTimeout,
    ThemeError,
)
from .snapshot import MetricsSnapshot

__all__ = [
    "BackendError",
    "ClawletEngine",
    "ClawletError",
    "ConfigError",
    "EngineStopped",
    "MetricsSnapshot",
    "OptimizationConfig",
    "PresetError",
    "RejectedError",
    "RequestTimeout",
    "ThemeError",
    "as_baseline",
]
