"""RemoteBackend: the engine's backend for a model served over the Open Inference Protocol.

Works against ``clawlet-tui serve``, NVIDIA Triton, KServe, MLServer, or anything that
speaks the v2 REST protocol with one FP32 input of shape ``[-1, *item shape]``.  Each
engine batch becomes one ``POST /v2/models/{name}/infer``.

Guarantees:

* **Bounded.**  At most ``max_connections`` (later: the engine's ``pool_size``)
  requests are in flight, enforced by an :class:`~clawlet_tui.engine.concurrency.ConcurrencyController`; a batch that finds
  every slot busy waits, first come first served, and the wait is counted.  aiohttp's connector is left
  unlimited on purpose: the slots are the one bound, so :meth:`resize` takes effect at
  once in both directions, and since a request holds one connection, open connections in
  use never exceed the slots.  Idle keep-alive connections beyond a shrunken bound close
  after aiohttp's keep-alive timeout.
* **One session.**  One ``aiohttp.ClientSession`` with keep-alive connections, created in
  :meth:`start`, closed in :meth:`close`.
* **Retries only what is safe to retry.**  A connection error (refused, reset, server
  closed a kept-alive connection, connect timeout) is retried up to ``retries`` times with
  exponential backoff ``backoff_s * 2**attempt``; each retry counts as a reconnect.
  An HTTP error status is never retried: 4xx/5xx raise ``BackendError(kind="HTTP<status>")``
  carrying the server's ``{"error": ...}`` message.  A read timeout is not retried
  either (the server may still be computing): ``BackendError(kind="Timeout")``.
* **Binary tensors when the server takes them.**  With ``binary=None`` (the default) the
  backend sends batches with the binary tensor data extension, and asks for binary
  outputs, if the server lists ``binary_tensor_data`` among the ``extensions`` of its
  metadata (``GET /v2``: Triton and ``clawlet-tui serve`` do), and as JSON otherwise.
  ``binary=True`` / ``False`` forces either.  A response is read as binary whenever it
  carries ``Inference-Header-Content-Length``, whatever was asked.  There is no silent
  fallback: a server that rejects a forced binary request fails the batch with its HTTP
  status, and the message says to use ``binary=False``.  Responses are asked for
  uncompressed (``Accept-Encoding: identity``).
* **No surprises from the wire.**  A malformed response raises
  ``BackendError(kind="BadResponse")``; nothing else escapes :meth:`run` but
  ``BackendError`` (and ``CancelledError``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import numpy as np

from ..engine.concurrency import ConcurrencyController
from ..engine.errors import BackendError, ConfigError
from ..engine.rules import Rule
from ..engine.snapshot import PoolStats
from ..models.inputs import InputBank
from .protocol import (
    BINARY_EXTENSION,
    HEADER_LENGTH,
    ModelMetadata,
    ProtocolError,
    TensorSpec,
    decode_infer_response,
    encode_infer_request,
    encode_infer_request_binary,
    parse_json,
    split_body,
)

_JSON = {"Content-Type": "application/json"}


class ServedModel(Protocol):
    """What :class:`RemoteModelInfo` reads: a :class:`RemoteBackend`, or a balanced set of them."""

    @property
    def url(self) -> str: ...
    @property
    def model_name(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def metadata(self) -> ModelMetadata | None: ...
    @property
    def input_spec(self) -> TensorSpec: ...
    @property
    def binary(self) -> bool: ...


class RemoteModelInfo:
    """Stands in for the model on the client side: name, payloads and description.

    The engine and the load generator only need ``name``, ``make_input(key)`` and
    ``describe()``; the input shape comes from the server's model metadata, so
    ``make_input`` works once the backend has started.  Payloads are deterministic
    float32 normals from the same generator as :class:`~clawlet_tui.models.mlp.MLPModel`,
    so a served MLP sees exactly the inputs it would see in process.
    """

    def __init__(self, backend: ServedModel, seed: int = 0) -> None:
        self._backend = backend
        self.seed = seed
        self._inputs: InputBank | None = None
        #: read once by the engine for its cache keys: results of different models never mix
        self.cache_namespace = f"remote:{backend.url}/{backend.model_name or '<default>'}"

    @property
    def name(self) -> str:
        return self._backend.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self._backend.input_spec.item_shape

    def make_input(self, key: int) -> np.ndarray:
        shape = self.input_shape
        if self._inputs is None or self._inputs.dim != int(np.prod(shape)):
            self._inputs = InputBank(int(np.prod(shape)), self.seed)
        return self._inputs.payload(key).reshape(shape)

    def describe(self) -> str:
        metadata = self._backend.metadata
        if metadata is None:
            return f"remote model at {self._backend.url} (not connected yet)"
        spec = self._backend.input_spec
        platform = f", {metadata.platform}" if metadata.platform else ""
        wire = "binary tensors" if self._backend.binary else "JSON tensors"
        return (
            f"remote model {metadata.name} at {self._backend.url} "
            f"(input {spec.datatype} {list(spec.shape)}{platform}, {wire})"
        )


class RemoteBackend:
    """A :class:`~clawlet_tui.engine.backend.Backend` that runs batches on a v2 inference server.

    ``model_name`` None: use the server's only model (from the ``models`` list of
    ``clawlet-tui serve``'s server metadata, or Triton's repository index).  Pass it for
    any server that serves several models.
    """

    def __init__(
        self,
        url: str,
        model_name: str | None = None,
        *,
        max_connections: int = 8,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        binary: bool | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                reason=f"backend URL must start with http:// or https://, got {url!r}", field="backend", sep=None
            )
        arguments = {
            "max_connections": max_connections, "connect_timeout_s": connect_timeout_s,
            "read_timeout_s": read_timeout_s, "retries": retries, "backoff_s": backoff_s,
        }
        for name, rule in _RULES.items():
            rule.check(name, arguments[name])
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.name = model_name or "remote"
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        #: None: decided at start from the server's extensions
        self.binary_requested = binary
        #: whether batches travel as binary tensors (known once started)
        self.binary = bool(binary)
        self._server_lists_binary = False
        self.slots = ConcurrencyController(max_connections)
        self.metadata: ModelMetadata | None = None
        self._input_spec: TensorSpec | None = None
        self._output_name: str | None = None
        self._infer_url = ""
        self._session: aiohttp.ClientSession | None = None
        #: TCP connections opened (aiohttp trace ``on_connection_create_end``)
        self.connections_created = 0
        #: connection errors followed by a retry
        self.reconnects = 0
        self.model_info = RemoteModelInfo(self)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the session, check the server is ready, and read the model's metadata.

        Raises ``BackendError`` saying what is wrong (unreachable, not ready, unknown
        model, a model clawlet cannot batch for); the session is closed again then.
        """
        if self._session is not None:
            return
        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(self._on_connection_created)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            # aiohttp offers gzip/deflate by default, and Triton then compresses every
            # response: CPU on both sides for float32 data that barely shrinks
            headers={"Accept-Encoding": "identity"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s, sock_read=self.read_timeout_s),
            trace_configs=[trace],
        )
        try:
            status, body, _ = await self._request("GET", "/v2/health/ready")
            if status != 200:
                raise BackendError(
                    f"server at {self.url} is not ready (GET /v2/health/ready: HTTP {status}{_error_text(body)})",
                    kind="NotReady",
                )
            server = await self._server_metadata()
            extensions = server.get("extensions") if isinstance(server, dict) else None
            self._server_lists_binary = isinstance(extensions, list) and BINARY_EXTENSION in extensions
            if self.binary_requested is None:
                self.binary = self._server_lists_binary
            name = self.model_name or await self._discover_model(server)
            path = f"/v2/models/{quote(name, safe='')}"
            status, body, _ = await self._request("GET", f"{path}/ready")
            if status != 200:
                raise BackendError(
                    f"model {name!r} is not ready at {self.url} (HTTP {status}{_error_text(body)})", kind="NotReady"
                )
            status, body, _ = await self._request("GET", path)
            if status != 200:
                raise _http_error(status, body, f"GET {path}")
            try:
                metadata = ModelMetadata.from_dict(parse_json(body))
            except ProtocolError as exc:
                raise BackendError(f"bad model metadata from {self.url}: {exc}", kind="BadResponse") from None
            try:
                self._input_spec = metadata.batchable_input()
            except ProtocolError as exc:
                raise BackendError(str(exc), kind="UnsupportedModel") from None
            self.metadata = metadata
            self._output_name = metadata.outputs[0].name if len(metadata.outputs) == 1 else None
            self.model_name = self.name = name
            self._infer_url = f"{self.url}{path}/infer"
        except BaseException:
            await self.close()
            raise

    async def ready(self) -> bool:
        """Whether the server and the model say they are ready now: one probe each, no retry.

        For a started backend (the balancer's periodic health check); an unreachable
        server, or any answer but 200, is False.
        """
        if self._session is None or self.model_name is None:
            return False
        try:
            status, _, _ = await self._request("GET", "/v2/health/ready", retries=0)
            if status != 200:
                return False
            status, _, _ = await self._request("GET", f"/v2/models/{quote(self.model_name, safe='')}/ready", retries=0)
        except BackendError:
            return False
        return status == 200

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # -- the Backend protocol -----------------------------------------------------------

    @property
    def input_spec(self) -> TensorSpec:
        if self._input_spec is None:
            raise BackendError(f"remote backend {self.url} has not started", kind="NotStarted")
        return self._input_spec

    async def run(self, inputs: Sequence[Any], timeout_s: float | None) -> Sequence[Any]:
        """One ``POST .../infer`` for the whole batch; the outputs in order."""
        spec = self.input_spec
        try:
            if self.binary:
                payload, header_length = encode_infer_request_binary(inputs, spec.name, output_name=self._output_name)
                headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(header_length)}
            else:
                payload, headers = json.dumps(encode_infer_request(inputs, spec.name)).encode(), _JSON
        except ProtocolError as exc:
            raise BackendError(str(exc), kind="BadInput") from None
        await self.slots.acquire()
        try:
            async with asyncio.timeout(timeout_s):
                status, body, reply_headers = await self._request(
                    "POST", self._infer_url, payload, absolute=True, headers=headers
                )
        except TimeoutError:
            raise BackendError(f"no response from {self._infer_url} within {timeout_s:g} s", kind="Timeout") from None
        finally:
            self.slots.release()
        if status != 200:
            hint = ""
            if self.binary and not self._server_lists_binary and 400 <= status < 500:
                hint = _BINARY_HINT  # no silent fallback: say what was tried and how to turn it off
            raise _http_error(status, body, "infer", hint)
        try:
            data, binary = split_body(body, reply_headers.get(HEADER_LENGTH))
        except ProtocolError as exc:
            raise BackendError(f"bad inference response: {exc}", kind="BadResponse") from None
        return decode_infer_response(data, len(inputs), self._output_name, binary)

    def resize(self, pool_size: int) -> None:
        """At most ``pool_size`` requests in flight from now on (running ones finish)."""
        if pool_size < 1:
            raise ValueError(f"pool size must be >= 1, got {pool_size}")
        self.slots.set_limit(pool_size)

    def pool_stats(self) -> PoolStats:
        """``size``/``in_use``/``idle``: request slots; ``created``: TCP connections opened;
        ``waits``: batches that waited for a slot; ``discarded``: reconnects."""
        slots = self.slots
        return PoolStats(
            size=slots.limit,
            in_use=slots.busy,
            idle=max(0, slots.limit - slots.busy),
            created=self.connections_created,
            waits=slots.waits,
            discarded=self.reconnects,
        )

    # -- HTTP ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        payload: bytes | None = None,
        *,
        absolute: bool = False,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """``(status, body, headers)``, retrying connection errors only (``retries`` None:
        the backend's own count); other failures are BackendErrors."""
        if self._session is None:
            raise BackendError(f"remote backend {self.url} is not started", kind="NotStarted")
        url = path if absolute else self.url + path
        if headers is None and payload is not None:
            headers = _JSON
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                async with self._session.request(method, url, data=payload, headers=headers) as response:
                    return response.status, await response.read(), response.headers
            except aiohttp.ServerTimeoutError as exc:
                if not isinstance(exc, aiohttp.ConnectionTimeoutError) or attempt >= retries:
                    raise BackendError(f"{method} {url} timed out: {exc or type(exc).__name__}", kind="Timeout") from None
            except aiohttp.ClientConnectionError as exc:
                if attempt >= retries:
                    raise BackendError(
                        f"cannot reach {url} ({attempt + 1} attempt(s)): {exc or type(exc).__name__}",
                        kind="ConnectionError",
                    ) from None
            except aiohttp.ClientError as exc:
                raise BackendError(f"{method} {url} failed: {type(exc).__name__}: {exc}", kind="ClientError") from None
            self.reconnects += 1
            await asyncio.sleep(self.backoff_s * 2**attempt)
            attempt += 1

    async def _server_metadata(self) -> Any:
        """``GET /v2`` parsed, or None if the server does not answer it with JSON."""
        status, body, _ = await self._request("GET", "/v2")
        if status != 200:
            return None
        try:
            return parse_json(body)
        except ProtocolError:
            return None

    async def _discover_model(self, server: Any) -> str:
        """The server's only model, from ``GET /v2`` (clawlet) or the repository index (Triton)."""
        candidates: list[str] = []
        models = server.get("models") if isinstance(server, dict) else None
        if isinstance(models, list):
            candidates = [m for m in models if isinstance(m, str)]
        if not candidates:
            status, body, _ = await self._request("POST", "/v2/repository/index", b'{"ready": true}')
            if status == 200:
                try:
                    index = parse_json(body)
                except ProtocolError:
                    index = None
                if isinstance(index, list):
                    candidates = [
                        m["name"] for m in index
                        if isinstance(m, dict) and isinstance(m.get("name"), str) and m.get("state", "READY") == "READY"
                    ]
                    candidates = list(dict.fromkeys(candidates))
        if len(candidates) == 1:
            return candidates[0]
        found = f"it serves {len(candidates)}: {', '.join(candidates)}" if candidates else "it does not list its models"
        raise BackendError(f"cannot choose a model at {self.url}: {found}; pass the model name", kind="UnknownModel")

    async def _on_connection_created(self, session: Any, context: SimpleNamespace, params: Any) -> None:
        self.connections_created += 1


#: what the constructor's arguments must be (see engine/rules.py)
_RULES: dict[str, Rule] = {
    "max_connections": Rule(int, 1, says="an integer >= 1"),
    "connect_timeout_s": Rule(float, 0.0, above=True),
    "read_timeout_s": Rule(float, 0.0, above=True),
    "retries": Rule(int, 0, says="an integer >= 0"),
    "backoff_s": Rule(float, 0.0),
}


def _error_text(body: bytes) -> str:
    """``": <message>"`` from a ``{"error": ...}`` body, else a short preview of the body."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        text = body[:200].decode("utf-8", "replace").strip()
        return f": {text}" if text else ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return f": {data['error']}"
    return f": {json.dumps(data)[:200]}"


_BINARY_HINT = (
    " (the request used the binary tensor data extension, which this server does not list in GET /v2;"
    " if it does not support it, use binary=False for JSON tensors)"
)


def _http_error(status: int, body: bytes, what: str, hint: str = "") -> BackendError:
    return BackendError(f"{what} failed with HTTP {status}{_error_text(body)}{hint}", kind=f"HTTP{status}")
