"""``clawlet-tui serve``: any clawlet model behind the Open Inference Protocol (v2 REST).

The model runs inside a :class:`~clawlet_tui.engine.ClawletEngine`, so the server side
batches too: every item of an incoming infer request is submitted to the engine on its
own, and items of concurrent requests share batches.  Endpoints::

    GET  /v2/health/live                  200 {"live": true}
    GET  /v2/health/ready                 200 {"ready": true} | 503 while starting/stopping
    GET  /v2                              server metadata (+ "models": [name], a clawlet extension)
    GET  /v2/models/{name}[/versions/{v}]         model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready   200 | 404 | 503
    POST /v2/models/{name}[/versions/{v}]/infer   inference (JSON or binary tensor data extension)

Guarantees:

* Never crashes on input: malformed JSON or a request breaking the protocol -> 400, an
  unknown model or path -> 404, a body over ``max_request_bytes`` -> 413; the engine
  refusing work -> 503, a request timeout -> 504, the model failing -> 500; every error
  body is ``{"error": "..."}``.  An unexpected exception is logged and answered 500.
* Graceful stop (SIGINT/SIGTERM in :func:`serve`, or :meth:`InferenceServer.stop`):
  readiness turns 503, the listening socket closes, requests in progress finish (up to
  ``drain_timeout_s``), then the engine drains and stops.
* The model is served under ``model_name`` when one is given (``clawlet-tui serve``
  defaults to a short one, ``mlp``, because Triton and KServe users type it in URLs),
  otherwise under the model's own ``name``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from aiohttp import web

from .. import __version__
from ..engine import ClawletEngine, OptimizationConfig
from ..engine.errors import BackendError, ClawletError, EngineStopped, RejectedError, RequestTimeout
from ..stop_signals import StopSignals
from .protocol import (
    BINARY_EXTENSION,
    FP32,
    HEADER_LENGTH,
    ModelMetadata,
    ProtocolError,
    TensorSpec,
    decode_infer_request,
    encode_infer_response,
    encode_infer_response_binary,
    split_body,
    wants_binary_output,
)

if TYPE_CHECKING:
    from ..models.base import Model
    from ..observability import LatestSnapshot
    from ..session import Session

log = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_NAME = "output"
MODEL_VERSION = "1"
SERVER_NAME = "clawlet-tui"


class ServeError(ClawletError):
    """The server could not start (port taken, model unsuitable for serving)."""


@dataclass
class ServerStats:
    """HTTP-level counters of a running server (bounded: counts only)."""

    requests: int = 0
    infer_requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    by_status: Counter[int] = field(default_factory=Counter)


class InferenceServer:
    """One model, one engine, one aiohttp application.  ``start`` then ``stop``."""

    def __init__(
        self,
        model: Model,
        *,
        engine_config: OptimizationConfig | None = None,
        drain_timeout_s: float = 10.0,
        max_request_bytes: int = 64 * 2**20,
        model_name: str | None = None,
        engine: ClawletEngine | None = None,
    ) -> None:
        """``engine``: an engine already built for ``model`` (``clawlet-tui serve`` builds it
        with the preset's session, as ``run`` does); None builds one from ``engine_config``."""
        if model_name is not None and (not model_name or "/" in model_name or model_name != model_name.strip()):
            raise ServeError(f"model name must be non-empty, without '/' or surrounding spaces, got {model_name!r}")
        self.model = model
        self._served_name = model_name
        self.engine = engine if engine is not None else ClawletEngine(engine_config, model)
        self.drain_timeout_s = drain_timeout_s
        self.stats = ServerStats()
        self.metadata: ModelMetadata | None = None
        self.app = web.Application(middlewares=[self._middleware], client_max_size=max_request_bytes)
        self._add_routes()
        self._runner: web.AppRunner | None = None
        self._accepting = False
        self.url = ""

    @property
    def port(self) -> int:
        """The port listened on (0 before :meth:`start`)."""
        return int(self.url.rsplit(":", 1)[1]) if self.url else 0

    @property
    def name(self) -> str:
        """The name clients use in URLs: ``model_name`` if given, else the model's own."""
        if self._served_name is not None:
            return self._served_name
        return str(getattr(self.model, "name", type(self.model).__name__))

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 8000) -> str:
        """Start the engine, learn the model's tensor shapes, listen; the base URL.

        ``port=0`` picks a free port.  Raises :class:`ServeError` if the port is taken or
        the model's inputs are not numeric arrays.
        """
        await self.engine.start()
        try:
            self.metadata = self._describe_model()
            self._runner = web.AppRunner(self.app, shutdown_timeout=self.drain_timeout_s, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        except BaseException:
            await self.stop()
            raise
        bound_host, bound_port = self._runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{url_host}:{bound_port}"
        self._accepting = True
        self.engine.log_event("serve", f"listening on {self.url}")
        return self.url

    async def stop(self) -> None:
        """Turn unready, stop listening, let running requests finish, then drain the engine."""
        self._accepting = False
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.engine.stop(drain_timeout_s=self.drain_timeout_s)

    def _describe_model(self) -> ModelMetadata:
        """Tensor shapes without calling the model: input from ``make_input(0)``, output from hints.

        Calling the model here would delay start by a slow model's latency (or hang on a
        hung one), so the output shape is known only for models that say it (see
        :func:`_output_item_shape`); otherwise it is ``[-1, -1]``, which v2 allows.  A model
        with tensor names of its own (an ONNX graph's ``input_name`` / ``output_name``) and a
        ``platform`` (``onnxruntime_onnx``, as Triton says) is described under those.  The
        batch axis is ``-1`` even for a model with a fixed batch of 1: this server splits
        every request into items, so it takes any number of rows.
        """
        try:
            example = np.asarray(self.model.make_input(0))
        except Exception as exc:
            raise ServeError(f"model {self.name}: make_input failed: {type(exc).__name__}: {exc}") from None
        if example.dtype.kind not in "biuf" or example.ndim < 1:
            raise ServeError(f"model {self.name}: inputs must be numeric arrays to serve, got {example.dtype} {example.shape}")
        return ModelMetadata(
            name=self.name,
            versions=(MODEL_VERSION,),
            platform=str(getattr(self.model, "platform", None) or f"clawlet-tui {__version__}"),
            inputs=(TensorSpec(_tensor_name(self.model, "input_name", INPUT_NAME), FP32, (-1, *example.shape)),),
            outputs=(
                TensorSpec(
                    _tensor_name(self.model, "output_name", OUTPUT_NAME),
                    FP32,
                    (-1, *_output_item_shape(self.model, example.shape)),
                ),
            ),
        )

    # -- HTTP ---------------------------------------------------------------------------

    def _add_routes(self) -> None:
        model_paths = ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"]
        routes = [
            web.get("/v2/health/live", self._live),
            web.get("/v2/health/ready", self._ready),
            web.get("/v2", self._server_metadata),
        ]
        for path in model_paths:
            routes += [
                web.get(path, self._model_metadata),
                web.get(path + "/ready", self._model_ready),
                web.post(path + "/infer", self._infer),
            ]
        self.app.add_routes(routes)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            text = exc.text or ""
            if not text or text.startswith(f"{exc.status}:"):
                text = f"{exc.reason}: {request.method} {request.path}"
            response = _error(exc.status, text)
        except _NotFound as exc:
            response = _error(404, str(exc))
        except ProtocolError as exc:
            response = _error(400, str(exc))
        except Exception as exc:
            log.exception("unhandled error serving %s %s", request.method, request.path)
            response = _error(500, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            stats.in_flight -= 1
        stats.by_status[response.status] += 1
        return response

    async def _live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def _ready(self, request: web.Request) -> web.Response:
        ready = self._accepting and self.engine.running
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    async def _server_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"name": SERVER_NAME, "version": __version__, "extensions": [BINARY_EXTENSION, "clawlet_models"], "models": [self.name]}
        )

    def _check_model(self, request: web.Request) -> ModelMetadata:
        name = request.match_info["name"]
        if name != self.name:
            raise _NotFound(f"unknown model {name!r}; this server serves {self.name!r}")
        version = request.match_info.get("version")
        if version is not None and version != MODEL_VERSION:
            raise _NotFound(f"unknown version {version!r} of model {name!r}; versions: {MODEL_VERSION}")
        assert self.metadata is not None
        return self.metadata

    async def _model_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(self._check_model(request).to_dict())

    async def _model_ready(self, request: web.Request) -> web.Response:
        self._check_model(request)
        ready = self._accepting and self.engine.running
        return web.json_response({"name": self.name, "ready": ready}, status=200 if ready else 503)

    async def _infer(self, request: web.Request) -> web.Response:
        metadata = self._check_model(request)
        self.stats.infer_requests += 1
        raw = await request.read()
        try:
            body, binary = split_body(raw, request.headers.get(HEADER_LENGTH))
        except ProtocolError as exc:
            return _error(400, f"request body: {exc}")
        batch = decode_infer_request(body, metadata.inputs[0], binary)
        output_name = metadata.outputs[0].name
        binary_out = wants_binary_output(body, output_name)  # checked before any work is done
        if batch.shape[0] == 0:
            return web.json_response(
                {"model_name": self.name, "outputs": [{"name": output_name, "shape": [0], "datatype": FP32, "data": []}]}
            )
        results = await asyncio.gather(*(self.engine.submit(row) for row in batch), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            first = failures[0]
            return _error(
                _status_for(first), f"{len(failures)} of {len(results)} items failed: {type(first).__name__}: {first}"
            )
        request_id = body.get("id") if isinstance(body.get("id"), str) else None
        try:
            if binary_out:
                data, header_length = encode_infer_response_binary(self.name, output_name, results, request_id=request_id)
                return web.Response(
                    body=data,
                    content_type="application/octet-stream",
                    headers={HEADER_LENGTH: str(header_length)},
                )
            response = encode_infer_response(self.name, output_name, results, request_id=request_id)
        except (TypeError, ValueError) as exc:
            return _error(500, f"model {self.name} returned outputs that are not one numeric shape: {exc}")
        return web.json_response(response)


class _NotFound(Exception):
    pass


def _tensor_name(model: Model, hint: str, default: str) -> str:
    """The model's own name for a tensor (``input_name`` / ``output_name``), wrappers looked through."""
    layer: Any = model
    while layer is not None:
        name = getattr(layer, hint, None)
        if isinstance(name, str) and name:
            return name
        layer = getattr(layer, "inner", None)
    return default


def _output_item_shape(model: Model, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A model's output item shape if it is known without running it, else ``(-1,)``.

    A model may state it as ``output_shape``; wrappers (``inner``) are looked through;
    the built-in MLP and latency models are known.
    """
    from ..models import LatencyModel, MLPModel

    shape = getattr(model, "output_shape", None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    inner = getattr(model, "inner", None)
    if inner is not None:
        return _output_item_shape(inner, input_shape)
    if isinstance(model, MLPModel):
        return (model.layers[-1],)
    if isinstance(model, LatencyModel):
        return tuple(input_shape)
    return (-1,)


def _status_for(exc: BaseException) -> int:
    if isinstance(exc, (RejectedError, EngineStopped)):
        return 503
    if isinstance(exc, RequestTimeout):
        return 504
    if isinstance(exc, BackendError):
        return 500
    return 500


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# -- entry points -----------------------------------------------------------------------


@asynccontextmanager
async def running_server(
    model: Model,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    engine_config: OptimizationConfig | None = None,
    drain_timeout_s: float = 10.0,
    model_name: str | None = None,
) -> AsyncIterator[InferenceServer]:
    """A started :class:`InferenceServer` for the block (``server.url``, ``server.stats``, ``server.engine``).

    ``port=0`` picks a free port; to restart on the same port, pass ``server.port``.
    """
    server = InferenceServer(model, engine_config=engine_config, drain_timeout_s=drain_timeout_s, model_name=model_name)
    await server.start(host, port)
    try:
        yield server
    finally:
        await server.stop()


async def serve(
    model: Model,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    engine_config: OptimizationConfig | None = None,
    ready_event: asyncio.Event | None = None,
    stop_event: asyncio.Event | None = None,
    announce: Callable[[str], None] | None = None,
    model_name: str | None = None,
    metrics: LatestSnapshot | None = None,
    engine: ClawletEngine | None = None,
) -> int | None:
    """Serve ``model`` until SIGINT/SIGTERM (or ``stop_event``), then stop gracefully.

    ``announce(url)`` is called and ``ready_event`` set once the server listens.  Returns
    the number of the signal that stopped it (None when ``stop_event`` did).  ``metrics``
    is kept up to date with the serving engine's snapshots (for ``--metrics-port``).
    """
    server = InferenceServer(model, engine_config=engine_config, model_name=model_name, engine=engine)
    await server.start(host, port)
    if metrics is not None:
        metrics.source = server.engine.snapshot
        metrics.start()
    stop = stop_event or asyncio.Event()
    try:
        with StopSignals(stop) as signals:
            if announce is not None:
                announce(server.url)
            if ready_event is not None:
                ready_event.set()
            await stop.wait()
    finally:
        await server.stop()
        if metrics is not None:
            await metrics.stop()  # a last scrape agrees with what the server served
    return signals.received


def run_server(
    model_spec: Mapping[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: OptimizationConfig | None = None,
    *,
    model_name: str | None = None,
    source: str | None = None,
    signal_exit: bool = False,
    metrics: LatestSnapshot | None = None,
    session: Session | None = None,
) -> int:
    """``clawlet-tui serve``: build the model from its spec, serve until interrupted.

    ``session`` (what the CLI passes): the model and engine built from a preset by
    :func:`~clawlet_tui.session.build_session`, as for ``run``; ``model_spec``, ``config``
    and ``source`` are then not used.

    ``model_name`` is the name clients use (default: the model's own); ``source`` is the
    preset file the spec came from (a user model is looked for next to it).  Returns 0,
    or with ``signal_exit`` (the CLI's convention) 128 + the signal that stopped the
    server after its graceful stop: 130 for SIGINT, 143 for SIGTERM.

    Raises :class:`ConfigError` for a bad model spec and :class:`ServeError` if the server
    cannot start (the CLI maps both to one-line messages).
    """
    from ..models import build_model

    engine: ClawletEngine | None = None
    if session is not None:
        if session.backend is not None:
            raise ServeError("serve needs a local model: this session runs its model on a backend_url")
        # without a backend the session's model is a full Model (it has predict)
        model, engine = cast("Model", session.model), session.engine
    else:
        model = build_model(model_spec, source=source or "serve")
    own_name = str(getattr(model, "name", type(model).__name__))
    served = model_name or own_name

    def announce(url: str) -> None:
        what = "" if served == own_name else f"model {own_name}; "
        print(
            f"clawlet-tui serve: {served} at {url}/v2/models/{served} ({what}Ctrl-C or SIGTERM stops it)", flush=True
        )

    stopped_by: int | None = int(signal.SIGINT)
    try:
        stopped_by = asyncio.run(serve(
            model, host, port, engine_config=config, announce=announce, model_name=model_name, metrics=metrics,
            engine=engine,
        ))
    except KeyboardInterrupt:  # where signal handlers could not be installed
        pass
    return 128 + stopped_by if signal_exit and stopped_by is not None else 0
