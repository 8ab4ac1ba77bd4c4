"""User models named ``package.module:function``.

The function takes a list of inputs and returns a list of outputs (it may be
``async def``).  Inputs for a key are float32 vectors of ``input_dim`` values unless
the module also defines ``make_input(key)``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any


from ..engine.errors import ConfigError
from .inputs import InputBank


class FunctionModel:
    """Wraps a batch function so the engine can serve it like any model."""

    def __init__(
        self,
        fn: Callable[[list[Any]], Any],
        *,
        name: str | None = None,
        input_dim: int = 16,
        make_input: Callable[[int], Any] | None = None,
    ) -> None:
        self._fn = fn
        self.name = name or getattr(fn, "__qualname__", "function")
        self.input_dim = input_dim
        self._make_input = make_input
        self._inputs: InputBank | None = None
        if inspect.iscoroutinefunction(fn):
            self.predict = self._predict_async  # type: ignore[method-assign]

    def predict(self, batch: Sequence[Any]) -> Sequence[Any]:
        return self._check(batch, self._fn(list(batch)))

    async def _predict_async(self, batch: Sequence[Any]) -> Sequence[Any]:
        return self._check(batch, await self._fn(list(batch)))

    def _check(self, batch: Sequence[Any], outputs: Any) -> Sequence[Any]:
        outputs = list(outputs)
        if len(outputs) != len(batch):
            raise ValueError(f"{self.name} returned {len(outputs)} outputs for {len(batch)} inputs")
        return outputs

    def make_input(self, key: int) -> Any:
        if self._make_input is not None:
            return self._make_input(key)
        if self._inputs is None:
            self._inputs = InputBank(self.input_dim)
        return self._inputs.payload(key)

    def describe(self) -> str:
        return f"user function {self.name}"


def load_function_model(target: str, *, input_dim: int = 16) -> FunctionModel:
    """Import ``package.module:function`` and wrap it; errors name the target and the reason."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"model target must look like package.module:function, got {target!r}", field="target")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import model module {module_name!r}: {exc}", field="target") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ConfigError(f"module {module_name!r} has no callable {attr!r}", field="target")
    make_input = getattr(module, "make_input", None)
    return FunctionModel(fn, name=target, input_dim=input_dim, make_input=make_input if callable(make_input) else None)
