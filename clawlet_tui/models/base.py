"""The model interface the engine serves.

A model turns a *list* of inputs into a list of outputs of the same length, in order.
``predict`` is synchronous and is called from a worker thread (so numpy releases the
GIL and several batches really run on several cores); a model may instead define
``async def predict`` and it is awaited on the event loop.  ``make_input(key)`` gives
the deterministic payload that load generators send for a key, so the same key always
means the same input and a cache hit returns exactly what the model would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


class ModelInfo(Protocol):
    """What the load generator, reports and the dashboard read about a model: no ``predict``.

    Every :class:`Model` is one; so is
    :class:`~clawlet_tui.remote.client.RemoteModelInfo`, which stands in for a model served
    elsewhere.
    """

    @property
    def name(self) -> str:
        """Short name shown in the dashboard and reports (a plain attribute will do)."""
        ...

    def make_input(self, key: int) -> Any:
        """The payload that stands for ``key`` (deterministic)."""
        ...

    def describe(self) -> str:
        """One line for reports: what the model is and its size."""
        ...


@runtime_checkable
class Model(ModelInfo, Protocol):
    def predict(self, batch: Sequence[Any]) -> Sequence[Any]:
        """Outputs for ``batch``, one per input, in order.  Raise to fail the whole batch."""
        ...
