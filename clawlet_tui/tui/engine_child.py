"""The engine process's side of :mod:`.engine_process`: build a :class:`LiveRun`, serve it.

Runs in the child that :meth:`EngineProcess.launch` spawns.  The main thread runs an
asyncio loop: one task per call from the parent (so a slow ``switch_preset`` does not
hold up the rest), and one that pushes an :class:`EngineState` every ``push_interval_s``;
a reader thread blocks on the pipe and hands each message to the loop.  The engine itself
runs on the LiveRun's own loop thread.  Guarantees: every reply carries the result or the
exception (pickled as itself when it can be, else as a :class:`ClawletError` with its
message); EOF on the pipe (the parent is gone), an ``exit`` message or SIGTERM stop the
load, drain the engine and remove the session's L2 before the process exits; SIGINT is
ignored (the parent decides when to stop).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..engine.config import OptimizationConfig
from ..engine.errors import ClawletError
from ..engine.snapshot import MetricsSnapshot
from . import host
from .live import LiveRun, LoadView
from .live_tuning import TuningView

#: what the parent may call on the child's LiveRun
METHODS = frozenset(
    {"start", "stop", "toggle_pause", "burst", "set_rate", "switch_preset", "update", "trigger_gc",
     "clear_cache", "reset_metrics", "log", "stats", "preset", "warm_up", "start_tuning", "stop_tuning",
     "apply_tuning"}
)


@dataclass(frozen=True)
class EngineSpec:
    """What the child needs to build its :class:`LiveRun` (pickled across)."""

    preset: str
    overrides: Mapping[str, Any] | None = None
    backend_url: str | Sequence[str] | None = None
    model_name: str | None = None
    #: a preset that is not on disk (benchmarks, tests): used when ``preset`` is asked for
    preset_object: Any = None
    push_interval_s: float = 0.5


@dataclass(frozen=True)
class EngineState:
    """Everything the dashboard reads, as of one moment in the child."""

    snapshot: MetricsSnapshot
    view: LoadView
    config: OptimizationConfig
    paused: bool
    open_loop: bool
    target_rps: float | None
    clients: int | None
    preset_name: str
    #: the session's temporary L2 directory (None if the config names its own)
    l2_dir: str | None
    #: the last tuning (key ``a``) as of this moment; None if none was started
    tuning: TuningView | None = None


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling as itself, else a :class:`ClawletError` with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ClawletError(f"{type(exc).__name__}: {exc}")
    return exc


def _build(spec: EngineSpec) -> LiveRun:
    if spec.preset_object is None:
        return LiveRun.from_preset(spec.preset, spec.overrides, backend_url=spec.backend_url, model_name=spec.model_name)
    from ..load import load_preset

    own = spec.preset_object
    return LiveRun.from_preset(
        spec.preset, spec.overrides, backend_url=spec.backend_url, model_name=spec.model_name,
        preset_loader=lambda name: own if name == spec.preset else load_preset(name),
    )


def child_main(conn: Connection, spec: EngineSpec) -> None:
    """The child process: build, report, serve until asked to exit or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM while building: unwind (LiveRun.from_preset removes the L2 it made); once
    # serving, the loop's own handler drains first
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # no UI thread competes for the GIL here: keep the interpreter's switch interval, as a
    # headless run does, instead of the short one the in-process engine thread needs
    host.SWITCH_INTERVAL_S = sys.getswitchinterval()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        live = _build(spec)
        state = _state(live)
    except BaseException as exc:
        conn.send(("failed", _portable(exc)))
        conn.close()
        return
    conn.send(("ready", state))
    try:
        asyncio.run(_Server(conn, live, spec.push_interval_s).serve())
    except BaseException as exc:
        try:
            conn.send(("crashed", f"{type(exc).__name__}: {exc}"))
        except (OSError, ValueError):
            pass
        raise
    finally:
        if live.l2_dir is not None:
            shutil.rmtree(live.l2_dir, ignore_errors=True)
        conn.close()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _state(live: LiveRun) -> EngineState:
    return EngineState(
        snapshot=live.snapshot(),
        view=live.view(),
        config=live.config,
        paused=live.paused,
        open_loop=live.open_loop,
        target_rps=live.target_rps,
        clients=live.clients,
        preset_name=live.preset_name,
        l2_dir=live.l2_dir,
        tuning=live.tuning,
    )


class _Server:
    """Answers the parent's calls on the child's main loop and pushes the state."""

    def __init__(self, conn: Connection, live: LiveRun, push_interval_s: float) -> None:
        self.conn = conn
        self.live = live
        self.push_interval_s = push_interval_s
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, done.set)

        def read() -> None:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):  # the parent is gone
                    break
                if message[0] == "exit":
                    break
                loop.call_soon_threadsafe(self._handle, message)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=read, name="clawlet-pipe-reader", daemon=True).start()
        pusher = asyncio.create_task(self._push())
        try:
            await done.wait()
        finally:
            pusher.cancel()
            try:
                await self.live.stop()  # a no-op after the parent's own stop
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(pusher, *self._tasks, return_exceptions=True)

    def _handle(self, message: tuple[Any, ...]) -> None:
        _, call_id, method, args, kwargs = message
        task = asyncio.create_task(self._answer(call_id, method, args, kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, call_id: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if method not in METHODS:
                raise ClawletError(f"the engine process has no control named {method!r}")
            value = getattr(self.live, method)
            if callable(value):
                value = value(*args, **kwargs)
            if asyncio.iscoroutine(value):
                value = await value
            reply: tuple[Any, ...] = ("reply", call_id, True, value)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            reply = ("reply", call_id, False, _portable(exc))
        self._send(reply + (self._state_or_none(),))

    async def _push(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval_s)
            state = self._state_or_none()
            if state is not None:
                self._send(("state", state))

    def _state_or_none(self) -> EngineState | None:
        try:
            return _state(self.live)
        except ClawletError:  # the engine loop is stalled: the parent notices the silence
            return None

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):  # the parent is gone; the reader ends the serve
            pass
        except Exception as exc:  # a value that does not pickle: say so instead
            if message[0] == "reply":
                self.conn.send(("reply", message[1], False, ClawletError(f"unpicklable reply: {exc!r}"), None))
