"""EngineControls: everything the dashboard may ask of the engine and its load, and nothing else.

The app holds one object of this type as ``app.live`` and calls only these members.  Two
classes satisfy it:

* :class:`~clawlet_tui.tui.engine_process.EngineProcess` (what ``clawlet-tui`` uses): the
  engine and its load run in a child process, and every member is a message over a pipe
  with a timeout.  Reads (:meth:`snapshot`, :meth:`view`, :attr:`config`, the load
  attributes) return the state the child last pushed, so they never wait for it;
* :class:`~clawlet_tui.tui.live.LiveRun` (``clawlet-tui --in-process`` and the tests): the
  engine on a thread of the dashboard's own process.

Guarantees every implementation keeps:

* a control the engine refuses raises the engine's own :class:`ClawletError` subclass
  (``ConfigError: batch_size must be >= 1, got 0``), whichever process it came from;
* an engine that does not answer in time raises :class:`EngineNotResponding`, one that is
  gone raises :class:`EngineExited`; neither blocks the caller for long, and
  :attr:`problem` says so in one line for the header;
* :meth:`stop` stops the load, then drains the engine (every request ends in one outcome),
  and returns even when the engine is stuck or dead; it is safe to call twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..engine.errors import ClawletError

if TYPE_CHECKING:  # live.py imports this module (its engine thread raises EngineNotResponding)
    from ..engine.config import OptimizationConfig
    from ..engine.snapshot import MetricsSnapshot
    from .live import LoadView
    from .live_tuning import TuningView


class EngineNotResponding(ClawletError):
    """The engine did not answer within the call's timeout (a stalled loop, a stuck model)."""


class EngineExited(ClawletError):
    """The engine's process is gone; the message says how it ended."""


@runtime_checkable
class EngineControls(Protocol):
    """The dashboard's whole view of, and say over, the engine and its load (see the module doc)."""

    # -- lifecycle
    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    @property
    def problem(self) -> str | None:
        """None while the engine answers; else one line for the header
        (``engine not responding``, ``engine exited: killed by SIGKILL``)."""
        ...

    # -- reading
    def snapshot(self) -> MetricsSnapshot: ...
    def view(self) -> LoadView: ...
    def stats(self) -> Any:
        """The load generator's stats (what an exported report takes)."""
        ...

    @property
    def config(self) -> OptimizationConfig: ...
    @property
    def preset(self) -> Any: ...
    @property
    def preset_name(self) -> str: ...
    @property
    def paused(self) -> bool: ...
    @property
    def open_loop(self) -> bool: ...
    @property
    def target_rps(self) -> float | None: ...
    @property
    def clients(self) -> int | None: ...

    # -- engine controls (raise ConfigError & co. on a refused value)
    def update(self, **changes: Any) -> OptimizationConfig: ...
    def trigger_gc(self) -> Any: ...
    def clear_cache(self) -> Any: ...
    def reset_metrics(self) -> Any: ...
    def log(self, kind: str, message: str) -> None: ...
    async def warm_up(self) -> int:
        """Start warming the cache (the preset's ``[warmup]``, else the likeliest keys L1
        holds); returns the number of keys at once.  The warm-up runs beside the load and
        resets the metrics when its last request ended (see :mod:`clawlet_tui.load.warmup`);
        its start and end are events in the log."""
        ...

    # -- load controls
    async def toggle_pause(self) -> bool: ...
    async def burst(self, n: int) -> Any: ...
    async def set_rate(self, rps: float) -> None: ...
    async def switch_preset(self, name: str) -> bool:
        """Switch to preset ``name``; True if that built a new engine (another model)."""
        ...

    # -- tuning (key ``a``): runs next to the engine (live_tuning.py); the app starts,
    # watches, stops or applies it
    @property
    def tuning(self) -> TuningView | None:
        """The last tuning's view as of now; None if none was started."""
        ...

    async def start_tuning(
        self, slo_p99_ms: float, budget_s: float = ..., params: tuple[str, ...] = ..., settings: Any = None
    ) -> TuningView: ...
    async def stop_tuning(self) -> OptimizationConfig:
        """Stop it and restore the config it started from."""
        ...

    async def apply_tuning(self) -> OptimizationConfig:
        """Apply the best config that met the SLO in every measurement; ClawletError if none did."""
        ...
