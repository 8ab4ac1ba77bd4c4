"""A latency model: fixed + per-item cost, like a remote accelerator.  For demos, never the default.

It does no arithmetic worth the name: each call sleeps ``fixed_ms + per_item_ms * B``
(sleeping releases the GIL, as waiting on a GPU or a socket does) and returns a scaled
copy of each input, so outputs still depend on inputs and cache hits can be checked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..engine.errors import ConfigError
from .inputs import InputBank


class LatencyModel:
    def __init__(self, fixed_ms: float = 5.0, per_item_ms: float = 0.2, dim: int = 16, seed: int = 0) -> None:
        for name, value in (("fixed_ms", fixed_ms), ("per_item_ms", per_item_ms)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}", field=name)
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"dim must be an integer >= 1, got {dim!r}", field="dim")
        self.fixed_ms = float(fixed_ms)
        self.per_item_ms = float(per_item_ms)
        self.dim = dim
        self.seed = seed
        self._inputs = InputBank(dim, seed)
        self.name = f"latency-{self.fixed_ms:g}+{self.per_item_ms:g}ms"

    def predict(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        time.sleep((self.fixed_ms + self.per_item_ms * len(batch)) / 1000.0)
        return [np.asarray(item, dtype=np.float32) * np.float32(2.0) for item in batch]

    def make_input(self, key: int) -> np.ndarray:
        return self._inputs.payload(key)

    def describe(self) -> str:
        return f"latency model: {self.fixed_ms:g} ms + {self.per_item_ms:g} ms per item (sleeps; no compute)"
