"""Fault injection around any model: errors, latency spikes, hangs and poison inputs.

Used by the ``faulty`` preset and by the reliability tests.  Faults are drawn from a
seeded generator, so a run is repeatable.  A *poison* input is one whose key (or, for
array payloads, whose first value) marks it bad: every batch containing it fails, which
is what the engine's split-in-halves isolation has to cope with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.errors import ConfigError
from .base import Model

#: first value of a payload that the faulty model refuses (see :meth:`FaultyModel.make_input`)
POISON_VALUE = np.float32(-1.0e30)


class InjectedFault(RuntimeError):
    """The failure a :class:`FaultyModel` raises on purpose."""


class FaultyModel:
    #: not timed at engine start (engine/calibration.py): its faults are for the load, and
    #: a warm-up must not draw from their random stream or hang on an injected hang
    calibrate = False

    def __init__(
        self,
        inner: Model,
        *,
        error_rate: float = 0.0,
        spike_rate: float = 0.0,
        spike_ms: float = 200.0,
        hang_rate: float = 0.0,
        hang_s: float = 3600.0,
        poison_every: int = 0,
        seed: int = 0,
    ) -> None:
        for name, value in (("error_rate", error_rate), ("spike_rate", spike_rate), ("hang_rate", hang_rate)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a number in [0, 1], got {value!r}", field=name)
        for name, value in (("spike_ms", spike_ms), ("hang_s", hang_s)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a number >= 0, got {value!r}", field=name)
        if not isinstance(poison_every, int) or isinstance(poison_every, bool) or poison_every < 0:
            raise ConfigError(f"poison_every must be an integer >= 0, got {poison_every!r}", field="poison_every")
        self.inner = inner
        self.error_rate = float(error_rate)
        self.spike_rate = float(spike_rate)
        self.spike_ms = float(spike_ms)
        self.hang_rate = float(hang_rate)
        self.hang_s = float(hang_s)
        self.poison_every = poison_every
        self.name = f"faulty({inner.name})"
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        #: set to release every hung call at once (tests, shutdown)
        self.release_hangs = threading.Event()

    def predict(self, batch: Sequence[Any]) -> Sequence[Any]:
        with self._lock:
            draw_error, draw_spike, draw_hang = self._rng.random(3)
        if any(self.is_poison(item) for item in batch):
            raise InjectedFault(f"poison input in batch of {len(batch)}")
        if draw_hang < self.hang_rate:
            self.release_hangs.wait(self.hang_s)
        if draw_spike < self.spike_rate:
            time.sleep(self.spike_ms / 1000.0)
        if draw_error < self.error_rate:
            raise InjectedFault(f"injected failure in batch of {len(batch)}")
        return self.inner.predict(batch)

    def make_input(self, key: int) -> Any:
        payload = self.inner.make_input(key)
        if self.poison_every and key % self.poison_every == self.poison_every - 1:
            payload = np.array(payload, dtype=np.float32, copy=True)
            payload.flat[0] = POISON_VALUE
        return payload

    @staticmethod
    def is_poison(item: Any) -> bool:
        return isinstance(item, np.ndarray) and item.size > 0 and item.flat[0] == POISON_VALUE

    def describe(self) -> str:
        parts = [f"errors {self.error_rate:.0%}", f"spikes {self.spike_rate:.0%} x {self.spike_ms:g} ms"]
        if self.hang_rate:
            parts.append(f"hangs {self.hang_rate:.0%}")
        if self.poison_every:
            parts.append(f"poison 1/{self.poison_every}")
        return f"faulty wrapper ({', '.join(parts)}) around {self.inner.describe()}"
