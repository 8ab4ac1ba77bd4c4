"""The web view served for real: ``clawlet-tui web --port 0`` as a child process.

The page loads nothing from another host (the CDN font textual-serve's own page asks
for is served locally); a browser tab gets a dashboard that draws its panels; closing
the tab or stopping the server ends that dashboard and its engine, and removes its
temporary L2 directory.  Where Chromium is installed, a headless Chromium with no
network but the loopback opens the page and the dashboard paints.
"""

from __future__ import annotations

import asyncio
import re
import signal
import struct
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from .conftest import TIMEOUT_S, WebServer, chromium_path, running_server, screenshot_when_painted

pytest.importorskip("textual_serve")

#: every URL a page or a stylesheet names: src="...", href="...", url(...)
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)["']?\s*\)""")


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def references(text: str) -> list[str]:
    return [a or b for a, b in _REFERENCES.findall(text)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    yield from running_server(tmp_path / "tmpdir")


def test_the_page_and_its_assets_come_from_this_server_only(server: WebServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
    status, content_type, body = fetch(server.url)
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    assert not re.search(r"(?:https?|wss?)://", page), "the page names another host"
    assets = references(page)
    assert {"static/css/xterm.css", "static/js/textual.js"} <= set(assets)
    assert any(a.endswith(".ttf") for a in assets), "the page declares no local font"
    seen: set[str] = set()
    todo = [urljoin(server.url, a) for a in assets]
    while todo:  # each asset, and what stylesheets name in turn, is served here
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        assert urlsplit(url).netloc == urlsplit(server.url).netloc, url
        status, content_type, body = fetch(url)
        assert status == 200 and body, url
        if url.endswith(".css"):
            todo += [urljoin(url, a) for a in references(body.decode()) if not a.startswith("data:")]
    assert any(u.endswith("RobotoMono-VariableFont_wght.ttf") for u in seen)


_CONTROL = re.compile(r"\x1b\[[0-9;?$]*[A-Za-z]|\x1b\][^\x07]*\x07")


async def _read_until(socket: Any, *wanted: str) -> str:
    """Screen text (control sequences dropped) until every ``wanted`` string has come."""
    import aiohttp

    text = ""
    async with asyncio.timeout(TIMEOUT_S):
        async for message in socket:
            if message.type == aiohttp.WSMsgType.BINARY:
                text += _CONTROL.sub("", message.data.decode("utf-8", "replace"))
                if all(w in text for w in wanted):
                    return text
    raise AssertionError(f"the websocket closed before {wanted} came")


async def _open_tab(url: str) -> tuple[str, str]:
    """Connect as textual.js does, wait for the panels, press ``b``, then close the tab."""
    import aiohttp

    ws_url = url.replace("http://", "ws://", 1) + "ws?width=160&height=48"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url) as socket:
            screen = await _read_until(socket, "Throughput", "Latency", "Cache")
            await socket.send_json(["stdin", "b"])  # batch size 8 -> 16, as on a terminal
            after_key = await _read_until(socket, "(was 8)")
    return screen, after_key


def test_a_tab_gets_a_dashboard_that_ends_with_the_tab(server: WebServer, tmp_path: Path) -> None:
    screen, after_key = asyncio.run(_open_tab(server.url))
    assert "clawlet-tui" in screen and "steady" in screen  # the header names the preset
    assert re.search(r"batch_size\s+16 \(was 8\)", after_key)  # the key reached the dashboard
    server.wait_until_no_dashboards()  # the tab closed: its dashboard and engine are gone
    assert list((tmp_path / "tmpdir").iterdir()) == []  # and so is the temporary L2 directory
    assert server.proc.poll() is None  # the server keeps serving


async def _hold_tab(server: WebServer) -> None:
    """Open a tab, wait for the panels, then SIGTERM the server: it must close the tab."""
    import aiohttp

    ws_url = server.url.replace("http://", "ws://", 1) + "ws?width=120&height=40"
    screen = b""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url) as socket:
            async with asyncio.timeout(TIMEOUT_S):
                async for message in socket:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        screen += message.data
                        if b"Throughput" in screen:
                            break
                assert server.descendants(), "no dashboard process behind the open tab"
                server.proc.send_signal(signal.SIGTERM)
                async for _ in socket:  # until the server closes it
                    pass


def test_sigterm_quits_open_dashboards_then_exits_143(server: WebServer, tmp_path: Path) -> None:
    asyncio.run(_hold_tab(server))
    assert server.proc.wait(timeout=TIMEOUT_S) == 143
    assert server.descendants() == []
    assert list((tmp_path / "tmpdir").iterdir()) == []


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_headless_chromium_paints_the_dashboard_from_this_server_only(server: WebServer, tmp_path: Path) -> None:
    shot = tmp_path / "web.png"
    visit = screenshot_when_painted(server.url, shot, width=1600, height=1000)
    assert png_size(shot.read_bytes()) == (1600, 1000)
    # every request (page, script, stylesheet, fonts, image, websocket) went to this server:
    # the sandbox has no network, so a CDN request would fail, and here it would show
    origin = urlsplit(server.url).netloc
    hosts = {urlsplit(u).netloc for u in visit.requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {origin}, visit.requests
    assert any(u.endswith(".ttf") for u in visit.requests)
    # the panels came over the websocket and the terminal painted most of its canvas
    for title in ("Throughput", "Latency", "Batches", "Cache", "Memory", "Concurrency"):
        assert title in visit.screen_text
    assert visit.painted_pixels > 1600 * 1000 // 2
