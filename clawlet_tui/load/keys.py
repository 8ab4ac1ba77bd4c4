"""Which key each request asks for: unique, uniform or Zipf-distributed.

The key decides the payload (``model.make_input(key)``) and therefore whether the cache
can help: unique keys never repeat, uniform keys repeat evenly over ``key_count``, and
Zipf keys repeat the few popular ranks most (key 0 is the most popular).  A
:class:`KeySampler` is seeded, so a run draws the same key sequence every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine.errors import ConfigError

DISTRIBUTIONS: tuple[str, ...] = ("unique", "uniform", "zipf")

#: keys drawn from numpy at once (drawing one at a time costs a microsecond each)
_CHUNK = 4096


@dataclass(frozen=True)
class KeySpec:
    """How keys are drawn.  ``key_count`` and ``zipf_s`` are ignored where they do not apply."""

    #: "unique" (0, 1, 2, ... never repeating), "uniform" over ``[0, key_count)``, or "zipf"
    distribution: str = "uniform"
    #: number of distinct keys (uniform, zipf)
    key_count: int = 1000
    #: Zipf exponent: P(rank k) is proportional to 1 / k**zipf_s (zipf only)
    zipf_s: float = 1.1
    #: seed of the key stream
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.distribution, str) or self.distribution not in DISTRIBUTIONS:
            raise ConfigError(
                f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {self.distribution!r}",
                field="distribution",
            )
        if not _is_int(self.key_count) or self.key_count < 1:
            raise ConfigError(f"key_count must be an integer >= 1, got {self.key_count!r}", field="key_count")
        if not _is_number(self.zipf_s) or not math.isfinite(self.zipf_s) or self.zipf_s <= 0:
            raise ConfigError(f"zipf_s must be a number > 0, got {self.zipf_s!r}", field="zipf_s")
        if not _is_int(self.seed):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}", field="seed")
        object.__setattr__(self, "zipf_s", float(self.zipf_s))

    def describe(self) -> str:
        """E.g. ``zipf(1.1) over 1000 keys``."""
        if self.distribution == "unique":
            return "unique keys"
        if self.distribution == "uniform":
            return f"uniform over {self.key_count} keys"
        return f"zipf({self.zipf_s:g}) over {self.key_count} keys"

    def pmf(self) -> np.ndarray:
        """Probability of each key ``0 .. key_count-1`` (uniform and zipf; unique has none)."""
        if self.distribution == "unique":
            raise ValueError("unique keys have no finite distribution")
        if self.distribution == "uniform":
            return np.full(self.key_count, 1.0 / self.key_count)
        weights = np.arange(1, self.key_count + 1, dtype=np.float64) ** -self.zipf_s
        return weights / weights.sum()


class KeySampler:
    """Draws keys per a :class:`KeySpec`; ``next()`` is cheap (numpy draws in chunks)."""

    def __init__(self, spec: KeySpec) -> None:
        self.spec = spec
        self._rng = np.random.default_rng(spec.seed)
        self._counter = 0
        self._cdf: np.ndarray | None = None
        if spec.distribution == "zipf":
            cdf = np.cumsum(spec.pmf())
            cdf[-1] = 1.0  # guard against rounding leaving the last rank unreachable
            self._cdf = cdf
        self._buffer: list[int] = []
        self._index = 0

    def next(self) -> int:
        if self.spec.distribution == "unique":
            key = self._counter
            self._counter += 1
            return key
        if self._index >= len(self._buffer):
            self._buffer = self._draw(_CHUNK).tolist()
            self._index = 0
        key = self._buffer[self._index]
        self._index += 1
        return key

    def sample(self, n: int) -> np.ndarray:
        """``n`` keys at once (the same stream ``next()`` draws from)."""
        return np.array([self.next() for _ in range(n)], dtype=np.int64)

    def _draw(self, n: int) -> np.ndarray:
        if self._cdf is None:
            return self._rng.integers(0, self.spec.key_count, size=n)
        return np.searchsorted(self._cdf, self._rng.random(n), side="right")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
