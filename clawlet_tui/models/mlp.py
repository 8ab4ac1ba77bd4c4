"""A real numpy MLP: the default model.

Fixed-seed float32 weights, ReLU layers, deterministic output for the same input.  It
is sized like real CPU inference: with one BLAS thread, 512->2048->512->2048->512 costs
about a millisecond for one item and a batch of 32 is several times cheaper per item,
because each weight matrix is read once per batch instead of once per item.  That
weight reuse is exactly what dynamic batching exploits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..engine.errors import ConfigError
from .inputs import InputBank

DEFAULT_LAYERS: tuple[int, ...] = (512, 2048, 512, 2048, 512)


class MLPModel:
    """Multi-layer perceptron on numpy.  Inputs are float32 vectors of ``layers[0]`` values."""

    def __init__(self, layers: Sequence[int] = DEFAULT_LAYERS, seed: int = 0) -> None:
        layers = tuple(layers)
        if len(layers) < 2 or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in layers):
            raise ConfigError(f"layers must be two or more positive integers, got {list(layers)!r}", field="layers")
        self.layers = layers
        self.seed = seed
        self.name = "mlp-" + "x".join(str(n) for n in layers)
        #: what persistent (L2) cache entries are keyed under: same layers and seed, same outputs
        self.cache_namespace = f"{self.name}-seed{seed}"
        rng = np.random.default_rng(seed)
        self._weights = [
            (rng.standard_normal((a, b), dtype=np.float32) / np.float32(np.sqrt(a))).astype(np.float32)
            for a, b in zip(layers, layers[1:])
        ]
        self._biases = [np.zeros(b, dtype=np.float32) + np.float32(0.01) for b in layers[1:]]
        self._inputs = InputBank(layers[0], seed)
        self.parameters = sum(w.size + b.size for w, b in zip(self._weights, self._biases))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x``: [B, layers[0]] float32 -> [B, layers[-1]] float32."""
        last = len(self._weights) - 1
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            x = x @ w
            x += b
            if i < last:
                np.maximum(x, 0, out=x)
        return x

    def predict(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        x = np.stack([np.asarray(item, dtype=np.float32).reshape(self.layers[0]) for item in batch])
        if not np.all(np.isfinite(x)):
            bad = [i for i, item in enumerate(batch) if not np.all(np.isfinite(item))]
            raise ValueError(f"non-finite input at batch positions {bad}")
        out = self.forward(x)
        # One array per item, each owning its memory: a row view would keep the whole
        # batch's output alive for as long as any one result sits in a cache.
        return [row.copy() for row in out]

    def make_input(self, key: int) -> np.ndarray:
        return self._inputs.payload(key)

    def describe(self) -> str:
        return f"numpy MLP {'->'.join(map(str, self.layers))}, {self.parameters / 1e6:.1f}M float32 parameters"
