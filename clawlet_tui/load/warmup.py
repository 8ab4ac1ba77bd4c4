"""Cache warm-up: fill the cache with the keys the load will ask for most, before it asks.

A preset's ``[warmup]`` table names the keys::

    [warmup]
    top_keys = 500            # the 500 most likely keys of [load.keys]
    # or
    keys_file = "hot.txt"     # one integer key per line, relative to the preset file

:func:`warm_up` sends one request per key through the engine (``engine.submit``: the same
path the load takes, so the values land in L1 and L2 as a load's would), waits for every
one of them to end, waits for L2 to hold them, and then resets the engine's metrics.
What that guarantees:

* **Warm-up is counted separately.**  Its requests are tallied in the
  :class:`WarmupResult`; the load's figures start at the reset, after the last warm-up
  request ended, so none of them is in the load's metrics (outcomes, latency, batches,
  cache hits).
* **The accounting invariant holds on both sides.**  Every warm-up request ends in one
  outcome (``succeeded + sum(failed) == keys``); the reset keeps requests of a load that
  runs meanwhile (the dashboard) counted as in flight, so each of those still ends in one
  counted outcome of the load.
* **Bounded.**  At most :func:`in_flight_bound` warm-up requests are in flight at once
  (enough full batches for every worker), so a long keys file never floods the queue.
* **Cancellable.**  Cancelled, it cancels its requests, waits for them to end and
  re-raises; the metrics are then left as they are (the run was interrupted).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import ConfigError, PresetError
from ..engine.rules import unknown_field
from .keys import KeySpec

#: the fields of a ``[warmup]`` table
FIELDS = ("top_keys", "keys_file")

#: seconds between progress callbacks
PROGRESS_INTERVAL_S = 0.25


@dataclass(frozen=True)
class WarmupPlan:
    """Which keys to warm, in order (most likely first for ``top_keys``)."""

    keys: tuple[int, ...]
    #: where they came from, e.g. ``top 500 keys of zipf(1.1) over 2000 keys`` or ``hot.txt``
    source: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("a warm-up needs at least one key", field="warmup")

    def describe(self) -> str:
        return f"{len(self.keys):,} keys ({self.source})"


@dataclass(frozen=True)
class WarmupProgress:
    """How far a warm-up has got (immutable; one per progress callback)."""

    total: int
    succeeded: int
    failed: int
    elapsed_s: float
    #: every request ended and L2 holds the values (the last callback of a warm-up)
    finished: bool = False

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    def describe(self) -> str:
        """``warm-up 312/500 keys  0.8 s``; finished: ``warm-up done: 500 keys in 0.41 s (500 ok)``."""
        failed = f", {self.failed:,} failed" if self.failed else ""
        if self.finished:
            return (
                f"warm-up done: {self.total:,} keys in {self.elapsed_s:.2f} s ({self.succeeded:,} ok{failed}); "
                "not counted in the load's figures"
            )
        return f"warm-up {self.done:,}/{self.total:,} keys{failed}  {self.elapsed_s:.1f} s"


@dataclass(frozen=True)
class WarmupResult:
    """What a finished warm-up did, counted apart from the load."""

    plan: WarmupPlan
    succeeded: int
    #: failed requests by exception class name, sorted by name
    failed: tuple[tuple[str, int], ...]
    duration_s: float

    @property
    def keys(self) -> int:
        return len(self.plan.keys)

    @property
    def failed_total(self) -> int:
        return sum(n for _, n in self.failed)

    def describe(self) -> str:
        """``500 keys (top 500 ...) in 0.41 s: 500 ok`` (``, 3 failed (RejectedError 3)`` if any)."""
        text = f"{self.plan.describe()} in {self.duration_s:.2f} s: {self.succeeded:,} ok"
        if self.failed:
            kinds = ", ".join(f"{kind} {n:,}" for kind, n in self.failed)
            text += f", {self.failed_total:,} failed ({kinds})"
        return text


# -- choosing keys ------------------------------------------------------------------------


def top_keys(keys: KeySpec, n: int) -> tuple[int, ...]:
    """The ``n`` most likely keys of ``keys``, most likely first.

    Exact: keys are ranked by the distribution's probabilities (:meth:`KeySpec.pmf`), ties
    by the smaller key (uniform keys are all equally likely, so any ``n`` of them are
    "most likely": these are ``0 .. n-1``).  Unique keys never repeat, so none is more
    likely than another: a ConfigError.
    """
    if keys.distribution == "unique":
        raise ConfigError(
            "load.keys.distribution is 'unique': no key repeats, so none is more likely than another "
            "(name the keys in keys_file)",
            field="top_keys",
        )
    if n > keys.key_count:
        raise ConfigError(f"must be at most the {keys.key_count:,} keys of the load, got {n!r}", field="top_keys")
    order = np.argsort(-keys.pmf(), kind="stable")[:n]
    return tuple(int(k) for k in order)


def plan_top_keys(keys: KeySpec, n: int) -> WarmupPlan:
    return WarmupPlan(top_keys(keys, n), f"the {n:,} most likely of {keys.describe()}")


def read_keys_file(path: Path, keys: KeySpec) -> tuple[int, ...]:
    """Integer keys, one a line (blank lines and ``#`` comments skipped, repeats dropped).

    Raises ConfigError (field ``keys_file``) naming the file and line: unreadable, not an
    integer, a key the load never asks for (outside ``0 .. key_count-1``), or no key at all.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror or exc}", field="keys_file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{str(path)!r} is not UTF-8 text", field="keys_file") from None
    seen: dict[int, None] = {}
    bounded = keys.distribution != "unique"
    for number, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        where = f"{path.name} line {number}"
        try:
            key = int(item)
        except ValueError:
            raise ConfigError(f"{where}: {item!r} is not an integer key", field="keys_file") from None
        if key < 0 or (bounded and key >= keys.key_count):
            limit = f"0 .. {keys.key_count - 1}" if bounded else "0 or more"
            raise ConfigError(
                f"{where}: key {key} is never asked for by the load (its keys are {limit})", field="keys_file"
            )
        seen.setdefault(key, None)
    if not seen:
        raise ConfigError(f"{str(path)!r} holds no key (one integer a line)", field="keys_file")
    return tuple(seen)


def parse_warmup(table: Any, *, keys: KeySpec, base_dir: Path, source: str) -> WarmupPlan:
    """A preset's ``[warmup]`` table as a plan; a PresetError ``FILE: warmup.FIELD: reason``."""

    def fail(where: str, reason: str) -> PresetError:
        return PresetError(reason=reason, field=f"warmup.{where}" if where else "warmup", sep=": ", source=source)

    if not isinstance(table, Mapping):
        raise fail("", f"must be a table, got {type(table).__name__}")
    for name in table:
        if name not in FIELDS:
            raise fail(name, unknown_field(name, FIELDS))
    if ("top_keys" in table) == ("keys_file" in table):
        raise fail("", "give one of top_keys (the N most likely keys) or keys_file (a file of keys)")
    try:
        if "top_keys" in table:
            n = table["top_keys"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"must be an integer >= 1, got {n!r}", field="top_keys")
            return plan_top_keys(keys, n)
        name = table["keys_file"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"must be a non-empty string (a path relative to the preset), got {name!r}", field="keys_file")
        path = Path(name).expanduser()
        path = path if path.is_absolute() else base_dir / path
        return WarmupPlan(read_keys_file(path, keys), name)
    except ConfigError as exc:
        raise fail(exc.field or "", exc.reason) from None


def default_plan(keys: KeySpec, l1_cache_size: int) -> WarmupPlan:
    """The warm-up for a preset without ``[warmup]`` (``compare --warm``, the dashboard's key):
    the most likely keys that fit in L1 (more would evict each other from it)."""
    try:
        n = min(l1_cache_size, keys.key_count)
        return WarmupPlan(top_keys(keys, n), f"the {n:,} most likely of {keys.describe()}, as many as L1 holds")
    except ConfigError as exc:
        raise ConfigError(f"no [warmup] table, and {exc.reason}", field="warmup") from None


def plan_for(preset: Any, l1_cache_size: int) -> WarmupPlan:
    """The preset's ``[warmup]`` plan, else :func:`default_plan` for its keys."""
    plan = getattr(preset, "warmup", None)
    if plan is not None:
        return plan
    try:
        return default_plan(preset.load.keys, l1_cache_size)
    except ConfigError as exc:
        source = str(getattr(preset, "path", None) or getattr(preset, "name", "preset"))
        raise PresetError(reason=exc.reason, field="warmup", sep=": ", source=source) from None


# -- running ------------------------------------------------------------------------------


def in_flight_bound(config: Any) -> int:
    """Warm-up requests in flight at once: two full batches per worker, within the queue."""
    batches = max(int(config.effective_batch_size), 1) * max(int(config.max_concurrent), 1) * 2
    return max(1, min(batches, int(config.max_queue_size)))


async def warm_up(
    engine: Any,
    plan: WarmupPlan,
    *,
    model: Any = None,
    progress: Callable[[WarmupProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> WarmupResult:
    """Warm ``engine``'s cache with ``plan``'s keys, then reset its metrics; see the module doc.

    ``model`` makes the payloads (``make_input(key)``, default ``engine.model``), as the
    load generator does, so the warmed cache keys are the ones the load looks up.
    """
    model = model if model is not None else engine.model
    bound = in_flight_bound(engine.config)
    started = clock()
    succeeded = 0
    failed: Counter[str] = Counter()
    pending: set[asyncio.Future[Any]] = set()
    next_progress = started + PROGRESS_INTERVAL_S
    engine.log_event("warmup", f"warming {plan.describe()}")

    def report(finished: bool = False) -> None:
        if progress is not None:
            progress(WarmupProgress(len(plan.keys), succeeded, sum(failed.values()), clock() - started, finished))

    async def settle_some() -> None:
        nonlocal succeeded, pending, next_progress
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.cancelled():
                failed["CancelledError"] += 1
            elif task.exception() is not None:
                failed[type(task.exception()).__name__] += 1
            else:
                succeeded += 1
        if clock() >= next_progress:
            next_progress = clock() + PROGRESS_INTERVAL_S
            report()

    # the plan's keys are the ones the load repeats: L2 keeps them from the first computation
    engine.expect_repeats(plan.keys)
    try:
        for key in plan.keys:
            while len(pending) >= bound:
                await settle_some()
            pending.add(asyncio.ensure_future(engine.submit(model.make_input(key), key=key)))
        while pending:
            await settle_some()
        await engine.flush_cache()
    except asyncio.CancelledError:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    result = WarmupResult(plan, succeeded, tuple(sorted(failed.items())), clock() - started)
    report(finished=True)
    # every warm-up request has ended: from here the engine counts the load alone
    engine.reset_metrics()
    engine.log_event("warmup", f"warmed {result.describe()}; metrics reset, the load's figures start warm")
    return result


__all__ = [
    "FIELDS",
    "WarmupPlan",
    "WarmupProgress",
    "WarmupResult",
    "default_plan",
    "in_flight_bound",
    "parse_warmup",
    "plan_for",
    "plan_top_keys",
    "read_keys_file",
    "top_keys",
    "warm_up",
]
