"""BalancedBackend: one engine spreading its batches over several v2 servers of one model.

    backend = BalancedBackend(["http://10.0.0.1:8000", "http://10.0.0.2:8000"], "mlp")
    engine = ClawletEngine(config, model=backend.model_info, backend=backend)

Each server gets its own :class:`~clawlet_tui.remote.client.RemoteBackend` (its own
keep-alive connections and in-flight bound); this module only decides where a batch goes
and what happens when a server fails.  Guarantees:

* **Least outstanding, two random choices.**  A batch goes to the less busy of two servers
  drawn at random from those in the rotation (all of them when there are two), busy
  meaning batches sent to it and not yet answered, including those waiting for one of its
  slots.  Two choices rather than the global minimum: with several clients, the global
  minimum sends everyone to the same server at the same moment.
* **The in-flight bound is per server**: at most ``pool_size`` batches on the wire to
  each server (:meth:`resize` applies to all).  The engine's ``max_concurrent`` still
  bounds the batches in flight overall.
* **Readiness.**  At :meth:`start` every server is checked (health, model, metadata);
  those that fail start out of the rotation, and start fails only if none is ready.  All
  ready servers must serve the same model (name and input tensor); a disagreement is a
  ``BackendError(kind="Mismatch")``.  Then every ``health_interval_s`` each server's
  readiness is probed again: a server that says it is not ready, or cannot be reached,
  leaves the rotation at once; one out of it that answers ready comes back.
* **Ejection on errors.**  A server whose batches fail ``eject_after`` times in a row with
  an unavailability error (connection refused or reset, a timeout, HTTP 502/503/504, a
  malformed answer) leaves the rotation until its readiness probe passes again.  Any
  other answer (200, or a 4xx/500 that is the model's verdict on the input) proves it
  alive and resets the count.
* **One retry, elsewhere, counted.**  Inference is idempotent, so a batch that failed with
  an unavailability error other than a timeout is sent once more, to another server (the
  failed one excluded), and ``retried`` counts it on the server it left.  A timeout is not
  retried: the requests' deadline has passed, a second try would only hold another slot.
  A batch whose retry fails too fails with that error, counted by the engine as usual.
* **Never refuse for lack of a healthy server.**  With every started server out of the
  rotation, batches go to all of them as if healthy (Envoy calls this panic mode): a
  failing batch costs no more than a refused one, and the first success shows recovery.
* **Accounting.**  Over the rows of :meth:`server_stats`, ``sum(batches) == engine
  batches + sum(retried)``; ``in_flight`` is 0 on every server once the engine stopped.

Ejections and re-admissions are reported through ``on_event(kind, message)`` (the engine's
event log when built by :func:`clawlet_tui.session.build_session`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.errors import BackendError, ConfigError
from ..engine.snapshot import BackendServerStats, PoolStats
from .client import RemoteBackend, RemoteModelInfo
from .protocol import ModelMetadata, TensorSpec

#: failure kinds that say the server, not the input, is the problem (count towards ejection)
UNAVAILABLE_KINDS = frozenset({"ConnectionError", "Timeout", "ClientError", "BadResponse", "HTTP502", "HTTP503", "HTTP504"})
#: of those, the ones worth a second try on another server
RETRY_KINDS = UNAVAILABLE_KINDS - {"Timeout"}

#: ``(kind, message)``, e.g. the engine's ``log_event``
EventSink = Callable[[str, str], None]


@dataclass
class _Server:
    """The balancer's own state for one server (mutable, owned by :class:`BalancedBackend`)."""

    backend: RemoteBackend
    started: bool = False
    ejected: bool = True
    outstanding: int = 0
    batches: int = 0
    errors: int = 0
    retried: int = 0
    failures_in_a_row: int = 0
    ejections: int = 0

    @property
    def url(self) -> str:
        return self.backend.url


class BalancedBackend:
    """A :class:`~clawlet_tui.engine.backend.Backend` over several servers of one model; see the module doc."""

    def __init__(
        self,
        urls: Sequence[str],
        model_name: str | None = None,
        *,
        max_connections: int = 8,
        eject_after: int = 3,
        health_interval_s: float | None = 1.0,
        probe_timeout_s: float = 2.0,
        seed: int | None = None,
        on_event: EventSink | None = None,
        **backend_options: Any,
    ) -> None:
        """``health_interval_s`` None: no periodic probe (tests call :meth:`check_health`).
        ``backend_options`` go to each server's :class:`RemoteBackend` (``retries`` defaults
        to 1 here: a dead server should cost one reconnect, not three, before the batch moves)."""
        if len(urls) < 2:
            raise ConfigError(f"a balanced backend needs at least 2 URLs, got {len(urls)}", field="backend")
        if len(set(urls)) != len(urls):
            duplicate = next(u for u in urls if list(urls).count(u) > 1)
            raise ConfigError(f"backend URL {duplicate!r} is given twice", field="backend")
        if not isinstance(eject_after, int) or eject_after < 1:
            raise ConfigError(f"eject_after must be an integer >= 1, got {eject_after!r}", field="eject_after")
        if health_interval_s is not None and not health_interval_s > 0:
            raise ConfigError(f"health_interval_s must be > 0, got {health_interval_s!r}", field="health_interval_s")
        backend_options.setdefault("retries", 1)
        self._servers = [
            _Server(RemoteBackend(url, model_name, max_connections=max_connections, **backend_options))
            for url in urls
        ]
        self.url = ", ".join(s.url for s in self._servers)
        self._model_name = model_name
        #: the model's name (the servers' once started)
        self.name = model_name or "remote"
        self.eject_after = eject_after
        self.health_interval_s = health_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.on_event = on_event
        self._random = random.Random(seed)
        self._reference: _Server | None = None
        self._health: asyncio.Task[None] | None = None
        self.model_info = RemoteModelInfo(self)

    # -- what RemoteModelInfo reads (from the first server that started) ------------------

    @property
    def model_name(self) -> str | None:
        """The name given, or once started the one the servers serve."""
        return self._reference.backend.model_name if self._reference is not None else self._model_name

    @property
    def metadata(self) -> ModelMetadata | None:
        return self._reference.backend.metadata if self._reference is not None else None

    @property
    def input_spec(self) -> TensorSpec:
        if self._reference is None:
            raise BackendError(f"balanced backend {self.url} has not started", kind="NotStarted")
        return self._reference.backend.input_spec

    @property
    def binary(self) -> bool:
        return self._reference is not None and self._reference.backend.binary

    @property
    def servers(self) -> int:
        return len(self._servers)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Check every server; fail only if none is ready (``BackendError`` naming each one's problem)."""
        if self._health is not None or self._reference is not None:
            return
        self.reset_counters()  # each engine that starts the backend measures its own run
        results = await asyncio.gather(*(self._start_one(s) for s in self._servers))
        for server in self._servers:
            server.ejected = True  # until it passed the checks below
        if self._reference is None:
            await self.close()
            problems = "; ".join(str(r) for r in results if r is not None)
            kind = next((r.kind for r in results if r is not None), "NotReady")
            raise BackendError(f"none of the {len(self._servers)} backends is ready: {problems}", kind=kind)
        for server in self._servers:
            if server.started:
                try:
                    self._check_same_model(server)
                except BackendError:
                    await self.close()
                    raise
                server.ejected = False
        self.name = self.model_name or self.name
        if self.health_interval_s is not None:
            self._health = asyncio.create_task(self._health_loop(), name="clawlet-backend-health")

    async def _start_one(self, server: _Server) -> BackendError | None:
        try:
            await server.backend.start()
        except BackendError as exc:
            return exc
        server.started = True
        if self._reference is None:
            self._reference = server
        return None

    def _check_same_model(self, server: _Server) -> None:
        reference = self._reference
        if reference is None or reference is server:
            return
        mine, theirs = server.backend, reference.backend
        if (mine.name, mine.input_spec.datatype, mine.input_spec.item_shape) != (
            theirs.name, theirs.input_spec.datatype, theirs.input_spec.item_shape,
        ):
            raise BackendError(
                f"backends disagree: {theirs.url} serves {theirs.name} {theirs.input_spec.datatype}"
                f"{list(theirs.input_spec.shape)}, {mine.url} serves {mine.name} {mine.input_spec.datatype}"
                f"{list(mine.input_spec.shape)}; give servers of one model (or --model-name)",
                kind="Mismatch",
            )

    async def close(self) -> None:
        health, self._health = self._health, None
        if health is not None:
            health.cancel()
            await asyncio.gather(health, return_exceptions=True)
        await asyncio.gather(*(s.backend.close() for s in self._servers))
        for server in self._servers:
            server.started = False  # ``ejected`` stays as it was: the last rows still say how the run ended
        self._reference = None

    # -- health ---------------------------------------------------------------------------

    async def _health_loop(self) -> None:
        assert self.health_interval_s is not None
        while True:
            await asyncio.sleep(self.health_interval_s)
            await self.check_health()

    async def check_health(self) -> None:
        """Probe every server's readiness once: eject those not ready, re-admit those ready again."""
        await asyncio.gather(*(self._probe(s) for s in self._servers))

    async def _probe(self, server: _Server) -> None:
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                if not server.started:
                    problem = await self._start_one(server)
                    if problem is not None:
                        return
                ready = await server.backend.ready()
        except TimeoutError:
            ready = False
        if server.started and ready:
            try:
                self._check_same_model(server)
            except BackendError as exc:
                self._eject(server, str(exc))
                return
        if ready and server.ejected:
            server.ejected, server.failures_in_a_row = False, 0
            self._event(f"{server.url} is ready: back in the rotation")
        elif not ready and not server.ejected:
            self._eject(server, "its readiness check failed")

    def _eject(self, server: _Server, why: str) -> None:
        if server.ejected:
            return
        server.ejected = True
        server.ejections += 1
        self._event(f"{server.url} out of the rotation: {why}")

    def _event(self, message: str) -> None:
        if self.on_event is not None:
            self.on_event("backend", message)

    # -- the Backend protocol -------------------------------------------------------------

    async def run(self, inputs: Sequence[Any], timeout_s: float | None) -> Sequence[Any]:
        server = self._pick(exclude=None)
        try:
            return await self._run_on(server, inputs, timeout_s)
        except BackendError as exc:
            if exc.kind not in RETRY_KINDS:
                raise
            other = self._pick(exclude=server)
            if other is server:
                raise
            server.retried += 1
            return await self._run_on(other, inputs, timeout_s)

    def _pick(self, exclude: _Server | None) -> _Server:
        """The less busy of two random servers in the rotation (``exclude`` left out if possible)."""
        candidates = [s for s in self._servers if not s.ejected and s is not exclude]
        if not candidates:  # panic: every started server, ejected or not
            candidates = [s for s in self._servers if s.started and s is not exclude]
        if not candidates:
            if exclude is not None:
                return exclude  # nowhere else to go: the caller does not retry
            raise BackendError(f"balanced backend {self.url} has not started", kind="NotStarted")
        if len(candidates) == 1:
            return candidates[0]
        first, second = self._random.sample(candidates, 2)
        return first if first.outstanding <= second.outstanding else second

    async def _run_on(self, server: _Server, inputs: Sequence[Any], timeout_s: float | None) -> Sequence[Any]:
        server.outstanding += 1
        server.batches += 1
        try:
            outputs = await server.backend.run(inputs, timeout_s)
        except BackendError as exc:
            server.errors += 1
            if exc.kind in UNAVAILABLE_KINDS:
                server.failures_in_a_row += 1
                if server.failures_in_a_row >= self.eject_after:
                    self._eject(server, f"{server.failures_in_a_row} failed batches in a row, the last {exc.kind}")
            else:
                server.failures_in_a_row = 0
            raise
        finally:
            server.outstanding -= 1
        server.failures_in_a_row = 0
        return outputs

    def resize(self, pool_size: int) -> None:
        """At most ``pool_size`` batches in flight to *each* server from now on."""
        for server in self._servers:
            server.backend.resize(pool_size)

    def pool_stats(self) -> PoolStats:
        """The servers' request slots and connections, summed."""
        stats = [s.backend.pool_stats() for s in self._servers]
        return PoolStats(
            size=sum(p.size for p in stats),
            in_use=sum(p.in_use for p in stats),
            idle=sum(p.idle for p in stats),
            created=sum(p.created for p in stats),
            waits=sum(p.waits for p in stats),
            discarded=sum(p.discarded for p in stats),
        )

    def reset_counters(self) -> None:
        """Zero ``batches``, ``errors``, ``retried`` and ``ejections`` (the engine's metrics reset);
        what is in flight and who is ejected stay as they are."""
        for server in self._servers:
            server.batches = server.errors = server.retried = server.ejections = 0

    def server_stats(self) -> tuple[BackendServerStats, ...]:
        """One row per server, in the order the URLs were given."""
        rows = []
        for server in self._servers:
            slots = server.backend.slots
            rows.append(BackendServerStats(
                url=server.url,
                in_flight=slots.busy,
                limit=slots.limit,
                batches=server.batches,
                errors=server.errors,
                retried=server.retried,
                ejected=server.ejected,
                ejections=server.ejections,
            ))
        return tuple(rows)


__all__ = ["RETRY_KINDS", "UNAVAILABLE_KINDS", "BalancedBackend"]
