"""OptimizationConfig: every knob of the engine, frozen and validated.

A config is immutable; changes go through :meth:`OptimizationConfig.replace`, which
builds a new object and therefore validates again.  Invalid values raise
:class:`~clawlet_tui.engine.errors.ConfigError` naming the field, the value and the rule,
e.g. ``batch_size must be >= 1, got 0``.

Field names follow the seed report (``batch_size``, ``l1_cache_size``,
``max_memory_usage``, ``max_concurrent``) with units spelled out where they are not
obvious (``batch_timeout_s``, ``cache_ttl_s``).  :meth:`from_mapping` also accepts the
seed's spelling (``batch_timeout``, ``cache_ttl``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .rules import KIND_NAMES, Rule, check_all, did_you_mean

#: seed spellings accepted by :meth:`OptimizationConfig.from_mapping`
ALIASES: dict[str, str] = {
    "batch_timeout": "batch_timeout_s",
    "cache_ttl": "cache_ttl_s",
}


def default_cache_dir() -> Path:
    """The user's cache directory for the L2 store (``$XDG_CACHE_HOME/clawlet-tui/l2``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clawlet-tui" / "l2"


def cpu_count() -> int:
    """CPU cores this process may use (the seed's default for ``max_concurrent``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class OptimizationConfig:
    """The engine's configuration.  Defaults are the seed report's (Clawlet v2.1)."""

    #: most requests in one model call
    batch_size: int = 4
    #: longest a request waits for its batch to fill, measured from the batch's first request
    batch_timeout_s: float = 0.05
    #: when a batch leaves: "adaptive" (at once when a worker is free, waiting only when the
    #: fitted cost model predicts a throughput gain), "eager" (at once, never waits) or
    #: "timeout" (the seed's: when full or after ``batch_timeout_s``); see engine/batcher.py
    batch_policy: str = "adaptive"
    #: entries in the in-memory LRU cache (0 disables L1)
    l1_cache_size: int = 100
    #: time-to-live of cache entries, both levels
    cache_ttl_s: float = 3600.0
    #: fraction of the memory budget above which the memory optimizer runs gc and shrinks L1
    max_memory_usage: float = 0.7
    #: bytes of memory the process may use; None means the machine's total memory
    memory_budget_bytes: int | None = None
    #: seconds between memory checks
    memory_check_interval_s: float = 1.0
    #: batches executing at once (each in its own worker thread)
    max_concurrent: int = field(default_factory=cpu_count)
    #: requests waiting for a batch; past it submit() fails fast with RejectedError
    max_queue_size: int = 1024
    #: per-request deadline from submission (None: no deadline)
    request_timeout_s: float | None = 30.0
    #: model sessions in the connection pool; None means max_concurrent
    pool_size: int | None = None
    #: directory of the L2 disk cache; None means the user's cache dir
    l2_cache_dir: str | None = None
    #: size limit of the L2 disk cache in bytes
    l2_size_limit_bytes: int = 256 * 1024 * 1024
    #: form batches (False: every request is its own batch, no waiting)
    enable_batching: bool = True
    #: use the cache (L1 and, if enabled, L2)
    enable_cache: bool = True
    #: use the L2 disk cache behind L1
    enable_l2: bool = True
    #: which computed values L2 stores: "second_hit" (a key's value is written the second
    #: time it is computed, so keys asked for once cost no disk write; engine/admission.py)
    #: or "always" (every value, as the seed's cache does)
    l2_admission: str = "second_hit"
    #: on a failed batch, retry it split in halves so only the bad requests fail
    isolate_failures: bool = True
    #: reject a request at once when the fitted cost model shows it cannot finish within
    #: ``request_timeout_s`` behind the queue ahead of it (instead of timing out later)
    shed_late: bool = True
    #: BLAS threads per worker; 1 avoids oversubscription when several workers compute at once
    blas_threads: int = 1
    #: on start, time the model at each batch size (alone and two at once) before serving,
    #: so the adaptive batcher's measured sizes do not have to be learnt from live
    #: requests (engine/calibration.py); takes effect when the engine starts
    calibrate: bool = True
    #: the seed's spelling of ``batch_timeout_s`` (``OptimizationConfig(batch_timeout=0.05)``)
    batch_timeout: InitVar[float | None] = None
    #: the seed's spelling of ``cache_ttl_s``
    cache_ttl: InitVar[float | None] = None

    def __post_init__(self, batch_timeout: float | None, cache_ttl: float | None) -> None:
        # The seed's own example (``OptimizationConfig(batch_size=4, batch_timeout=0.05,
        # cache_ttl=3600, ...)``) runs verbatim: its spellings set the ``_s`` fields.
        if batch_timeout is not None:
            object.__setattr__(self, "batch_timeout_s", batch_timeout)
        if cache_ttl is not None:
            object.__setattr__(self, "cache_ttl_s", cache_ttl)
        _validate(self)

    # -- construction -------------------------------------------------------------------

    def replace(self, **changes: Any) -> OptimizationConfig:
        """A new, validated config with ``changes`` applied."""
        unknown = sorted(set(changes) - _FIELD_NAMES)
        if unknown:
            raise unknown_config_field(unknown[0])
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, source: str | None = None, base: OptimizationConfig | None = None
    ) -> OptimizationConfig:
        """Build a config from a dict or TOML table; unknown keys and wrong types are errors.

        ``source`` (a file name, ``--set``) is put in front of error messages.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(reason=f"config must be a table, got {type(data).__name__}", source=source)
        changes: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = ALIASES.get(raw_key, raw_key)
            if key not in _FIELD_NAMES:
                raise unknown_config_field(raw_key, source=source)
            changes[key] = value
        try:
            return (base or cls()).replace(**changes)
        except ConfigError as exc:
            if source and exc.source is None:
                raise ConfigError(reason=exc.reason, field=exc.field, sep=exc.sep, source=source) from None
            raise

    @classmethod
    def baseline(cls, **changes: Any) -> OptimizationConfig:
        """The "before" of the seed's comparison: one request at a time, no batching, no cache."""
        return cls(**{**BASELINE, **changes})

    def as_baseline(self) -> OptimizationConfig:
        """This config with the optimizations switched off (every other limit kept)."""
        return self.replace(**BASELINE)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # -- derived values -----------------------------------------------------------------

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size if self.enable_batching else 1

    @property
    def effective_pool_size(self) -> int:
        return self.pool_size if self.pool_size is not None else self.max_concurrent

    def l2_path(self) -> Path:
        return Path(self.l2_cache_dir) if self.l2_cache_dir else default_cache_dir()

    def changed_fields(self, other: OptimizationConfig) -> dict[str, tuple[Any, Any]]:
        """``{field: (self_value, other_value)}`` for every field that differs."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }


_FIELD_NAMES = frozenset(f.name for f in fields(OptimizationConfig))

#: what baseline mode switches off: batching, caching and concurrency
BASELINE: dict[str, Any] = dict(batch_size=1, enable_batching=False, enable_cache=False, max_concurrent=1, pool_size=1)

#: what each field must be (see :mod:`.rules`)
_RULES: dict[str, Rule] = {
    "batch_size": Rule(int, 1, 4096),
    "batch_timeout_s": Rule(float, 0.0, 60.0),
    "batch_policy": Rule(str, choices=("adaptive", "eager", "timeout")),
    "l1_cache_size": Rule(int, 0, 10_000_000),
    "cache_ttl_s": Rule(float, 0.001, 10 * 365 * 86400.0),
    "max_memory_usage": Rule(float, 0.01, 1.0),
    "memory_budget_bytes": Rule(int, 1024 * 1024, optional=True),
    "memory_check_interval_s": Rule(float, 0.01, 3600.0),
    "max_concurrent": Rule(int, 1, 1024),
    "max_queue_size": Rule(int, 1, 10_000_000),
    "request_timeout_s": Rule(float, 0.001, 86400.0, optional=True),
    "pool_size": Rule(int, 1, 1024, optional=True),
    "l2_cache_dir": Rule(str, optional=True, non_empty=True),
    "l2_size_limit_bytes": Rule(int, 1024 * 1024),
    "enable_batching": Rule(bool),
    "enable_cache": Rule(bool),
    "calibrate": Rule(bool),
    "enable_l2": Rule(bool),
    "l2_admission": Rule(str, choices=("second_hit", "always")),
    "isolate_failures": Rule(bool),
    "shed_late": Rule(bool),
    "blas_threads": Rule(int, 1, 256),
}
assert set(_RULES) == _FIELD_NAMES

#: string fields that take one of a fixed set of values
CHOICES: dict[str, tuple[str, ...]] = {name: rule.choices for name, rule in _RULES.items() if rule.choices}


def _validate(config: OptimizationConfig) -> None:
    check_all(_RULES, config)


def unknown_config_field(raw_key: str, *, source: str | None = None) -> ConfigError:
    """``unknown config field 'batchsize' (did you mean 'batch_size'?)``: the seed's
    spellings are suggested too, the known list names the fields only."""
    hint = did_you_mean(raw_key, _FIELD_NAMES, also=ALIASES)
    return ConfigError(reason=f"unknown config field {raw_key!r}{hint}", field=raw_key, sep=None, source=source)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a ``--set field=value`` argument into ``(field, typed value)``.

    The type comes from the field's rule, so ``batch_size=8`` is an int and
    ``enable_cache=false`` a bool; ``none`` clears an optional field.
    """
    if "=" not in text:
        raise ConfigError(reason=f"--set {text!r}: expected field=value", source="--set")
    raw_key, raw_value = (part.strip() for part in text.split("=", 1))
    key = ALIASES.get(raw_key, raw_key)
    if key not in _RULES:
        raise ConfigError(reason=f"unknown config field {raw_key!r}", field=raw_key, sep=None, source="--set")
    kind, nullable = _RULES[key].kind, _RULES[key].optional
    lowered = raw_value.lower()
    if nullable and lowered in ("none", "null", ""):
        return key, None
    try:
        if kind is bool:
            if lowered in ("true", "1", "yes", "on"):
                return key, True
            if lowered in ("false", "0", "no", "off"):
                return key, False
            raise ValueError
        if kind is int:
            return key, int(raw_value.replace("_", ""))
        if kind is float:
            return key, float(raw_value)
        return key, raw_value
    except ValueError:
        raise ConfigError(
            reason=f"must be {KIND_NAMES[kind]}, got {raw_value!r}", field=key, source="--set"
        ) from None
