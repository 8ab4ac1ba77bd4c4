"""The bounded search space of ``clawlet-tui tune``: which engine fields move, and to which values.

Every tunable field is an :class:`Axis` with a short, fixed list of values, so the space
is a small grid (a few hundred points at most) that a hill climb can walk and a full
grid can be measured against:

==================  ================================================================
batch_size          powers of two, 1 .. 64
batch_timeout_s     log range, 0.5 ms .. 50 ms (0.5, 1, 2, 5, 10, 20, 50 ms)
batch_policy        adaptive, eager, timeout (unordered)
max_concurrent      1 .. 2 x cores (geometric past 16 values)
l1_cache_size       0 (off), then log range 64 .. 65536 (x4)
==================  ================================================================

The start config's own value is always a point of its axis (inserted in order if it
is not on the grid), so the search starts exactly where the preset is and the start
config is measured as it is.  Guarantees: every point of a :class:`SearchSpace` gives a
valid :class:`~clawlet_tui.engine.config.OptimizationConfig` (values come from the
config's own rules), and a :class:`Point` is hashable, so measured points are found again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.config import CHOICES, OptimizationConfig, cpu_count
from ..engine.errors import ConfigError

#: the ``--params`` default: every tunable field
DEFAULT_PARAMS: tuple[str, ...] = ("batch_size", "batch_timeout_s", "batch_policy", "max_concurrent", "l1_cache_size")

#: a point of the space: ``((field, value), ...)`` in axis order
Point = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Axis:
    """One tunable field and its values.

    ``ordered`` axes step to the next value up or down; an unordered one (the batch
    policy) jumps to any other value.
    """

    name: str
    values: tuple[Any, ...]
    ordered: bool = True

    def with_value(self, value: Any) -> Axis:
        """This axis, with ``value`` among its values (inserted in order if missing)."""
        if value in self.values:
            return self
        if not self.ordered:
            return Axis(self.name, (*self.values, value), ordered=False)
        return Axis(self.name, tuple(sorted((*self.values, value))), ordered=True)

    def neighbours(self, value: Any) -> list[Any]:
        """Values one step from ``value``: the next down and up (ordered), or every other one."""
        if not self.ordered:
            return [v for v in self.values if v != value]
        index = self.values.index(value)
        return [self.values[i] for i in (index - 1, index + 1) if 0 <= i < len(self.values)]

    def step(self, value: Any, direction: int) -> Any | None:
        """The value ``direction`` (+1 / -1) steps from ``value`` on an ordered axis; None at the end."""
        index = self.values.index(value) + direction
        return self.values[index] if 0 <= index < len(self.values) else None

    def leap(self, value: Any, direction: int, stride: int) -> Any | None:
        """The value ``stride`` steps from ``value`` that way, or the axis's end if that is nearer;
        None when ``value`` is the end already."""
        index = self.values.index(value)
        target = min(max(index + direction * stride, 0), len(self.values) - 1)
        return None if target == index else self.values[target]


def default_axes(cores: int | None = None) -> dict[str, Axis]:
    """The axes of every tunable field; ``max_concurrent`` goes to 2 x ``cores``."""
    cores = cores or cpu_count()
    top = 2 * cores
    workers = list(range(1, min(top, 16) + 1))
    value = 16
    while value < top:  # a machine with many cores: keep the axis short, geometric
        value *= 2
        workers.append(min(value, top))
    return {
        "batch_size": Axis("batch_size", (1, 2, 4, 8, 16, 32, 64)),
        "batch_timeout_s": Axis("batch_timeout_s", (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)),
        "batch_policy": Axis("batch_policy", CHOICES["batch_policy"], ordered=False),
        "max_concurrent": Axis("max_concurrent", tuple(sorted(set(workers)))),
        "l1_cache_size": Axis("l1_cache_size", (0, 64, 256, 1024, 4096, 16384, 65536)),
    }


def parse_params(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"batch_size,max_concurrent"`` -> the field names; ConfigError naming an unknown one."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"--params names no field (choose from {', '.join(DEFAULT_PARAMS)})", field="params")
    for name in names:
        if name not in DEFAULT_PARAMS:
            raise ConfigError(
                f"--params: unknown param {name!r} (tunable: {', '.join(DEFAULT_PARAMS)})", field="params"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"--params names a field twice: {','.join(names)}", field="params")
    return tuple(names)


class SearchSpace:
    """The grid of the chosen params around a start config (see the module docstring)."""

    def __init__(
        self,
        start: OptimizationConfig,
        params: Iterable[str] = DEFAULT_PARAMS,
        *,
        axes: dict[str, Axis] | None = None,
    ) -> None:
        available = axes if axes is not None else default_axes()
        names = parse_params(list(params))
        self.start_config = start
        self.axes: tuple[Axis, ...] = tuple(available[n].with_value(getattr(start, n)) for n in names)
        self.start: Point = tuple((axis.name, getattr(start, axis.name)) for axis in self.axes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes)

    @property
    def size(self) -> int:
        total = 1
        for axis in self.axes:
            total *= len(axis.values)
        return total

    def axis(self, name: str) -> Axis:
        for axis in self.axes:
            if axis.name == name:
                return axis
        raise KeyError(name)

    def config(self, point: Point) -> OptimizationConfig:
        """The start config with ``point``'s values (validated)."""
        return self.start_config.replace(**dict(point))

    def moved(self, point: Point, name: str, value: Any) -> Point:
        return tuple((n, value if n == name else v) for n, v in point)

    def neighbours(self, point: Point) -> Iterator[Point]:
        """Points one step away along one axis, axis by axis."""
        values = dict(point)
        for axis in self.axes:
            for value in axis.neighbours(values[axis.name]):
                yield self.moved(point, axis.name, value)

    def grid(self) -> Iterator[Point]:
        """Every point, the last axis fastest."""

        def walk(i: int, prefix: Point) -> Iterator[Point]:
            if i == len(self.axes):
                yield prefix
                return
            axis = self.axes[i]
            for value in axis.values:
                yield from walk(i + 1, (*prefix, (axis.name, value)))

        return walk(0, ())


def describe_point(point: Point) -> str:
    """``batch_size=8 batch_timeout_s=5ms max_concurrent=2``: short, for tables."""
    return " ".join(f"{SHORT.get(name, name)}={format_value(name, value)}" for name, value in point)


#: short column names for the live table
SHORT = {
    "batch_size": "bs",
    "batch_timeout_s": "timeout",
    "batch_policy": "policy",
    "max_concurrent": "workers",
    "l1_cache_size": "l1",
}


def format_value(name: str, value: Any) -> str:
    if name == "batch_timeout_s":
        return f"{value * 1000:g}ms"
    return str(value)
