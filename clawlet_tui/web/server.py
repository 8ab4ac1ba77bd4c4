"""WebView: the dashboard in a browser, one dashboard process per browser tab.

Built on ``textual-serve``: its :class:`~textual_serve.app_service.AppService` runs a
Textual app as a subprocess under Textual's web driver and relays its screen to the
page over a websocket, and its ``static/`` files (xterm.js in ``textual.js``, the
Roboto Mono fonts) draw it in the browser.  Its ``Server`` class is not used as is:

* its page loads Roboto Mono from fonts.googleapis.com; offline (a lab machine, an
  air-gapped cluster, the CI sandbox) that request fails and the terminal falls back to
  another font.  Our page (``templates/index.html``) declares the fonts textual-serve
  ships, so every request goes to this server;
* its page holds absolute URLs built from ``--host``/``--port``, wrong for
  ``--host 0.0.0.0`` or behind a proxy; ours uses URLs relative to the page;
* it cannot say which port ``--port 0`` picked, prints a banner and an access log,
  and leaves dashboards running when it stops.

Guarantees.  :meth:`WebView.start` binds or raises :class:`WebServerError` (one line,
exit 1).  Every websocket gets its own dashboard process; closing the tab quits it the
way ``q`` does (the engine drains, its temporary L2 directory goes).
:meth:`WebView.stop` quits every dashboard still open, waits for each at most
``quit_timeout_s`` and kills one that has not ended by then, and frees the port.

Headless browsers.  The dashboard starts in a few seconds of real time and reaches the
page over a websocket, so a screenshot taken with ``--virtual-time-budget`` (whose clock
runs ahead of real time, and stops page tasks while a request is open) shows the
"starting" page or a terminal not painted yet; tests/web/conftest.py drives Chromium
over its DevTools protocol instead and waits until the terminal has painted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from ..engine.errors import ClawletError
from ..stop_signals import StopSignals

#: textual-serve's own static files: textual.js (xterm.js), xterm.css, the fonts
STATIC_DIR = Path(textual_serve.__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
#: longest wait for a dashboard to quit once asked: its drain is bounded by 20 s, its
#: engine's exit by 5 s more
QUIT_TIMEOUT_S = 30.0

log = logging.getLogger("clawlet_tui.web")


class WebServerError(ClawletError):
    """The web view could not listen (the port is taken, say): the machine, not the
    command line, is at fault, as for ``serve``'s own port."""

    exit_code = 1


class WebView:
    """Serves ``command`` (a shell command that runs a Textual app) to browsers at ``url``."""

    def __init__(
        self,
        command: str,
        *,
        title: str = "clawlet-tui",
        quit_timeout_s: float = QUIT_TIMEOUT_S,
    ) -> None:
        self.command = command
        self.title = title
        self.quit_timeout_s = quit_timeout_s
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sessions: set[AppService] = set()
        # AppService wants one; the dashboard delivers no files (`w` writes its report on
        # the server's disk), so no /download route serves them
        self._downloads = DownloadManager()
        self._page = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True
        ).get_template("index.html")

    def make_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self._index),
                web.get("/ws", self._websocket),
                web.static("/static", STATIC_DIR),
            ]
        )
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 8000) -> str:
        """Listen on ``host:port`` (0: a free port); the page's URL.  :class:`WebServerError` if it cannot."""
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise WebServerError(_bind_message(host, port, exc)) from None
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{url_host}:{bound_port}/"
        return self.url

    async def stop(self) -> None:
        """Quit every open dashboard (bounded, see the module doc), then stop listening."""
        sessions = list(self._sessions)
        if sessions:
            await asyncio.gather(*(self._quit(service) for service in sessions))
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- handlers ----------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        font_size = _int(request.query.get("fontsize"), 16, low=6, high=64)
        page = self._page.render(title=self.title, font_size=font_size)
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        width = _int(request.query.get("width"), 80, low=10, high=1000)
        height = _int(request.query.get("height"), 24, low=5, high=500)
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)

        async def close() -> None:
            await websocket.close()

        service = _DashboardSession(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self._downloads,
        )
        self._sessions.add(service)
        try:
            await service.start(width, height)
            await _relay_browser(websocket, service)
        finally:
            await self._quit(service)
            await websocket.close()
        return websocket

    async def _quit(self, service: AppService) -> None:
        """Ask the dashboard to quit as ``q`` does; kill it if it has not ended in time."""
        if service not in self._sessions:
            return
        self._sessions.discard(service)
        stopping = asyncio.ensure_future(service.stop())
        done, _ = await asyncio.wait({stopping}, timeout=self.quit_timeout_s)
        if not done:
            log.warning("a dashboard did not quit within %.0f s; killing it", self.quit_timeout_s)
            # AppService keeps its process private; killing it ends the relay, then stop()
            process = getattr(service, "_process", None)
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        await stopping


class _DashboardSession(AppService):
    """textual-serve's AppService, which also closes the page's websocket when the
    dashboard ends on its own (``q``, an error): the page then says "Session ended"
    instead of waiting forever."""

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            with contextlib.suppress(Exception):
                await self.remote_close()


async def _relay_browser(websocket: web.WebSocketResponse, service: AppService) -> None:
    """Keys, resizes and focus from the page to the dashboard, until the page goes."""
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            kind, data = json.loads(message.data)
        except (ValueError, TypeError):
            continue  # not one of textual.js's [type, data] envelopes
        if kind == "stdin" and isinstance(data, str):
            await service.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            width = _int(str(data.get("width")), 80, low=10, high=1000)
            height = _int(str(data.get("height")), 24, low=5, high=500)
            await service.set_terminal_size(width, height)
        elif kind == "ping":
            await websocket.send_json(["pong", data])
        elif kind == "blur":
            await service.blur()
        elif kind == "focus":
            await service.focus()


def _int(text: str | None, default: int, *, low: int, high: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)


def _bind_message(host: str, port: int, exc: OSError) -> str:
    import errno

    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot serve the web view on {where}: the port is already in use (pick another with --port, or 0 for any free port)"
    if exc.errno == errno.EACCES:
        return f"cannot serve the web view on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve the web view on {where}: {host} is not an address of this machine"
    return f"cannot serve the web view on {where}: {exc.strerror or exc}"


async def serve_until_signalled(
    view: WebView, host: str, port: int, *, announce: Any = None, stop_event: asyncio.Event | None = None
) -> int | None:
    """Serve ``view`` until SIGINT/SIGTERM (or ``stop_event``), then stop it.

    ``announce(url)`` is called once it listens.  Returns the number of the signal that
    stopped it (None when ``stop_event`` did).
    """
    url = await view.start(host, port)
    stop = stop_event or asyncio.Event()
    try:
        with StopSignals(stop) as signals:
            if announce is not None:
                announce(url)
            await stop.wait()
    finally:
        await view.stop()
    return signals.received
