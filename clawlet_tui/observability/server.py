"""MetricsServer: ``/metrics`` over HTTP for Prometheus to scrape.

The response is ``prometheus_client``'s own WSGI app (content negotiation, the text and
OpenMetrics formats, gzip) over a registry of our own (:func:`.prometheus.make_registry`).
The server runs on a daemon thread and a thread per request; :meth:`MetricsServer.stop`
shuts it down and closes the socket, so the port is free again when it returns.

Nothing is ever written to stdout or stderr (the dashboard owns the terminal): request
lines are not logged, a client that hangs up mid-response is ignored, and a snapshot
source that raises is counted in a metric (see :class:`.prometheus.SnapshotCollector`).

Port 0 picks a free port (:attr:`MetricsServer.port` says which).  A port that cannot be
bound (in use, privileged, a bad host) raises :class:`MetricsServerError`, whose message
is one line for the CLI.
"""

from __future__ import annotations

import errno
import socket
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from ..engine.errors import ClawletError
from .prometheus import SnapshotCollector, SnapshotSource, make_registry


class MetricsServerError(ClawletError):
    """The metrics endpoint could not be served (the port is taken, say).  Exit 1, as for
    `serve`'s own port: the machine, not the command line, is at fault."""

    exit_code = 1


class _Server(ThreadingWSGIServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's full name (socket.getfqdn), which
        # can stall for seconds on a machine without a resolver; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-response: nothing to report (the default prints a traceback)."""


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on the terminal."""


class MetricsServer:
    """Serves the metrics of ``snapshot_source`` on ``http://host:port/metrics``.

    ``snapshot_source`` is called on the server's threads, once per scrape: it must be
    thread-safe (pass :meth:`LatestSnapshot.get`, not ``engine.snapshot``).  It may
    return None before the engine has published anything.
    """

    def __init__(self, port: int, snapshot_source: SnapshotSource, host: str = "127.0.0.1") -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise MetricsServerError(f"metrics port must be an integer from 0 to 65535, got {port!r}")
        self.host = host
        self.requested_port = port
        self.registry: CollectorRegistry
        self.collector: SnapshotCollector
        self.registry, self.collector = make_registry(snapshot_source)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port served (the one picked when 0 was asked, kept after stop); the requested one before start."""
        return self._bound_port if self._bound_port is not None else self.requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Bind and serve; raises :class:`MetricsServerError` if the port cannot be bound."""
        if self._server is not None:
            return
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self.requested_port), _QuietHandler)
        except OSError as exc:
            raise MetricsServerError(_bind_message(self.host, self.requested_port, exc)) from None
        server.set_app(make_wsgi_app(self.registry))
        self._server, self._bound_port = server, server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="clawlet-metrics", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port (waits for the serving thread; safe to call twice)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _bind_message(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot serve metrics on {where}: the port is already in use (pick another with --metrics-port, or 0 for any free port)"
    if exc.errno == errno.EACCES:
        return f"cannot serve metrics on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve metrics on {where}: {host} is not an address of this machine"
    reason = exc.strerror or str(exc)
    return f"cannot serve metrics on {where}: {reason}"
