"""What keys ``a``, Enter and Esc do about tuning: the app's side of :mod:`.live_tuning`.

The tuning itself runs next to the engine (see :mod:`.live_tuning` for why); this class
only asks :class:`~.controls.EngineControls` to start, stop or apply it, opens the
tuning view, and hands that view each new :class:`~.live_tuning.TuningView` on the app's
refresh.  A refused request (the load is paused, its rate changes over time, nothing met
the SLO yet, an engine that does not answer) becomes a notification; nothing here blocks
on the engine longer than one control call.

The P99 objective is the running preset's ``slo_p99_ms``; a preset without one gets a
prompt proposing twice the P99 the engine measures now.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..engine.errors import ClawletError
from ..tune.measure import MeasureSettings
from ..tune.tuner import DEFAULT_BUDGET_S
from .screens import SloPromptScreen, TuningScreen

if TYPE_CHECKING:
    from .app import ClawletApp

#: the proposed objective when the engine has measured no P99 yet
FALLBACK_SLO_MS = 100.0


def propose_slo(p99_now_ms: float) -> tuple[float, str]:
    """Twice the P99 measured now, rounded up to two significant digits; and why that value."""
    if p99_now_ms <= 0:
        return FALLBACK_SLO_MS, "no P99 measured yet"
    target = 2 * p99_now_ms
    step = 10 ** (math.floor(math.log10(target)) - 1)
    return math.ceil(target / step) * step, f"proposed: twice the P99 now, {p99_now_ms:.2f} ms"


class TuningFlow:
    """Key ``a`` -> objective -> start -> the tuning view; Enter applies, Esc stops and restores."""

    def __init__(self, app: ClawletApp) -> None:
        self.app = app
        #: the time the search may take (``clawlet-tui tune``'s default)
        self.budget_s = DEFAULT_BUDGET_S
        #: how each trial is measured (None: ``tune``'s defaults, 1 s warm-up + 1 s windows)
        self.settings: MeasureSettings | None = None

    def _screen(self) -> TuningScreen | None:
        screen = self.app.screen
        return screen if isinstance(screen, TuningScreen) else None

    async def begin(self) -> None:
        live = self.app.live
        if live is None:
            self.app.notify("replaying a recorded stream: there is no live engine to tune", severity="warning")
            return
        view = live.tuning
        if view is not None and view.running:  # one is on: show it again
            await self.app.push_screen(TuningScreen(view, live.preset_name))
            return
        slo = live.view().slo_p99_ms
        if slo is not None:
            await self.start(float(slo))
            return
        snapshot = self.app.last_snapshot
        proposal, why = propose_slo(snapshot.window_latency.p99_ms if snapshot is not None else 0.0)

        async def chosen(value: float | None) -> None:
            if value is not None:
                await self.start(value)

        await self.app.push_screen(SloPromptScreen(proposal, why), chosen)

    async def start(self, slo_p99_ms: float) -> None:
        live = self.app.live
        assert live is not None
        try:
            view = await live.start_tuning(slo_p99_ms, self.budget_s, settings=self.settings)
        except ClawletError as exc:
            self.app.notify(f"tune: {exc}", severity="error", title="Cannot tune")
            return
        await self.app.push_screen(TuningScreen(view, live.preset_name))

    def show(self) -> None:
        """The app's refresh: hand the tuning view the latest :class:`TuningView`."""
        screen = self._screen()
        view = self.app.live.tuning if self.app.live is not None else None
        if screen is not None and view is not None:
            screen.show(view)

    async def apply(self) -> None:
        await self._end(lambda live: live.apply_tuning(), "applied the best config")

    async def stop(self) -> None:
        await self._end(lambda live: live.stop_tuning(), "tuning stopped: the start config is back on")

    async def _end(self, call: Any, done: str) -> None:
        live = self.app.live
        if live is None:
            return
        try:
            config = await call(live)
        except ClawletError as exc:
            self.app.notify(str(exc), severity="error", title="Tune")
            self.show()
            return
        view = live.tuning
        message = view.message if view is not None and view.message else done
        if self._screen() is not None:
            self.app.pop_screen()
        self.app.notify(message, title="Tune", timeout=5)
        self.app.refresh_metrics()
        self.app.log_ui("tune", f"{message} ({', '.join(f'{k}={v}' for k, v in _tuned(config).items())})")


def _tuned(config: Any) -> dict[str, Any]:
    """The fields tuning moves, as the engine has them now."""
    from ..tune.space import DEFAULT_PARAMS

    return {name: getattr(config, name) for name in DEFAULT_PARAMS}
